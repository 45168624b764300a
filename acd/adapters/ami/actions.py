"""Every AMI action the product sends, built here: one function per action, returning the
dict :meth:`acd.adapters.ami.client.AmiClient.action` sends.

Nothing else in the product writes an ``{"Action": ...}`` dict, so this module is the one
place to read what the controller asks of Asterisk (and to check a field's spelling
against ``manager show command <Action>``). Values are always strings, as AMI has them;
booleans are ``"true"``/``"false"``.
"""

from __future__ import annotations

from collections.abc import Mapping

Action = dict[str, str]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def name(action: Action) -> str:
    """Which action this is (for logs and error messages)."""
    return action.get("Action", "?")


def agent_interface(agent: str) -> str:
    """The queue member interface (and the phone) of an agent: its PJSIP endpoint."""
    return f"PJSIP/{agent}"


# ---------------------------------------------------------------- connection and state

def ping() -> Action:
    """The client's watchdog: a connection that does not answer is dropped."""
    return {"Action": "Ping"}


def queue_status() -> Action:
    """Answered by an event list (QueueParams, QueueMember, ...): ``as_list=True``."""
    return {"Action": "QueueStatus"}


def core_show_channels() -> Action:
    """Every live channel (CoreShowChannel events): ``as_list=True``."""
    return {"Action": "CoreShowChannels"}


# ---------------------------------------------------------------- queue members

def member_name(agent: str, name: str) -> str:
    """How Asterisk names a member: the agent id first (Asterisk's queue log writes this
    name, and acd/adapters/asterisk/queue_log.py reads the id from it), then the name for
    people reading ``queue show``."""
    return f"{agent} {name}"


def queue_add(queue: str, interface: str, member_name: str, penalty: int, paused: bool,
              reason: str, wrapup_seconds: int) -> Action:
    """Add a member at the end of the queue's member list; its device state is followed
    on the same interface."""
    return {"Action": "QueueAdd", "Queue": queue, "Interface": interface,
            "MemberName": member_name, "StateInterface": interface,
            "Penalty": str(penalty), "Paused": _flag(paused), "Reason": reason,
            "Wrapuptime": str(wrapup_seconds)}


def queue_remove(queue: str, interface: str) -> Action:
    return {"Action": "QueueRemove", "Queue": queue, "Interface": interface}


def queue_penalty(queue: str, interface: str, penalty: int) -> Action:
    return {"Action": "QueuePenalty", "Queue": queue, "Interface": interface,
            "Penalty": str(penalty)}


def queue_pause(interface: str, paused: bool, reason: str) -> Action:
    """Pause or unpause the member in every queue (no ``Queue`` field)."""
    return {"Action": "QueuePause", "Interface": interface, "Paused": _flag(paused),
            "Reason": reason}


# ---------------------------------------------------------------- recording

def mix_monitor(channel: str, file: str, options: str = "b") -> Action:
    """Record ``channel`` into ``file`` (``b``: only while bridged)."""
    return {"Action": "MixMonitor", "Channel": channel, "File": file, "Options": options}


def stop_mix_monitor(channel: str, mixmonitor_id: str | None = None) -> Action:
    """Stop the channel's MixMonitor (the one of ``mixmonitor_id`` when given)."""
    action = {"Action": "StopMixMonitor", "Channel": channel}
    if mixmonitor_id:
        action["MixMonitorID"] = mixmonitor_id
    return action


# ---------------------------------------------------------------- channels and calls

def hangup(channel: str) -> Action:
    return {"Action": "Hangup", "Channel": channel}


def blind_transfer(channel: str, context: str, exten: str) -> Action:
    return {"Action": "BlindTransfer", "Channel": channel, "Context": context, "Exten": exten}


def atxfer(channel: str, context: str, exten: str) -> Action:
    """An attended transfer: the caller holds while ``exten@context`` is dialled."""
    return {"Action": "Atxfer", "Channel": channel, "Context": context, "Exten": exten}


def mute_audio(channel: str, direction: str, on: bool) -> Action:
    """Mute (``on``) or unmute a channel's audio; ``direction`` in, out or all."""
    return {"Action": "MuteAudio", "Channel": channel, "Direction": direction,
            "State": "on" if on else "off"}


def originate(channel: str, application: str, data: str, *,
              caller_id: str | None = None, timeout_seconds: int | None = None,
              variables: Mapping[str, str] | None = None) -> Action:
    """Dial ``channel`` and run ``application(data)`` on it once it answers; always
    asynchronous (the response comes at once, OriginateResponse later)."""
    action = {"Action": "Originate", "Channel": channel, "Application": application,
              "Data": data}
    if caller_id is not None:
        action["CallerID"] = caller_id
    action["Async"] = "true"
    if timeout_seconds is not None:
        action["Timeout"] = str(timeout_seconds * 1000)
    if variables:
        action["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
    return action


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> Action:
    return {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": exten,
            "Priority": str(priority)}


def bridge(channel1: str, channel2: str, tone: bool = False) -> Action:
    return {"Action": "Bridge", "Channel1": channel1, "Channel2": channel2,
            "Tone": "yes" if tone else "no"}


def setvar(variable: str, value: str, channel: str | None = None) -> Action:
    """Set a channel variable (a global one without ``channel``)."""
    action = {"Action": "Setvar", "Variable": variable, "Value": value}
    if channel is not None:
        action["Channel"] = channel
    return action


def getvar(variable: str, channel: str | None = None) -> Action:
    action = {"Action": "Getvar", "Variable": variable}
    if channel is not None:
        action["Channel"] = channel
    return action


def user_event(name: str, **headers: str) -> Action:
    return {"Action": "UserEvent", "UserEvent": name, **headers}


def db_put(family: str, key: str, value: str) -> Action:
    """Write a key of Asterisk's own database (AstDB, kept on disk); an empty value is
    how a key is cleared (DBDel of a missing key is an error)."""
    return {"Action": "DBPut", "Family": family, "Key": key, "Val": value}
