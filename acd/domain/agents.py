"""Agents and their states: a pure state machine, one state per agent across all queues.

(One module on purpose, though long: every state, request, event and transition that can
change an agent is in this file, the transitions as one table, so that the whole machine
is read in one place.)

``step(agents, message, now)`` takes a person's request (log in, ready, away, disposition,
...), a typed event from Asterisk (rung, answered, call ended, ...) or a clock tick, and
returns the new state and the commands to carry out: queue membership changes for
Asterisk, state changes and dispositions for the event log, or a rejection.

The legal transitions are the table ``TRANSITIONS`` below; anything else is rejected
with a stable error id (requests) or reported as a problem (Asterisk events), and the
state is left unchanged.

How distribution stays fair and safe (see also the queue templates):
- The controller chooses the order; Asterisk only follows it. Asterisk rings the free
  member with the lowest penalty first (strategy ``linear``: penalty outweighs list
  position). A member's penalty is ``skill level * RANK_SPAN + order``, where the order is,
  for a ``longest_idle`` queue, the agent's rank in the order agents became ready (each
  agent who becomes ready gets the next rank; ranks are compacted when they run out), and
  for a ``fewest_calls`` queue the number of calls the agent answered today. Every time an
  agent becomes ready the controller removes and re-adds them with the new penalty, so
  the agent idle longest (or with the fewest calls) is always rung first, whichever
  caller is waiting.
- At the end of a call Asterisk itself blocks the agent for the queue's wrap-up time
  (member ``Wrapuptime``), with no race against the controller; the controller pauses
  the agent with the reason ``wrapup`` and re-adds them (which clears the block) when the
  wrap-up ends early by a disposition. If the controller is down, the wrap-up still ends
  on time inside Asterisk.
- A ring-no-answer pauses the agent in all queues inside Asterisk (``autopause=all``);
  the controller records the agent as missed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from acd.domain.clock import TOKYO
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    CallerAbandoned,
    QueueLeft,
)
from acd.domain.problems import Refused


class Status(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"  # 受付可
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"  # 後処理
    AWAY = "away"  # 離席 (with a reason)
    MISSED = "missed"  # did not answer an offered call


#: Away reasons every site has (離席理由); sites may add their own in the flows.
STANDARD_AWAY_REASONS = {"break": "休憩", "training": "研修", "meeting": "会議", "admin": "事務"}
OUTCOMES = ("完了", "取次", "転送", "エスカレーション", "その他")


@dataclass(frozen=True)
class Membership:
    queue: str
    penalty: int = 0


class RosterError(Refused):
    """A change of the roster that cannot be made (an agent that exists, or does not)."""


@dataclass(frozen=True)
class AgentProfile:
    id: str
    name: str
    queues: tuple[Membership, ...]
    languages: tuple[str, ...] = ("ja",)
    enabled: bool = True


Strategy = str  # "longest_idle" | "fewest_calls"

#: Penalty room per skill level: Asterisk multiplies a member's penalty by 1,000,000 in
#: an int, so penalties must stay below 2147; 11 skill levels (0-10) x 190 fit.
RANK_SPAN = 190
#: Calls are counted per day in Japan.


@dataclass(frozen=True)
class QueuePolicy:
    name: str
    wrapup_seconds: int = 60
    wrapup_extension_seconds: int = 60
    strategy: Strategy = "longest_idle"


@dataclass(frozen=True)
class AgentState:
    profile: AgentProfile
    status: Status = Status.LOGGED_OUT
    reason: str | None = None
    since: float = 0.0
    ready_since: float | None = None
    call: str | None = None  # the call ringing, talking or in wrap-up
    call_queue: str | None = None
    last_call: str | None = None  # for a disposition sent after the wrap-up timed out
    wrapup_deadline: float | None = None
    wrapup_extended: bool = False
    #: Order among the agents ready now: lower became ready earlier (longest idle).
    rank: int | None = None
    #: Calls answered on ``calls_day`` (a Tokyo date, ISO), for ``fewest_calls`` queues.
    calls_today: int = 0
    calls_day: str | None = None

    @property
    def id(self) -> str:
        return self.profile.id

    def calls_on(self, day: str) -> int:
        return self.calls_today if self.calls_day == day else 0


# ---------------------------------------------------------------- requests from people

@dataclass(frozen=True)
class Login:
    agent: str


@dataclass(frozen=True)
class Logout:
    agent: str


@dataclass(frozen=True)
class SetReady:
    agent: str


@dataclass(frozen=True)
class SetAway:
    agent: str
    reason: str


@dataclass(frozen=True)
class SubmitDisposition:
    agent: str
    uniqueid: str
    outcome: str
    category: str | None = None
    complaint: bool = False
    escalation: bool = False
    note: str = ""
    faq_prescribed: bool = False  # the FAQ prescribes this handling (一次対応率)


@dataclass(frozen=True)
class ExtendWrapup:
    agent: str


@dataclass(frozen=True)
class Tick:
    """The clock: wrap-ups whose time is up end."""

    at: float


Request = Login | Logout | SetReady | SetAway | SubmitDisposition | ExtendWrapup
AsteriskEvent = AgentRinging | AgentRingNoAnswer | AgentAnswered | AgentCallEnded
Message = Request | AsteriskEvent | CallerAbandoned | QueueLeft | Tick


# ---------------------------------------------------------------- commands

@dataclass(frozen=True)
class AddMember:
    agent: str
    name: str
    queue: str
    penalty: int
    paused: bool
    reason: str
    wrapup_seconds: int


@dataclass(frozen=True)
class RemoveMember:
    agent: str
    queue: str


@dataclass(frozen=True)
class SetPenalty:
    """Change the agent's penalty in one queue (the ring order), nothing else."""

    agent: str
    queue: str
    penalty: int


