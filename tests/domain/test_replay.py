"""Replaying calls against a staffing plan: hand-made queues with exact answers, the order of
simultaneous events, intervals, plans, patience from observed calls, queueing theory, and
bad input."""

from __future__ import annotations

import math
import random
import time

import pytest

from acd.domain.sizing.replay import (
    Caller,
    CallFigures,
    IntervalFigures,
    ReplayResult,
    StaffingStep,
    callers_with_patience,
    replay,
    staffing_from_plan,
)

INF = math.inf


def answered_at(result: ReplayResult) -> list[float | None]:
    return [call.answered_at for call in result.calls]


# ------------------------------------------------------------------ hand-made scenarios


def test_two_agents_five_callers() -> None:
    callers = [Caller(0, 10), Caller(1, 5), Caller(2, 4, patience_seconds=3), Caller(3, 2),
               Caller(4, 1, patience_seconds=4)]
    result = replay(callers, [StaffingStep(0, 2)], answer_within=3)
    # 0, 1: answered at once; 2: hangs up at 5, before B ends at 6; 3: answered at 6;
    # 4: answered at 8 when 3 ends, exactly at its patience -> answered.
    assert answered_at(result) == [0, 1, None, 6, 8]
    assert [call.wait_seconds for call in result.calls] == [0, 0, 3, 3, 4]
    assert [call.answered for call in result.calls] == [True, True, False, True, True]
    assert (result.offered, result.answered, result.abandoned, result.quick_answered) == (
        5, 4, 1, 3)
    assert result.answer_rate == 0.8
    assert result.quick_answer_rate == 0.75
    assert result.mean_wait_seconds == 1.75
    assert result.busy_seconds == 18  # 10 + 5 + 2 + 1
    assert result.staffed_seconds == 20  # 2 agents over [0, 10]
    assert result.occupancy == 0.9


def test_staffing_rise_answers_the_head_of_the_queue_at_that_instant() -> None:
    callers = [Caller(0, 10), Caller(1, 3, patience_seconds=4), Caller(2, 3)]
    result = replay(callers, [StaffingStep(0, 1), StaffingStep(5, 2)])
    # The rise at 5 is the moment caller 1's patience runs out: staffing changes come
    # before abandons, so it is answered.
    assert answered_at(result) == [0, 5, 8]
    assert result.staffed_seconds == 5 * 1 + 6 * 2  # up to the last end, 11


def test_staffing_drop_while_busy_lets_calls_finish() -> None:
    callers = [Caller(0, 5), Caller(1, 5), Caller(3, 1)]
    result = replay(callers, [StaffingStep(0, 2), StaffingStep(2, 1)])
    # At 5 one agent frees but two were busy for one seat: caller 2 waits for the next end.
    assert answered_at(result) == [0, 1, 6]


def test_staffing_drop_comes_before_a_call_end_at_the_same_moment() -> None:
    callers = [Caller(0, 5), Caller(0, 10), Caller(1, 1)]
    result = replay(callers, [StaffingStep(0, 2), StaffingStep(5, 1)])
    assert answered_at(result) == [0, 0, 10]


def test_call_end_comes_before_an_arrival_at_the_same_moment() -> None:
    callers = [Caller(0, 5), Caller(5, 1, patience_seconds=0), Caller(5.5, 1, 0)]
    result = replay(callers, [StaffingStep(0, 1)])
    # A caller with no patience is answered if an agent frees as it arrives, else gone.
    assert answered_at(result) == [0, 5, None]
    assert result.calls[2].wait_seconds == 0


def test_no_agents_before_the_first_step() -> None:
    result = replay([Caller(0, 1), Caller(3, 1, patience_seconds=5)], [StaffingStep(10, 1)])
    assert answered_at(result) == [10, None]
    assert result.staffed_seconds == 1  # [10, 11]


