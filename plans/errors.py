"""Errors about user-written data files, phrased for the person who wrote them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError


class PlanError(Exception):
    """A plan file is missing, malformed or inconsistent. The message is one line."""


def _field_path(loc: tuple[Any, ...], doc: Any) -> str:
    """``('steps', 2, 'measurements', 0, 'low')`` -> ``steps[2].measurements[0](vdd).low``."""
    out = ""
    node = doc
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f"({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def describe_validation_error(error: ValidationError, doc: Any) -> str:
    """The first problem of a pydantic error as ``field: message`` (one line)."""
    first = error.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    where = _field_path(loc, doc) or "(top level)"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}"


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: Path, raw: bytes | None, model: type[M], kind: str, shape: str, error: type[Exception],
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> M:
    """Read ``path`` (or its already-read bytes) as YAML into ``model``; ``error`` is one line.

    ``prepare`` may complete the parsed mapping before it is validated (e.g. steps from another plan).
    """
    try:
        data = path.read_bytes() if raw is None else raw
    except OSError as e:
        raise error(f"{path}: cannot read {kind}: {e.strerror or e}") from e
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path}:{where}: malformed YAML: {getattr(e, 'problem', None) or e}") from e
    if not isinstance(doc, dict):
        raise error(f"{path}: a {kind} is a mapping with {shape}")
    if prepare is not None:
        doc = prepare(doc)
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise error(f"{path}: {describe_validation_error(e, doc)}") from e
