"""Replaying a period's calls against a staffing plan: a deterministic discrete-event
simulation that predicts the contact centre's figures.

The model:

* One first-come-first-served queue. The number of agents staffed is a step function of
  time: each :class:`StaffingStep` holds from its ``starts_at`` until the next step starts,
  the last one for ever; before the first step no agent is staffed.
* A caller arrives at ``arrived_at`` (epoch seconds). It is answered at once if an agent is
  free (busy < staffed), otherwise it waits. Whenever an agent frees or the staffing rises,
  the longest-waiting caller still there is answered, and holds one agent for
  ``handle_seconds`` (talk and wrap-up).
* A caller whose wait reaches ``patience_seconds`` hangs up (abandons); one answered exactly
  at its patience counts as answered. ``math.inf`` means it never hangs up: such a caller
  still waiting when nothing can answer it any more (no call in progress and no staffing
  rise to come) is never answered; it counts as abandoned, with an infinite wait.
* When the staffing drops below the number of agents busy, the calls in progress finish and
  no call is answered until fewer agents are busy than staffed.
* Events at the same moment are processed in this order: staffing changes, call ends,
  abandons, arrivals (arrivals at the same moment in the order given). So an agent freed,
  or a staffing rise, at the moment a caller's patience runs out answers that caller, and a
  staffing drop takes effect before the calls ending at that moment free their agents.

Pure and stdlib only: the same input always gives the same result. Abandons are lazy: a
caller who has hung up stays in the queue until an agent reaches it and skips it, so a
replay costs O(n log n) for n callers.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """One call to replay: when it arrives, how long it holds an agent, how long it waits."""

    arrived_at: float
    handle_seconds: float
    patience_seconds: float = math.inf


@dataclass(frozen=True)
class StaffingStep:
    """``agents`` staffed from ``starts_at`` until the next step starts (0 before the first)."""

    starts_at: float
    agents: int


@dataclass(frozen=True)
class ReplayedCall:
    """A caller and its fate: answered at ``answered_at``, or abandoned (``None``)."""

    caller: Caller
    answered_at: float | None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def wait_seconds(self) -> float:
        """Time in the queue: until answered, or the caller's whole patience if it abandoned."""
        if self.answered_at is None:
            return self.caller.patience_seconds
        return self.answered_at - self.caller.arrived_at


class CallFigures:
    """The figures a whole replay and each of its intervals share."""

    offered: int
    answered: int
    abandoned: int
    quick_answered: int  # answered with a wait of at most ``answer_within``
    mean_wait_seconds: float | None  # of the answered calls

    @property
    def answer_rate(self) -> float | None:
        """Answered / offered; ``None`` when nothing was offered."""
        return self.answered / self.offered if self.offered else None

    @property
    def quick_answer_rate(self) -> float | None:
        """Answered quickly / answered (the service level); ``None`` when nothing answered."""
        return self.quick_answered / self.answered if self.answered else None


@dataclass(frozen=True)
class _Counts:
    offered: int
    answered: int
    abandoned: int
    quick_answered: int
    mean_wait_seconds: float | None


def _count(calls: Iterable[ReplayedCall], answer_within: float) -> _Counts:
    offered = answered = quick = 0
    total_wait = 0.0
    for call in calls:
        offered += 1
        if call.answered_at is not None:
            answered += 1
            wait = call.answered_at - call.caller.arrived_at
            total_wait += wait
            quick += wait <= answer_within
    return _Counts(offered, answered, offered - answered, quick,
                   total_wait / answered if answered else None)


@dataclass(frozen=True)
class IntervalFigures(CallFigures):
    """The figures of the calls that arrived in one interval starting at ``starts_at``."""

    starts_at: float
    offered: int
    answered: int
    abandoned: int
    quick_answered: int
    mean_wait_seconds: float | None


