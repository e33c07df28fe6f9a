"""Reading a user-written YAML file (plan or fixture) strictly, before any model sees it.

Every refusal is one line naming the file and, where there is one, the line or
field: a file over the size cap (checked before a byte is parsed), text that is
not UTF-8, YAML syntax errors, duplicate keys (PyYAML would silently keep the
last), nesting or alias expansion too large to validate, and NaN/infinite numbers.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

MAX_BYTES = 1024 * 1024
# Aliases let a 1 MiB file describe billions of values; nothing a station reads needs this many.
MAX_VALUES = 200_000


class YamlFileError(Exception):
    """Why a file's text is refused; ``where`` is ``line N`` or a field path, ``""`` for the whole file."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


class _DuplicateKey(ConstructorError):  # type: ignore[misc]  # PyYAML ships no types
    pass


class _StrictLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    """SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *base" may be overridden by the keys that follow it
                key = self.construct_object(key_node, deep=False)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # unhashable: SafeConstructor refuses it with its own message
                if first is not key_node:
                    raise _DuplicateKey(None, None, f"duplicate key {key!r} (first given on line "
                                        f"{first.start_mark.line + 1})", key_node.start_mark)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_capped(path: Path, kind: str, limit: int = MAX_BYTES) -> bytes:
    """The file's bytes, refused by its size before it is read (and never more than ``limit`` + 1 read)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise YamlFileError("", f"{kind} is {_mib(size)}, over the {_mib(limit)} limit")
        data = f.read(limit + 1)  # a pipe or device has no size: read one byte past the cap
    if len(data) > limit:
        raise YamlFileError("", f"{kind} is over the {_mib(limit)} limit")
    return data


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def parse(data: bytes) -> Any:
    """The document in ``data``: UTF-8, one YAML document, no duplicate keys, no NaN/inf, bounded size."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise YamlFileError(f"line {line}", f"not UTF-8 text (byte 0x{data[e.start]:02x})") from e
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except _DuplicateKey as e:
        raise YamlFileError(_line(e), str(e.problem)) from e
    except yaml.MarkedYAMLError as e:
        problem = ", ".join(p for p in (e.context, e.problem) if p) or str(e)
        raise YamlFileError(_line(e), f"malformed YAML: {_one_line(problem)}") from e
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        char = e.character if isinstance(e.character, int) else ord(e.character)
        raise YamlFileError(f"line {line}", f"malformed YAML: character 0x{char:02x} is not allowed") from e
    except yaml.YAMLError as e:
        raise YamlFileError("", f"malformed YAML: {_one_line(str(e))}") from e
    except RecursionError as e:
        raise YamlFileError("", "malformed YAML: nested too deeply") from e
    _check_values(doc)
    return doc


def _line(e: yaml.MarkedYAMLError) -> str:
    mark = e.problem_mark or e.context_mark
    return f"line {mark.line + 1}" if mark else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_values(doc: Any) -> None:
    """Refuse NaN and infinities (naming the field) and documents that expand past ``MAX_VALUES``."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    count = 0
    while stack:
        loc, node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise YamlFileError("", f"more than {MAX_VALUES} values (each alias counted as often as it is used)")
        if isinstance(node, float) and not math.isfinite(node):
            raise YamlFileError(field_path(loc, doc), f"{node} is not a finite number")
        if isinstance(node, dict):
            stack.extend(((*loc, k), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(node))))


def field_path(loc: tuple[Any, ...], doc: Any) -> str:
    """``('steps', 2, 'measurements', 0, 'low')`` -> ``steps[2](name).measurements[0](vdd).low``."""
    out = ""
    node = doc
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f"({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
