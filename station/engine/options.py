"""What a line is run with, given once: the options (the same for the supervisor and every worker: they
pickle) and the station-side services (the supervisor's alone: never sent to a worker)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from linegate.drivers.cloud import RetryPolicy
from linegate.station.engine.controls import StationControls
from linegate.station.events import EventSink
from linegate.station.ledger.journal import Ledger
from linegate.station.results.store import ResultsStore

GRACE_S = 3.0  # after a step's deadline, how long its worker has to return before it is killed


@dataclass(frozen=True)
class LineOptions:
    """``out``: the output folder (a run folder is made in it); ``state_dir``: where a station fault's log
    goes too; ``retry``: the cloud calls' retry policy; ``keep_records``: the result holds every unit's record
    (a line that runs for days keeps only the index rows); ``grace_s``: see ``GRACE_S``."""

    out: Path
    state_dir: Path | None = None
    retry: RetryPolicy | None = None
    keep_records: bool = True
    grace_s: float = GRACE_S


@dataclass(frozen=True)
class StationServices:
    """``ledger``: needed by a plan that provisions; ``results``: the station's results store (each unit's
    rows as its record is written); ``events``: the typed event stream's sink; ``controls``: the panel's stop
    and operator controls, bound to the supervisor."""

    ledger: Ledger | None = None
    results: ResultsStore | None = None
    events: EventSink | None = None
    controls: StationControls | None = None


NO_SERVICES = StationServices()  # a line on its own: no ledger, no results store, no views

__all__ = ["GRACE_S", "NO_SERVICES", "LineOptions", "StationServices"]
