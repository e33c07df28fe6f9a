"""The ``linegate`` command.

Exit codes: 0 the line ran (even if units failed); 1 station fault (a bug, a
lost key, a full disk: one line, the traceback in a log file); 2 bad input
(plan, fixture file, arguments); 3 the jig or the cloud could not be brought
up (port, instrument; a provisioning service that is unreachable or refuses
the station's credentials, found by a quick check before the first unit);
130 stopped by the operator (Ctrl-C); 143 stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import os
import select
import signal
import sys
import time
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from linegate.fixtures.config import (
    FixtureConfig,
    Simulation,
    Socket,
    central_problem,
    folder_problem,
    load_fixture,
)
from linegate.plans import Plan, load_plan
from linegate.plans.provisioning import SERVICES
from linegate.plans.serial import refusal
from linegate.station import (
    db_cli,
    ledger_cli,
    panel_cli,
    rebuild_cli,
    report_cli,
    results_cli,
    retest_cli,
    sim_cloud,
    sim_dut,
    sync_cli,
)
from linegate.station.cli_args import MAX_SEED, MAX_UNITS, LineParser, whole
from linegate.station.cloud_setup import DEFAULT_STATE_DIR, demo_cloud, emulator_account, fresh_demo_state
from linegate.station.compose import run_fixture
from linegate.station.console import STYLE, LiveConsole
from linegate.station.engine.resume import journal_recorded
from linegate.station.events import EventLog, EventSink, fan_out, serialized
from linegate.station.faults import StationFault, Terminated, fault_from, write_log
from linegate.station.ledger.journal import Ledger
from linegate.station.output import OutputError, check_writable
from linegate.station.results.attempts import StoreAttempts
from linegate.station.results.store import ResultsStore, local_results_path
from linegate.station.run import LineError, RunResult
from rich.console import Console
from rich.table import Table
from rich.text import Text

from linegate import __version__
from linegate.errors import LinegateError

EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_JIG = 3
EXIT_ABORTED = 130
EXIT_TERMINATED = 143
MAX_DEMO_SOCKETS = 16


def packaged(package: str, name: str) -> Path:
    return Path(str(resources.files(package) / name))


def _parser() -> argparse.ArgumentParser:
    p = LineParser(prog="linegate", description="Hardware-in-the-loop factory test station.")
    p.add_argument("--version", action="version", version=f"linegate {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the simulated line on the example plan")
    demo.add_argument("--units", type=whole(1, MAX_UNITS), default=20, help="units to test (default 20)")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    demo.add_argument("--seed", type=whole(0, MAX_SEED), default=1, help="seed of the simulated units")
    demo.add_argument("--service", choices=(*SERVICES, "none"), default="ayla",
                      help="provisioning service the line reports passing units to (default ayla)")
    demo.add_argument("--sockets", type=whole(1, MAX_DEMO_SOCKETS), default=1, metavar="N",
                      help="simulated sockets tested side by side, one worker process each (default 1, at most 16)")
    _cloud_args(demo)

    run = sub.add_parser("run", help="run a plan on any fixture file")
    run.add_argument("--fixture", type=Path, required=True, help="fixture file (YAML)")
    run.add_argument("--plan", type=Path, required=True, help="plan file (YAML)")
    count = run.add_mutually_exclusive_group()
    count.add_argument("--units", type=whole(1, MAX_UNITS), help="number of units")
    count.add_argument("--sn", nargs="+", metavar="SN", help="serial numbers of the units, in order")
    run.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    _cloud_args(run)
    run.add_argument("--ledger", help="ledger SQLAlchemy URL or SQLite path (default STATE_DIR/ledger.db)")
    retest_cli.add_args(run)

    sim = sub.add_parser("sim", help="simulators")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    sim_dut.add_parser(sim_sub)
    sim_cloud.add_parser(sim_sub)
    ledger_cli.add_parser(sub)
    db_cli.add_parser(sub)
    report_cli.add_parser(sub)
    results_cli.add_parser(sub)
    return p


def _cloud_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cloud", metavar="URL", help="use a running 'linegate sim cloud' at URL instead of starting "
                                                  "the emulators in-process")
    p.add_argument("--state-dir", type=Path, help="ledger (DIR/ledger.db), emulator and simulated DUT state; "
                                                  "the same command again after a stop recovers and continues")
    sync_cli.add_args(p)
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="also append the event stream to FILE, one JSON line per event (docs/events.md)")
    panel_cli.add_args(p)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops the station as Ctrl-C does: once; a second one waits for the cleanup."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # a refused argument (one line said, LineParser) or --help: its exit code
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    # Serials, MACs, plan names and failure texts are data: no markup, no emoji codes (':ab:' is in MACs).
    # Bound to this stdout: a unit's own output is captured while it runs, the console's is not.
    console = _Console(file=sys.stdout, highlight=False, markup=False, emoji=False,
                       width=None if sys.stdout.isatty() else 160)
    previous = signal.signal(signal.SIGTERM, _terminate) if args.command in ("demo", "run") else None
    try:
        return _main(args, console)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 itself when the output's reader has gone: ``main`` decides instead, for every command."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")


def _main(args: argparse.Namespace, console: Console) -> int:
    try:
        code = _command(args, console)
        sys.stdout.flush()  # what is still buffered goes now: a reader that has gone is told here, not at exit
        return code
    except LinegateError as e:  # each kind says its word and its exit code (linegate/errors.py)
        if isinstance(e, StationFault) and _reader_gone(e):
            return _output_dropped()
        _error(f"linegate: {e.label}: {e}")
        return e.exit_code
    except Terminated:
        _error("linegate: stopped by SIGTERM")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _error("linegate: stopped by the operator")
        return EXIT_ABORTED
    except Exception as e:  # a bug: never a traceback on the line's console, never exit 0
        if _reader_gone(e):
            return _output_dropped()
        fault = write_log(fault_from(e, f"linegate {args.command}"), *_log_folders(args))
        _error(f"linegate: station fault: {fault}")
        return EXIT_FAULT


def _reader_gone(e: BaseException) -> bool:
    """The output was cut short (``| head``): a broken pipe, and it is this process's stdout that broke (a
    socket to the cloud or a DUT breaks with the same error: that stays a fault)."""
    if not any(isinstance(x, BrokenPipeError) for x in (e, e.__cause__)):
        return False
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))  # a pipe without a reader
    except (OSError, ValueError, AttributeError):  # no file behind stdout (an embedding caller's)
        return False


def _output_dropped() -> int:
    """The rest of the output is dropped quietly, exit 0; stdout points at /dev/null so the interpreter's
    own flush at exit does not fail on the broken pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def _command(args: argparse.Namespace, console: Console) -> int:
    if args.command == "demo":
        return _demo(args, console)
    if args.command == "run":
        return _run(args, console)
    if args.command == "sim" and args.sim_command == "dut":
        return sim_dut.run(args)
    if args.command == "sim" and args.sim_command == "cloud":
        return sim_cloud.run(args)
    if args.command == "ledger":
        return ledger_cli.run(args, console)
    if args.command == "db":
        return db_cli.run(args)
    if args.command == "report":
        return report_cli.run(args)
    if args.command == "results":
        return results_cli.run(args, console)
    return EXIT_BAD_INPUT


