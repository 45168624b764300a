"""What the consoles show, built from the controller's live state and the database:
the screen-pop of a call (with the caller's previous contacts) and the wallboard.

Reading a pop is reading personal data: the callers of the pop are written to the access
log by whoever shows it (the live hub, the console API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from acd.domain.agents import AgentState
from acd.domain.clock import JST_OFFSET
from acd.ivr.models import Site
from acd.reports.figures import NOT_OFFERED, QUICK_ANSWER_SECONDS
from acd.reports.kpi import agents_occupancy
from acd.reports.queries import HALF_HOUR
from acd.runtime import Controller

if TYPE_CHECKING:
    from acd.adapters.db.call_records import CallRecords

PREVIOUS_CONTACTS = 10
#: Caller ids that are not a number to look a history up by.
UNKNOWN_CALLERS = frozenset({"", "anonymous", "unknown", "unavailable", "private"})


def today_start(now: float) -> float:
    """00:00 JST of the day of ``now`` (Japan has no DST)."""
    return (now + JST_OFFSET) // 86400 * 86400 - JST_OFFSET


def state_json(state: AgentState) -> dict[str, Any]:
    return {"id": state.id, "name": state.profile.name, "status": state.status.value,
            "reason": state.reason, "since": state.since, "call": state.call,
            "wrapup_deadline": state.wrapup_deadline,
            "wrapup_extended": state.wrapup_extended,
            "queues": [m.queue for m in state.profile.queues]}


class ConsoleData:
    def __init__(self, controller: Controller, records: CallRecords,
                 site: Callable[[], Site | None], clock: Callable[[], float] = time.time
                 ) -> None:
        self.controller = controller
        self.records = records
        self._site = site
        self._clock = clock

    def site(self) -> Site | None:
        return self._site()

    def line_info(self, did: str) -> tuple[str, str]:
        """(name, language) of a line; the DID itself when the flows do not know it."""
        site = self.site()
        for line in site.lines if site else ():
            if line.did == did:
                return line.name, line.language
        return did, "ja"

    # ------------------------------------------------------------ screen-pop

    async def pop(self, uniqueid: str, agent: str | None, rung_at: float | None = None
                  ) -> dict[str, Any] | None:
        """The screen-pop of a call: who calls, on which line, the menu path taken, the
        language, how long they waited, their previous contacts. None for a call the
        controller and the database do not know."""
        call = self.controller.calls.active.get(uniqueid)
        if call is not None:
            caller, line, queue = call.caller, call.line, call.queue
            entered, joined, answered = call.entered_at, call.queue_joined_at, call.answered_at
            congestion = call.congestion_seconds
            menu_path, chosen_language = call.menu_path, call.language
        else:
            row = await self.records.get(uniqueid)
            if row is None:
                return None
            caller, line, queue = row["caller"], row["line"], row["queue"]
            entered, joined, answered = (row["entered_at"], row["queue_joined_at"],
                                         row["answered_at"])
            congestion = row["congestion_seconds"] or 0.0
            menu_path, chosen_language = row.get("menu_path"), row.get("language")
        history = await self.previous_contacts(caller, uniqueid)
        line_name, language = self.line_info(line)
        steps = [step for step in (menu_path or "").split(">") if step]
        until = answered or rung_at or self._clock()
        return {
            "uniqueid": uniqueid, "agent": agent, "caller": caller, "line": line,
            "line_name": line_name, "menu_path": steps or [line_name],
            "language": chosen_language or language, "queue": queue, "entered_at": entered,
            "queue_joined_at": joined, "rung_at": rung_at, "answered": answered is not None,
            "waited_seconds": round(until - joined, 1) if joined is not None else None,
            "congestion_seconds": congestion,
            "history": history or [], "history_unavailable": history is None,
        }

    async def previous_contacts(self, caller: str, but: str | None = None
                                ) -> list[dict[str, Any]] | None:
        """The caller's earlier calls, newest first, with their latest disposition; None
        while the database is away."""
        if caller.strip().lower() in UNKNOWN_CALLERS:
            return []
        rows = await self.records.previous_contacts(caller, PREVIOUS_CONTACTS + 1)
        if rows is None:
            return None
        return [{"date": row["entered_at"], "line": row["line"],
                 "line_name": self.line_info(row["line"])[0],
                 "result": row["outcome"], "outcome": row["disposition"],
                 "category": row["category"], "note": row["note"],
                 "complaint": bool(row["complaint"])}
                for row in rows if row["uniqueid"] != but][:PREVIOUS_CONTACTS]

    # ------------------------------------------------------------ wallboard

    async def wallboard(self) -> dict[str, Any]:
        """Per queue: callers waiting now and since when, today's offered / answered /
        abandoned / overflow and the answer and quick-answer rates, and the service level
        of the current half-hour; per agent: state, since when, calls answered today and
        occupancy today. Today's figures are the call records of the day plus the calls
        in progress (a call counts as answered once connected)."""
        now = self._clock()
        start = today_start(now)
        interval = start + (now - start) // HALF_HOUR * HALF_HOUR
        counted, calls_today = await self.records.counts_since(
            start, QUICK_ANSWER_SECONDS, NOT_OFFERED, interval_start=interval)
        occupancy = await agents_occupancy(self.records.engine, start, now)
        queues: dict[str, dict[str, Any]] = {}
        site = self.site()

        def entry(name: str) -> dict[str, Any]:
            return queues.setdefault(name, {"name": name, "waiting": 0, "oldest_joined_at": None,
                                            "offered": 0, "answered": 0, "quick": 0,
                                            "abandoned": 0, "overflow": 0,
                                            "interval_answered": 0, "interval_quick": 0})
        for queue in site.queues if site else ():
            entry(queue.name)
        for name, counts in counted.items():
            entry(name).update(counts)
        for call in self.controller.calls.active.values():
            if not call.queue or call.queue_joined_at is None or call.entered_at < start:
                continue
            q = entry(call.queue)
            q["offered"] += 1
            if call.answered_at is not None:
                quick = call.answered_at - call.queue_joined_at - call.congestion_seconds \
                    <= QUICK_ANSWER_SECONDS
                q["answered"] += 1
                q["quick"] += quick
                if call.entered_at >= interval:
                    q["interval_answered"] += 1
                    q["interval_quick"] += quick
                if call.agent:
                    calls_today[call.agent] = calls_today.get(call.agent, 0) + 1
            elif call.abandoned_at is None and call.left_queue_status is None:
                q["waiting"] += 1
                oldest = q["oldest_joined_at"]
                q["oldest_joined_at"] = call.queue_joined_at if oldest is None \
                    else min(oldest, call.queue_joined_at)
        for q in queues.values():
            q["answer_rate"] = _pct(q["answered"], q["offered"])
            q["quick_answer_rate"] = _pct(q["quick"], q["answered"])
            q["service_level"] = _pct(q["interval_quick"], q["interval_answered"])
        agents = [{**state_json(a), "calls_today": calls_today.get(a.id, 0),
                   "occupancy": _rounded(occupancy.get(a.id))}
                  for a in sorted(self.controller.agents.by_id.values(), key=lambda a: a.id)]
        day = datetime.fromtimestamp(start + JST_OFFSET, UTC).date().isoformat()
        return {"at": now, "day": day, "interval_start": interval,
                "queues": sorted(queues.values(), key=lambda q: q["name"]), "agents": agents}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _pct(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(100.0 * numerator / denominator, 1)