@dataclass(frozen=True)
class PauseMember:
    """Pause (or unpause) the agent in every queue, with the reason shown to supervisors."""

    agent: str
    paused: bool
    reason: str


@dataclass(frozen=True)
class StateChanged:
    """A fact for the event log: the agent's state from ``at`` on."""

    at: float
    agent: str
    status: Status
    previous: Status
    reason: str | None
    uniqueid: str | None


@dataclass(frozen=True)
class DispositionRecorded:
    at: float
    agent: str
    uniqueid: str
    queue: str | None
    outcome: str
    category: str | None
    complaint: bool
    escalation: bool
    note: str
    after_wrapup: bool
    faq_prescribed: bool = False


@dataclass(frozen=True)
class Rejected:
    error_id: str
    message: str


@dataclass(frozen=True)
class OfferViolation:
    """Asterisk offered a call to an agent who was not ready: must never happen."""

    at: float
    agent: str
    uniqueid: str
    status: Status


Command = (AddMember | RemoveMember | SetPenalty | PauseMember | StateChanged
           | DispositionRecorded | Rejected | OfferViolation)


# ---------------------------------------------------------------- state of all agents

@dataclass(frozen=True)
class Agents:
    by_id: Mapping[str, AgentState] = field(default_factory=dict)
    policies: Mapping[str, QueuePolicy] = field(default_factory=dict)
    away_reasons: frozenset[str] = frozenset(STANDARD_AWAY_REASONS)

    def with_agent(self, state: AgentState) -> Agents:
        return replace(self, by_id={**self.by_id, state.id: state})

    def with_roster(self, profiles: list[AgentProfile]) -> Agents:
        """Agents added, changed or removed by an admin; states are kept."""
        states = {}
        for profile in profiles:
            current = self.by_id.get(profile.id)
            states[profile.id] = replace(current, profile=profile) if current else \
                AgentState(profile)
        return replace(self, by_id=states)

    def ringing(self, uniqueid: str) -> list[AgentState]:
        return [a for a in self.by_id.values() if a.status is Status.RINGING
                and a.call == uniqueid]


Transition = tuple[AgentState, list[Command]]
#: A transition's handler; each takes the one message type its table rows name.
Handler = Callable[[Agents, AgentState, Any, float], Transition]