def _log_folders(args: argparse.Namespace) -> list[Path]:
    """Where a fault's traceback goes: a station run's folders (made if need be); another command's state
    folder when it is there (``report --out`` names a file: never a folder of that name)."""
    if args.command in ("demo", "run"):
        return [p for p in (args.out, args.state_dir) if p is not None]
    state = getattr(args, "state_dir", None)
    return [state] if isinstance(state, Path) and state.is_dir() else []


def _error(message: str) -> None:
    """One line on stderr, whatever the library's message held."""
    print(" ".join(message.split()), file=sys.stderr, flush=True)


def _check_args(args: argparse.Namespace) -> None:
    """What can be refused before anything opens: serials, the output folder (counts: their parsers)."""
    serials = getattr(args, "sn", None) or []
    if repeated := sorted({sn for sn in serials if serials.count(sn) > 1}):
        raise LineError(f"--sn: {', '.join(repeated)} given more than once")
    if args.results is not None and (problem := central_problem(args.results)) is not None:
        raise LineError(f"--results: {problem}")
    for option, named in (("--results", args.results), ("--ledger", getattr(args, "ledger", None))):
        if named is not None and (problem := folder_problem(named)) is not None:
            raise LineError(f"{option} {problem}")
    try:
        check_writable(args.out)
        if args.state_dir is not None:  # the station's own folder: made when it is not there, as --out
            check_writable(args.state_dir, "--state-dir")
    except OutputError as e:
        raise LineError(str(e)) from e


