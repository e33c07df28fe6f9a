"""The panel's words come from its catalogues: the same keys in every language, none hard-coded in the page."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

from linegate.station.panel.i18n import catalogue, languages, text
from linegate.station.panel.states import VERDICTS, SocketState

REPO = Path(__file__).resolve().parent.parent
PANEL = REPO / "station" / "panel"
STATIC = PANEL / "static"
VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "value", "label")


class _Visible(HTMLParser):
    """Text nodes and visible attributes of the page, outside <script>/<style>."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.keys: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.found.append(f"{tag}[{name}]={value}")
            if name.startswith("data-msg") and value:
                self.keys.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.found.append(data.strip())


def test_every_language_has_the_same_keys_and_fields():
    assert languages() == ["en", "zh"]
    en = catalogue("en")
    for lang in languages():
        other = catalogue(lang)
        assert set(other) == set(en), lang
        for key, message in en.items():
            assert set(re.findall(r"\{\w+\}", other[key])) == set(re.findall(r"\{\w+\}", message)), (lang, key)
            assert other[key].strip(), (lang, key)
    assert re.search(r"[\u4e00-\u9fff]", catalogue("zh")["state.waiting"])


def test_the_page_shows_no_word_that_is_not_in_the_catalogue():
    page = _Visible()
    page.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert [f for f in page.found if f not in ("{{messages}}",)] == [], "visible text hard-coded in index.html"
    scripts = {p.name: re.sub(r"//.*|/\*.*?\*/", "", p.read_text(encoding="utf-8"), flags=re.S)
               for p in STATIC.glob("*.js")}
    for name, source in scripts.items():
        for pattern in (r"\.(textContent|innerText|placeholder|title|value)\s*=\s*['\"`][^'\"`]*[A-Za-z]",
                        r"\binnerHTML\b", r"\balert\(", r"\bconfirm\(", r"createTextNode\(\s*['\"`]",
                        r"\bel\([^)]*,\s*[^,)]*,\s*['\"`][^'\"`]*[A-Za-z]"):
            assert not re.search(pattern, source), f"{name}: a visible string not from the catalogue ({pattern})"
    used = set(page.keys)
    for source in scripts.values():
        used |= set(re.findall(r"\bt\(\s*\"([\w.]+)\"", source))
    en = catalogue("en")
    assert used - set(en) == set(), "keys the page uses that the catalogue lacks"
    for state in SocketState:  # keys the page builds: t(`state.${...}`), t(`verdict.${...}`)
        assert f"state.{state.value}" in en
    for verdict in VERDICTS:
        assert f"verdict.{verdict.value}" in en


def test_every_message_is_used_by_the_page_or_the_server():
    sources = "".join(p.read_text(encoding="utf-8") for p in [*STATIC.glob("*"), *PANEL.glob("*.py"),
                                                                PANEL.parent / "panel_cli.py"])
    dynamic = ("state.", "verdict.", "outcome.", "status.pass", "status.marginal", "status.fail")
    unused = [k for k in catalogue("en") if k not in sources and not k.startswith(dynamic)]
    assert unused == []


def test_fields_are_filled_in_the_hubs_language():
    assert text("zh", "refused.unknown_socket", socket="C") == "没有名为 C 的工位"
    assert text("en", "scan.accepted", serial="SN-1") == "Accepted: SN-1"


def test_the_wheel_ships_the_page_and_the_catalogues():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data["linegate.station.panel"]
    files = [p.relative_to(PANEL).as_posix() for p in [*STATIC.iterdir(), *(PANEL / "messages").iterdir()]]
    assert files and all(any(fnmatch(f, g) for g in globs) for f in files), (files, globs)
    for path in (PANEL / "messages").iterdir():
        json.loads(path.read_text(encoding="utf-8"))
