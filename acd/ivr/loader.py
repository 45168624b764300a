"""Load and validate the flows directory into a :class:`Site`.

Every problem is reported as ``file:line:column: what is wrong``; all problems of all
files are collected before failing, so an admin sees the whole list at once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from acd.ivr.models import Prompt, Queue, Site, SiteFile
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
    queues: dict[str, Queue] = {}
    prompts: dict[str, Prompt] = {}
    away_reasons: dict[str, str] = {}
    dids: dict[str, Position] = {}
    for doc, content in parsed:
        for index, queue in enumerate(content.queues):
            if queue.name in queues:
                problems.append(f"{doc.position_of(('queues', index, 'name'))}: "
                                f"queue '{queue.name}' is defined twice")
            queues[queue.name] = queue
        prompts.update(content.prompts)
        away_reasons.update(content.away_reasons)

    def need_prompt(doc: SourceDocument, loc: tuple, name: str | None) -> None:
        if name is not None and name not in prompts:
            problems.append(f"{doc.position_of(loc)}: unknown prompt '{name}' "
                            f"(known: {', '.join(sorted(prompts)) or 'none'})")

    def need_queue(doc: SourceDocument, loc: tuple, name: str) -> None:
        if name not in queues:
            problems.append(f"{doc.position_of(loc)}: unknown queue '{name}' "
                            f"(known: {', '.join(sorted(queues)) or 'none'})")

    for doc, content in parsed:
        for index, line in enumerate(content.lines):
            here = ("lines", index)
            if line.did in dids:
                problems.append(f"{doc.position_of(here + ('did',))}: DID {line.did} is "
                                f"already used at {dids[line.did]}")
            dids[line.did] = doc.position_of(here + ("did",))
            need_queue(doc, here + ("queue",), line.queue)
            need_prompt(doc, here + ("notice",), line.notice)
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
    if problems:
        raise FlowError(problems)
    return Site(
        lines=tuple(line for _, c in parsed for line in c.lines),
        queues=tuple(queues.values()),
        prompts=prompts,
        away_reasons=away_reasons,
    )