def _demo(args: argparse.Namespace, console: Console) -> int:
    _check_args(args)
    config = load_fixture(packaged("linegate.fixtures", "sim-station.yaml"))
    sim = config.simulated or Simulation()
    config = config.model_copy(update={"simulated": sim.model_copy(update={"seed": args.seed}),
                                       "sockets": sockets_like(config.sockets[0], args.sockets)})
    name = "esp-at-module.yaml" if args.service == "none" else f"esp-at-{args.service}.yaml"
    plan = load_plan(packaged("linegate.plans", name))
    state_dir = args.state_dir
    history = state_dir is not None  # the demo's own state is fresh each run: its past runs are not its history
    if state_dir is None:  # the demo's own, fresh each run; its results store is where 'results' looks first
        state_dir = DEFAULT_STATE_DIR
        fresh_demo_state(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    if plan.provisioning is None:
        return _execute(config, plan, args, console, units=args.units, state_dir=state_dir, history=history)
    with demo_cloud(args.cloud, state_dir) as account:
        config = config.model_copy(update={"cloud": account})
        ledger = Ledger(state_dir / "ledger.db")
        try:
            ledger.hold(config.station)
            return _execute(config, plan, args, console, units=args.units, state_dir=state_dir, ledger=ledger,
                            history=history)
        finally:
            ledger.close()


def sockets_like(first: Socket, count: int) -> tuple[Socket, ...]:
    """``count`` sockets named A, B, C... wired as ``first`` (a simulated line puts each on its own pty)."""
    names = [chr(ord("A") + i) for i in range(count)]
    return tuple(first.model_copy(update={"name": name, "dut": first.dut.model_copy(
        update={"port": f".sim/socket-{name}"})}) for name in names)


def _run(args: argparse.Namespace, console: Console) -> int:
    _check_args(args)
    config = load_fixture(args.fixture)
    plan = load_plan(args.plan)
    for serial in args.sn or ():
        if (why := refusal(serial, plan.serial)) is not None:
            raise LineError(f"--sn {serial}: {why}")
    retest_cli.check(args, config, plan, say=_error)
    if plan.provisioning is None:
        return _execute(config, plan, args, console, units=args.units, serials=args.sn,
                        state_dir=args.state_dir)
    state_dir = args.state_dir or Path(".linegate") / config.station
    if args.cloud:
        config = config.model_copy(update={"cloud": emulator_account(args.cloud)})
    if config.cloud is None:  # before the ledger: a refused run leaves nothing behind
        raise LineError(f"{args.plan}: the plan provisions with {plan.provisioning.service} but {args.fixture} has "
                        "no 'cloud' section (or pass --cloud URL)")
    ledger = Ledger(args.ledger or state_dir / "ledger.db")
    try:
        ledger.hold(config.station)
        return _execute(config, plan, args, console, units=args.units, serials=args.sn, state_dir=state_dir,
                        ledger=ledger)
    finally:
        ledger.close()


def _execute(
    config: FixtureConfig,
    plan: Plan,
    args: argparse.Namespace,
    console: Console,
    *,
    units: int | None,
    serials: list[str] | None = None,
    state_dir: Path | None = None,
    ledger: Ledger | None = None,
    history: bool = True,
) -> int:
    console.print(Text.assemble(("linegate", "bold"), f" {config.station}: plan {plan.name} v{plan.version} "
                                f"(sha256 {plan.sha256[:12]})"))
    total = units or (len(serials) if serials else None)
    started = time.perf_counter()
    with ExitStack() as stack:
        results = stack.enter_context(ResultsStore(local_results_path(config.station, state_dir)))
        if history and (lost := rebuild_cli.history_lost(results, config.station, ledger, args.out)) is not None:
            _error(lost)
        if history and ledger is not None and (
                journaled := journal_recorded(ledger, results, args.out, config.station)):
            console.print(f"recovery: {journaled} unit(s) recorded before the stop but not journaled: marked "
                          "finished (not tested again)")
        retest = retest_cli.policy(args, config, plan, results)
        if retest is not None and isinstance(retest.attempts, StoreAttempts):
            stack.callback(retest.attempts.close)
        sync = sync_cli.prepare_sync(stack, results, args.results or config.results)
        panel = panel_cli.Panel(args, config, plan, stack, ledger, units,  # a simulated line loads its own units
                                scans=config.simulated is None and not serials, retest=retest) if args.ui else None
        if panel is not None:
            console.print(f"operator panel: {panel.url}")
        view = stack.enter_context(LiveConsole(console, [s.name for s in config.sockets], total=total))
        sinks: list[EventSink] = [view]
        if args.events is not None:
            sinks.append(stack.enter_context(EventLog(args.events)))
        if panel is not None:
            sinks.append(panel.hub)
        events = serialized(fan_out(sinks))  # the results sync tells its lag from its own thread
        if sync is not None:
            sync.start(events)
        result = run_fixture(config, plan, out=args.out, units=units, serials=serials, state_dir=state_dir,
                             ledger=ledger, keep_records=False,  # the records are on disk; a line may run for days
                             events=events,
                             controls=panel.controls if panel else None, units_source=panel.units if panel else None,
                             results=results, retest=retest)
        synced = sync_cli.end_sync(sync, results)
        if panel is not None and sys.stdin.isatty():
            try:
                input(f"the run is over; the panel stays at {panel.url} until you press Enter ")
            except (EOFError, KeyboardInterrupt):
                pass
    _summary(result, console, time.perf_counter() - started)
    if synced is not None:
        console.print(synced)
    if ledger is not None:
        ledger_cli.print_status(ledger, console)
    if not result.aborted:
        return 0
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:  # _terminate ran
        _error("linegate: stopped by SIGTERM")
        return EXIT_TERMINATED
    _error("linegate: stopped by the operator")
    return EXIT_ABORTED


def _summary(result: RunResult, console: Console, elapsed: float) -> None:
    """The run's units as a table that fits the console (80 columns included).

    No cell is cut by the table: a long cell folds onto the next line. A failure longer than 100
    characters ends in "…" (the unit's report has it whole). The serial and the MAC show only when the
    failure column keeps at least 24 characters with them (the report's name starts with the serial,
    else the MAC). When even that leaves the failure column under 24 characters (80 columns), the
    report's name and the failure share one column, the failure on the lines under the name. A socket
    column shows when the run used several sockets.
    """
    if not result.rows:
        console.print(f"no unit tested in {elapsed:.2f} s: the line is already complete for the units asked "
                      "(a --state-dir run continues to --units in all), or none was loaded")
        return
    failure_chars, failure_min = 100, 24
    rows = result.rows
    failures = [r.failure if len(r.failure) <= failure_chars else r.failure[:failure_chars - 1] + "…" for r in rows]
    values = {"#": [str(r.index) for r in rows], "socket": [r.socket for r in rows], "unit": [r.serial for r in rows],
              "MAC": [r.mac for r in rows], "outcome": [r.outcome for r in rows], "report": [r.report for r in rows]}

    def width(name: str) -> int:
        return max([len(name), *(len(cell) for cell in values[name])])

    def left_for_failure(names: list[str]) -> int:
        n = len(names) + 1  # and the failure column; each column costs 2 of padding and 1 of border
        return console.width - sum(width(name) for name in names) - 3 * n - 1

    names = ["#", *(["socket"] if len(set(values["socket"])) > 1 else []), "outcome", "report"]
    together = left_for_failure(names) < failure_min
    if together:
        names.remove("report")
    else:
        for name in ("unit", "MAC"):
            if left_for_failure([*names, name]) >= failure_min:
                names.insert(-2, name)
    table = Table(title=f"Units (reports in {result.run_dir})", show_lines=together)
    for name in names:
        if name == "report":
            table.add_column("failing step: measurement", overflow="fold")
        table.add_column(name, overflow="fold", width=width(name))  # fixed: rich narrows the failure column
    if together:
        table.add_column("report / failing step: measurement", overflow="fold")
    for i, row in enumerate(rows):
        # Text, not markup: a failure such as "[Errno 5] ..." is shown as it is
        cells = [Text(values[name][i], style=STYLE[row.outcome] if name == "outcome" else "") for name in names]
        if together:
            cells.append(Text(row.report + (f"\n{failures[i]}" if failures[i] else "")))
        else:
            cells.insert(-1, Text(failures[i]))
        table.add_row(*cells)
    console.print(table)
    counts = {o: sum(1 for r in result.rows if r.outcome == o) for o in STYLE}
    passed = counts["PASS"]
    total = len(result.rows)
    yield_pct = f"{passed / total * 100:.1f}%" if total else "-"
    outcomes = ", ".join(f"{v} {k}" for k, v in counts.items())
    console.print(f"{total} unit{'s' if total != 1 else ''} in {elapsed:.2f} s: {outcomes}; yield {yield_pct}")
    if result.run_dir is not None:
        console.print(f"run index: {result.run_dir / 'index.html'}")
        console.print(f"lot summary: {result.run_dir / 'lot.html'}  JUnit: {result.run_dir / 'junit.xml'}")


if __name__ == "__main__":
    sys.exit(main())
