"""Compile IVR flows into Asterisk dialplan.

Each node of each flow becomes one context per language the site speaks,
``fl-<flow>-<node>-<language>``, entered at ``s,1``: prompts are compiled in that language,
and a language node jumps into the contexts of the chosen language, so every later prompt
follows the caller's choice. A menu's keys are the extensions of its context (a key
pressed during ``Background`` jumps straight to it; ``i`` is an invalid key, ``t`` the
timeout after ``WaitExten``).

What the controller learns (UserEvents, see acd/adapters/ami_events.py):
``MadoguchiMenu`` (Node, Choice, Path, Language) for every choice -- the path is also in
the inherited channel variable ``MENU_PATH``, so the agent's leg carries it -- and
``MadoguchiFlowExit`` (Node, Kind, Target) where the call leaves the IVR.

The event menu reads today's events from global variables at run time (prefix
``EV_<events>_<YYYYMMDD Tokyo>_``: ``count``, ``<n>_title``, ``<n>_status``,
``<n>_id``, ``<n>_state``), the status at the moment the caller chooses: a change staff
make is heard by the next choice, with no dialplan reload.

Nothing here calls out to the controller during a call: the flows keep serving while it
is down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from acd.domain.calendar import TIMEZONE_NAME
from acd.domain.policies import TransferPolicy
from acd.ivr.calendar_dialplan import calendar_context_of
from acd.ivr.flow_checks import PRESS_PROMPT
from acd.ivr.flow_models import (
    CALENDAR_BRANCHES,
    MAX_EVENT_CHOICES,
    CalendarNode,
    EventsNode,
    Flow,
    HangupNode,
    LanguageNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    TransferNode,
    VoicemailNode,
)

#: (prompt name, language) -> the audio path Playback wants.
PromptPath = Callable[[str, str], str]
#: The trunk the transfers leave by (pjsip.conf's endpoint) when no other is given.
TRUNK = "carrier"
#: Dial's pre-dial handler that presents the line's number on the outgoing leg only
#: (extensions_calls.conf.j2 has the handler).
PRESENTED_OPTION = "b(mdg-presented^s^1)"


def node_context(flow: str, node: str, language: str) -> str:
    return f"fl-{flow}-{node}-{language}"


def flow_languages(flows: Iterable[Flow]) -> set[str]:
    """The languages a caller can choose in the flows."""
    found: set[str] = set()
    for flow in flows:
        for node in flow.nodes.values():
            if isinstance(node, LanguageNode):
                found.update(node.choices.values())
                found.add(node.default)
    return found


def _menu_choice(node_name: str, choice: str) -> list[str]:
    """Append ``node:choice`` to the call's menu path and tell the controller."""
    return [
        # (the path stays out of IF(): its ':' would split IF's arguments)
        f" same => n,Set(__MENU_PATH=${{MENU_PATH}}${{IF($[${{LEN(${{MENU_PATH}})}} > 0]?>)}}"
        f"{node_name}:{choice})",
        f" same => n,UserEvent(MadoguchiMenu,Node: {node_name},Choice: {choice},"
        "Path: ${MENU_PATH})",  # the channel's snapshot carries its Language
    ]


def _exit(node_name: str, kind: str, target: str) -> str:
    """The application telling the controller where the call leaves the flow."""
    return f"UserEvent(MadoguchiFlowExit,Node: {node_name},Kind: {kind},Target: {target})"


