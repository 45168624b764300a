"""The composed domain step, with a fixed clock: which machine sees which message, the
uniqueid Asterisk leaves out, and problems as commands."""

from __future__ import annotations

from acd.domain.agents import (
    AddMember,
    AgentProfile,
    Agents,
    Login,
    Membership,
    PauseMember,
    QueuePolicy,
    Rejected,
    RemoveMember,
    SetAway,
    StateChanged,
    Status,
    Tick,
)
from acd.domain.calls import DomainProblem, SaveCallRecord
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    ChannelHungUp,
    ChannelsSnapshot,
    LineEntered,
    MembersSnapshot,
    QueueJoined,
)
from acd.domain.step import RosterChanged, State, complete, replay, step

T0 = 1_790_000_000.0
PROFILE = AgentProfile("1001", "山田", (Membership("main"),))


def start() -> State:
    agents = Agents(policies={"main": QueuePolicy("main", 30, 20)}).with_roster([PROFILE])
    return State(agents=agents)


def drive(state: State, *messages, now: float = T0):
    """Each message handled as of ``now`` + its position (a fixed clock)."""
    commands = []
    for offset, message in enumerate(messages):
        state, produced = step(state, message, now + offset)
        commands.append(produced)
    return state, commands


def answered_call(state: State, uid: str = "1.1") -> State:
    state, _ = drive(state, Login("1001"),
                     LineEntered(T0, uid, "0570000123", "main", "0312345678", "/rec/1.wav"),
                     QueueJoined(T0 + 1, uid, "main", 1),
                     AgentRinging(T0 + 2, uid, "main", "1001"),
                     AgentAnswered(T0 + 3, uid, "main", "1001", 1, 1))
    return state


def test_an_agent_event_reaches_both_machines():
    state = answered_call(start())
    assert state.calls.active["1.1"].agent == "1001"
    assert state.calls.active["1.1"].answered_at == T0 + 3
    assert state.agents.by_id["1001"].status is Status.ON_CALL
    assert state.agents.by_id["1001"].call == "1.1"


def test_a_call_event_reaches_only_the_call_tracker():
    state = start()
    after, commands = step(state, LineEntered(T0, "2.2", "0570000123", "main", "0311112222",
                                              None), T0)
    assert "2.2" in after.calls.active and after.agents == state.agents and commands == []


def test_a_hangup_is_seen_by_the_call_tracker_only():
    state = answered_call(start())
    state, _ = step(state, AgentCallEnded(T0 + 10, "1.1", "main", "1001", 7, "agent"), T0 + 10)
    state, commands = step(state, ChannelHungUp(T0 + 11, "1.1", "PJSIP/carrier-1", 16),
                           T0 + 11)
    assert [type(c) for c in commands] == [SaveCallRecord]
    assert state.agents.by_id["1001"].status is Status.WRAPUP


def test_agent_call_ended_without_uniqueid_is_the_agent_s_call():
    state = answered_call(start())
    ended = AgentCallEnded(T0 + 10, None, "main", "1001", 7, "agent")
    assert complete(state, ended).uniqueid == "1.1"
    state, commands = step(state, ended, T0 + 10)
    assert state.calls.active["1.1"].talk_ended_at == T0 + 10
    wrapup = state.agents.by_id["1001"]
    assert (wrapup.status, wrapup.call, wrapup.last_call) == (Status.WRAPUP, "1.1", "1.1")
    assert not any(isinstance(c, DomainProblem) for c in commands)
    assert [c.uniqueid for c in commands if isinstance(c, StateChanged)] == ["1.1"]


def test_agent_call_ended_of_an_unknown_agent_stays_without_uniqueid():
    ended = AgentCallEnded(T0, None, "main", "9999", 7, "agent")
    assert complete(start(), ended) == ended
    _, commands = step(start(), ended, T0)
    assert DomainProblem("AgentCallEnded for a call never seen", None, "9999",
                         trigger="AgentCallEnded") in commands


def test_members_snapshot_reconciles_asterisk_s_members():
    state, _ = drive(start(), Login("1001"), SetAway("1001", "break"))
    stale = frozenset({("main", "1001", False), ("old", "2002", False)})
    after, commands = step(state, MembersSnapshot(T0 + 5, stale), T0 + 5)
    assert after == state
    assert commands == [PauseMember("1001", True, "break"), RemoveMember("2002", "old")]
    _, commands = step(state, MembersSnapshot(T0 + 5, frozenset()), T0 + 5)
    assert [type(c) for c in commands] == [AddMember]


def test_an_impossible_agent_transition_is_a_domain_problem():
    state = answered_call(start())
    # answered again while already on the call: the call tracker and the agent machine
    # both find it impossible; each says so with the trigger (the call tracker's first),
    # the agent machine's with its error id
    again = AgentAnswered(T0 + 4, "1.1", "main", "1001", 1, 1)
    after, commands = step(state, again, T0 + 4)
    assert after == state
    assert commands == [
        DomainProblem("answered again (already by 1001)", "1.1", "1001",
                      trigger="AgentAnswered"),
        DomainProblem("agent 1001 cannot AgentAnswered while on_call", "1.1", "1001",
                      trigger="AgentAnswered", error_id="ILLEGAL_TRANSITION"),
    ]


def test_a_rejected_request_stays_a_rejection_for_the_requester():
    state, [commands] = drive(start(), SetAway("1001", "break"))
    assert state == start()
    assert commands == [Rejected("ILLEGAL_TRANSITION",
                                 "agent 1001 cannot SetAway while logged_out")]


def test_requests_and_ticks_reach_only_the_agent_machine():
    state = start()
    after, commands = step(state, Login("1001"), T0)
    assert after.calls == state.calls and after.agents.by_id["1001"].status is Status.READY
    assert isinstance(commands[0], StateChanged) and commands[0].at == T0
    wrapup = in_wrapup(answered_call(start()), T0 + 10)
    ready, commands = step(wrapup, Tick(T0 + 100), T0 + 100)
    assert ready.agents.by_id["1001"].status is Status.READY
    assert ready.calls == wrapup.calls


def in_wrapup(state: State, at: float) -> State:
    state, _ = step(state, AgentCallEnded(at, "1.1", "main", "1001", 7, "agent"), at)
    assert state.agents.by_id["1001"].status is Status.WRAPUP
    return state


def test_a_roster_change_keeps_the_states_of_those_kept():
    state, _ = drive(start(), Login("1001"))
    other = AgentProfile("1002", "佐藤", (Membership("main"),))
    after, commands = step(state, RosterChanged((PROFILE, other)), T0 + 5)
    assert commands == []
    assert after.agents.by_id["1001"].status is Status.READY
    assert after.agents.by_id["1002"].status is Status.LOGGED_OUT


def test_replay_feeds_only_the_call_tracker():
    state = start()
    entered = LineEntered(T0, "1.1", "0570000123", "main", "0312345678", None)
    after, _ = replay(state, entered)
    after, _ = replay(after, AgentRinging(T0 + 1, "1.1", "main", "1001"))
    assert after.calls.active["1.1"].agents_rung == 1
    assert after.agents == state.agents


def test_channels_snapshot_closes_calls_that_ended_meanwhile():
    state = answered_call(start())
    _, commands = step(state, ChannelsSnapshot(T0 + 20, frozenset()), T0 + 20)
    [record] = [c.record for c in commands if isinstance(c, SaveCallRecord)]
    assert record.close_reason == "resync" and record.uniqueid == "1.1"
