"""Run a line: bring up the jig, run the plan on unit after unit, write reports."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.jig import Jig, JigError
from linegate.fixtures.locks import InstrumentLocks
from linegate.plans import Plan, UnitRecord
from linegate.reports import IndexRow
from linegate.station.engine.options import NO_SERVICES, LineOptions, StationServices
from linegate.station.engine.processes import lock_dir_of, wait_for_old_workers, workers_lock_of
from linegate.station.engine.sources import UnitSource
from linegate.station.engine.supervisor import LineStopped, Supervisor
from linegate.station.faults import StationFault, fault_from, write_log
from linegate.station.gate.provisioning import Provisioning
from linegate.station.gate.services import ServiceConfigError
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.probe import DutProbe
from linegate.station.output import OutputError, RunWriter, check_writable
from linegate.station.results.store import ResultsStore

from linegate.errors import BadInput

# pytest's exit codes of a run that went through (units may have failed, or the operator stopped it)
RAN = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED,
       pytest.ExitCode.NO_TESTS_COLLECTED)


log = logging.getLogger(__name__)


class LineError(BadInput):
    """The line could not run (station tests do not collect, ...). One line."""


@dataclass
class RunResult:
    run_dir: Path | None
    records: list[UnitRecord]
    rows: list[IndexRow]
    aborted: bool = False


def pytest_args(plan: Plan) -> list[str]:
    files = sorted({step.test.split("::", 1)[0] for step in plan.steps})
    for index, step in enumerate(plan.steps):
        path = plan.tests_dir / step.test.split("::", 1)[0]
        if not path.is_file():
            raise LineError(f"{plan.path}: steps[{index}]({step.name}).test: no file {path}")
    return [
        *(str(plan.tests_dir / f) for f in files),
        "--rootdir", str(plan.tests_dir),
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:html",
        # Per-step costs with no use in a station run: output and log capture are StationLoop's
        # own (station/capture.py), warnings and thread exceptions go to the step's captured
        # stderr, steps are functions.
        "--capture=no",
        "-p", "no:logging",
        "-p", "no:warnings",
        "-p", "no:threadexception",
        "-p", "no:unraisableexception",
        "-p", "no:unittest",
        "-o", "addopts=",
        "-o", "testpaths=",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]


def _prepare(config: FixtureConfig, plan: Plan, out: Path, ledger: Ledger | None,
             keep_records: bool, results: ResultsStore | None) -> tuple[list[str], dict[str, str], RunWriter]:
    args = pytest_args(plan)
    if plan.provisioning is not None and ledger is None:
        raise LineError(f"{plan.path}: the plan provisions with {plan.provisioning.service}: a ledger is needed")
    try:
        check_writable(out)
    except OutputError as e:
        raise LineError(str(e)) from e
    meta = {
        "station": config.station,
        "fixture": str(config.path or ""),
        "plan": f"{plan.name} v{plan.version}",
        "plan sha256": plan.sha256,
    }
    return args, meta, RunWriter(out, meta, keep_records=keep_records, results=results)


def _provisioning(stack: ExitStack, config: FixtureConfig, plan: Plan, ledger: Ledger | None, writer: RunWriter,
                  retry: RetryPolicy | None, probe: DutProbe | None) -> Provisioning | None:
    """The run's provisioning, started (service checked, crash recovered, pool filled), stopped with ``stack``."""
    if plan.provisioning is None or ledger is None:
        return None
    try:
        provisioning = Provisioning(plan.provisioning, config.cloud, ledger, retry=retry,
                                    probe=probe)
    except ServiceConfigError as e:
        raise LineError(f"{config.path or 'fixture'}: {e}") from e
    provisioning.start()
    provisioning.set_run_dir(writer.run_dir)
    provisioning.results = writer.results
    stack.callback(provisioning.stop)
    writer.meta["provisioning"] = plan.provisioning.service
    if provisioning.recovered and provisioning.recovered.summary() != "nothing to recover":
        writer.meta["recovered at start"] = provisioning.recovered.summary()
    return provisioning


def _finish(writer: RunWriter, fault: StationFault | None, out: Path, state_dir: Path | None,
            aborted: bool) -> RunResult:
    try:
        writer.finish()  # after the provisioning stop: the last drained commits are in the records
    except Exception as e:
        fault = fault or fault_from(e, f"writing the run's summary in {writer.run_dir}")
    if fault is not None:
        raise write_log(fault, writer.run_dir, out, *([state_dir] if state_dir else []))
    return RunResult(
        run_dir=writer.run_dir if writer.rows else None,
        records=writer.records,
        rows=writer.rows,
        aborted=aborted,
    )


def _station_safe_state(config: FixtureConfig, lock_dir: Path) -> None:
    """The station-level instruments the sockets' workers shared, made safe once they are all gone (each
    worker left them alone: turning a shared supply off would have cut another socket's unit)."""
    names = [name for name, _ in config.instruments.items()]
    if len(config.sockets) < 2 or not names:
        return
    with InstrumentLocks(lock_dir).hold(names):
        try:
            jig = Jig.open(config.model_copy(update={"sockets": ()}))
        except JigError as e:
            log.warning("the shared instruments were not made safe: %s", e)
            return
        jig.close()  # safe state first


def run_sockets(
    config: FixtureConfig,
    plan: Plan,
    *,
    units: UnitSource,
    probe: DutProbe | None,
    options: LineOptions,
    services: StationServices = NO_SERVICES,
) -> RunResult:
    """Test the units ``units`` puts in the sockets of ``config``'s jig: one worker process per socket (its warm
    pytest session, its DUT, the gate, each unit's record) under a supervisor (this process). The sockets test
    side by side, a step past its deadline is killed ``options.grace_s`` later, a dead worker is restarted.
    Raises JigError / LineError before any unit. ``probe`` lets recovery look at a DUT that a stop left with
    an identity half written (station/engine/options.py tells the rest)."""
    ledger = services.ledger
    args, meta, writer = _prepare(config, plan, options.out, ledger, options.keep_records, services.results)
    meta["sockets"] = f"{len(config.sockets)}, one worker process each"
    lock_dir = lock_dir_of(config.station)
    workers_lock = None
    if ledger is not None and plan.provisioning is not None:
        workers_lock = workers_lock_of(ledger.sqlite_path, lock_dir)
    with ExitStack() as stack:
        if workers_lock is not None:  # before recovery: a killed station's workers may still be dying
            wait_for_old_workers(workers_lock)
        provisioning = _provisioning(stack, config, plan, ledger, writer, options.retry, probe)
        supervisor = Supervisor(config, plan, units=units, probe=probe, writer=writer, pytest_args=args,
                                lock_dir=lock_dir, workers_lock=workers_lock, provisioning=provisioning,
                                options=options, services=services)
        if services.controls is not None:
            services.controls.bind(supervisor)
        stack.callback(_station_safe_state, config, lock_dir)
        try:
            supervisor.run()
        except LineStopped as e:
            first = str(e)
            if not first.startswith(str(plan.path)):
                first = f"{plan.tests_dir}: station tests do not load: {first}"
            raise LineError(first) from None
    return _finish(writer, supervisor.fault, options.out, options.state_dir, supervisor.aborted)
