"""The synthetic mix of one day (call records, dispositions, agent states) the report
tests count their expected figures from by hand."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from acd.domain.clock import JST

DAY = date(2026, 11, 20)  # a Friday
LINE, LINE2 = "0570000123", "0570000999"
FAR_FUTURE = 4_000_000_000.0


def at(hh: int, mm: int = 0, ss: float = 0.0, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=JST).timestamp() + ss


def record(uid, outcome, entered, *, wait=None, talk=None, agent=None, line=LINE,
           queue="main", joined=True):
    answered_at = entered + (wait or 0) + 1 if outcome == "answered" else None
    return {"uniqueid": uid, "line": line, "queue": queue, "caller": "0312345678",
            "agent": agent, "entered_at": entered,
            "queue_joined_at": entered + 1 if joined else None, "answered_at": answered_at,
            "ended_at": entered + 1 + (wait or 0) + (talk or 0), "wait_seconds": wait,
            "talk_seconds": talk, "outcome": outcome, "agents_rung": 1 if agent else 0,
            "recording_file": None, "close_reason": "hangup", "congestion_seconds": 0.0}


def disposition(uid, agent, outcome, category, *, complaint=False, escalation=False, t=None,
                faq=True):
    return {"uniqueid": uid, "agent": agent, "queue": "main", "outcome": outcome,
            "category": category, "complaint": complaint, "escalation": escalation,
            "note": f"note {uid}", "recorded_at": t or FAR_FUTURE - 1, "faq_prescribed": faq}


def state(t, agent, status, previous, reason=None):
    return {"occurred_at": t, "kind": "AgentStateChanged", "uniqueid": None,
            "payload": json.dumps({"agent": agent, "status": status, "previous": previous,
                                   "reason": reason, "ready_since": None})}


RECORDS = [
    record("A1", "answered", at(10, 5), wait=5.0, talk=100.0, agent="1001"),
    record("A2", "answered", at(10, 20), wait=10.0, talk=200.0, agent="1002"),  # exactly 10 s
    record("A3", "answered", at(11, 0), wait=45.0, talk=300.0, agent="1001"),
    record("A4", "answered", at(11, 30), wait=10.5, talk=50.0, agent="1002"),
    record("A5", "answered", at(14, 0), wait=3.0, talk=20.0, agent="1001"),
    record("A6", "answered", at(14, 10), wait=2.0, talk=60.0, agent="1002"),
    record("A7", "answered", at(15, 0), wait=8.0, talk=40.0, agent="1001", line=LINE2,
           queue="tax"),  # no disposition
    record("B1", "abandoned", at(10, 59, 59.6), wait=30.0),  # hour 10, not 11
    record("B2", "abandoned", at(12, 0), joined=False),  # in the menu: no wait
    record("O1", "overflow", at(13, 0), wait=600.0),
    record("V1", "voicemail", at(13, 30), wait=120.0),
    record("H1", "after_hours", at(7, 0), joined=False),
    record("H0", "after_hours", at(0, 0), joined=False),  # exactly midnight: day DAY, hour 0
    record("E1", "event_info", at(9, 0), joined=False),
    record("C1", "answered", at(23, 50), wait=4.0, talk=30.0, agent="1001"),
    # the next day (00:10 JST) and the previous one (23:59:59.5 JST)
    record("C2", "answered", at(0, 10, day=DAY + timedelta(days=1)), wait=20.0, talk=90.0,
           agent="1002"),
    record("C0", "abandoned", at(23, 59, 59.5, day=DAY - timedelta(days=1)), wait=12.0),
]
DISPOSITIONS = [
    disposition("A1", "1001", "完了", "税金"),
    disposition("A2", "1002", "取次", "税金", complaint=True),
    disposition("A3", "1001", "転送", "子育て"),
    disposition("A4", "1002", "エスカレーション", "子育て", escalation=True),
    disposition("A5", "1001", "その他", None),
    disposition("A6", "1002", "その他", "ごみ"),  # corrected below: the latest one counts
    disposition("A6", "1002", "完了", "税金"),
    disposition("C1", "1001", "完了", "税金"),
    disposition("C2", "1002", "転送", "子育て"),
]
PREVIOUS = DAY - timedelta(days=1)
STATES = [
    # 1002 logged in the evening before and stays until 10:30
    state(at(20, 0, day=PREVIOUS), "1002", "ready", "logged_out"),
    state(at(10, 0), "1002", "on_call", "ready"),
    state(at(10, 20), "1002", "wrapup", "on_call"),
    state(at(10, 25), "1002", "ready", "wrapup"),
    state(at(10, 30), "1002", "logged_out", "ready"),
    # 1003's first event in the window says it was ready before
    state(at(8, 0), "1003", "away", "ready", "meeting"),
    state(at(9, 0), "1003", "logged_out", "away"),
    state(at(9, 0), "1001", "ready", "logged_out"),
    state(at(10, 0), "1001", "on_call", "ready"),
    state(at(10, 10), "1001", "wrapup", "on_call"),
    state(at(10, 15), "1001", "ready", "wrapup"),
    state(at(12, 0), "1001", "away", "ready", "break"),
    state(at(13, 0), "1001", "ready", "away"),
    state(at(17, 0), "1001", "logged_out", "ready"),
]