def step(agents: Agents, message: Message, now: float) -> tuple[Agents, list[Command]]:
    if isinstance(message, Tick):
        return _tick(agents, message.at)
    if isinstance(message, (CallerAbandoned, QueueLeft)):
        return _ring_withdrawn(agents, message)
    state = agents.by_id.get(message.agent)
    if state is None:
        return agents, [Rejected("AGENT_UNKNOWN", f"no agent {message.agent}")]
    if _already_holds(state, message):
        return agents, []  # a repeated request: done, nothing to change
    handler = TRANSITIONS.get((state.status, type(message)))
    if isinstance(message, AgentRinging) and state.status in UNAVAILABLE_BY_REQUEST \
            and message.at <= state.since:
        # Asterisk chose the agent before the pause or removal reached it (``since`` is
        # when Asterisk confirmed it: unavailable_confirmed): the phone rang while the
        # agent was still ready, so it rings; no violation.
        handler = _rung
    if handler is None:
        return agents, [_illegal(state, message, now)]
    new_state, commands = handler(agents, state, message, now)
    if any(isinstance(c, Rejected) for c in commands):
        return agents, commands
    if new_state.status is not state.status or new_state.reason != state.reason:
        change = StateChanged(now, state.id, new_state.status, state.status,
                              new_state.reason, new_state.call or state.call)
        # Becoming available is logged before Asterisk may offer a call; becoming
        # unavailable only once Asterisk has paused or removed the agent.
        commands = [change, *commands] if new_state.status is Status.READY \
            else [*commands, change]
    agents, renumbered = _compact_ranks(agents.with_agent(new_state))
    return agents, [*commands, *renumbered]


#: The states an agent's own request puts them in, which hold in Asterisk only once it
#: has answered the pause or the removal.
UNAVAILABLE_BY_REQUEST = (Status.AWAY, Status.LOGGED_OUT)


def unavailable_confirmed(agents: Agents, agent_id: str, at: float) -> Agents:
    """Asterisk confirmed at ``at`` the pause or removal of an agent who went away or
    logged out: an offer it made before that went to an agent still available. Their
    state dates from then (as the event log has it)."""
    state = agents.by_id.get(agent_id)
    if state is None or state.status not in UNAVAILABLE_BY_REQUEST or at <= state.since:
        return agents
    return agents.with_agent(replace(state, since=at))


def _already_holds(state: AgentState, message: Message) -> bool:
    """A request whose outcome already holds (ready when ready, logged in when logged in,
    logged out when logged out): a no-op success, so that a repeated click or command is
    not an error. A request that would really change the state is never one."""
    if isinstance(message, SetReady):
        return state.status is Status.READY
    if isinstance(message, Login):
        return state.status is not Status.LOGGED_OUT
    if isinstance(message, Logout):
        return state.status is Status.LOGGED_OUT
    return False


def _illegal(state: AgentState, message: Message, now: float) -> Command:
    if isinstance(message, AgentRinging):
        return OfferViolation(now, state.id, message.uniqueid, state.status)
    if isinstance(message, SetAway) and state.status is Status.RINGING:
        return Rejected("AGENT_RINGING", f"agent {state.id}'s phone is ringing: answer it, "
                        "or go away once it stops")
    if isinstance(message, SetReady) and state.status is Status.WRAPUP:
        return Rejected("DISPOSITION_REQUIRED",
                        f"agent {state.id} is in wrap-up: send the disposition to be ready")
    if isinstance(message, SubmitDisposition):
        return Rejected("NOT_YOUR_CALL", f"agent {state.id} did not take call {message.uniqueid}")
    return Rejected("ILLEGAL_TRANSITION",
                    f"agent {state.id} cannot {type(message).__name__} while {state.status}")


# ---------------------------------------------------------------- transitions

#: Asterisk blocks an agent at least this long after a call, even in a queue without
#: wrap-up, so that it cannot ring the agent at their old place in the member list in
#: the milliseconds before the controller re-adds them at the end.
MIN_MEMBER_WRAPUP_SECONDS = 1


def _member_wrapup(policy: QueuePolicy) -> int:
    return max(policy.wrapup_seconds, MIN_MEMBER_WRAPUP_SECONDS)


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, TOKYO).date().isoformat()