def test_zero_staffing_every_caller_abandons() -> None:
    callers = [Caller(t, 60, patience_seconds=30) for t in (0, 10, 20)]
    for staffing in ([], [StaffingStep(0, 0)]):
        result = replay(callers, staffing)
        assert answered_at(result) == [None, None, None]
        assert [call.wait_seconds for call in result.calls] == [30, 30, 30]
        assert (result.answer_rate, result.quick_answer_rate) == (0, None)
        assert result.mean_wait_seconds is None
        assert (result.busy_seconds, result.staffed_seconds, result.occupancy) == (0, 0, None)


def test_infinite_patience_with_no_agent_left_is_never_answered() -> None:
    # One seat until 10, then none: the second caller would wait for ever. It counts as
    # abandoned with an infinite wait, and the replay ends.
    result = replay([Caller(0, 20), Caller(1, 5)], [StaffingStep(0, 1), StaffingStep(10, 0)])
    assert answered_at(result) == [0, None]
    assert result.calls[1].wait_seconds == INF
    assert (result.answered, result.abandoned) == (1, 1)
    assert result.busy_seconds == 20  # the call in progress finishes after the seat closes
    assert result.staffed_seconds == 10


def test_no_callers() -> None:
    result = replay([], [StaffingStep(0, 3)])
    assert result.calls == ()
    assert (result.offered, result.answer_rate, result.quick_answer_rate) == (0, None, None)
    assert (result.staffed_seconds, result.occupancy) == (0, None)
    assert result.by_interval() == {}


def test_first_come_first_served() -> None:
    rng = random.Random(7)
    callers = [Caller(rng.uniform(0, 600), rng.expovariate(1 / 30), rng.expovariate(1 / 60))
               for _ in range(500)]
    result = replay(callers, [StaffingStep(0, 2), StaffingStep(200, 1), StaffingStep(400, 3)])
    arrivals = [call.caller.arrived_at for call in result.calls]
    assert arrivals == sorted(arrivals)
    answered = [call.answered_at for call in result.calls if call.answered_at is not None]
    assert answered == sorted(answered)
    assert 0 < result.abandoned < 500
    for call in result.calls:
        if call.answered_at is None:
            assert call.wait_seconds == call.caller.patience_seconds
        else:
            assert 0 <= call.wait_seconds <= call.caller.patience_seconds


def test_callers_given_out_of_order_and_ties_keep_the_given_order() -> None:
    first, second = Caller(5, 3), Caller(5, 4)
    result = replay([Caller(9, 1), first, second, Caller(0, 1)], [StaffingStep(0, 1)])
    assert [call.caller for call in result.calls] == [Caller(0, 1), first, second, Caller(9, 1)]
    assert answered_at(result) == [0, 5, 8, 12]


# ------------------------------------------------------------------ intervals


def test_by_interval_sums_to_the_totals() -> None:
    rng = random.Random(3)
    callers = [Caller(rng.uniform(0, 7200), rng.expovariate(1 / 120), rng.expovariate(1 / 40))
               for _ in range(300)]
    result = replay(callers, [StaffingStep(0, 4), StaffingStep(3600, 2)], answer_within=20)
    intervals = result.by_interval()
    assert list(intervals) == [0, 1800, 3600, 5400]
    for name in ("offered", "answered", "abandoned", "quick_answered"):
        assert sum(getattr(figures, name) for figures in intervals.values()) == getattr(
            result, name)
    figures: list[CallFigures] = [result, *intervals.values()]
    for each in figures:
        assert each.answer_rate is not None and 0 <= each.answer_rate <= 1
    assert all(isinstance(each, IntervalFigures) for each in intervals.values())


