"""The panel's message catalogues: every string an operator reads, per language (messages/<lang>.json).

A message may hold ``{name}`` fields, filled by ``text(...)`` here and by ``t(...)`` in the page.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

DEFAULT = "en"


class LanguageError(ValueError):
    """A language without a catalogue: one line naming it and the known ones."""


def languages() -> list[str]:
    folder = resources.files("linegate.station.panel") / "messages"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def catalogue(lang: str) -> dict[str, str]:
    known = languages()
    if lang not in known:
        raise LanguageError(f"panel language {lang!r}: no message catalogue; known: {', '.join(known)}")
    path = resources.files("linegate.station.panel") / "messages" / f"{lang}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in doc.items()}


def text(lang: str, key: str, **fields: object) -> str:
    message = catalogue(lang).get(key) or catalogue(DEFAULT).get(key, key)
    for name, value in fields.items():
        message = message.replace("{" + name + "}", str(value))
    return message
