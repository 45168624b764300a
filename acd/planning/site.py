"""What the flows say to a plan: a line's working days (its calendar) and its targets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from acd.domain.sizing.plan import SizingTargets, working_days
from acd.reports.targets import targets_for


def line_working_days(site, line: str | None) -> Callable[[date], bool]:
    """Working days by the calendar of ``line`` (a DID) in ``site`` (the flows, or None):
    Monday to Friday, not a public holiday, not closed all day by the line's calendar."""
    found = next((x for x in site.lines if x.did == line), None) if site and line else None
    calendar = (site.domain_calendars().get(found.calendar)
                if site is not None and found is not None and found.calendar else None)
    return working_days(calendar)


def sizing_targets(site, line: str | None, given: str | None = None) -> SizingTargets:
    """The targets ``given`` (``answer_rate=0.9,quick_answer=0.9@10,...``; ValueError when
    malformed), else the line's report targets (the flows' ``targets:``)."""
    if given:
        return SizingTargets.parse(given)
    report = targets_for(site, line)
    return SizingTargets(report.answer_rate / 100.0, report.quick_answer_rate / 100.0,
                         float(report.quick_answer_seconds))


__all__ = ["line_working_days", "sizing_targets"]
