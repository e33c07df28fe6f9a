"""Run a line: bring up the jig, run the plan on unit after unit, write reports."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.context import StationState
from linegate.fixtures.jig import Jig
from linegate.fixtures.locks import InstrumentLocks
from linegate.plans import Plan, UnitRecord
from linegate.reports import IndexRow
from linegate.station.engine.sources import DutProbe, UnitSource, unit_starts
from linegate.station.events import EventSink
from linegate.station.faults import StationFault, fault_from, write_log
from linegate.station.gate.services import ServiceConfigError
from linegate.station.gate.station import Provisioning
from linegate.station.ledger.journal import Ledger
from linegate.station.loop import StationLoop
from linegate.station.output import OutputError, RunWriter, check_writable

# pytest's exit codes of a run that went through (units may have failed, or the operator stopped it)
RAN = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED,
       pytest.ExitCode.NO_TESTS_COLLECTED)


class LineError(Exception):
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


def run_line(
    config: FixtureConfig,
    plan: Plan,
    *,
    units: UnitSource,
    probe: DutProbe | None,
    out: Path,
    state_dir: Path | None = None,
    ledger: Ledger | None = None,
    retry: RetryPolicy | None = None,
    keep_records: bool = True,
    events: EventSink | None = None,
    locks: InstrumentLocks | None = None,
) -> RunResult:
    """Test the units ``units`` puts in the sockets of ``config``'s jig. Raises JigError / LineError
    before any unit.

    A plan with ``provisioning`` needs a ``ledger``; ``probe`` lets recovery look at a DUT that a
    stop left with an identity half written. ``state_dir`` also gets the log of a station fault.
    The result holds every unit's record unless ``keep_records`` is false (the rows are always there).
    ``events`` receives the typed event stream (station/events.py) as the units run. ``locks``: the
    cross-process locks of the station-level instruments, when other processes use them too.
    """
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
    writer = RunWriter(out, meta, keep_records=keep_records)
    aborted = False
    with ExitStack() as stack:
        provisioning: Provisioning | None = None
        if plan.provisioning is not None and ledger is not None:
            try:
                provisioning = Provisioning(plan.provisioning, config.cloud, ledger, retry=retry,
                                            probe=probe.probe if probe is not None else None)
            except ServiceConfigError as e:
                raise LineError(f"{config.path or 'fixture'}: {e}") from e
            provisioning.start()
            provisioning.set_run_dir(writer.run_dir)
            stack.callback(provisioning.stop)
            meta["provisioning"] = plan.provisioning.service
            if provisioning.recovered and provisioning.recovered.summary() != "nothing to recover":
                meta["recovered at start"] = provisioning.recovered.summary()
        jig = Jig.open(config)
        stack.callback(jig.close)
        state = StationState(config=config, plan=plan, jig=jig, locks=locks)
        loop = StationLoop(state, unit_starts(units, jig, [s.name for s in config.sockets]), writer, provisioning,
                           events=events)
        try:
            code = pytest.main(args, plugins=[loop])
        except KeyboardInterrupt:
            code = pytest.ExitCode.INTERRUPTED
        if loop.collect_errors:
            first = loop.collect_errors[0]
            if not first.startswith(str(plan.path)):
                first = f"{plan.tests_dir}: station tests do not load: {first}"
            raise LineError(first)
        if code == pytest.ExitCode.USAGE_ERROR:
            raise LineError(f"{plan.path}: pytest refused the plan's station tests")
        aborted = code == pytest.ExitCode.INTERRUPTED
        if loop.fault is None and code not in RAN:
            loop.fault = StationFault(f"pytest ended the station run with exit code {int(code)}")
    fault = loop.fault
    try:
        writer.finish()  # after the provisioning stop above: the last drained commits are in the records
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
