"""Erlang B, C and A against published tables, hand computations, an independent formula
and a simulation."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from acd.domain.sizing.erlang import (
    Prediction,
    agents_needed,
    erlang_b,
    erlang_c,
    lines_for_blocking,
    predict,
)

# ---------------------------------------------------------------- Erlang B

# The offered load (Erlang) that n lines carry at a given blocking, from the standard
# Erlang B table (Iversen, "Teletraffic Engineering and Network Planning", DTU / ITU-D;
# the same figures as any Erlang B traffic table), rounded there to 3 decimals.
ERLANG_B_TABLE = [
    # (blocking, lines, load)
    (0.01, 5, 1.361),
    (0.01, 10, 4.461),
    (0.01, 20, 12.031),
    (0.01, 50, 37.901),
    (0.01, 100, 84.064),
    (0.02, 5, 1.657),
    (0.02, 10, 5.084),
    (0.02, 20, 13.182),
    (0.001, 10, 3.092),
    (0.001, 20, 9.411),
]


@pytest.mark.parametrize(("blocking", "lines", "load"), ERLANG_B_TABLE)
def test_erlang_b_gives_the_tabled_blocking(blocking, lines, load):
    assert erlang_b(lines, load) == pytest.approx(blocking, rel=1e-3)


@pytest.mark.parametrize(("blocking", "lines", "load"), ERLANG_B_TABLE)
def test_lines_for_blocking_gives_the_tabled_lines(blocking, lines, load):
    # the tabled load is rounded to 0.001: just under it `lines` do, just over they don't
    assert lines_for_blocking(load - 0.001, blocking) == lines
    assert lines_for_blocking(load + 0.001, blocking) == lines + 1


def test_erlang_b_by_hand():
    # B(5, 2) = (2^5/5!) / (1 + 2 + 2^2/2! + 2^3/3! + 2^4/4! + 2^5/5!) = 0.2667/7.2667
    assert erlang_b(5, 2.0) == pytest.approx(0.0367, abs=5e-5)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)  # A / (1 + A)
    assert erlang_b(0, 3.0) == 1.0  # no line: every call is lost
    assert erlang_b(4, 0.0) == 0.0
    assert lines_for_blocking(0.0, 0.01) == 0


@pytest.mark.parametrize(("lines", "load"), [(500, 500.0), (500, 450.0), (300, 500.0)])
def test_erlang_b_is_stable_for_large_systems(lines, load):
    # the direct formula (A^n/n!) / sum_k A^k/k!, evaluated in log space
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(lines + 1)]
    top = max(logs)
    direct = math.exp(logs[-1] - top) / sum(math.exp(x - top) for x in logs)
    assert erlang_b(lines, load) == pytest.approx(direct, rel=1e-10)


# ---------------------------------------------------------------- Erlang C

# The worked example of the Call Centre Helper article "Erlang C formula – made simple"
# (also the example of the pyworkforce README): 100 calls in 30 minutes, AHT 180 s,
# 14 agents, target answer time 20 s -> probability of waiting 0.1741, service level
# 88.83 %, occupancy 71.43 %, ASA 7.8 s; 80 % in 20 s needs 14 agents.
EXAMPLE_RATE = 100 / 1800
EXAMPLE_HANDLE = 180.0


def test_the_published_erlang_c_example():
    prediction = predict(14, EXAMPLE_RATE, EXAMPLE_HANDLE, answer_within=20)
    assert prediction.load == pytest.approx(10.0)
    assert prediction.wait_probability == pytest.approx(0.1741, abs=5e-5)
    assert prediction.quick_answer_rate == pytest.approx(0.8883, abs=1e-4)  # 0.88835
    assert prediction.occupancy == pytest.approx(0.7143, abs=5e-5)
    assert prediction.mean_wait_seconds == pytest.approx(7.8, abs=0.05)
    assert prediction.answer_rate == 1.0 and prediction.stable
    assert erlang_c(14, 10.0) == pytest.approx(0.1741, abs=5e-5)


def test_the_published_example_needs_14_agents_for_80_percent_in_20_seconds():
    needed = agents_needed(EXAMPLE_RATE, EXAMPLE_HANDLE, None, quick_answer_rate=0.8,
                           answer_within=20)
    assert needed.agents == 14
    assert predict(13, EXAMPLE_RATE, EXAMPLE_HANDLE, answer_within=20).quick_answer_rate < 0.8


def test_erlang_c_by_hand():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    # M/M/2, A = 1: (A^2/2! * 2/(2-A)) / (1 + A + A^2/2! * 2/(2-A)) = 1/3
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 0.0) == 0.0
    assert erlang_c(3, 3.0) == 1.0
    assert erlang_c(3, 7.5) == 1.0
    # M/M/1 with lambda = 0.05/s, mu = 0.1/s: Wq = rho / (mu - lambda) = 10 s,
    # P(W <= t) = 1 - rho e^{-(mu - lambda) t}
    mm1 = predict(1, 0.05, 10.0, answer_within=10.0)
    assert mm1.mean_wait_seconds == pytest.approx(10.0)
    assert mm1.quick_answer_rate == pytest.approx(1 - 0.5 * math.exp(-0.5))
    assert mm1.occupancy == pytest.approx(0.5)


def test_erlang_c_is_unstable_when_the_load_reaches_the_agents():
    # Erlang C assumes nobody gives up: all are answered, eventually, after an infinite wait
    prediction = predict(10, 1 / 18, 180.0)  # 10 Erlang on 10 agents
    assert not prediction.stable
    assert prediction.answer_rate == 1.0
    assert prediction.quick_answer_rate == 0.0
    assert prediction.wait_probability == 1.0
    assert prediction.mean_wait_seconds == math.inf
    assert prediction.occupancy == 1.0


def test_erlang_c_handles_500_agents():
    prediction = predict(500, 490 / 300, 300.0, answer_within=20)
    assert 0 < prediction.wait_probability < 1
    assert 0 < prediction.quick_answer_rate < 1
    assert math.isfinite(prediction.mean_wait_seconds)


def test_no_traffic_is_always_served():
    for patience in (None, 60.0):
        prediction = predict(3, 0.0, 180.0, patience)
        assert prediction.answer_rate == prediction.quick_answer_rate == 1.0
        assert prediction.wait_probability == prediction.occupancy == 0.0
        assert prediction.mean_wait_seconds == 0.0


# ---------------------------------------------------------------- Erlang A


@pytest.mark.parametrize(("agents", "arrival_rate", "handle", "within"), [
    (14, EXAMPLE_RATE, EXAMPLE_HANDLE, 20.0),
    (1, 0.05, 10.0, 10.0),
    (300, 280 / 300, 300.0, 20.0),
    (3, 0.25, 8.0, 0.0),
])
def test_erlang_a_tends_to_erlang_c_as_callers_grow_patient(agents, arrival_rate, handle, within):
    patient = predict(agents, arrival_rate, handle, 1e9, within)
    never_give_up = predict(agents, arrival_rate, handle, None, within)
    for measure in ("answer_rate", "quick_answer_rate", "wait_probability", "occupancy"):
        assert getattr(patient, measure) == pytest.approx(getattr(never_give_up, measure),
                                                          abs=1e-6), measure
    assert patient.mean_wait_seconds == pytest.approx(never_give_up.mean_wait_seconds,
                                                      rel=1e-6)


def test_erlang_a_tends_to_erlang_b_as_callers_grow_impatient():
    # who finds every agent busy hangs up at once: the loss system M/M/n/n
    prediction = predict(5, 0.02, 100.0, 1e-9)
    assert prediction.answer_rate == pytest.approx(1 - erlang_b(5, 2.0), abs=1e-9)
    assert prediction.wait_probability == pytest.approx(erlang_b(5, 2.0), abs=1e-9)
    assert prediction.quick_answer_rate == pytest.approx(1.0)


def test_erlang_a_with_no_agent_answers_nobody():
    # documented: nothing answered -> quick_answer_rate 0 and an infinite mean wait
    prediction = predict(0, 0.1, 100.0, 30.0)
    assert prediction.answer_rate == 0.0
    assert prediction.quick_answer_rate == 0.0
    assert prediction.wait_probability == pytest.approx(1.0)
    assert prediction.mean_wait_seconds == math.inf
    assert prediction.occupancy == 0.0
    assert prediction.stable


def _simpson(function, start, end, steps=20_000):
    width = (end - start) / steps
    total = function(start) + function(end)
    total += sum((4 if i % 2 else 2) * function(start + i * width) for i in range(1, steps))
    return total * width / 3


def _by_the_offered_wait(agents, arrival_rate, handle, patience, within):
    """Erlang A by another route: the density of the offered wait V (the wait of a caller
    who would never give up) of M/M/n+G, v(x) = λ π_{n-1} exp(λ ∫_0^x Ḡ(u) du - nμx)
    (Baccelli & Hébuterne 1981; Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of
    performance measures"), here with Ḡ(u) = e^{-θu}; the caller is answered if V < its
    patience, with probability e^{-θV}."""
    service, abandon = 1 / handle, 1 / patience
    load = arrival_rate * handle
    free = [load ** k / math.factorial(k) for k in range(agents)]

    def density(x):
        return math.exp(arrival_rate * (1 - math.exp(-abandon * x)) / abandon
                        - agents * service * x)

    horizon = (arrival_rate / abandon + 40) / (agents * service)  # density < e^-40 beyond
    waiting = arrival_rate * free[-1] * _simpson(density, 0, horizon)
    norm = sum(free) + waiting
    no_wait, scale = sum(free) / norm, arrival_rate * free[-1] / norm
    answered = no_wait + scale * _simpson(lambda x: math.exp(-abandon * x) * density(x),
                                          0, horizon)
    quick = no_wait + scale * _simpson(lambda x: math.exp(-abandon * x) * density(x),
                                       0, within)
    waited = scale * _simpson(lambda x: x * math.exp(-abandon * x) * density(x), 0, horizon)
    return answered, quick / answered, waiting / norm, waited / answered


# (agents, arrival rate /s, handle s, patience s, answer within s)
ERLANG_A_CASES = [
    (3, 0.25, 8.0, 8.0, 2.0),  # small and impatient
    (10, 1 / 30, 240.0, 120.0, 20.0),  # 8 Erlang on 10 agents
    (20, 1 / 6, 150.0, 60.0, 20.0),  # overloaded: 25 Erlang on 20 agents
]


@pytest.mark.parametrize("case", [*ERLANG_A_CASES, (1, 0.02, 60.0, 30.0, 10.0)])
def test_erlang_a_agrees_with_the_offered_wait_density(case):
    prediction = predict(*case)
    answered, quick, waits, mean_wait = _by_the_offered_wait(*case)
    assert prediction.answer_rate == pytest.approx(answered, rel=1e-8)
    assert prediction.quick_answer_rate == pytest.approx(quick, rel=1e-8)
    assert prediction.wait_probability == pytest.approx(waits, rel=1e-8)
    assert prediction.mean_wait_seconds == pytest.approx(mean_wait, rel=1e-8)


def _simulate(agents, arrival_rate, handle, patience, within, arrivals, seed):
    """M/M/n+M, first come first served: a caller takes the agent that frees first (after
    every earlier caller took one) unless its patience runs out before."""
    rng = random.Random(seed)
    free_at = [0.0] * agents  # a heap of the moments the agents become free
    now = 0.0
    warm_up = arrivals // 20
    offered = answered = waited = quick = 0
    total_wait = 0.0
    for call in range(warm_up + arrivals):
        now += rng.expovariate(arrival_rate)
        start = max(now, free_at[0])
        gives_up_at = now + rng.expovariate(1 / patience)
        counted = call >= warm_up
        if start <= gives_up_at:
            heapq.heapreplace(free_at, start + rng.expovariate(1 / handle))
            if counted:
                answered += 1
                total_wait += start - now
                quick += start - now <= within
        if counted:
            offered += 1
            waited += start > now
    return answered / offered, quick / answered, waited / offered, total_wait / answered


@pytest.mark.parametrize("case", ERLANG_A_CASES)
def test_erlang_a_agrees_with_a_simulation(case):
    answered, quick, waits, mean_wait = _simulate(*case, arrivals=800_000, seed=20240601)
    prediction = predict(*case)
    assert prediction.answer_rate == pytest.approx(answered, abs=0.01)
    assert prediction.quick_answer_rate == pytest.approx(quick, abs=0.01)
    assert prediction.wait_probability == pytest.approx(waits, abs=0.01)
    assert prediction.mean_wait_seconds == pytest.approx(mean_wait, rel=0.02)


def test_erlang_a_occupancy_is_the_carried_load():
    prediction = predict(20, 1 / 6, 150.0, 60.0)  # 25 Erlang offered to 20 agents
    assert prediction.stable  # abandonment keeps the queue finite
    carried = prediction.load * prediction.answer_rate
    assert prediction.occupancy == pytest.approx(carried / 20)
    assert 0.9 < prediction.occupancy < 1


def test_more_agents_and_more_patience_answer_more():
    by_agents = [predict(n, 1.0, 180.0, 90.0).answer_rate for n in range(150, 200, 5)]
    assert by_agents == sorted(by_agents)
    by_patience = [predict(170, 1.0, 180.0, p).answer_rate for p in (10, 30, 90, 300, 1000)]
    assert by_patience == sorted(by_patience)


def test_a_large_centre_is_computed():
    # performance sanity: 280 Erlang on 300 agents, 5-minute calls, 1-minute patience
    prediction = predict(300, 280 / 300, 300.0, 60.0)
    assert 0.9 < prediction.answer_rate < 1
    assert 0 < prediction.quick_answer_rate <= 1
    overloaded = predict(500, 600 / 300, 300.0, 600.0)  # 600 Erlang on 500 agents
    assert overloaded.answer_rate == pytest.approx(500 / 600, abs=1e-3)


# ---------------------------------------------------------------- agents_needed


def test_agents_needed_is_the_fewest_that_meet_the_targets():
    targets = {"answer_rate": 0.95, "quick_answer_rate": 0.8}
    needed = agents_needed(1.0, 180.0, 90.0, **targets, answer_within=20)
    assert isinstance(needed, Prediction)
    assert needed.answer_rate >= 0.95 and needed.quick_answer_rate >= 0.8
    fewer = predict(needed.agents - 1, 1.0, 180.0, 90.0, answer_within=20)
    assert fewer.answer_rate < 0.95 or fewer.quick_answer_rate < 0.8


def test_agents_needed_grows_with_the_traffic_and_the_targets():
    by_traffic = [agents_needed(rate, 180.0, 90.0, answer_rate=0.9).agents
                  for rate in (0.1, 0.2, 0.5, 1.0, 2.0)]
    assert by_traffic == sorted(by_traffic) and by_traffic[0] < by_traffic[-1]
    by_target = [agents_needed(0.5, 180.0, None, quick_answer_rate=target).agents
                 for target in (0.5, 0.7, 0.8, 0.9, 0.99)]
    assert by_target == sorted(by_target) and by_target[0] < by_target[-1]


def test_agents_needed_respects_the_minimum():
    assert agents_needed(EXAMPLE_RATE, EXAMPLE_HANDLE, None, quick_answer_rate=0.8,
                         answer_within=20, minimum=20).agents == 20
    # a light traffic still gets one agent
    assert agents_needed(0.0001, 60.0, 30.0, answer_rate=0.5).agents == 1


def test_agents_needed_says_which_targets_are_missed():
    with pytest.raises(ValueError, match="quick_answer_rate >= 0.8") as missed:
        agents_needed(1.0, 180.0, None, quick_answer_rate=0.8, maximum=150)
    assert "maximum=150" in str(missed.value)
    with pytest.raises(ValueError, match="answer_rate >= 0.9"):
        agents_needed(1.0, 180.0, 60.0, answer_rate=0.9, maximum=100)


def test_agents_needed_without_traffic():
    prediction = agents_needed(0.0, 180.0, 60.0, answer_rate=0.9, quick_answer_rate=0.8,
                               minimum=2)
    assert prediction.agents == 2
    assert prediction.answer_rate == prediction.quick_answer_rate == 1.0


def test_agents_needed_without_a_target_keeps_the_queue_stable():
    assert agents_needed(1.0, 180.0, None).agents == 181  # 180 Erlang
    assert agents_needed(1.0, 180.0, 60.0, minimum=3).agents == 3  # abandonment: any
    with pytest.raises(ValueError, match="a stable queue"):
        agents_needed(1.0, 180.0, None, maximum=180)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(("call", "named"), [
    (lambda: erlang_b(-1, 1.0), "lines"),
    (lambda: erlang_b(3, -1.0), "load"),
    (lambda: lines_for_blocking(-2.0, 0.01), "load"),
    (lambda: lines_for_blocking(2.0, 0.0), "blocking"),
    (lambda: lines_for_blocking(2.0, 1.0), "blocking"),
    (lambda: erlang_c(-3, 1.0), "agents"),
    (lambda: erlang_c(3, math.nan), "load"),
    (lambda: predict(-1, 0.1, 180.0), "agents"),
    (lambda: predict(2.5, 0.1, 180.0), "agents"),  # type: ignore[arg-type]
    (lambda: predict(True, 0.1, 180.0), "agents"),
    (lambda: predict(3, "0.1", 180.0), "arrival_rate"),  # type: ignore[arg-type]
    (lambda: predict(3, math.inf, 180.0), "arrival_rate"),
    (lambda: predict(3, -0.1, 180.0), "arrival_rate"),
    (lambda: predict(3, 0.1, -180.0), "handle_seconds"),
    (lambda: predict(3, 0.1, 0.0), "handle_seconds"),
    (lambda: predict(3, 0.1, 180.0, 0.0), "patience_seconds"),
    (lambda: predict(3, 0.1, 180.0, -5.0), "patience_seconds"),
    (lambda: predict(3, 0.1, 180.0, math.nan), "patience_seconds"),
    (lambda: predict(3, 0.1, 180.0, None, -1.0), "answer_within"),
    (lambda: agents_needed(0.1, 180.0, None, answer_rate=0.0), "answer_rate"),
    (lambda: agents_needed(0.1, 180.0, None, quick_answer_rate=1.5), "quick_answer_rate"),
    (lambda: agents_needed(0.1, 180.0, None, answer_rate=0.9, minimum=-1), "minimum"),
    (lambda: agents_needed(0.1, 180.0, None, answer_rate=0.9, minimum=5, maximum=4),
     "maximum"),
])
def test_bad_inputs_name_the_argument(call, named):
    with pytest.raises(ValueError, match=named):
        call()


def test_an_endless_queue_is_refused_rather_than_cut():
    # 600 Erlang on 100 agents with a patience of 10^7 s: some 10^6 callers would queue
    with pytest.raises(ValueError, match="patience_seconds"):
        predict(100, 2.0, 300.0, 1e7)
