"""The agent state machine: every legal transition, and every illegal one rejected with a
stable error id and the state unchanged."""

from __future__ import annotations

import itertools

import pytest

from acd.domain.agents import (
    RANK_SPAN,
    TRANSITIONS,
    AddMember,
    AgentProfile,
    Agents,
    DispositionRecorded,
    ExtendWrapup,
    Login,
    Logout,
    Membership,
    OfferViolation,
    PauseMember,
    QueuePolicy,
    Rejected,
    RemoveMember,
    SetAway,
    SetReady,
    StateChanged,
    Status,
    SubmitDisposition,
    Tick,
    reconcile,
    step,
    unavailable_confirmed,
)
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    CallerAbandoned,
    QueueLeft,
)

T0 = 1_790_000_000.0
PROFILE = AgentProfile("1001", "山田", (Membership("main"), Membership("tax", 2)))


def agents(wrapup: int = 30) -> Agents:
    return Agents(policies={"main": QueuePolicy("main", wrapup, 20),
                            "tax": QueuePolicy("tax", wrapup, 20)}).with_roster([PROFILE])


def drive(state: Agents, *messages, now: float = T0):
    commands = []
    for offset, message in enumerate(messages):
        state, produced = step(state, message, now + offset)
        commands.append(produced)
    return state, commands


def status(state: Agents) -> Status:
    return state.by_id["1001"].status


RING = AgentRinging(T0, "c1", "main", "1001")
ANSWER = AgentAnswered(T0, "c1", "main", "1001", 3, 1)
END = AgentCallEnded(T0, "c1", "main", "1001", 60, "caller")
DISPOSE = SubmitDisposition("1001", "c1", "完了", "税金", False, False, "説明済み")


def in_status(target: Status) -> Agents:
    """An agent brought into ``target`` through legal steps."""
    paths = {
        Status.LOGGED_OUT: [],
        Status.READY: [Login("1001")],
        Status.RINGING: [Login("1001"), RING],
        Status.ON_CALL: [Login("1001"), RING, ANSWER],
        Status.WRAPUP: [Login("1001"), RING, ANSWER, END],
        Status.AWAY: [Login("1001"), SetAway("1001", "break")],
        Status.MISSED: [Login("1001"), RING, AgentRingNoAnswer(T0, "c1", "main", "1001", 15)],
    }
    state, _ = drive(agents(), *paths[target])
    assert status(state) is target
    return state


def test_login_joins_every_queue_at_the_end_with_the_wrapup_time():
    state, [commands] = drive(agents(), Login("1001"))
    assert status(state) is Status.READY and state.by_id["1001"].ready_since == T0
    assert commands[0] == StateChanged(T0, "1001", Status.READY, Status.LOGGED_OUT, None, None)
    assert commands[1:] == [
        RemoveMember("1001", "main"), AddMember("1001", "山田", "main", 0, False, "", 30),
        RemoveMember("1001", "tax"), AddMember("1001", "山田", "tax", 2 * RANK_SPAN, False, "", 30)]


def test_a_call_from_ring_to_disposition():
    state, steps = drive(agents(), Login("1001"), RING, ANSWER, END, DISPOSE)
    assert status(state) is Status.READY
    ring, answer, end, dispose = steps[1:]
    assert [c.status for c in ring + answer if isinstance(c, StateChanged)] == \
        [Status.RINGING, Status.ON_CALL]
    assert PauseMember("1001", True, "wrapup") in end
    assert state.by_id["1001"].last_call == "c1"
    [recorded] = [c for c in dispose if isinstance(c, DispositionRecorded)]
    assert (recorded.outcome, recorded.category, recorded.queue, recorded.after_wrapup) == \
        ("完了", "税金", "main", False)
    # back to ready at the end of the member lists
    assert [type(c) for c in dispose[2:]] == [RemoveMember, AddMember] * 2


