"""Load YAML keeping where each value came from, so errors can say file:line:column."""

from __future__ import annotations

import re
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
    key_positions: dict[Loc, Position]

    def position_of(self, loc: Loc, key: bool = False) -> Position:
        """Where the value at ``loc`` starts (or its key, with ``key=True``), falling back
        to the nearest ancestor that has a position."""
        if key and tuple(loc) in self.key_positions:
            return self.key_positions[tuple(loc)]
        for end in range(len(loc), -1, -1):
            found = self.positions.get(tuple(loc[:end]))
            if found is not None:
                return found
        return Position(self.path, 1, 1)


class YamlSyntaxError(ValueError):
    pass


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. An admin's `recording: off` stays the string
    'off' (YAML 1.1 would turn on/off/yes/no into booleans). Like YAML 1.2's core schema,
    no implicit timestamps either: a date such as 2026-08-13 stays a string for the models
    to parse, so an impossible one (2026-02-30) is an error with file:line:column instead
    of a crash of the YAML parser."""


_YAML11_ONLY = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _where(path: Path, text: str, index: int) -> str:
    """``file:line:column`` of the character at ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{path}:{line}:{column}"


def load_source(path: Path) -> SourceDocument:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        readable = raw[:exc.start].decode("utf-8")
        raise YamlSyntaxError(f"{_where(path, readable, len(readable))}: not UTF-8 "
                              f"(byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
                              ) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise YamlSyntaxError(f"{where}: invalid YAML: {exc.problem}") from exc
    except yaml.reader.ReaderError as exc:  # a NUL or another control character
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlSyntaxError(f"{_where(path, text, exc.position)}: the control character "
                              f"U+{code:04X} is not allowed in YAML: delete it") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{path}: invalid YAML: {exc}") from None
    positions: dict[Loc, Position] = {}
    keys: dict[Loc, Position] = {}
    if node is not None:
        _walk(node, (), path, positions, keys)
    return SourceDocument(path, data if data is not None else {}, positions, keys)


def _position(path: Path, node: yaml.Node) -> Position:
    return Position(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, loc: Loc, path: Path, out: dict[Loc, Position],
          keys: dict[Loc, Position]) -> None:
    out[loc] = _position(path, node)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            keys[loc + (key_node.value,)] = _position(path, key_node)
            _walk(value_node, loc + (key_node.value,), path, out, keys)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, loc + (index,), path, out, keys)
