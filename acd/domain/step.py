"""One step of the whole domain: which machine sees which message, in one place.

The controller (acd/runtime.py) hands every typed event (translated from AMI at the
border), every person's request and every clock tick to :func:`step`, which returns the
new :class:`State` and the commands the executor (acd/effects.py) carries out, in the
order given. Pure: no I/O, no clock.

Who sees what -- the whole routing is :func:`step`:

======================================================  ============  ====================
message                                                 call tracker  agent machine
======================================================  ============  ====================
LineEntered, QueueJoined, MenuChosen, ChannelHungUp...  step          --
AgentRinging, AgentRingNoAnswer, AgentAnswered,         step          step
AgentCallEnded, CallerAbandoned, QueueLeft
MembersSnapshot (after a (re)connect)                   step (no-op)  reconcile: repair
                                                                      Asterisk's members
ChannelsSnapshot, AmiConnected, AmiDisconnected         step          --
Login, Logout, SetReady, SetAway, SubmitDisposition,    --            step
ExtendWrapup (requests), Tick (the clock)
RosterChanged (an admin changed the agents)             --            new roster, states
                                                                      kept
======================================================  ============  ====================

The call tracker's commands come first, then the agent machine's.

What Asterisk leaves out is filled in from the state (:func:`complete`): an
``AgentCallEnded`` without a uniqueid (Asterisk had neither channel any more) is the
agent's current call. The controller completes an event before it appends it to the
event log, so the log holds what the domain understood.

``now`` is the time the message is handled as of; the controller passes an Asterisk
event's own stamp (``event.at``), a request's arrival and a tick's time. (Agent state
changes that wait for Asterisk to apply a member change are stamped by the executor with
the time Asterisk answered: only the I/O knows that; see acd/effects.py.)

Problems are commands too, never silently dropped: the call tracker's
:class:`DomainProblem` is named with its trigger (the event's type); the agent machine's
:class:`~acd.domain.agents.Rejected` of an Asterisk event (an answer while ready, an
unknown agent...) becomes a :class:`DomainProblem` with its error id, for the executor to
log. A rejected *request* stays a ``Rejected``: the requester is answered with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from acd.domain import agents as agent_machine
from acd.domain import calls as call_tracker
from acd.domain.agents import AgentProfile, Agents, Rejected, Request, Tick
from acd.domain.calls import Calls, DomainProblem
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    CallerAbandoned,
    Event,
    MembersSnapshot,
    QueueLeft,
)

#: The events the agent machine sees besides the call tracker.
AGENT_EVENTS = (AgentRinging, AgentRingNoAnswer, AgentAnswered, AgentCallEnded,
                CallerAbandoned, QueueLeft)


@dataclass(frozen=True)
class RosterChanged:
    """Agents added, changed or removed by an admin: the states of those kept go on."""

    roster: tuple[AgentProfile, ...]


@dataclass(frozen=True)
class State:
    """Everything the domain knows: the calls in progress and the agents' states."""

    calls: Calls = field(default_factory=Calls)
    agents: Agents = field(default_factory=Agents)


Message = Event | Request | Tick | RosterChanged
Command = call_tracker.Command | agent_machine.Command


def complete(state: State, event: Event) -> Event:
    """``event`` with what Asterisk left out filled in from ``state``: an AgentCallEnded
    without a uniqueid (no channel snapshot at all) is the agent's current call."""
    if isinstance(event, AgentCallEnded) and event.uniqueid is None:
        agent = state.agents.by_id.get(event.agent)
        return replace(event, uniqueid=agent.call if agent else None)
    return event


def read_back(state: State, event: Event) -> list[Event]:
    """The events the domain needs for one event read back from Asterisk's queue log
    after a reconnect (acd/adapters/asterisk/queue_log.py): the queue log writes no ring,
    so an answer whose ring was not seen is preceded by it."""
    if isinstance(event, AgentAnswered):
        agent = state.agents.by_id.get(event.agent)
        if agent is not None and not (agent.status is agent_machine.Status.RINGING
                                      and agent.call == event.uniqueid):
            return [AgentRinging(event.at, event.uniqueid, event.queue, event.agent), event]
    return [event]


def step(state: State, message: Message, now: float) -> tuple[State, list[Command]]:
    if isinstance(message, RosterChanged):
        return replace(state, agents=state.agents.with_roster(list(message.roster))), []
    if isinstance(message, (Request, Tick)):
        agents, agent_commands = agent_machine.step(state.agents, message, now)
        commands: list[Command] = list(agent_commands)
        return replace(state, agents=agents), commands
    event = complete(state, message)
    calls, commands = _calls_step(state.calls, event)
    agents = state.agents
    if isinstance(event, AGENT_EVENTS):
        agents, agent_commands = agent_machine.step(agents, event, now)
        commands += [_problem(c, event) if isinstance(c, Rejected) else c
                     for c in agent_commands]
    elif isinstance(event, MembersSnapshot):
        commands += agent_machine.reconcile(agents, event.members, now)
    return State(calls, agents), commands


def unavailable_confirmed(state: State, agent: str, at: float) -> State:
    """Asterisk confirmed at ``at`` that an agent who went away or logged out is paused or
    removed (the controller knows that time from the answer to its member action)."""
    return replace(state, agents=agent_machine.unavailable_confirmed(state.agents, agent, at))


def replay(state: State, event: Event) -> tuple[State, list[Command]]:
    """An event read back from the log after a restart: only the call tracker sees it
    again (the agents' states come back from their own snapshots)."""
    calls, commands = _calls_step(state.calls, event)
    return replace(state, calls=calls), commands


def _calls_step(calls: Calls, event: Event) -> tuple[Calls, list[Command]]:
    calls, call_commands = call_tracker.step(calls, event)
    trigger = type(event).__name__
    commands: list[Command] = [replace(c, trigger=trigger) if isinstance(c, DomainProblem)
                               else c for c in call_commands]
    return calls, commands


def _problem(rejected: Rejected, event: Event) -> DomainProblem:
    return DomainProblem(rejected.message, getattr(event, "uniqueid", None),
                         getattr(event, "agent", None), trigger=type(event).__name__,
                         error_id=rejected.error_id)


__all__ = ["AGENT_EVENTS", "Command", "DomainProblem", "Message", "RosterChanged", "State",
           "complete", "replay", "step"]