def member_penalty(agents: Agents, state: AgentState, membership: Membership,
                   now: float) -> int:
    """The agent's penalty in one queue: skill level first, then the queue's order."""
    policy = agents.policies.get(membership.queue, QueuePolicy(membership.queue))
    order = state.calls_on(_day(now)) if policy.strategy == "fewest_calls" \
        else (state.rank or 0)
    return membership.penalty * RANK_SPAN + min(order, RANK_SPAN - 1)


def _next_rank(agents: Agents, agent_id: str) -> int:
    ranks = [a.rank for a in agents.by_id.values() if a.rank is not None and a.id != agent_id]
    return max(ranks) + 1 if ranks else 0


def _compact_ranks(agents: Agents) -> tuple[Agents, list[Command]]:
    """When ranks run out of room, number the ranked agents 0, 1, 2... in the same
    order. Penalties are lowered from the first agent on, so the order holds at every
    step in Asterisk too."""
    ranked = sorted((a for a in agents.by_id.values() if a.rank is not None),
                    key=lambda a: a.rank or 0)
    if not ranked or (ranked[-1].rank or 0) < RANK_SPAN - 1:
        return agents, []
    commands: list[Command] = []
    for new_rank, state in enumerate(ranked):
        if state.rank == new_rank:
            continue
        state = replace(state, rank=new_rank)
        agents = agents.with_agent(state)
        for membership in state.profile.queues:
            policy = agents.policies.get(membership.queue, QueuePolicy(membership.queue))
            if policy.strategy != "fewest_calls":
                commands.append(SetPenalty(state.id, membership.queue,
                                           member_penalty(agents, state, membership, 0.0)))
    return agents, commands


def _join_all(agents: Agents, state: AgentState, paused: bool, reason: str,
              now: float) -> list[Command]:
    """(Re-)enter every queue at the end of its member list, with the current penalty."""
    commands: list[Command] = []
    for membership in state.profile.queues:
        policy = agents.policies.get(membership.queue, QueuePolicy(membership.queue))
        commands += [RemoveMember(state.id, membership.queue),
                     AddMember(state.id, state.profile.name, membership.queue,
                               member_penalty(agents, state, membership, now), paused, reason,
                               _member_wrapup(policy))]
    return commands


def _become_ready(agents: Agents, state: AgentState, now: float,
                  **changes: Any) -> Transition:
    ready = replace(state, status=Status.READY, reason=None, since=now, ready_since=now,
                    call=None, call_queue=None, wrapup_deadline=None, wrapup_extended=False,
                    rank=_next_rank(agents, state.id), **changes)
    return ready, _join_all(agents, ready, paused=False, reason="", now=now)


def _login(agents: Agents, state: AgentState, message: Login, now: float
           ) -> Transition:
    return _become_ready(agents, state, now)


def _logout(agents: Agents, state: AgentState, message: Logout, now: float
            ) -> Transition:
    out = replace(state, status=Status.LOGGED_OUT, reason=None, since=now, ready_since=None,
                  call=None, call_queue=None, wrapup_deadline=None, rank=None)
    return out, [RemoveMember(state.id, m.queue) for m in state.profile.queues]


def _ready(agents: Agents, state: AgentState, message: SetReady, now: float
           ) -> Transition:
    return _become_ready(agents, state, now)


def _away(agents: Agents, state: AgentState, message: SetAway, now: float
          ) -> Transition:
    if message.reason not in agents.away_reasons:
        return state, [Rejected("UNKNOWN_AWAY_REASON",
                                f"unknown away reason {message.reason!r}; known: "
                                f"{', '.join(sorted(agents.away_reasons))}")]
    away = replace(state, status=Status.AWAY, reason=message.reason, since=now,
                   ready_since=None, call=None, call_queue=None, wrapup_deadline=None,
                   rank=None)
    return away, [PauseMember(state.id, True, message.reason)]