class _Compiler:
    def __init__(self, name: str, flow: Flow, language: str, prompt: PromptPath,
                 policy: TransferPolicy, trunk: str) -> None:
        self.name, self.flow, self.language = name, flow, language
        self.prompt, self.policy, self.trunk = prompt, policy, trunk

    def goto(self, node: str, language: str | None = None) -> str:
        return f"Goto({node_context(self.name, node, language or self.language)},s,1)"

    def say(self, prompt: str) -> str:
        return self.prompt(prompt, self.language)

    def node(self, node_name: str, node: Node) -> list[str]:
        head = [f"[{node_context(self.name, node_name, self.language)}]"]
        match node:
            case PlayNode():
                body = [f"exten => s,1,NoOp(play {node_name})"]
                body += [f" same => n,Playback({self.say(p)})" for p in node.prompts]
                body.append(f" same => n,{self.goto(node.next)}")
            case MenuNode():
                body = self.menu(node_name, node)
            case LanguageNode():
                body = self.language_menu(node_name, node)
            case CalendarNode():
                body = [f"exten => s,1,Gosub({calendar_context_of(node.calendar)},s,1)",
                        " same => n,Set(CALSTATUS=${GOSUB_RETVAL})",
                        " same => n,UserEvent(MadoguchiCalendar,Status: ${CALSTATUS})"]
                body += [f" same => n,GotoIf($[\"${{CALSTATUS}}\" = \"{status}\"]?{status})"
                         for status in CALENDAR_BRANCHES[1:]]
                body += [" same => n(open),Gosub(mdg-open,s,1)",  # notice, recording
                         f" same => n,{self.goto(node.open)}"]
                body += [f" same => n({status}),{self.goto(node.branch(status))}"
                         for status in CALENDAR_BRANCHES[1:]]
            case QueueNode():
                body = ["exten => s,1,Gosub(mdg-open,s,1)"]  # notice, recording if pending
                if node.prompt:
                    body.append(f" same => n,Playback({self.say(node.prompt)})")
                body += [f" same => n,{_exit(node_name, 'queue', node.queue)}",
                         f" same => n,Gosub(queue-{node.queue}-{self.language},s,1)",
                         " same => n,Hangup()"]
            case VoicemailNode():
                body = [f"exten => s,1,{_exit(node_name, 'voicemail', '')}",
                        f" same => n,Playback({self.say(node.prompt)})",
                        " same => n,Set(VMFILE=${VOICEMAIL}/${STRFTIME(${EPOCH},"
                        f"{TIMEZONE_NAME},%Y/%m/%d)}}/${{UNIQUEID}}.wav)",
                        " same => n,UserEvent(MadoguchiVoicemail,File: ${VMFILE})",
                        " same => n,Record(${VMFILE},5,180,k)",
                        " same => n,Hangup()"]
            case TransferNode():
                number = self.policy.resolve(node.to)
                body = ["exten => s,1,Gosub(mdg-open,s,1)"]  # notice, recording if pending
                if node.prompt:
                    body.append(f" same => n,Playback({self.say(node.prompt)})")
                # The caller's MixMonitor (a line recorded 'always') goes on: it
                # records the transferred conversation into the call's recording, as an
                # operator's transfer does (the recording covers the whole conversation).
                body += [f" same => n,{_exit(node_name, 'transfer', number)}",
                         f" same => n,Dial(PJSIP/{number}@{self.trunk},{node.timeout},"
                         f"{PRESENTED_OPTION})",
                         " same => n,Hangup()"]
            case EventsNode():
                body = self.events(node_name, node)
            case HangupNode():
                body = [f"exten => s,1,{_exit(node_name, 'hangup', '')}"]
                body += [f" same => n,Playback({self.say(p)})" for p in node.prompts]
                body.append(" same => n,Hangup()")
        return head + body

    def menu(self, node_name: str, node: MenuNode) -> list[str]:
        lines = ["exten => s,1,Set(MENU_TRIES=0)",
                 f" same => n(ask),Background({self.say(node.prompt)})",
                 f" same => n,WaitExten({node.timeout:g})"]
        for key, target in node.choices.items():
            lines.append(f"exten => {_key(key)},1,NoOp(choice {key})")
            lines += _menu_choice(node_name, key)
            lines.append(f" same => n,{self.goto(target)}")
        for exten, what in (("i", "invalid"), ("t", "timeout")):
            lines.append(f"exten => {exten},1,Set(MENU_TRIES=$[${{MENU_TRIES}} + 1])")
            lines += _menu_choice(node_name, what)  # every invalid key and silence
            if what == "invalid" and node.invalid_prompt:
                lines.append(f" same => n,Playback({self.say(node.invalid_prompt)})")
            lines += [f" same => n,GotoIf($[${{MENU_TRIES}} > {node.retries}]?default)",
                      " same => n,Goto(s,ask)",
                      f" same => n(default),{self.goto(node.default)}"]
        return lines

    def language_menu(self, node_name: str, node: LanguageNode) -> list[str]:
        lines = [f"exten => s,1,Background({self.say(node.prompt)})",
                 f" same => n,WaitExten({node.timeout:g})"]
        for key, language in [*node.choices.items(), ("i", node.default),
                              ("t", node.default)]:
            lines += [f"exten => {_key(key)},1,Set(CHANNEL(language)={language})"]
            lines += _menu_choice(node_name, key if key not in "it" else
                                  {"i": "invalid", "t": "timeout"}[key])
            lines.append(f" same => n,{self.goto(node.next, language)}")
        return lines

    def events(self, node_name: str, node: EventsNode) -> list[str]:
        after = self.goto(node.next) if node.next else "Hangup()"
        lines = [
            f"exten => s,1,Set(EVFAM=EV_{node.events}_"
            f"${{STRFTIME(${{EPOCH}},{TIMEZONE_NAME},%Y%m%d)}}_)",
            " same => n,Set(EVCOUNT=${GLOBAL(${EVFAM}count)})",
            ' same => n,Set(EVCOUNT=${IF($["${EVCOUNT}" = ""]?0:${EVCOUNT})})',
            f" same => n,{_exit(node_name, 'events', node.events)}",
            " same => n,Set(MENU_TRIES=0)",
        ]
        lines += [f" same => n,Set(PRESS{key}={self.say(PRESS_PROMPT.format(key=key))})"
                  for key in range(1, MAX_EVENT_CHOICES + 1)]
        lines += [
            f" same => n,Background({self.say(node.intro_prompt)})",
            " same => n,GotoIf($[${EVCOUNT} = 0]?none)",
            " same => n(menu),Set(EVN=0)",
            " same => n(next),Set(EVN=$[${EVN} + 1])",
            f" same => n,GotoIf($[${{EVN}} > ${{EVCOUNT}} | ${{EVN}} > {MAX_EVENT_CHOICES}]"
            "?wait)",
            " same => n,Set(EVTITLE=${GLOBAL(${EVFAM}${EVN}_title)})",
            " same => n,GotoIf($[${LEN(${EVTITLE})} = 0]?next)",
            " same => n,Background(${EVTITLE})",
            " same => n,Background(${PRESS${EVN}})",
            " same => n,Goto(next)",
            f" same => n(wait),WaitExten({node.timeout:g})",
            f" same => n(none),Playback({self.say(node.no_events_prompt)})",
            f" same => n,{after}",
            # a key: the event at that position, its status as pushed now
            f"exten => _[1-{MAX_EVENT_CHOICES}],1,GotoIf($[${{EXTEN}} > ${{EVCOUNT}}]?i,1)",
        ]
        lines += _menu_choice(node_name, "${EXTEN}")
        lines += [
            " same => n,Set(EVTITLE=${GLOBAL(${EVFAM}${EXTEN}_title)})",
            " same => n,Set(EVSTATUS=${GLOBAL(${EVFAM}${EXTEN}_status)})",
            " same => n,GotoIf($[${LEN(${EVTITLE})} = 0]?notitle)",
            " same => n,Playback(${EVTITLE})",
            " same => n(notitle),GotoIf($[${LEN(${EVSTATUS})} = 0]?played)",
            " same => n,Playback(${EVSTATUS})",
            f" same => n(played),UserEvent(MadoguchiEventItem,Events: {node.events},"
            "Position: ${EXTEN},Item: ${GLOBAL(${EVFAM}${EXTEN}_id)},"
            "Status: ${GLOBAL(${EVFAM}${EXTEN}_state)})",
        ]
        if node.end_prompt:
            lines.append(f" same => n,Playback({self.say(node.end_prompt)})")
        lines.append(f" same => n,{after}")
        for exten, what in (("i", "invalid"), ("t", "timeout")):
            lines.append(f"exten => {exten},1,Set(MENU_TRIES=$[${{MENU_TRIES}} + 1])")
            lines += _menu_choice(node_name, what)
            if what == "invalid" and node.invalid_prompt:
                lines.append(f" same => n,Playback({self.say(node.invalid_prompt)})")
            lines += [f" same => n,GotoIf($[${{MENU_TRIES}} > {node.retries}]?done)",
                      " same => n,Goto(s,menu)",
                      f" same => n(done),{after}"]
        return lines


def _key(key: str) -> str:
    """A DTMF key as an extension: ``*`` and ``#`` are literal, digits are themselves."""
    return key


def compile_flows(flows: dict[str, Flow], languages: Iterable[str], prompt: PromptPath,
                  policy: TransferPolicy, trunk: str = TRUNK) -> list[str]:
    """Every node of every flow in every language, as dialplan lines; transfers leave by
    ``trunk`` (a pjsip endpoint, or a channel variable naming the line's)."""
    lines: list[str] = []
    for name, flow in flows.items():
        for language in sorted(languages):
            compiler = _Compiler(name, flow, language, prompt, policy, trunk)
            lines.append(f"; flow {name} ({language}), starting at {flow.start}")
            for node_name, node in flow.nodes.items():
                lines.extend(compiler.node(node_name, node))
                lines.append("")
    return lines
