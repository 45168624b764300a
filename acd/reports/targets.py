"""The targets a report judges against, from the flows (acd/ivr/models.py).

A line's report uses the line's ``targets:``; the overall report (and a report by queue)
uses the site default ``report_targets:``. A key a line leaves out comes from the site
default, and one the site leaves out from the contract figures (../shared/KPI.md). In the
YAML rates are fractions (0.9); in reports they are percent (90).
"""

from __future__ import annotations

from acd.reports.figures import Targets


def _merged(base: Targets, given, source: str) -> Targets:
    if given is None:
        return base
    values = {key: round(getattr(given, key) * 100.0, 9) for key in Targets.RATES
              if getattr(given, key) is not None}
    if given.quick_answer_seconds is not None:
        values["quick_answer_seconds"] = given.quick_answer_seconds
    return Targets(**{**base.rates, "quick_answer_seconds": base.quick_answer_seconds,
                      **values, "source": source})


def targets_for(site, line: str | None = None) -> Targets:
    """The targets of the report of ``line`` (a DID), or of the overall report (None);
    ``site``: the :class:`~acd.ivr.models.Site`, or None (the contract figures)."""
    if site is None:
        return Targets()
    targets = _merged(Targets(), site.report_targets, "site")
    own = next((x.targets for x in site.lines if x.did == line), None) if line else None
    return _merged(targets, own, "line")


__all__ = ["targets_for"]
