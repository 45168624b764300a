"""Read the event log back and judge distribution from it, as a city's auditor would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_events


async def load_events(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(call_events).order_by(call_events.c.id))
                    ).mappings().all()
    finally:
        await engine.dispose()
    return [{**row, "payload": json.loads(row["payload"])} for row in rows]


@dataclass
class OfferAudit:
    offers: int = 0
    to_longest_idle: int = 0
    not_ready: list[dict] = field(default_factory=list)
    ready_to_ring: list[float] = field(default_factory=list)  # distribution latency, s

    @property
    def longest_idle_share(self) -> float:
        return self.to_longest_idle / self.offers if self.offers else 0.0


#: Offers Asterisk makes within this window are simultaneous (autofill rings several
#: waiting callers at once, from several threads, and their events may come in any order).
SIMULTANEOUS_SECONDS = 0.05


def audit_offers(events: list[dict]) -> OfferAudit:
    """Replay agent states from AgentStateChanged and check every offer Asterisk made
    (AgentRinging = AMI AgentCalled): was the agent ready, and the one ready longest
    among the ready agents not being offered another caller at the same moment?

    The replay is in the order things happened (``occurred_at``), not the order the
    controller logged them: an offer Asterisk made a moment before an agent's away
    request was handled is logged after it, yet it went to a ready agent."""
    events = sorted(events, key=lambda e: (e["occurred_at"], e["id"]))
    rings = [(e["occurred_at"], e["payload"]["agent"]) for e in events
             if e["kind"] == "AgentRinging"]
    status: dict[str, str] = {}
    ready_since: dict[str, float] = {}
    joined: dict[str, float] = {}
    audit = OfferAudit()
    for event in events:
        payload = event["payload"]
        if event["kind"] == "QueueJoined":
            joined.setdefault(event["uniqueid"], event["occurred_at"])
        elif event["kind"] == "AgentStateChanged":
            status[payload["agent"]] = payload["status"]
            if payload["status"] == "ready" and payload.get("ready_since") is not None:
                ready_since[payload["agent"]] = payload["ready_since"]
        elif event["kind"] == "AgentRinging":
            agent = payload["agent"]
            audit.offers += 1
            if status.get(agent) != "ready":
                audit.not_ready.append({"agent": agent, "status": status.get(agent),
                                        "uniqueid": event["uniqueid"], "at": event["occurred_at"]})
                continue
            at = event["occurred_at"]
            simultaneous = {a for t, a in rings
                            if a != agent and abs(t - at) <= SIMULTANEOUS_SECONDS}
            ready = {a: ready_since.get(a, 0.0) for a, s in status.items()
                     if s == "ready" and a not in simultaneous}
            if min(ready, key=ready.get) == agent:
                audit.to_longest_idle += 1
            since = ready_since.get(agent)
            if since is not None and joined.get(event["uniqueid"], since) < since:
                # the caller was already waiting when the agent became ready
                audit.ready_to_ring.append(event["occurred_at"] - since)
    return audit