def test_wrapup_times_out_and_can_be_extended_once():
    state, _ = drive(agents(wrapup=30), Login("1001"), RING, ANSWER, END, now=T0)
    deadline = state.by_id["1001"].wrapup_deadline
    assert deadline == T0 + 3 + 30
    state, [extended, again] = drive(state, ExtendWrapup("1001"), ExtendWrapup("1001"))
    assert state.by_id["1001"].wrapup_deadline == deadline + 20
    assert extended == [] and again == [Rejected("ALREADY_EXTENDED",
                                                 "wrap-up can be extended once")]
    state, [before] = drive(state, Tick(deadline + 19))
    assert status(state) is Status.WRAPUP and before == []
    state, [after] = drive(state, Tick(deadline + 20))
    assert status(state) is Status.READY
    assert after[0].reason == "wrapup_timeout"
    # the disposition may still come after the timeout: recorded, no state change
    state, [late] = drive(state, DISPOSE)
    assert [type(c) for c in late] == [DispositionRecorded] and late[0].after_wrapup


def test_a_call_that_ended_before_its_answer_was_seen_counts_and_goes_to_wrapup():
    state, [*_, other, end] = drive(agents(), Login("1001"), RING,
                                    AgentCallEnded(T0, "c2", "main", "1001", 60, "caller"),
                                    END)
    assert other == []  # another call's end: the phone still rings for c1
    after = state.by_id["1001"]
    assert (after.status, after.last_call, after.calls_on(after.calls_day)) == \
        (Status.WRAPUP, "c1", 1)
    assert PauseMember("1001", True, "wrapup") in end


def test_no_wrapup_configured_means_ready_at_once():
    state, _ = drive(agents(wrapup=0), Login("1001"), RING, ANSWER, END)
    assert status(state) is Status.READY


def test_ring_no_answer_marks_missed_and_pauses_everywhere():
    state, steps = drive(agents(), Login("1001"), RING,
                         AgentRingNoAnswer(T0, "c1", "main", "1001", 15))
    assert status(state) is Status.MISSED and state.by_id["1001"].reason == "missed"
    assert PauseMember("1001", True, "missed") in steps[-1]
    state, _ = drive(state, SetReady("1001"))
    assert status(state) is Status.READY


@pytest.mark.parametrize("withdrawal", [CallerAbandoned(T0, "c1", "main", 1, 12),
                                        QueueLeft(T0, "c1", "main", "TIMEOUT")])
def test_ringing_ends_when_the_caller_leaves_keeping_the_place(withdrawal):
    state, _ = drive(agents(), Login("1001"), RING)
    ready_since = state.by_id["1001"].ready_since
    state, [commands] = drive(state, withdrawal)
    assert status(state) is Status.READY and state.by_id["1001"].ready_since == ready_since
    assert [type(c) for c in commands] == [StateChanged]  # no re-add: same place in line


def test_away_with_reasons_and_unknown_reason():
    state, [ok] = drive(in_status(Status.READY), SetAway("1001", "meeting"))
    # paused in Asterisk first, then logged as away
    assert status(state) is Status.AWAY and ok[0] == PauseMember("1001", True, "meeting")
    assert isinstance(ok[-1], StateChanged) and ok[-1].status is Status.AWAY
    state, [bad] = drive(state, SetAway("1001", "napping"))
    assert bad[0].error_id == "UNKNOWN_AWAY_REASON" and state.by_id["1001"].reason == "meeting"


ILLEGAL_EXPECTED = {
    (Status.ON_CALL, SetReady): "ILLEGAL_TRANSITION",
    (Status.WRAPUP, SetReady): "DISPOSITION_REQUIRED",
    (Status.ON_CALL, Logout): "ILLEGAL_TRANSITION",
    (Status.RINGING, SetAway): "AGENT_RINGING",
}
ALREADY_HOLDS = {(Status.READY, SetReady), (Status.LOGGED_OUT, Logout),
                 *((s, Login) for s in Status if s is not Status.LOGGED_OUT)}
REQUESTS = [Login("1001"), Logout("1001"), SetReady("1001"), SetAway("1001", "break"),
            ExtendWrapup("1001")]


@pytest.mark.parametrize("current, request_", list(itertools.product(list(Status), REQUESTS)),
                         ids=lambda v: getattr(v, "value", type(v).__name__))
def test_every_request_is_either_a_legal_transition_or_rejected_unchanged(current, request_):
    before = in_status(current)
    after, [commands] = drive(before, request_)
    if (current, type(request_)) in ALREADY_HOLDS:  # a repeated request: a no-op success
        assert after is before and commands == []
        return
    if (current, type(request_)) in TRANSITIONS:
        assert not any(isinstance(c, Rejected) for c in commands)
        return
    assert after is before
    [rejected] = commands
    assert isinstance(rejected, Rejected)
    expected = ILLEGAL_EXPECTED.get((current, type(request_)))
    assert rejected.error_id == (expected or rejected.error_id)
    assert rejected.error_id.isupper() and "1001" in rejected.message


