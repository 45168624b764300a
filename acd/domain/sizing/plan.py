"""A staffing plan: per day type and half-hour, the operators and lines a forecast needs.

A :class:`Forecast` says, for each day type (:func:`day_type`) and half-hour of the day,
how many calls reach the queue and the line, how long an operator is busy with one
(talk + wrap-up) and how long a call holds a line; and how patient callers are. It comes
from the event log (acd/planning/history.py) or from a file the admin writes
(acd/planning/forecast_file.py). :func:`size` turns it into :class:`PlanRow`\\ s:

* operators: the fewest that meet every target (acd/domain/sizing/erlang.py — Erlang A
  when callers give up, so 応答率 is predicted; Erlang C otherwise), never fewer than the
  site's minimum seats in a half-hour with calls; with the predicted 応答率, 即応率,
  waiting and occupancy;
* lines (channels): the fewest whose Erlang B blocking meets the blocking target, for the
  line's own traffic (every call holds a line for its whole length, IVR and wait included).

Each half-hour is sized as a steady state of its own (the usual practice of workforce
planning); :mod:`acd.domain.sizing.replay` checks a plan against real arrivals, where the
queue carries over from one half-hour to the next.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from acd.domain.calendar import Calendar, HolidaySource, day_plan, japanese_holidays
from acd.domain.sizing.erlang import (
    Prediction,
    agents_needed,
    erlang_b,
    lines_for_blocking,
    predict,
)

SLOT_SECONDS = 1800
MAX_AGENTS = 1000  # the most operators a half-hour is sized for
DayType = Literal["weekday", "after_holiday", "saturday", "sunday_holiday"]
DAY_TYPES: tuple[DayType, ...] = ("weekday", "after_holiday", "saturday", "sunday_holiday")
DAY_TYPE_NAMES_JA = {"weekday": "平日", "after_holiday": "休み明け", "saturday": "土曜",
                     "sunday_holiday": "日曜・祝日"}


def day_type(day: date, working: Callable[[date], bool]) -> DayType:
    """The day type of ``day``: ``saturday``; ``sunday_holiday`` (a Sunday, or any other
    day that is not a working day: a public holiday, a closure such as the year-end); a
    working weekday is ``after_holiday`` when the day before was not a working day (the
    busy Monday, the day after a holiday or a closure: 休み明け), else ``weekday``.
    ``working(day)``: Monday to Friday, not a public holiday, not closed all day by the
    line's calendar."""
    if day.weekday() == 5:
        return "saturday"
    if day.weekday() == 6 or not working(day):
        return "sunday_holiday"
    return "after_holiday" if not working(day - timedelta(days=1)) else "weekday"


def working_days(calendar: Calendar | None, holidays: HolidaySource = japanese_holidays
                 ) -> Callable[[date], bool]:
    """``working(day)`` for :func:`day_type`: Monday to Friday, not a public holiday of
    Japan, and (given the line's calendar) not closed all day by it (e.g. 12/29-1/3)."""
    def working(day: date) -> bool:
        if day.weekday() >= 5 or day in holidays(day.year):
            return False
        return calendar is None or bool(day_plan(calendar, day, holidays).windows)
    return working


def slot_label(slot: int) -> str:
    """``slot``: the minute of the day a half-hour starts at -> ``"HH:MM"``."""
    return f"{slot // 60:02d}:{slot % 60:02d}"


@dataclass(frozen=True)
class SlotForecast:
    day_type: DayType
    slot: int  # the minute of the day the half-hour starts at (0, 30, ..., 1410)
    calls: float  # calls reaching the queue in the half-hour (a mean over the days)
    handle_seconds: float  # an operator's time per answered call: talk + wrap-up
    line_calls: float = 0.0  # calls reaching the line (after hours and IVR-only included)
    line_hold_seconds: float = 0.0  # how long such a call holds a line, mean


@dataclass(frozen=True)
class Forecast:
    slots: tuple[SlotForecast, ...]
    patience_seconds: float | None  # mean patience (exponential); None: nobody gives up
    source: str  # where it comes from: the period of history, or the file
    line: str | None = None
    queue: str | None = None
    days: tuple[tuple[DayType, int], ...] = ()  # days of each type the history held


