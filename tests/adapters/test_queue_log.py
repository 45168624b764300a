"""Asterisk's queue log read back as typed events (lines as Asterisk 22 writes them)."""

from __future__ import annotations

from pathlib import Path

from acd.adapters.asterisk.queue_log import QueueLog, events_of, parse_line
from acd.domain.calls import CallState, news
from acd.domain.events import AgentAnswered, AgentCallEnded, CallerAbandoned, QueueJoined

LINES = """\
1796308122|NONE|NONE|NONE|QUEUESTART|
1796308122|MANAGER|main|PJSIP/201|ADDMEMBER|
1796308126|madoguchi-1796308124.0|main|NONE|ENTERQUEUE||03120000000|1
1796308126|madoguchi-1796308124.0|main|201 オペレーター201|CONNECT|3|madoguchi-1796308126.3|2
1796308128|madoguchi-1796308124.0|main|201 オペレーター201|COMPLETEAGENT|3|12|1
1796308130|madoguchi-1796308128.6|main|NONE|ENTERQUEUE||03120000003|2
1796308131|madoguchi-1796308128.6|main|NONE|ABANDON|2|2|9
1796308133|madoguchi-1796308129.8|main|202 オペレーター202|COMPLETECALLER|0|7|1
broken line
"""


def test_queue_log_lines_become_the_events_the_ami_would_have_given(tmp_path: Path):
    path = tmp_path / "queue_log"
    path.write_text(LINES, encoding="utf-8")
    first, second = "madoguchi-1796308124.0", "madoguchi-1796308128.6"
    events = events_of(QueueLog(path).read(), {first, second})
    assert events == [
        QueueJoined(1796308126.0, first, "main", 1),
        AgentAnswered(1796308126.0, first, "main", "201", 3, 2),
        AgentCallEnded(1796308128.0, first, "main", "201", 12, "agent"),
        QueueJoined(1796308130.0, second, "main", 2),
        CallerAbandoned(1796308131.0, second, "main", 2, 9),
    ]
    assert parse_line(LINES.splitlines()[-2]) == AgentCallEnded(
        1796308133.0, "madoguchi-1796308129.8", "main", "202", 7, "caller")
    assert parse_line("broken line") is None
    assert QueueLog(tmp_path / "missing").read() == []


def test_only_what_the_call_does_not_know_yet_is_news():
    waiting = CallState("u", "0570000123", "main", "0311112222", 100.0, None,
                        queue_joined_at=101.0)
    answered = AgentAnswered(105.0, "u", "main", "201", 4, 1)
    ended = AgentCallEnded(120.0, "u", "main", "201", 15, "agent")
    assert not news(waiting, QueueJoined(101.0, "u", "main", 1))
    assert news(waiting, answered) and not news(waiting, ended)
    talking = CallState("u", "0570000123", "main", "0311112222", 100.0, None,
                        queue_joined_at=101.0, answered_at=105.0)
    assert not news(talking, answered) and news(talking, ended)
    assert not news(talking, CallerAbandoned(106.0, "u", "main", 1, 5))