@pytest.mark.parametrize("current", [s for s in Status if s is not Status.READY])
def test_an_offer_to_an_agent_not_ready_is_a_violation(current):
    before = in_status(current)
    after, [commands] = drive(before, AgentRinging(T0 + 100, "c9", "main", "1001"),
                              now=T0 + 100)
    assert after is before
    assert commands == [OfferViolation(T0 + 100, "1001", "c9", current)]


def test_a_ring_asterisk_started_before_the_away_reached_it_is_no_violation():
    away, _ = drive(in_status(Status.READY), SetAway("1001", "break"), now=T0 + 10)
    state, [commands] = drive(away, AgentRinging(T0 + 9.99, "c9", "main", "1001"),
                              now=T0 + 10.01)
    assert status(state) is Status.RINGING
    assert not any(isinstance(c, OfferViolation) for c in commands)


def test_a_ring_before_asterisk_confirmed_the_pause_is_no_violation_and_one_after_is():
    """The away request is handled at T0+10 but Asterisk answers the pause at T0+10.8
    (a loaded machine): it may still ring the agent in between, as the event log says."""
    away, _ = drive(in_status(Status.READY), SetAway("1001", "break"), now=T0 + 10)
    confirmed = unavailable_confirmed(away, "1001", T0 + 10.8)
    assert confirmed.by_id["1001"].since == T0 + 10.8
    assert unavailable_confirmed(confirmed, "1001", T0 + 10.5) is confirmed  # never earlier
    state, [commands] = drive(confirmed, AgentRinging(T0 + 10.5, "c9", "main", "1001"),
                              now=T0 + 10.9)
    assert status(state) is Status.RINGING
    assert not any(isinstance(c, OfferViolation) for c in commands)
    _, [late] = drive(confirmed, AgentRinging(T0 + 10.9, "c9", "main", "1001"), now=T0 + 11)
    assert late == [OfferViolation(T0 + 11, "1001", "c9", Status.AWAY)]
    ready = in_status(Status.READY)  # only an away or a logout waits for Asterisk
    assert unavailable_confirmed(ready, "1001", T0 + 99) is ready


def test_disposition_for_a_call_the_agent_did_not_take_is_rejected():
    state, [commands] = drive(in_status(Status.WRAPUP),
                              SubmitDisposition("1001", "other", "完了"))
    assert commands[0].error_id == "NOT_YOUR_CALL" and status(state) is Status.WRAPUP


def test_unknown_agent_and_unknown_outcome():
    _, [[unknown]] = drive(agents(), Login("9999"))
    assert unknown.error_id == "AGENT_UNKNOWN"
    _, [[bad]] = drive(in_status(Status.WRAPUP), SubmitDisposition("1001", "c1", "たぶん"))
    assert bad.error_id == "UNKNOWN_OUTCOME"


def test_reconcile_restores_members_lost_by_an_asterisk_restart_in_ready_order():
    other = AgentProfile("1002", "佐藤", (Membership("main"),))
    state = agents().with_roster([PROFILE, other])
    state, _ = drive(state, Login("1002"), Login("1001"), SetAway("1001", "break"))
    commands = reconcile(state, frozenset({("main", "1003", False)}), 0.0)
    adds = [c for c in commands if isinstance(c, AddMember)]
    assert [(c.agent, c.queue, c.paused) for c in adds] == [
        ("1002", "main", False), ("1001", "main", True), ("1001", "tax", True)]
    assert adds[1].reason == "break"
    assert RemoveMember("1003", "main") in commands


def test_reconcile_corrects_a_wrong_pause_flag_and_leaves_matching_members():
    state, _ = drive(agents(), Login("1001"))
    assert reconcile(state, frozenset({("main", "1001", False), ("tax", "1001", False)}), 0.0) == []
    assert reconcile(state, frozenset({("main", "1001", True), ("tax", "1001", False)}), 0.0) == [
        PauseMember("1001", False, "")]
