"""The outermost layer: what a fixture file's station is made of.

A fixture with a ``simulated:`` section gets the simulated line as its source of units and its
DUTs' state files as the DUT probe; any other fixture gets an operator (or ``--sn``) and no probe.
This is the one module of the station that knows the simulator (besides the simulator's own
commands); the engine is only given a ``UnitSource`` and a ``DutProbe``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.sim.jig import SimulatedDuts, SimulatedLine, apply_load
from linegate.plans import Plan
from linegate.plans.serial import SerialSpec
from linegate.station.engine.controls import StationControls
from linegate.station.engine.options import LineOptions, StationServices
from linegate.station.engine.retest import RetestChecked
from linegate.station.engine.sources import UnitSource, UnitStart
from linegate.station.events import EventSink
from linegate.station.handler import OperatorUnits
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.probe import DutProbe
from linegate.station.results.attempts import RetestPolicy
from linegate.station.results.store import ResultsStore
from linegate.station.run import RunResult, run_sockets


class SimulatedUnits:
    """The simulated line as a source of units: a fresh module goes into each socket that frees up
    (the first unit of each socket is the one the line started with)."""

    def __init__(self, line: SimulatedLine, total: int, serials: Sequence[str] | None = None) -> None:
        self.line = line
        self.total = total
        self.serials = list(serials or ())  # --sn on a simulated line: these serials, in order
        self._used: set[str] = set()
        self._handed = 0

    def next_unit(self, socket: str) -> UnitStart | None:
        if self._handed >= self.total:
            return None
        unit = self.line.insert(socket, None, fresh=socket in self._used)
        self._used.add(socket)
        self._handed += 1
        serial = self.serials[self._handed - 1] if self._handed <= len(self.serials) else unit.serial
        return UnitStart(socket=socket, index=self._handed, serial=serial,
                         bench=partial(apply_load, socket=socket, current_a=unit.current_a))


@dataclass
class Station:
    config: FixtureConfig  # the one to open the jig with (a simulated line's sockets are its ptys)
    units: UnitSource
    probe: DutProbe | None


@contextmanager
def station(config: FixtureConfig, *, units: int | None = None, serials: Sequence[str] | None = None,
            state_dir: Path | None = None, ledger: Ledger | None = None,
            rule: SerialSpec | None = None, retest: RetestPolicy | None = None) -> Iterator[Station]:
    """The unit source and DUT probe of ``config``'s station, for the length of a run.

    A simulated line with ``state_dir`` and a ``ledger`` continues after a stop: ``units`` counts the
    whole line, the units the ledger has finished are skipped.
    """
    if config.simulated is None:
        yield Station(config, OperatorUnits(units, serials, rule, retest=retest, operator=config.operator), None)
        return
    finished = frozenset(ledger.finished_units()) if ledger is not None and state_dir is not None else frozenset()
    total = units if units is not None else len(serials or ()) or 1
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)  # the simulated DUTs keep their state there
    sweep_stale_pty_dirs()
    pty_dir = Path(tempfile.mkdtemp(prefix=f"{PTY_PREFIX}{os.getpid()}-"))
    try:
        with SimulatedLine(config, base=pty_dir, state_dir=state_dir, skip=finished) as line:
            source = SimulatedUnits(line, max(0, total - len(finished)), serials)
            yield Station(line.config, source, simulated_duts(state_dir))
    finally:
        shutil.rmtree(pty_dir, ignore_errors=True)


PTY_PREFIX = "linegate-sim-"


def sweep_stale_pty_dirs() -> None:
    """Remove the pty folders of simulated lines whose station process is gone (killed: no cleanup ran)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PTY_PREFIX}*-*"):
        pid = folder.name.removeprefix(PTY_PREFIX).split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def run_fixture(
    config: FixtureConfig,
    plan: Plan,
    *,
    out: Path,
    units: int | None = None,
    serials: Sequence[str] | None = None,
    state_dir: Path | None = None,
    ledger: Ledger | None = None,
    retry: RetryPolicy | None = None,
    keep_records: bool = True,
    events: EventSink | None = None,
    controls: StationControls | None = None,
    units_source: UnitSource | None = None,
    results: ResultsStore | None = None,
    retest: RetestPolicy | None = None,
) -> RunResult:
    """Test ``units`` units (or one per serial) on ``config``'s station (``run_sockets``: a supervisor and one
    worker process per socket, the path ``linegate run`` takes) given its unit source and DUT probe. Raises
    JigError / LineError before any unit. ``retest``: the plan's retest limit, checked as each unit starts."""
    with station(config, units=units, serials=serials, state_dir=state_dir, ledger=ledger,
                 rule=plan.serial, retest=retest) as composed:
        source = composed.units if units_source is None or config.simulated is not None else units_source
        if retest is not None:
            source = RetestChecked(source, retest)
        return run_sockets(composed.config, plan, units=source, probe=composed.probe,
                           options=LineOptions(out, state_dir, retry, keep_records),
                           services=StationServices(ledger, results, events, controls))


def simulated_duts(state_dir: Path | None) -> DutProbe | None:
    """The simulated DUTs whose state files are in ``state_dir``."""
    return SimulatedDuts(state_dir) if state_dir is not None else None


def simulated_cloud_state(state_dir: Path | None) -> dict[str, Any] | None:
    """The in-process emulators' whole state (as ``/_sim/state`` gives it), read from ``state_dir/cloud.sqlite``."""
    path = state_dir / "cloud.sqlite" if state_dir else None
    if path is None or not path.exists():
        return None
    from linegate.fixtures.sim.cloud.app import Services
    from linegate.fixtures.sim.cloud.faults import Faults
    from linegate.fixtures.sim.cloud.store import Store

    store = Store(path)
    try:
        state: dict[str, Any] = Services.create(store, Faults()).state()
    finally:
        store.close()
    return state
