"""Load and validate the flows directory into a :class:`Site`.

Every problem is reported as ``file:line:column: what is wrong``; all problems of all
files are collected before failing, so an admin sees the whole list at once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from acd.ivr.models import Site, SiteFile
from acd.ivr.yaml_source import Position, SourceDocument, YamlSyntaxError, load_source


class FlowError(ValueError):
    """One or more problems in the admins' YAML."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_site(flows_dir: Path) -> Site:
    files = sorted(flows_dir.glob("*.yaml"))
    if not files:
        raise FlowError([f"{flows_dir}: no *.yaml flow files found"])
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
                loc = tuple(err["loc"])
                where = doc.position_of(loc, key=err["type"] == "extra_forbidden")
                problems.append(f"{where}: {'.'.join(map(str, loc)) or '(top)'}: {err['msg']}")
    if problems:
        raise FlowError(problems)
    return _assemble(parsed)


def _assemble(parsed: list[tuple[SourceDocument, SiteFile]]) -> Site:
    problems: list[str] = []
    queues = {}
    prompts = {}
    dids: dict[str, Position] = {}
    agent_ids: dict[str, Position] = {}
    for doc, content in parsed:
        for index, queue in enumerate(content.queues):
            if queue.name in queues:
                problems.append(f"{doc.position_of(('queues', index, 'name'))}: "
                                f"queue '{queue.name}' is defined twice")
            queues[queue.name] = queue
        prompts.update(content.prompts)
    for doc, content in parsed:
        for index, line in enumerate(content.lines):
            here = ("lines", index)
            if line.did in dids:
                problems.append(f"{doc.position_of(here + ('did',))}: DID {line.did} is "
                                f"already used at {dids[line.did]}")
            dids[line.did] = doc.position_of(here + ("did",))
            if line.queue not in queues:
                problems.append(f"{doc.position_of(here + ('queue',))}: unknown queue "
                                f"'{line.queue}' (known: {', '.join(sorted(queues)) or 'none'})")
            if line.notice is not None and line.notice not in prompts:
                problems.append(f"{doc.position_of(here + ('notice',))}: unknown prompt "
                                f"'{line.notice}'")
        for index, agent in enumerate(content.agents):
            here = ("agents", index)
            if agent.id in agent_ids:
                problems.append(f"{doc.position_of(here + ('id',))}: agent {agent.id} is "
                                f"already defined at {agent_ids[agent.id]}")
            agent_ids[agent.id] = doc.position_of(here + ("id",))
            for q_index, name in enumerate(agent.queues):
                if name not in queues:
                    problems.append(f"{doc.position_of(here + ('queues', q_index))}: "
                                    f"unknown queue '{name}'")
    if problems:
        raise FlowError(problems)
    return Site(
        lines=tuple(line for _, c in parsed for line in c.lines),
        queues=tuple(queues.values()),
        agents=tuple(agent for _, c in parsed for agent in c.agents),
        prompts=prompts,
    )
