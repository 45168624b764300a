"""The call tracker, with fixed times: every record field follows from the events."""

from acd.domain.calls import (
    Calls,
    DiscardEmptyRecording,
    DomainProblem,
    SaveCallRecord,
    step,
)
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    CallerAbandoned,
    ChannelHungUp,
    ChannelsSnapshot,
    LineEntered,
    QueueJoined,
)
from tests.support.calls import T0, entered


def run(events):
    calls, commands = Calls(), []
    for event in events:
        calls, produced = step(calls, event)
        commands.extend(produced)
    return calls, commands


def only_record(commands):
    assert [type(c) for c in commands] == [SaveCallRecord]
    return commands[0].record


def test_answered_call_gives_wait_talk_and_agent():
    calls, commands = run([
        entered(),
        QueueJoined(T0 + 6, "1.1", "main", 1),
        AgentRinging(T0 + 6.1, "1.1", "main", "1001"),
        AgentAnswered(T0 + 8.5, "1.1", "main", "1001", 2, 2),
        AgentCallEnded(T0 + 38.5, "1.1", "main", "1001", 30, "agent"),
        ChannelHungUp(T0 + 38.7, "1.1", "PJSIP/carrier-00000001", 16),
    ])
    assert len(calls) == 0
    r = only_record(commands)
    assert (r.line, r.queue, r.agent, r.caller) == ("0570000123", "main", "1001", "0312345678")
    assert (r.entered_at, r.answered_at, r.ended_at) == (T0, T0 + 8.5, T0 + 38.7)
    assert r.wait_seconds == 2.5 and r.talk_seconds == 30.0
    assert r.outcome == "answered" and r.agents_rung == 1 and r.close_reason == "hangup"
    assert r.recording_file == "/rec/1.1.wav"


def test_abandoned_in_queue_keeps_the_wait_and_discards_the_empty_recording():
    _, commands = run([
        entered(),
        QueueJoined(T0 + 6, "1.1", "main", 1),
        CallerAbandoned(T0 + 26, "1.1", "main", 1, 20),
        ChannelHungUp(T0 + 26.1, "1.1", "PJSIP/carrier-1", 16),
    ])
    assert [type(c) for c in commands] == [SaveCallRecord, DiscardEmptyRecording]
    assert commands[1].path == "/rec/1.1.wav"
    r = commands[0].record
    assert r.outcome == "abandoned" and r.wait_seconds == 20.0 and r.talk_seconds is None
    assert r.agent is None and r.recording_file is None


def test_hangup_during_the_notice_has_no_queue_wait():
    r = run([entered(), ChannelHungUp(T0 + 3, "1.1", "c", 16)])[1][0].record
    assert r.outcome == "abandoned" and r.wait_seconds is None and r.queue_joined_at is None


def test_hangup_of_an_agent_leg_is_not_a_call():
    calls, commands = run([entered(), ChannelHungUp(T0 + 1, "9.9", "PJSIP/1001-1", 16)])
    assert list(calls.active) == ["1.1"] and commands == []


def test_answer_for_an_unknown_call_is_a_problem_not_silence():
    _, [problem] = run([AgentAnswered(T0, "7.7", "main", "1001", 0, 0)])
    assert isinstance(problem, DomainProblem)
    assert problem.uniqueid == "7.7" and problem.agent == "1001"


def test_second_answer_is_a_problem_and_keeps_the_first_agent():
    calls, commands = run([
        entered(),
        AgentAnswered(T0 + 1, "1.1", "main", "1001", 0, 0),
        AgentAnswered(T0 + 2, "1.1", "main", "1002", 0, 0),
    ])
    assert calls.active["1.1"].agent == "1001"
    assert [type(c) for c in commands] == [DomainProblem]


def test_resync_closes_calls_that_ended_while_disconnected():
    calls, commands = run([
        entered("1.1"), entered("2.2"),
        AgentAnswered(T0 + 5, "1.1", "main", "1001", 5, 1),
        ChannelsSnapshot(T0 + 60, frozenset({"2.2", "3.3"})),
    ])
    assert list(calls.active) == ["2.2"]
    r = only_record(commands)
    assert r.uniqueid == "1.1" and r.close_reason == "resync" and r.ended_at == T0 + 60
    assert r.talk_seconds == 55.0


def test_queue_reports_just_after_the_hangup_are_expected_not_problems():
    calls, commands = run([
        entered(),
        AgentAnswered(T0 + 5, "1.1", "main", "1001", 5, 1),
        ChannelHungUp(T0 + 20, "1.1", "PJSIP/carrier-1", 16),
        AgentCallEnded(T0 + 20.01, "1.1", "main", "1001", 15, "agent"),
    ])
    assert only_record(commands).talk_seconds == 15.0


def test_a_uniqueid_seen_again_after_closing_is_a_problem():
    _, commands = run([entered(), ChannelHungUp(T0 + 1, "1.1", "c", 16), entered()])
    assert [type(c) for c in commands] == [SaveCallRecord, DiscardEmptyRecording, DomainProblem]


def test_a_caller_leaving_in_the_menus_abandoned_and_a_hangup_node_did_not():
    from acd.domain.events import NO_QUEUE, FlowExited, MenuChosen

    def flow_call(uid, *middle):
        return only_record(run([
            LineEntered(T0, uid, "0467000700", NO_QUEUE, "0312345678", None, flow="main"),
            MenuChosen(T0 + 3, uid, "lang", "1", "lang:1", "ja"), *middle,
            ChannelHungUp(T0 + 9, uid, "PJSIP/carrier-00000001", 16)])[1])

    left = flow_call("2.1")
    assert (left.outcome, left.queue_joined_at, left.wait_seconds) == ("abandoned", None, None)
    ended = flow_call("2.2", FlowExited(T0 + 5, "2.2", "bye", "hangup", ""))
    assert ended.outcome == "ivr"


def test_a_flow_transfer_keeps_the_recording_and_a_hangup_node_discards_it():
    from acd.domain.events import NO_QUEUE, FlowExited

    def flow_call(uid, exit_event):
        return run([
            LineEntered(T0, uid, "0467000710", NO_QUEUE, "0312345678", f"/rec/{uid}.wav",
                        flow="desk"),
            exit_event, ChannelHungUp(T0 + 40, uid, "PJSIP/carrier-00000001", 16)])[1]

    commands = flow_call("3.1", FlowExited(T0 + 5, "3.1", "kankyo", "transfer", "0467000203"))
    record = only_record(commands)  # nothing discarded: the transferred talk is recorded
    assert (record.outcome, record.recording_file) == ("transferred", "/rec/3.1.wav")
    commands = flow_call("3.2", FlowExited(T0 + 5, "3.2", "bye", "hangup", ""))
    assert [type(c) for c in commands] == [SaveCallRecord, DiscardEmptyRecording]
    assert commands[0].record.recording_file is None
