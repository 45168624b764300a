"""Checks of the IVR flows that pydantic cannot make: references between nodes, prompts,
queues, calendars and transfer targets, DTMF keys, and the shape of each flow's graph
(every node reachable from ``start``; no loop the caller can never leave). Every problem
names file:line:column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acd.domain.policies import TransferPolicy, TransferRefused
from acd.ivr.flow_models import (
    DTMF_KEY,
    EXIT_TYPES,
    MAX_EVENT_CHOICES,
    CalendarNode,
    EventsNode,
    Flow,
    LanguageNode,
    MenuNode,
    QueueNode,
    TransferNode,
    Transfers,
    prompt_refs,
    successors,
)
from acd.ivr.models import (
    MIN_EVENT_STATUSES,
    Prompt,  # models imports this package's flow models
)
from acd.ivr.yaml_source import Loc, Position, SourceDocument

#: Prompts an events menu plays after each title ("... press N"), made when a flow has an
#: events node and the admin did not define them; an admin's prompt of the same name wins.
PRESS_PROMPT = "press_{key}"
_PRESS_TEXT = {"ja": "は、{key}番を押してください。", "en": "press {key}."}


@dataclass(frozen=True)
class FlowAt:
    """Where a flow is written: its document and the location of the flow in it."""

    doc: SourceDocument
    loc: Loc

    def position_of(self, loc: Loc, key: bool = False) -> Position:
        return self.doc.position_of(self.loc + tuple(loc), key=key)


def default_prompts(flows: Mapping[str, Flow]) -> dict[str, Prompt]:
    """The built-in prompts the flows need (``press_1`` .. ``press_9`` for event menus)."""

    if not any(isinstance(node, EventsNode) for flow in flows.values()
               for node in flow.nodes.values()):
        return {}
    return {PRESS_PROMPT.format(key=key): Prompt(text={
        lang: text.format(key=key) for lang, text in _PRESS_TEXT.items()})
        for key in range(1, MAX_EVENT_CHOICES + 1)}


def check_flows(flows: Mapping[str, Flow], where: Mapping[str, FlowAt], *,
                prompts: Mapping[str, object], queues: set[str], calendars: set[str],
                transfers: Transfers, transfers_at: Position | None,
                event_statuses: int) -> list[str]:

    problems: list[str] = []
    policy = TransferPolicy()
    try:
        policy = TransferPolicy(allow=tuple(transfers.allow),
                                departments=dict(transfers.departments))
    except ValueError as exc:
        problems.append(f"{transfers_at}: transfers: {exc}")
    for name, flow in flows.items():
        at = where[name]
        nodes = flow.nodes
        if flow.start not in nodes:
            problems.append(f"{at.position_of(('start',))}: flow '{name}': unknown start node "
                            f"'{flow.start}' (nodes: {', '.join(sorted(nodes))})")
        for node_name, node in nodes.items():
            here = ("nodes", node_name)
            for loc, target in successors(node):
                if target not in nodes:
                    problems.append(f"{at.position_of(here + loc)}: flow '{name}': node "
                                    f"'{node_name}' leads to unknown node '{target}' (nodes: "
                                    f"{', '.join(sorted(nodes))})")
            for loc, prompt in prompt_refs(node):
                if prompt not in prompts:
                    problems.append(f"{at.position_of(here + loc)}: unknown prompt '{prompt}' "
                                    f"(known: {', '.join(sorted(prompts)) or 'none'})")
            if isinstance(node, (MenuNode, LanguageNode)):
                for key in node.choices:
                    if not DTMF_KEY.match(key):
                        problems.append(f"{at.position_of(here + ('choices', key), key=True)}: "
                                        f"bad DTMF key '{key}': a choice is one key, 0-9, * "
                                        "or # (quote it: \"1\")")
            if isinstance(node, QueueNode) and node.queue not in queues:
                problems.append(f"{at.position_of(here + ('queue',))}: unknown queue "
                                f"'{node.queue}' (known: {', '.join(sorted(queues)) or 'none'})")
            if isinstance(node, CalendarNode) and node.calendar not in calendars:
                problems.append(f"{at.position_of(here + ('calendar',))}: unknown calendar "
                                f"'{node.calendar}' (known: "
                                f"{', '.join(sorted(calendars)) or 'none'}; validating one "
                                "file, give the calendars' file too: acd ivr validate "
                                "FILE calendars.yaml)")
            if isinstance(node, TransferNode):
                try:
                    policy.resolve(node.to)
                except TransferRefused as exc:
                    problems.append(f"{at.position_of(here + ('to',))}: transfer target "
                                    f"'{node.to}' is outside the allow-list: {exc.why} "
                                    "(add it under 'transfers: allow:' or 'departments:')")
            if isinstance(node, EventsNode) and event_statuses < MIN_EVENT_STATUSES:
                problems.append(f"{at.position_of(here + ('events',))}: an events node needs "
                                f"at least {MIN_EVENT_STATUSES} statuses under "
                                f"'event_statuses:', there are {event_statuses}")
        if flow.start in nodes:
            problems += _graph_problems(name, flow, at)
    return problems


def _graph_problems(name: str, flow: Flow, at: FlowAt) -> list[str]:
    nodes = flow.nodes
    following = {n: [t for _, t in successors(node) if t in nodes] for n, node in nodes.items()}
    reached = {flow.start}
    todo = [flow.start]
    while todo:
        for target in following[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    problems = [f"{at.position_of(('nodes', n), key=True)}: flow '{name}': node '{n}' is "
                f"unreachable from start node '{flow.start}'"
                for n in nodes if n not in reached]
    # nodes from which an exit (queue, voicemail, transfer, events, hangup) can be reached
    leaving = {n for n, node in nodes.items() if node.type in EXIT_TYPES}
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if n not in leaving and any(t in leaving for t in following[n]):
                leaving.add(n)
                changed = True
    trapped = [n for n in nodes if n in reached and n not in leaving]
    reported: set[str] = set()
    for start in trapped:
        if start in reported:
            continue
        path = [start]
        while True:
            nxt = next((t for t in following[path[-1]] if t in trapped), None)
            if nxt is None:
                break
            if nxt in path:
                loop = path[path.index(nxt):] + [nxt]
                reported.update(loop)
                problems.append(
                    f"{at.position_of(('nodes', loop[0]), key=True)}: flow '{name}': loop "
                    f"without exit: {' -> '.join(loop)} (no queue, voicemail, transfer, "
                    "events or hangup node can be reached from it)")
                break
            path.append(nxt)
        reported.update(path)
    return problems