def test_by_interval_aligned_at_the_origin() -> None:
    callers = [Caller(t, 1, 0) for t in (800, 900, 2699, 2700)]
    result = replay(callers, [StaffingStep(0, 1)], answer_within=0)
    intervals = result.by_interval(1800, origin=900)
    assert list(intervals) == [-900, 900, 2700]
    assert [figures.starts_at for figures in intervals.values()] == [-900, 900, 2700]
    assert [figures.offered for figures in intervals.values()] == [1, 2, 1]
    middle = intervals[900]
    assert (middle.answered, middle.abandoned, middle.quick_answered) == (2, 0, 2)
    assert (middle.answer_rate, middle.quick_answer_rate, middle.mean_wait_seconds) == (1, 1, 0)
    with pytest.raises(ValueError, match="positive"):
        result.by_interval(0)


# ------------------------------------------------------------------ plans and patience


def test_staffing_from_plan_with_gaps() -> None:
    plan = {5400.0: 1, 0.0: 2, 1800.0: 3}
    assert staffing_from_plan(plan) == [
        StaffingStep(0, 2), StaffingStep(1800, 3), StaffingStep(3600, 0), StaffingStep(5400, 1),
        StaffingStep(7200, 0)]
    assert staffing_from_plan({}) == []
    assert staffing_from_plan({0: 1, 900: 2}, 900) == [
        StaffingStep(0, 1), StaffingStep(900, 2), StaffingStep(1800, 0)]


def test_staffing_from_plan_bad_plans() -> None:
    with pytest.raises(ValueError, match=r"plan interval 1800.*agents must be >= 0, not -1"):
        staffing_from_plan({0: 1, 1800: -1})
    with pytest.raises(ValueError, match="starts within the interval"):
        staffing_from_plan({0: 1, 900: 1})
    with pytest.raises(ValueError, match="positive"):
        staffing_from_plan({0: 1}, 0)


def test_a_plan_replays_with_closed_gaps() -> None:
    steps = staffing_from_plan({0: 1, 3600: 1}, 1800)
    result = replay([Caller(1000, 1200), Caller(1900, 10, 60), Caller(1900, 10)], steps)
    # The first call runs past its interval; the second finds nobody in [1800, 3600) and
    # hangs up; the third waits for the next planned interval.
    assert answered_at(result) == [1000, None, 3600]


OBSERVED: list[tuple[float, float, float | None, bool]] = [
    (0, 100, 5, True), (10, 0, 30, False), (20, 200, None, True), (30, 0, 12.5, False),
    (40, 300, 0, True)]


def test_callers_with_patience() -> None:
    callers = callers_with_patience(OBSERVED, 60, random.Random(1))
    assert [caller.arrived_at for caller in callers] == [0, 10, 20, 30, 40]
    assert [callers[1].patience_seconds, callers[3].patience_seconds] == [30, 12.5]
    assert {callers[1].handle_seconds, callers[3].handle_seconds} <= {100, 200, 300}
    assert [callers[i].handle_seconds for i in (0, 2, 4)] == [100, 200, 300]
    for index, wait in ((0, 5), (2, 0), (4, 0)):
        assert wait <= callers[index].patience_seconds < INF
    assert callers_with_patience(OBSERVED, 60, random.Random(1)) == callers
    assert callers_with_patience(OBSERVED, 60, random.Random(2)) != callers


def test_callers_with_patience_without_a_mean_or_an_answered_call() -> None:
    callers = callers_with_patience(OBSERVED, None, random.Random(1))
    assert [caller.patience_seconds for caller in callers] == [INF, 30, INF, 12.5, INF]
    lost = callers_with_patience([(0, 50, 8, False)], 60, random.Random(1))
    assert lost == [Caller(0, 0, 8)]


def test_callers_with_patience_bad_input() -> None:
    with pytest.raises(ValueError, match="mean patience"):
        callers_with_patience(OBSERVED, 0, random.Random(1))
    with pytest.raises(ValueError, match=r"observed call 1: wait_seconds must be >= 0, not -1"):
        callers_with_patience([(0, 1, 0, True), (1, 1, -1, True)], 60, random.Random(1))
    with pytest.raises(ValueError, match=r"observed call 0: handle_seconds"):
        callers_with_patience([(0, -1, 0, True)], 60, random.Random(1))


