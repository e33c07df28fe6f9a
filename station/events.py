"""The station's typed event stream: what a socket's worker tells the supervisor, and every view shows.

Each event is a frozen dataclass; its wire form is one line of JSON, ``{"v": 1, "kind": ..., ...}``
with the dataclass's fields (times as ISO 8601 UTC). ``to_wire``/``from_wire`` convert; an unknown
kind, a missing field or a newer version is refused (``EventError``). The stream is documented in
docs/events.md; the console and the operator panel are views of it. Nothing here formats output.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from linegate.errors import BadInput

WIRE_VERSION = 1


class EventError(BadInput, ValueError):
    """A line that is not an event of this version: names the problem, never echoes the whole line."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]
    socket: str
    at: datetime = field(default_factory=_now, kw_only=True)


@dataclass(frozen=True)
class UnitStarted(Event):
    kind: ClassVar[str] = "unit_started"
    index: int
    serial: str | None
    steps: int


@dataclass(frozen=True)
class StepStarted(Event):
    kind: ClassVar[str] = "step_started"
    index: int
    step: str
    number: int  # 1-based position in the plan
    of: int


@dataclass(frozen=True)
class MeasurementTaken(Event):
    kind: ClassVar[str] = "measurement"
    index: int
    step: str
    name: str
    value: Any
    units: str | None
    limit: str
    status: str  # pass | marginal | fail


@dataclass(frozen=True)
class StepFinished(Event):
    kind: ClassVar[str] = "step_finished"
    index: int
    step: str
    outcome: str  # pass | fail | error | skipped
    duration_s: float
    message: str = ""


@dataclass(frozen=True)
class Prompt(Event):
    """A station test asks the operator (fixtures/operator.py); answered on the panel or at the terminal."""

    kind: ClassVar[str] = "prompt"
    index: int
    prompt_id: str
    text: str
    options: tuple[str, ...] = ()
    ask: str = "confirm"  # confirm | choose | number | text
    low: float | None = None
    high: float | None = None
    units: str | None = None
    regex: str | None = None
    image: str | None = None  # relative to the plan's folder
    timeout_s: float = 300.0


@dataclass(frozen=True)
class PromptAnswered(Event):
    kind: ClassVar[str] = "prompt_answered"
    index: int
    prompt_id: str
    answer: str  # "" when nobody answered
    who: str  # the operator's name, "terminal", or why nobody answered


@dataclass(frozen=True)
class ProvisioningStarted(Event):
    """The gate is about to act on the unit with ``mac`` (take an identity, write it, commit): sent before
    it touches the ledger, so the supervisor knows whose identity to recover if the worker dies."""

    kind: ClassVar[str] = "provisioning_started"
    index: int
    mac: str


@dataclass(frozen=True)
class Verdict(Event):
    kind: ClassVar[str] = "verdict"
    index: int
    outcome: str  # PASS | FAIL | ERROR | ABORTED
    failure: str = ""  # the first failure, one sentence
    commit_status: str | None = None
    serial: str | None = None
    mac: str = ""


@dataclass(frozen=True)
class RecordWritten(Event):
    kind: ClassVar[str] = "record_written"
    index: int
    record_id: str
    path: str


@dataclass(frozen=True)
class WorkerStarted(Event):
    """A socket's worker is ready for its first unit: jig open, station tests collected."""

    kind: ClassVar[str] = "worker_started"
    pid: int
    startup_s: float  # from the process's start to ready


@dataclass(frozen=True)
class UnitWanted(Event):
    """The station takes a scan for ``socket`` from now on: its worker asked for its next unit and the
    panel's scan source waits for it. ``wanted`` false: it no longer does and no unit came (the station
    stops, or has tested all its units). A scan accepted ends the wait with the ``UnitStarted`` that follows."""

    kind: ClassVar[str] = "unit_wanted"
    wanted: bool = True


@dataclass(frozen=True)
class WorkerDied(Event):
    kind: ClassVar[str] = "worker_died"
    reason: str
    pid: int = 0
    index: int = 0  # the unit it was testing (recorded ERROR), 0: none


@dataclass(frozen=True)
class ResultsSync(Event):
    """How far the central results store is behind the station's outbox (station/results/sync.py); told
    when it changes, at most every ~2 s, and once at the end of the run. ``socket`` is "": the station's."""

    kind: ClassVar[str] = "results_sync"
    target: str  # the central store, never with its password
    behind: int  # units it lacks
    oldest_s: float | None  # how long ago the oldest of them ended (None: none behind)
    reachable: bool | None  # it answered the last try (None: not tried yet)
    error: str = ""  # the last try's, one line, password-free; "" when it went through
    set_aside: int = 0  # units it refused for what they hold, kept in the outbox (``linegate results outbox``)


KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (
    UnitStarted, StepStarted, MeasurementTaken, StepFinished, Prompt, PromptAnswered, ProvisioningStarted, Verdict,
    RecordWritten, WorkerStarted, UnitWanted, WorkerDied, ResultsSync)}

EventSink = Callable[[Event], None]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_wire(event: Event) -> str:
    body = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return json.dumps({"v": WIRE_VERSION, "kind": event.kind, **body}, separators=(",", ":"), default=str)


def from_wire(line: str) -> Event:
    try:
        doc = json.loads(line)
    except ValueError as e:
        raise EventError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise EventError("not a JSON object")
    if doc.pop("v", None) != WIRE_VERSION:
        raise EventError(f"wire version is not {WIRE_VERSION}")
    kind = doc.pop("kind", None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    if unknown := sorted(set(doc) - set(names)):
        raise EventError(f"{kind}: unknown field(s) {unknown}")
    try:
        if "at" in doc:
            doc["at"] = datetime.fromisoformat(doc["at"])
        if "options" in doc:
            doc["options"] = tuple(doc["options"])
        return cls(**doc)
    except (TypeError, ValueError) as e:
        raise EventError(f"{kind}: {e}") from None


def fan_out(sinks: list[EventSink]) -> EventSink:
    """One sink that gives each event to every sink of ``sinks``, in order."""
    if len(sinks) == 1:
        return sinks[0]

    def tell(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return tell


def serialized(sink: EventSink) -> EventSink:
    """``sink``, called by one thread at a time: the supervisor's and the results sync's events share it."""
    lock = threading.Lock()

    def tell(event: Event) -> None:
        with lock:
            sink(event)

    return tell


class EventLog:
    """An event sink appending each event's wire form to a file, a line each, flushed per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    def __enter__(self) -> EventLog:
        try:
            self._file = self.path.open("a", encoding="utf-8", buffering=1)
        except OSError as e:
            raise EventError(f"--events {self.path}: cannot write there: {e.strerror or e}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def __call__(self, event: Event) -> None:
        assert self._file is not None
        self._file.write(to_wire(event) + "\n")
