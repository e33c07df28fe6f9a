"""Errors about user-written data files, phrased for the person who wrote them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from linegate.plans.yamlfile import YamlFileError, field_path, parse, read_capped
from pydantic import BaseModel, ValidationError

from linegate.errors import BadInput


class PlanError(BadInput):
    """A plan file is missing, malformed or inconsistent. The message is one line."""


def describe_validation_error(error: ValidationError, doc: Any) -> str:
    """The first problem of a pydantic error as ``field: message`` (one line)."""
    first = error.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    where = field_path(loc, doc) or "(top level)"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return " ".join(f"{where}: {message}{suffix}".split())


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: Path, raw: bytes | None, model: type[M], kind: str, shape: str, error: type[Exception],
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> M:
    """Read ``path`` (or its already-read bytes) as YAML into ``model``; ``error`` is one line.

    ``prepare`` may complete the parsed mapping before it is validated (e.g. steps from another plan).
    """
    try:
        data = read_capped(path, kind) if raw is None else raw
        doc = parse(data)
    except OSError as e:
        raise error(f"{path}: cannot read {kind}: {e.strerror or e}") from e
    except YamlFileError as e:
        raise error(f"{path}: {e}") from e
    if not isinstance(doc, dict):
        raise error(f"{path}: a {kind} is a mapping with {shape}, not {_kind_of(doc)}")
    if prepare is not None:
        doc = prepare(doc)
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise error(f"{path}: {describe_validation_error(e, doc)}") from e


def _kind_of(doc: Any) -> str:
    if doc is None:
        return "an empty file"
    if isinstance(doc, list):
        return "a list"
    return "a single string" if isinstance(doc, str) else f"a single {type(doc).__name__}"