# ------------------------------------------------------------------ against theory


def poisson_callers(rng: random.Random, count: int, rate: float, mean_handle: float,
                    mean_patience: float | None = None) -> list[Caller]:
    callers: list[Caller] = []
    now = 0.0
    for _ in range(count):
        now += rng.expovariate(rate)
        patience = INF if mean_patience is None else rng.expovariate(1 / mean_patience)
        callers.append(Caller(now, rng.expovariate(1 / mean_handle), patience))
    return callers


def waits_of_all(result: ReplayResult) -> list[float]:
    return [call.wait_seconds for call in result.calls]


def test_mm1_matches_theory() -> None:
    # lambda = 0.5/s, mu = 1/s: rho = 0.5, P(wait > 0) = rho, E[wait] = rho / (mu - lambda).
    callers = poisson_callers(random.Random(2024), 200_000, 0.5, 1.0)
    result = replay(callers, [StaffingStep(0, 1)], answer_within=0)
    waits = waits_of_all(result)
    assert result.answered == 200_000
    assert sum(wait > 0 for wait in waits) / len(waits) == pytest.approx(0.5, rel=0.03)
    assert sum(waits) / len(waits) == pytest.approx(1.0, rel=0.03)
    assert result.occupancy == pytest.approx(0.5, rel=0.03)


def test_mm3_matches_erlang_c() -> None:
    # n = 3, offered load a = 2 erlangs: Erlang C = 4/9, E[wait] = C / (n mu - lambda).
    servers, load = 3, 2.0
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    erlang_c = top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)
    callers = poisson_callers(random.Random(5), 100_000, 2.0, 1.0)
    waits = waits_of_all(replay(callers, [StaffingStep(0, servers)]))
    assert sum(wait > 0 for wait in waits) / len(waits) == pytest.approx(erlang_c, rel=0.03)
    assert sum(waits) / len(waits) == pytest.approx(erlang_c / (servers - load), rel=0.05)


def test_a_large_replay_is_fast() -> None:
    # 50 agents at 95 % load, impatient callers: a busy day of 100,000 calls.
    callers = poisson_callers(random.Random(9), 100_000, 0.95 * 50 / 180, 180.0, 60.0)
    started = time.perf_counter()
    result = replay(callers, [StaffingStep(0, 50)])
    assert time.perf_counter() - started < 2.0
    assert result.offered == 100_000 and 0 < result.abandoned < result.offered


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("caller", "message"), [
    (Caller(5, -1), r"caller 1: handle_seconds must be finite and >= 0, not -1"),
    (Caller(5, INF), r"caller 1: handle_seconds must be finite and >= 0, not inf"),
    (Caller(5, 1, -2), r"caller 1: patience_seconds must be >= 0, not -2"),
    (Caller(5, 1, math.nan), r"caller 1: patience_seconds must be >= 0, not nan"),
    (Caller(math.nan, 1), r"caller 1: arrived_at must be finite, not nan"),
])
def test_bad_callers(caller: Caller, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replay([Caller(0, 1), caller], [StaffingStep(0, 1)])


@pytest.mark.parametrize(("staffing", "message"), [
    ([StaffingStep(0, 1), StaffingStep(10, -1)],
     r"staffing step 1: agents must be >= 0, not -1"),
    ([StaffingStep(0, 1), StaffingStep(10, 2), StaffingStep(5, 1)],
     r"staffing step 2: starts_at 5 is not after the previous step's 10"),
    ([StaffingStep(0, 1), StaffingStep(0, 2)],
     r"staffing step 1: starts_at 0 is not after the previous step's 0"),
    ([StaffingStep(INF, 1)], r"staffing step 0: starts_at must be finite, not inf"),
])
def test_bad_staffing(staffing: list[StaffingStep], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replay([Caller(0, 1)], staffing)