def _disposition(agents: Agents, state: AgentState, message: SubmitDisposition, now: float
                 ) -> Transition:
    if message.outcome not in OUTCOMES:
        return state, [Rejected("UNKNOWN_OUTCOME", f"outcome must be one of {', '.join(OUTCOMES)}")]
    in_wrapup = state.status is Status.WRAPUP and state.call == message.uniqueid
    if not in_wrapup and state.last_call != message.uniqueid:
        return state, [Rejected("NOT_YOUR_CALL",
                                f"agent {state.id} did not take call {message.uniqueid}")]
    recorded = DispositionRecorded(now, state.id, message.uniqueid, state.call_queue,
                                   message.outcome, message.category, message.complaint,
                                   message.escalation, message.note,
                                   after_wrapup=not in_wrapup,
                                   faq_prescribed=message.faq_prescribed)
    if not in_wrapup:
        return state, [recorded]
    ready, commands = _become_ready(agents, state, now)
    return ready, [recorded, *commands]


def _extend(agents: Agents, state: AgentState, message: ExtendWrapup, now: float
            ) -> Transition:
    if state.wrapup_extended:
        return state, [Rejected("ALREADY_EXTENDED", "wrap-up can be extended once")]
    policy = agents.policies.get(state.call_queue or "", QueuePolicy(""))
    return replace(state, wrapup_extended=True,
                   wrapup_deadline=(state.wrapup_deadline or now)
                   + policy.wrapup_extension_seconds), []


def _rung(agents: Agents, state: AgentState, message: AgentRinging, now: float
          ) -> Transition:
    return replace(state, status=Status.RINGING, since=now, call=message.uniqueid,
                   call_queue=message.queue), []


def _no_answer(agents: Agents, state: AgentState, message: AgentRingNoAnswer, now: float
               ) -> Transition:
    missed = replace(state, status=Status.MISSED, reason="missed", since=now,
                     ready_since=None, call=None, call_queue=None, rank=None)
    return missed, [PauseMember(state.id, True, "missed")]


def _answered(agents: Agents, state: AgentState, message: AgentAnswered, now: float
              ) -> Transition:
    day = _day(now)
    return replace(state, status=Status.ON_CALL, since=now, call=message.uniqueid,
                   call_queue=message.queue, rank=None, calls_day=day,
                   calls_today=state.calls_on(day) + 1), []


def _call_ended(agents: Agents, state: AgentState, message: AgentCallEnded, now: float
                ) -> Transition:
    policy = agents.policies.get(message.queue, QueuePolicy(message.queue))
    if policy.wrapup_seconds <= 0:
        return _become_ready(agents, state, now, last_call=message.uniqueid)
    wrapup = replace(state, status=Status.WRAPUP, reason=None, since=now,
                     last_call=message.uniqueid, call=message.uniqueid,
                     call_queue=message.queue, wrapup_deadline=now + policy.wrapup_seconds,
                     wrapup_extended=False)
    return wrapup, [PauseMember(state.id, True, "wrapup")]


def _ended_before_the_answer_was_seen(agents: Agents, state: AgentState,
                                      message: AgentCallEnded, now: float) -> Transition:
    """The call the phone rang for ended as answered (Asterisk says so: the answer was
    missed, e.g. while the controller was down and the queue log is read back): it counts
    as answered and goes to wrap-up. The end of another call changes nothing."""
    if message.uniqueid is None or message.uniqueid != state.call:
        return state, []
    answered, _ = _answered(agents, state, AgentAnswered(
        message.at, message.uniqueid, message.queue, state.id, 0, 0), now)
    return _call_ended(agents, answered, message, now)


def _tick(agents: Agents, at: float) -> tuple[Agents, list[Command]]:
    commands: list[Command] = []
    for state in list(agents.by_id.values()):
        if state.status is Status.WRAPUP and state.wrapup_deadline is not None \
                and state.wrapup_deadline <= at:
            ready, joined = _become_ready(agents, state, at)
            agents = agents.with_agent(ready)
            commands += [StateChanged(at, state.id, Status.READY, Status.WRAPUP,
                                      "wrapup_timeout", state.call), *joined]
    agents, renumbered = _compact_ranks(agents)
    return agents, [*commands, *renumbered]


