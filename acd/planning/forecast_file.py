"""A forecast the admin writes, for a line with no history yet (a new contract)::

    name: 川越市 総合案内            # shown on the plan
    patience_seconds: 60            # mean wait before a caller gives up; leave out: nobody does
    days:                           # day types: weekday, after_holiday, saturday, sunday_holiday
      weekday:
        calls: 125                  # calls a day reaching the operators' queue
        handle_seconds: 300         # talk + wrap-up (後処理) per call
        hours: "08:30-17:15"        # spread evenly over these hours, or:
        # profile: {"08:30": 3, "09:00": 8, ...}   # relative weights per half-hour
        line_calls: 130             # calls a day reaching the line (default: calls)
        line_hold_seconds: 320      # how long a call holds a line (default: handle_seconds)

Errors say file:line:column, as the flows' do.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from acd.domain.calendar import Window, parse_minute
from acd.domain.sizing.plan import DayType, Forecast, SlotForecast
from acd.ivr.yaml_source import YamlSyntaxError, load_source


class ForecastError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DayForecast(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: float = Field(ge=0, description="calls a day reaching the queue")
    handle_seconds: float = Field(gt=0, description="talk + wrap-up per call")
    hours: str | None = None
    profile: dict[str, float] | None = None
    line_calls: float | None = Field(default=None, ge=0)
    line_hold_seconds: float | None = Field(default=None, gt=0)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            Window.parse(value)
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        for start, weight in value.items():
            minute = parse_minute(start)
            if minute % 30:
                raise ValueError(f"'{start}': a profile gives half-hours, starting at :00 "
                                 "or :30")
            if weight < 0:
                raise ValueError(f"'{start}': a weight cannot be negative ({weight})")
        if not any(value.values()):
            raise ValueError("the profile's weights are all zero")
        return value

    def shares(self) -> dict[int, float]:
        """The day's calls per half-hour (the minute it starts at), as fractions."""
        if self.profile is not None:
            total = sum(self.profile.values())
            return {parse_minute(k): v / total for k, v in self.profile.items() if v}
        if self.hours is None:
            raise ValueError("give hours or a profile")
        window = Window.parse(self.hours)
        length = window.end - window.start
        shares: dict[int, float] = {}
        for slot in range(window.start // 30 * 30, window.end, 30):
            covered = min(slot + 30, window.end) - max(slot, window.start)
            shares[slot] = covered / length
        return shares


class ForecastFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    line: str | None = None
    queue: str | None = None
    patience_seconds: float | None = Field(default=None, gt=0)
    days: dict[DayType, DayForecast] = Field(min_length=1)

    def forecast(self, source: str) -> Forecast:
        slots = []
        for kind, day in self.days.items():
            line_calls = day.calls if day.line_calls is None else day.line_calls
            hold = day.line_hold_seconds or day.handle_seconds
            for slot, share in sorted(day.shares().items()):
                slots.append(SlotForecast(kind, slot, day.calls * share, day.handle_seconds,
                                          line_calls * share, hold))
        return Forecast(tuple(slots), self.patience_seconds, self.name or source, self.line,
                        self.queue)


def load_forecast(path: Path) -> Forecast:
    """The forecast of a YAML file; :class:`ForecastError` with file:line:column."""
    try:
        doc = load_source(path)
    except YamlSyntaxError as exc:
        raise ForecastError([str(exc)]) from None
    except OSError as exc:
        raise ForecastError([f"{path}: {exc.strerror or exc}"]) from None
    try:
        parsed = ForecastFile.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[-1] == "[key]":  # a mapping key itself is wrong
                loc = loc[:-1]
                where = doc.position_of(loc, key=True)
            else:
                where = doc.position_of(loc, key=err["type"] == "extra_forbidden")
            problems.append(f"{where}: {'.'.join(map(str, loc)) or '(top)'}: {err['msg']}")
        raise ForecastError(problems) from None
    missing = [f"{doc.position_of(('days', kind))}: days.{kind}: give hours or a profile"
               for kind, day in parsed.days.items() if day.hours is None and day.profile is None]
    if missing:
        raise ForecastError(missing)
    return parsed.forecast(str(path))


__all__ = ["ForecastError", "ForecastFile", "load_forecast"]
