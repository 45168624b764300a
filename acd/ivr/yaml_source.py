"""Load YAML keeping where each value came from, so errors can say file:line:column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    path: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceDocument:
    path: Path
    data: Any
    positions: dict[Loc, Position]

    def position_of(self, loc: Loc) -> Position:
        """The position of ``loc`` or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            found = self.positions.get(tuple(loc[:end]))
            if found is not None:
                return found
        return Position(self.path, 1, 1)


class YamlSyntaxError(ValueError):
    pass


def load_source(path: Path) -> SourceDocument:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise YamlSyntaxError(f"{where}: invalid YAML: {exc.problem}") from exc
    positions: dict[Loc, Position] = {}
    if node is not None:
        _walk(node, (), path, positions)
    return SourceDocument(path, data if data is not None else {}, positions)


def _walk(node: yaml.Node, loc: Loc, path: Path, out: dict[Loc, Position]) -> None:
    out[loc] = Position(path, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[loc + (key,)] = Position(path, key_node.start_mark.line + 1,
                                         key_node.start_mark.column + 1)
            _walk(value_node, loc + (key,), path, out)
            out[loc + (key,)] = Position(path, key_node.start_mark.line + 1,
                                         key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, loc + (index,), path, out)