@dataclass(frozen=True)
class SizingTargets:
    """What a plan must meet: 応答率 and 即応率 (fractions; None: not a target), the quick
    answer's seconds, the lines' blocking probability, the fewest seats in a half-hour with
    calls; and the shrinkage: the share of paid time operators are not on the phones
    (breaks, training, meetings), which turns operators needed into operators to
    schedule."""

    answer_rate: float | None = 0.9
    quick_answer_rate: float | None = 0.9
    answer_within: float = 10.0
    blocking: float = 0.01
    minimum_agents: int = 1
    shrinkage: float = 0.0

    @classmethod
    def parse(cls, text: str) -> SizingTargets:
        """``answer_rate=0.9,quick_answer=0.9@10,blocking=0.01,min_agents=2`` (any subset;
        ``none`` drops a rate target); ValueError naming the part it cannot read."""
        values: dict[str, float | int | None] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            try:
                if not sep:
                    raise ValueError("expected key=value")
                if key == "answer_rate":
                    values["answer_rate"] = _rate(value)
                elif key == "quick_answer":
                    rate, _, within = value.partition("@")
                    values["quick_answer_rate"] = _rate(rate)
                    if within:
                        values["answer_within"] = float(within)
                elif key == "blocking":
                    values["blocking"] = _fraction(value)
                elif key == "min_agents":
                    values["minimum_agents"] = int(value)
                elif key == "shrinkage":
                    values["shrinkage"] = float(value)
                    if not 0.0 <= values["shrinkage"] < 1.0:  # type: ignore[operator]
                        raise ValueError(f"{value} is not a share between 0 and 1 (e.g. 0.3)")
                else:
                    raise ValueError("known keys: answer_rate, quick_answer, blocking, "
                                     "min_agents, shrinkage")
            except ValueError as exc:
                raise ValueError(f"target {part!r}: {exc}") from None
        targets = cls(**values)  # type: ignore[arg-type]
        if not 0 <= targets.minimum_agents <= MAX_AGENTS:
            raise ValueError(f"targets {text!r}: min_agents must be 0 to {MAX_AGENTS}")
        if not 0 <= targets.answer_within <= 3600:
            raise ValueError(f"targets {text!r}: the quick answer's seconds must be 0 to 3600")
        return targets

    def __str__(self) -> str:
        parts = []
        if self.answer_rate is not None:
            parts.append(f"answer_rate={self.answer_rate:g}")
        if self.quick_answer_rate is not None:
            parts.append(f"quick_answer={self.quick_answer_rate:g}@{self.answer_within:g}")
        return ",".join([*parts, f"blocking={self.blocking:g}",
                         f"min_agents={self.minimum_agents}"]
                        + ([f"shrinkage={self.shrinkage:g}"] if self.shrinkage else []))


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{text} is not a fraction between 0 and 1 (e.g. 0.9)")
    return value


def _rate(text: str) -> float | None:
    if text.lower() == "none":
        return None
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{text} is not a rate in (0, 1] (e.g. 0.9 for 90 %)")
    return value


@dataclass(frozen=True)
class PlanRow:
    forecast: SlotForecast
    prediction: Prediction  # the queue with ``agents`` operators
    lines: int  # channels for the line's traffic at the blocking target
    blocking: float  # Erlang B blocking with ``lines``
    scheduled: int  # operators to schedule: ``agents`` grossed up by the shrinkage

    @property
    def agents(self) -> int:
        return self.prediction.agents

    @property
    def line_load(self) -> float:
        return self.forecast.line_calls * self.forecast.line_hold_seconds / SLOT_SECONDS


def size_slot(slot: SlotForecast, patience_seconds: float | None, targets: SizingTargets,
              agents: int | None = None, lines: int | None = None) -> PlanRow:
    """One half-hour: the operators the targets need and the lines the blocking target
    needs — or what ``agents`` operators and ``lines`` lines, given, would do."""
    rate = slot.calls / SLOT_SECONDS
    minimum = targets.minimum_agents if slot.calls > 0 else 0
    if agents is None:
        prediction = agents_needed(rate, slot.handle_seconds, patience_seconds,
                                   answer_rate=targets.answer_rate,
                                   quick_answer_rate=targets.quick_answer_rate,
                                   answer_within=targets.answer_within, minimum=minimum,
                                   maximum=MAX_AGENTS)
    else:
        prediction = predict(agents, rate, slot.handle_seconds, patience_seconds,
                             targets.answer_within)
    load = slot.line_calls * slot.line_hold_seconds / SLOT_SECONDS
    if lines is None:
        lines = lines_for_blocking(load, targets.blocking)
    scheduled = math.ceil(prediction.agents / (1.0 - targets.shrinkage) - 1e-9)
    return PlanRow(slot, prediction, lines, erlang_b(lines, load) if lines else float(load > 0),
                   scheduled)


def size(forecast: Forecast, targets: SizingTargets, agents: int | None = None,
         lines: int | None = None) -> list[PlanRow]:
    """Every half-hour of the forecast, in day-type then time order (with ``agents`` /
    ``lines`` given: what that staffing and those lines would do)."""
    order = {name: i for i, name in enumerate(DAY_TYPES)}
    slots = sorted(forecast.slots, key=lambda s: (order[s.day_type], s.slot))
    return [size_slot(s, forecast.patience_seconds, targets, agents, lines) for s in slots]


__all__ = ["DAY_TYPES", "DAY_TYPE_NAMES_JA", "MAX_AGENTS", "SLOT_SECONDS", "DayType",
           "Forecast", "PlanRow", "SizingTargets", "SlotForecast", "day_type", "size",
           "size_slot", "slot_label", "working_days"]
