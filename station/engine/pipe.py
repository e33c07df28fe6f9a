"""The messages on a socket's pipe between its worker and the supervisor, and on the supervisor's inbox.

Each is a frozen dataclass, pickled whole by ``multiprocessing`` (events travel as the typed objects:
their JSON wire form is for the edges, the ``--events`` file and the panel). Receivers ``match`` on the
class and end with ``assert_never``, so a message added here and not handled fails the type check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from linegate.plans import UnitRecord
from linegate.reports import IndexRow
from linegate.station.engine.sources import UnitStart
from linegate.station.events import Event


# -- worker -> supervisor ----------------------------------------------------------------
@dataclass(frozen=True)
class WantUnit:
    """The worker is ready for its next unit (the supervisor answers with ``GiveUnit``)."""


@dataclass(frozen=True)
class Events:
    """Events in the order they happened: one, or a step's measurements with the step's end."""

    events: tuple[Event, ...]


@dataclass(frozen=True)
class RecordRow:
    """A unit's record is on disk: its row of the run's index (and the record, when the run keeps them)."""

    row: IndexRow
    record: UnitRecord | None


class Wakeable(StrEnum):
    POOL = "pool"  # the identity pool's refill
    DRAIN = "drain"  # the background commits' drain


@dataclass(frozen=True)
class Wake:
    """The worker took from the pool (or left a commit pending): the supervisor's thread should act now."""

    what: Wakeable


class EndReason(StrEnum):
    """Why a worker ends before its units do (told once, just before it exits)."""

    JIG = "jig"  # its jig did not open
    CRASH = "crash"  # it failed outside a step: it dies next and is restarted (``details``: its log file)
    LINE = "line"  # the plan's station tests do not load: the line stops
    FAULT = "fault"  # a station fault: the station stops after the units in hand
    STOPPED = "stopped"  # the operator (or a signal) stopped it


@dataclass(frozen=True)
class WorkerEnd:
    reason: EndReason
    sentence: str = ""
    details: str = ""


FromWorker = WantUnit | Events | RecordRow | Wake | WorkerEnd


# -- supervisor -> worker ----------------------------------------------------------------
@dataclass(frozen=True)
class GiveUnit:
    """The worker's next unit; ``None``: there is none, the worker ends."""

    start: UnitStart | None


@dataclass(frozen=True)
class PromptReply:
    """The operator's answer to the prompt ``prompt_id`` (``value`` None: refused, ``who`` says why)."""

    prompt_id: str
    value: str | None
    who: str


ToWorker = GiveUnit | PromptReply


# -- the supervisor's inbox (its own threads: the panel, the terminal) ---------------------
@dataclass(frozen=True)
class AnswerFor:
    socket: str
    answer: PromptReply


@dataclass(frozen=True)
class StopRequest:
    """Stop ``socket`` (its unit ABORTED, the socket out of service), or the station (``None``)."""

    socket: str | None


InboxMessage = AnswerFor | StopRequest

__all__ = [
    "AnswerFor",
    "EndReason",
    "Events",
    "FromWorker",
    "GiveUnit",
    "InboxMessage",
    "PromptReply",
    "RecordRow",
    "StopRequest",
    "ToWorker",
    "Wake",
    "Wakeable",
    "WantUnit",
    "WorkerEnd",
]