def _ring_withdrawn(agents: Agents, message: CallerAbandoned | QueueLeft
                    ) -> tuple[Agents, list[Command]]:
    """The caller left while an agent's phone rang: the agent is idle again, in place."""
    commands: list[Command] = []
    for state in agents.ringing(message.uniqueid):
        back = replace(state, status=Status.READY, since=message.at, call=None,
                       call_queue=None)
        agents = agents.with_agent(back)
        commands.append(StateChanged(message.at, state.id, Status.READY, Status.RINGING,
                                     "caller_left", message.uniqueid))
    return agents, commands


S = Status
LOGGED_IN = (S.READY, S.AWAY, S.MISSED, S.WRAPUP)
TRANSITIONS: dict[tuple[Status, type], Handler] = {
    (S.LOGGED_OUT, Login): _login,
    **{(s, Logout): _logout for s in LOGGED_IN},
    **{(s, SetReady): _ready for s in (S.AWAY, S.MISSED)},
    **{(s, SetAway): _away for s in (S.READY, S.AWAY, S.MISSED, S.WRAPUP)},
    **{(s, SubmitDisposition): _disposition for s in (*LOGGED_IN, S.LOGGED_OUT)},
    (S.WRAPUP, ExtendWrapup): _extend,
    (S.READY, AgentRinging): _rung,
    (S.RINGING, AgentRingNoAnswer): _no_answer,
    (S.RINGING, AgentAnswered): _answered,
    (S.ON_CALL, AgentCallEnded): _call_ended,
    (S.RINGING, AgentCallEnded): _ended_before_the_answer_was_seen,
}


# ---------------------------------------------------------------- resynchronisation

def reconcile(agents: Agents, members: frozenset[tuple[str, str, bool]],
              now: float) -> list[Command]:
    """Commands that make Asterisk's queue members match the agents' states.

    ``members`` are (queue, agent id, paused) as Asterisk reports them after a
    (re)connect. Missing members are added, ready agents first in the order they became
    ready (so the longest idle stays first); members of logged-out or unknown agents are
    removed; a wrong paused flag is corrected.
    """
    present = {(queue, agent): paused for queue, agent, paused in members}
    commands: list[Command] = []
    wanted: set[tuple[str, str]] = set()
    logged_in = sorted((a for a in agents.by_id.values() if a.status is not Status.LOGGED_OUT),
                       key=lambda a: (a.status is not Status.READY, a.ready_since or 0.0))
    for state in logged_in:
        paused = state.status in (Status.AWAY, Status.MISSED, Status.WRAPUP)
        reason = state.reason or (state.status.value if paused else "")
        for membership in state.profile.queues:
            wanted.add((membership.queue, state.id))
            policy = agents.policies.get(membership.queue, QueuePolicy(membership.queue))
            if (membership.queue, state.id) not in present:
                commands.append(AddMember(state.id, state.profile.name, membership.queue,
                                          member_penalty(agents, state, membership, now),
                                          paused, reason, _member_wrapup(policy)))
            elif present[(membership.queue, state.id)] != paused:
                commands.append(PauseMember(state.id, paused, reason))
    commands += [RemoveMember(agent, queue) for queue, agent in present
                 if (queue, agent) not in wanted]
    return commands


def snapshot(state: AgentState) -> dict[str, Any]:
    """What is kept of an agent's state across a controller restart."""
    return {"status": state.status.value, "reason": state.reason, "since": state.since,
            "ready_since": state.ready_since, "call": state.call, "call_queue": state.call_queue,
            "last_call": state.last_call, "wrapup_deadline": state.wrapup_deadline,
            "wrapup_extended": state.wrapup_extended, "rank": state.rank,
            "calls_today": state.calls_today, "calls_day": state.calls_day}


def restore(agents: Agents, snapshots: Mapping[str, dict[str, Any]]) -> Agents:
    for agent_id, data in snapshots.items():
        state = agents.by_id.get(agent_id)
        if state is not None:
            agents = agents.with_agent(replace(state, **{**data, "status": Status(data["status"])}))
    return agents
