"""Load and validate the flows directory into a :class:`Site`.

Every problem is reported as ``file:line:column: what is wrong``; all problems of all
files are collected before failing, so an admin sees the whole list at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from acd.ivr.calendar_models import CalendarSpec
from acd.ivr.flow_checks import FlowAt, check_flows, default_prompts
from acd.ivr.flow_models import NODE_TYPES, Flow, Transfers
from acd.ivr.models import (
    CLOSED_PROMPT_KEYS,
    MIN_EVENT_STATUSES,
    Line,
    Prompt,
    Queue,
    ReportTargets,
    Site,
    SiteFile,
)
from acd.ivr.trunk_models import SETTINGS_TRUNK, Trunk
from acd.ivr.yaml_source import Position, SourceDocument, YamlSyntaxError, load_source


class FlowError(ValueError):
    """One or more problems in the admins' YAML."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class RestartNeeded(ValueError):
    """Valid flows whose changes a running stack cannot take by a reload (the controller
    holds the queues' wrap-up policies and the away reasons from its start)."""

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__("\n".join(changes))


def live_change_problems(running: Site, new: Site) -> list[str]:
    """What in ``new`` cannot be applied to a stack running ``running`` without a
    restart: added or removed queues, changed wrap-up times, changed away reasons.
    Everything else (lines, prompts, calendars, the queues' dialplan and Asterisk
    parameters) is applied by reloading Asterisk."""
    before = {q.name: q for q in running.queues}
    after = {q.name: q for q in new.queues}
    changes = [f"queue '{name}' is new" for name in sorted(after.keys() - before.keys())]
    changes += [f"queue '{name}' was removed" for name in sorted(before.keys() - after.keys())]
    for name in sorted(before.keys() & after.keys()):
        for key in ("wrapup_seconds", "wrapup_extension_seconds"):
            old, value = getattr(before[name], key), getattr(after[name], key)
            if old != value:
                changes.append(f"queue '{name}': {key} changed from {old} to {value}")
    if running.away_reasons != new.away_reasons:
        changes.append("away_reasons changed")
    if running.trunks != new.trunks or [running.line_trunk(line) for line in running.lines] \
            != [new.line_trunk(line) for line in new.lines]:
        changes.append("trunks changed")
    return [f"{change}: restart the stack (acd up) to apply it" for change in changes]