@dataclass(frozen=True)
class ReplayResult(CallFigures):
    """Every call's fate, in arrival order, and the figures of the whole replay.

    ``busy_seconds`` and ``staffed_seconds`` are agent-seconds over the replayed span, from
    the first arrival to the last event (arrival, call end or abandon).
    """

    calls: tuple[ReplayedCall, ...]
    answer_within: float
    offered: int
    answered: int
    abandoned: int
    quick_answered: int
    mean_wait_seconds: float | None
    busy_seconds: float
    staffed_seconds: float

    @property
    def occupancy(self) -> float | None:
        """Busy / staffed agent-seconds; ``None`` when no agent was staffed."""
        return self.busy_seconds / self.staffed_seconds if self.staffed_seconds else None

    def by_interval(self, seconds: float = 1800.0,
                    origin: float = 0.0) -> dict[float, IntervalFigures]:
        """The figures per interval of ``seconds`` aligned to ``origin`` (e.g. a JST
        midnight), keyed by interval start, each call counted in the interval of its
        arrival. Only intervals with at least one arrival appear, in time order."""
        if not seconds > 0:
            raise ValueError(f"the interval must be positive seconds, not {seconds!r}")
        groups: dict[float, list[ReplayedCall]] = {}
        for call in self.calls:
            index = math.floor((call.caller.arrived_at - origin) / seconds)
            groups.setdefault(origin + index * seconds, []).append(call)
        result: dict[float, IntervalFigures] = {}
        for starts_at, calls in groups.items():
            counts = _count(calls, self.answer_within)
            result[starts_at] = IntervalFigures(
                starts_at, counts.offered, counts.answered, counts.abandoned,
                counts.quick_answered, counts.mean_wait_seconds)
        return result


def _checked_callers(callers: Iterable[Caller]) -> list[Caller]:
    checked = list(callers)
    for index, caller in enumerate(checked):
        if not math.isfinite(caller.arrived_at):
            raise ValueError(f"caller {index}: arrived_at must be finite, "
                             f"not {caller.arrived_at!r}")
        if not (caller.handle_seconds >= 0 and math.isfinite(caller.handle_seconds)):
            raise ValueError(f"caller {index}: handle_seconds must be finite and >= 0, "
                             f"not {caller.handle_seconds!r}")
        if not caller.patience_seconds >= 0:
            raise ValueError(f"caller {index}: patience_seconds must be >= 0, "
                             f"not {caller.patience_seconds!r}")
    return checked


def _check_staffing(staffing: Sequence[StaffingStep]) -> None:
    for index, step in enumerate(staffing):
        if not math.isfinite(step.starts_at):
            raise ValueError(f"staffing step {index}: starts_at must be finite, "
                             f"not {step.starts_at!r}")
        if step.agents < 0:
            raise ValueError(f"staffing step {index}: agents must be >= 0, not {step.agents!r}")
        if index and step.starts_at <= staffing[index - 1].starts_at:
            raise ValueError(f"staffing step {index}: starts_at {step.starts_at!r} is not after "
                             f"the previous step's {staffing[index - 1].starts_at!r}")


def _staffed_seconds(staffing: Sequence[StaffingStep], start: float, end: float) -> float:
    """Agent-seconds staffed over ``[start, end]``."""
    total = 0.0
    for index, step in enumerate(staffing):
        step_end = staffing[index + 1].starts_at if index + 1 < len(staffing) else math.inf
        overlap = min(step_end, end) - max(step.starts_at, start)
        if overlap > 0:
            total += step.agents * overlap
    return total


def replay(callers: Iterable[Caller], staffing: Sequence[StaffingStep], *,
           answer_within: float = 10.0) -> ReplayResult:
    """Replay ``callers`` (in any order) against ``staffing`` (steps in increasing time).

    A call is answered quickly when its wait is at most ``answer_within`` seconds.
    Raises ValueError for a non-finite arrival, a negative or infinite handle time, a
    negative patience, a negative staffing or steps out of time order.
    """
    given = _checked_callers(callers)
    _check_staffing(staffing)
    order = sorted(range(len(given)), key=lambda index: given[index].arrived_at)
    ordered = [given[index] for index in order]
    arrivals = [caller.arrived_at for caller in ordered]
    handles = [caller.handle_seconds for caller in ordered]
    deadlines = [caller.arrived_at + caller.patience_seconds for caller in ordered]
    answered_at: list[float | None] = [None] * len(ordered)

    waiting: deque[int] = deque()  # indices in arrival order; abandoned ones skipped lazily
    call_ends: list[float] = []  # a heap of the moments the calls in progress end
    busy = staffed = 0
    next_step = next_arrival = 0

    def answer_waiting(now: float) -> None:
        nonlocal busy
        while busy < staffed and waiting:
            index = waiting.popleft()
            if deadlines[index] < now:  # hung up before now
                continue
            answered_at[index] = now
            busy += 1
            heapq.heappush(call_ends, now + handles[index])

    while next_arrival < len(arrivals) or call_ends or waiting:
        step_at = staffing[next_step].starts_at if next_step < len(staffing) else math.inf
        end_at = call_ends[0] if call_ends else math.inf
        arrival_at = arrivals[next_arrival] if next_arrival < len(arrivals) else math.inf
        if step_at == end_at == arrival_at == math.inf:
            break  # callers still waiting with infinite patience: nothing will answer them
        if step_at <= end_at and step_at <= arrival_at:
            staffed = staffing[next_step].agents
            next_step += 1
            answer_waiting(step_at)
        elif end_at <= arrival_at:
            heapq.heappop(call_ends)
            busy -= 1
            answer_waiting(end_at)
        else:
            # Nobody still waiting when an agent is free: answer at once, or queue.
            if busy < staffed:
                answered_at[next_arrival] = arrival_at
                busy += 1
                heapq.heappush(call_ends, arrival_at + handles[next_arrival])
            else:
                waiting.append(next_arrival)
            next_arrival += 1

    calls = tuple(ReplayedCall(caller, at) for caller, at in zip(ordered, answered_at,
                                                                   strict=True))
    busy_seconds = 0.0
    staffed_seconds = 0.0
    if ordered:
        last_event = arrivals[-1]
        for index, at in enumerate(answered_at):
            if at is not None:
                busy_seconds += handles[index]
                last_event = max(last_event, at + handles[index])
            elif math.isfinite(deadlines[index]):
                last_event = max(last_event, deadlines[index])
        staffed_seconds = _staffed_seconds(staffing, arrivals[0], last_event)
    counts = _count(calls, answer_within)
    return ReplayResult(calls, answer_within, counts.offered, counts.answered, counts.abandoned,
                        counts.quick_answered, counts.mean_wait_seconds, busy_seconds,
                        staffed_seconds)


