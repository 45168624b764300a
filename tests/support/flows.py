"""Flow directories (site.yaml) written for tests, and the site of an event-information line."""

from __future__ import annotations

import textwrap
from pathlib import Path

STATUS_IDS = ["held", "cancelled", "next_day", "postponed", "venue_changed", "time_changed",
              "full", "registration_closed", "rain_or_shine", "undecided"]


def site_text(statuses: list[str] = STATUS_IDS, line_extra: str = "",
              status_prompt: str = "st") -> str:
    lines = textwrap.dedent("""\
        lines:
          - did: "0467000800"
            name: イベント案内
            events: city-events
            intro_prompt: intro
            no_events_prompt: none_today
        """) + line_extra
    body = "queues:\n  - name: main\nevent_statuses:\n" if statuses else "queues:\n  - name: main\n"
    body += "".join(f"  {s}: {status_prompt}\n" for s in statuses)
    body += ("prompts:\n  intro: {text: {ja: 本日のイベントです。}}\n"
             "  none_today: {text: {ja: 本日のイベントはありません。}}\n"
             "  st: {text: {ja: は開催します。}}\n")
    return lines + body


def flows(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    (directory / "site.yaml").write_text(text, encoding="utf-8")
    return directory


def write_flows(flows: Path, text: str) -> None:
    flows.mkdir(exist_ok=True)
    tmp = flows / "site.yaml.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(flows / "site.yaml")