def load_site(flows: Path | Sequence[Path]) -> Site:
    """The site of a flows directory (its ``*.yaml``), of one file, or of several files and
    directories given together (e.g. a municipality's example and the calendars it uses)."""
    sources = [flows] if isinstance(flows, Path) else list(flows)
    files = [f for source in sources
             for f in ([source] if source.is_file() else sorted(source.glob("*.yaml")))]
    if not files:
        raise FlowError([f"{', '.join(map(str, sources))}: no *.yaml flow files found"])
    problems: list[str] = []
    parsed: list[tuple[SourceDocument, SiteFile]] = []
    for path in files:
        try:
            doc = load_source(path)
        except YamlSyntaxError as exc:
            problems.append(str(exc))
            continue
        try:
            parsed.append((doc, SiteFile.model_validate(doc.data)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = _without_node_tags(tuple(err["loc"]))
                if loc and loc[-1] == "[key]":  # a mapping key itself is wrong
                    where = doc.position_of(loc[:-1], key=True)
                    loc = loc[:-1]
                else:
                    where = doc.position_of(loc, key=err["type"] == "extra_forbidden")
                problems.append(f"{where}: {'.'.join(map(str, loc)) or '(top)'}: {err['msg']}")
    if problems:
        raise FlowError(problems)
    return _assemble(parsed)


def _without_node_tags(loc: tuple) -> tuple:
    """pydantic puts a node's type (the union's tag) into the location of its errors:
    flows.main.nodes.menu.menu.colour -> flows.main.nodes.menu.colour, as in the file."""
    return tuple(part for index, part in enumerate(loc)
                 if not (index >= 4 and loc[index - 2] == "nodes" and loc[0] == "flows"
                         and part in NODE_TYPES))


def _assemble(parsed: list[tuple[SourceDocument, SiteFile]]) -> Site:
    problems: list[str] = []
    queues: dict[str, Queue] = {}
    prompts: dict[str, Prompt] = {}
    away_reasons: dict[str, str] = {}
    calendars: dict[str, CalendarSpec] = {}
    calendar_at: dict[str, Position] = {}
    dids: dict[str, Position] = {}
    event_statuses: dict[str, str] = {}
    status_at: dict[str, Position] = {}
    flows: dict[str, Flow] = {}
    flow_at: dict[str, FlowAt] = {}
    transfers: Transfers | None = None
    transfers_at: Position | None = None
    report_targets: ReportTargets | None = None
    report_targets_at: Position | None = None
    trunks: dict[str, Trunk] = {}
    for doc, content in parsed:
        problems += _collect_trunks(doc, content.trunks, trunks)
        for name, flow in content.flows.items():
            where = doc.position_of(("flows", name), key=True)
            if name in flows:
                problems.append(f"{where}: flow '{name}' is defined twice "
                                f"(first at {flow_at[name].position_of(())})")
                continue
            flows[name] = flow
            flow_at[name] = FlowAt(doc, ("flows", name))
        if content.transfers is not None:
            where = doc.position_of(("transfers",), key=True)
            if transfers is not None:
                problems.append(f"{where}: 'transfers:' is defined twice (first at "
                                f"{transfers_at}); keep one list")
            else:
                transfers, transfers_at = content.transfers, where
        if content.report_targets is not None:
            where = doc.position_of(("report_targets",), key=True)
            if report_targets is not None:
                problems.append(f"{where}: 'report_targets:' is defined twice (first at "
                                f"{report_targets_at}); keep one")
            else:
                report_targets, report_targets_at = content.report_targets, where
        for index, queue in enumerate(content.queues):
            if queue.name in queues:
                problems.append(f"{doc.position_of(('queues', index, 'name'))}: "
                                f"queue '{queue.name}' is defined twice")
            queues[queue.name] = queue
        for index, calendar in enumerate(content.calendars):
            where = doc.position_of(("calendars", index, "name"))
            if calendar.name in calendars:
                problems.append(f"{where}: calendar '{calendar.name}' is defined twice "
                                f"(first at {calendar_at[calendar.name]})")
                continue
            calendars[calendar.name] = calendar
            calendar_at[calendar.name] = where
        prompts.update(content.prompts)
        away_reasons.update(content.away_reasons)
        for status in content.event_statuses:
            where = doc.position_of(("event_statuses", status), key=True)
            if status in event_statuses:
                problems.append(f"{where}: event status '{status}' is defined twice "
                                f"(first at {status_at[status]})")
            status_at.setdefault(status, where)
        event_statuses.update(content.event_statuses)

    def need_prompt(doc: SourceDocument, loc: tuple, name: str | None) -> None:
        if name is not None and name not in prompts:
            problems.append(f"{doc.position_of(loc)}: unknown prompt '{name}' "
                            f"(known: {', '.join(sorted(prompts)) or 'none'})")

    def need_queue(doc: SourceDocument, loc: tuple, name: str) -> None:
        if name not in queues:
            problems.append(f"{doc.position_of(loc)}: unknown queue '{name}' "
                            f"(known: {', '.join(sorted(queues)) or 'none'})")

    known_trunks = list(trunks) or [SETTINGS_TRUNK]  # without trunks: the settings' one
    for doc, content in parsed:
        for index, line in enumerate(content.lines):
            here = ("lines", index)
            if line.did in dids:
                problems.append(f"{doc.position_of(here + ('did',))}: DID {line.did} is "
                                f"already used at {dids[line.did]}")
            dids[line.did] = doc.position_of(here + ("did",))
            if line.queue is not None:
                need_queue(doc, here + ("queue",), line.queue)
            elif line.flow is not None:
                if line.flow not in flows:
                    problems.append(f"{doc.position_of(here + ('flow',))}: unknown flow "
                                    f"'{line.flow}' (known: "
                                    f"{', '.join(sorted(flows)) or 'none'})")
            else:
                need_prompt(doc, here + ("intro_prompt",), line.intro_prompt)
                need_prompt(doc, here + ("no_events_prompt",), line.no_events_prompt)
                if len(event_statuses) < MIN_EVENT_STATUSES:
                    problems.append(
                        f"{doc.position_of(here + ('events',))}: an event line needs at least "
                        f"{MIN_EVENT_STATUSES} statuses under 'event_statuses:' (status id: "
                        f"prompt), there are {len(event_statuses)}")
            need_prompt(doc, here + ("notice",), line.notice)
            need_prompt(doc, here + ("busy_prompt",), line.busy_prompt)
            if line.survey is not None:
                for number, question in enumerate(line.survey.questions):
                    need_prompt(doc, here + ("survey", "questions", number), question)
                need_prompt(doc, here + ("survey", "thanks_prompt"), line.survey.thanks_prompt)
            if line.trunk is not None and line.trunk not in known_trunks:
                problems.append(f"{doc.position_of(here + ('trunk',))}: unknown trunk "
                                f"'{line.trunk}' (known: {', '.join(known_trunks)})")
            _check_line_calendar(doc, here, line, calendars, problems)
            for key in CLOSED_PROMPT_KEYS.values():
                need_prompt(doc, here + (key,), getattr(line, key))
        for status, prompt in content.event_statuses.items():
            need_prompt(doc, ("event_statuses", status), prompt)
        for index, queue in enumerate(content.queues):
            here = ("queues", index)
            for key in ("congestion_prompt", "periodic_prompt", "no_agents_prompt",
                        "busy_prompt"):
                need_prompt(doc, here + (key,), getattr(queue, key))
            if queue.overflow is not None:
                need_prompt(doc, here + ("overflow", "prompt"), queue.overflow.prompt)
                if queue.overflow.queue is not None:
                    need_queue(doc, here + ("overflow", "queue"), queue.overflow.queue)
                    if queue.overflow.queue == queue.name:
                        problems.append(f"{doc.position_of(here + ('overflow', 'queue'))}: "
                                        "a queue cannot overflow to itself")
    for name, default in default_prompts(flows).items():
        prompts.setdefault(name, default)
    problems += check_flows(flows, flow_at, prompts=prompts, queues=set(queues),
                            calendars=set(calendars), transfers=transfers or Transfers(),
                            transfers_at=transfers_at,
                            event_statuses=len(event_statuses))
    if problems:
        raise FlowError(problems)
    return Site(
        lines=tuple(line for _, c in parsed for line in c.lines),
        queues=tuple(queues.values()),
        prompts=prompts,
        away_reasons=away_reasons,
        calendars=tuple(calendars.values()),
        event_statuses=event_statuses,
        flows=flows,
        transfers=transfers or Transfers(),
        categories=tuple(dict.fromkeys(c for _, content in parsed for c in content.categories)),
        report_targets=report_targets,
        trunks=tuple(trunks.values()),
    )


def _collect_trunks(doc: SourceDocument, found: list[Trunk], trunks: dict[str, Trunk]
                    ) -> list[str]:
    """Add the trunks of one file to ``trunks``: the problems of a name defined twice and
    of an address or network that identifies two trunks."""
    problems = []
    for index, trunk in enumerate(found):
        if trunk.name in trunks:
            problems.append(f"{doc.position_of(('trunks', index, 'name'))}: trunk "
                            f"'{trunk.name}' is defined twice")
            continue
        for position, (entry, network) in enumerate(zip(trunk.identified_by(),
                                                        trunk.networks(), strict=True)):
            other = next((t.name for t in trunks.values()
                          if any(network.overlaps(n) for n in t.networks())), None)
            if other is not None:
                loc = (("trunks", index, "match", position) if position < len(trunk.match)
                       else ("trunks", index, "registrar"))
                problems.append(f"{doc.position_of(loc)}: {entry} also identifies trunk "
                                f"'{other}': each caller's address must belong to one trunk")
        trunks[trunk.name] = trunk
    return problems


def _check_line_calendar(doc: SourceDocument, here: tuple, line: Line,
                         calendars: dict[str, CalendarSpec],
                         problems: list[str]) -> None:
    """A line's calendar exists, and a line with a calendar has its closed prompt (and
    closed prompts are not given to a line without a calendar, where they do nothing)."""
    if line.calendar is None:
        for key in CLOSED_PROMPT_KEYS.values():
            if getattr(line, key) is not None:
                problems.append(f"{doc.position_of(here + (key,), key=True)}: '{key}' is "
                                "only played on a line with a 'calendar': add the calendar "
                                "or remove the prompt")
        return
    if line.calendar not in calendars:
        problems.append(f"{doc.position_of(here + ('calendar',))}: unknown calendar "
                        f"'{line.calendar}' (known: {', '.join(sorted(calendars)) or 'none'}; "
                        "define it under 'calendars:' in any flows file; validating one "
                        "file, give the calendars' file too: acd ivr validate FILE "
                        "calendars.yaml)")
    if line.closed_prompt is None:
        problems.append(f"{doc.position_of(here + ('calendar',), key=True)}: a line with a "
                        f"calendar needs 'closed_prompt', played when calendar "
                        f"'{line.calendar}' says the line is not open")