def staffing_from_plan(plan: Mapping[float, int],
                       interval_seconds: float = 1800.0) -> list[StaffingStep]:
    """The steps of a plan ``{interval start: agents}``: each planned interval holds its
    agents for ``interval_seconds``, and an interval absent from the plan has none (a step
    of 0 agents follows each planned interval not followed by another one)."""
    if not interval_seconds > 0:
        raise ValueError(f"the interval must be positive seconds, not {interval_seconds!r}")
    starts = sorted(plan)
    steps: list[StaffingStep] = []
    for index, starts_at in enumerate(starts):
        agents = plan[starts_at]
        if agents < 0:
            raise ValueError(f"plan interval {starts_at!r}: agents must be >= 0, not {agents!r}")
        steps.append(StaffingStep(starts_at, agents))
        ends_at = starts_at + interval_seconds
        following = starts[index + 1] if index + 1 < len(starts) else math.inf
        if following < ends_at:
            raise ValueError(f"plan interval {following!r} starts within the interval "
                             f"{starts_at!r} of {interval_seconds!r} seconds")
        if following > ends_at:
            steps.append(StaffingStep(ends_at, 0))
    return steps


def callers_with_patience(observed: Iterable[tuple[float, float, float | None, bool]],
                          patience_seconds: float | None,
                          rng: random.Random) -> list[Caller]:
    """Callers to replay from observed calls ``(arrived_at, handle_seconds, wait_seconds,
    answered)``; a missing wait (``None``) is read as no wait.

    An abandoned call's patience is exactly its observed wait; its handle time, never
    observed, is that of an answered call drawn with ``rng`` (0 if none was answered).
    An answered call only shows that its caller would have waited at least as long, so its
    patience is its wait plus an exponential draw of mean ``patience_seconds`` (memoryless),
    or infinite when ``patience_seconds`` is ``None``. The same seed gives the same callers.
    """
    if patience_seconds is not None and not patience_seconds > 0:
        raise ValueError(f"the mean patience must be positive seconds, not {patience_seconds!r}")
    calls = list(observed)
    for index, (_, handle, wait, _) in enumerate(calls):
        if not handle >= 0:
            raise ValueError(f"observed call {index}: handle_seconds must be >= 0, "
                             f"not {handle!r}")
        if wait is not None and not wait >= 0:
            raise ValueError(f"observed call {index}: wait_seconds must be >= 0, not {wait!r}")
    answered_handles = [handle for _, handle, _, answered in calls if answered]
    callers: list[Caller] = []
    for arrived_at, handle, wait, answered in calls:
        waited = 0.0 if wait is None else wait
        if not answered:
            drawn = rng.choice(answered_handles) if answered_handles else 0.0
            callers.append(Caller(arrived_at, drawn, waited))
        elif patience_seconds is None or math.isinf(patience_seconds):
            callers.append(Caller(arrived_at, handle, math.inf))
        else:
            callers.append(Caller(arrived_at, handle,
                                  waited + rng.expovariate(1.0 / patience_seconds)))
    return callers
