"""A plan checked against real traffic: a period's real queue callers (their arrivals,
handle times and patience, acd/planning/history.py) replayed (acd/domain/sizing/replay.py)
against a staffing plan — or against the operators who really were at work, which must
give back the period's real report: the validation of the replay itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.domain.clock import JST, as_jst
from acd.domain.sizing.plan import SLOT_SECONDS, day_type
from acd.domain.sizing.replay import ReplayResult, StaffingStep, replay, staffing_from_plan
from acd.planning.history import actual_staffing, read_history
from acd.reports.figures import Figures, Targets
from acd.reports.kpi import compute_kpis


@dataclass(frozen=True)
class ReplayCheck:
    start: datetime
    end: datetime
    staffing: str  # "actual" or where the plan came from
    replayed: ReplayResult
    real: Figures  # the period's report
    patience_seconds: float | None

    @property
    def predicted_answer_rate(self) -> float | None:
        """The report's 応答率 the replay predicts (percent): the replay's answered calls
        over the report's offered calls (a caller gone before the queue is unanswered in
        both)."""
        offered = self.real.offered
        return None if offered <= 0 else 100.0 * self.replayed.answered / offered

    @property
    def predicted_quick_answer_rate(self) -> float | None:
        rate = self.replayed.quick_answer_rate
        return None if rate is None else 100.0 * rate

    def render(self) -> str:
        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:5.1f}%"

        def diff(a: float | None, b: float | None) -> str:
            return "-" if a is None or b is None else f"{a - b:+5.1f}"

        real, shown = self.real, f"{self.start:%Y-%m-%d}–{self.end - timedelta(seconds=1):%Y-%m-%d}"
        patience = (f"{self.patience_seconds:.0f} s" if self.patience_seconds
                    else "none")
        lines = [f"# replay of {shown} against the {self.staffing} staffing "
                 f"(patience {patience}, {self.replayed.offered} queue calls)",
                 f"{'':22}{'replay':>10}{'report':>10}{'diff':>8}",
                 f"{'answered':22}{self.replayed.answered:>10}{real.answered:>10}"
                 f"{self.replayed.answered - real.answered:>+8}",
                 f"{'answer rate 応答率':20}{pct(self.predicted_answer_rate):>10}"
                 f"{pct(real.answer_rate):>10}"
                 f"{diff(self.predicted_answer_rate, real.answer_rate):>8}",
                 f"{'quick answer 即応率':20}{pct(self.predicted_quick_answer_rate):>10}"
                 f"{pct(real.quick_answer_rate):>10}"
                 f"{diff(self.predicted_quick_answer_rate, real.quick_answer_rate):>8}"]
        return "\n".join(lines) + "\n"


def plan_staffing(plan: Mapping[tuple[str, int], int], start: datetime, end: datetime,
                  working: Callable[[date], bool]) -> list[StaffingStep]:
    """A plan by (day type, half-hour) laid over each day of [start, end)."""
    by_start: dict[float, int] = {}
    day = as_jst(start).date()
    while datetime.combine(day, time(), JST) < as_jst(end):
        kind = day_type(day, working)
        midnight = datetime.combine(day, time(), JST).timestamp()
        for (planned_kind, slot), agents in plan.items():
            if planned_kind == kind:
                by_start[midnight + slot * 60] = agents
        day += timedelta(days=1)
    return staffing_from_plan(by_start, SLOT_SECONDS)


async def replay_check(engine: AsyncEngine, start: datetime, end: datetime, *,
                       line: str | None = None, queue: str | None = None,
                       plan: Mapping[tuple[str, int], int] | None = None,
                       plan_name: str = "planned", working: Callable[[date], bool],
                       answer_within: float = 10.0, seed: int = 0) -> ReplayCheck:
    history = await read_history(engine, start, end, line, queue)
    if plan is None:
        staffing, name = await actual_staffing(engine, start, end), "actual"
    else:
        staffing, name = plan_staffing(plan, start, end, working), plan_name
    replayed = replay(history.callers(seed), staffing, answer_within=answer_within)
    report = await compute_kpis(engine, start, end, line, queue,
                                targets=Targets(quick_answer_seconds=answer_within))
    return ReplayCheck(as_jst(start), as_jst(end), name, replayed, report.overall,
                       history.patience_seconds)


__all__ = ["ReplayCheck", "plan_staffing", "replay_check"]
