"""``linegate results rebuild``, and a station finding its results store new while its ledger says units were
tested here (the store was removed between runs): it rebuilds it from the run folders before the first unit,
so the retest limit counts the unit's earlier failures again, and says what it could not find.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linegate.station.cli_args import Commands
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.schema import identities
from linegate.station.ledger.schema import units as ledger_units
from linegate.station.results.rebuild import Rebuilt, rebuild, run_folders, station_of
from linegate.station.results.schema import units
from linegate.station.results.store import ResultsStore, first_line, open_reader
from linegate.station.run import LineError
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError


def add_parser(cmds: Commands) -> None:
    p = cmds.add_parser("rebuild", help="make a station's results store again from its units' JSON records "
                                        "(idempotent by record id)")
    p.add_argument("--state-dir", type=Path, required=True, help="the station's state folder: its results.db is "
                                                                  "made or completed there")
    p.add_argument("--from", dest="sources", nargs="+", type=Path, metavar="RUN_DIR",
                   help="run folders (or folders of run-* folders) to read; default: ./out and the folders of "
                        "the records the station's ledger names")


def run(args: argparse.Namespace, console: Console) -> int:
    state: Path = args.state_dir
    if not state.is_dir():
        raise LineError(f"--state-dir {state}: no such folder")
    for source in args.sources or ():
        if not source.is_dir():
            raise LineError(f"--from {source}: no such folder")
    roots = list(args.sources or [Path("out"), *_ledger_folders(state / "ledger.db")])
    folders = run_folders(roots)
    if not folders:
        raise LineError(f"--from: no run folder found (looked in {', '.join(map(str, roots))}); name them")
    with ResultsStore(state / "results.db") as store:
        done = rebuild(store, folders)
    console.print(summary(done, state / "results.db"), markup=False, highlight=False, soft_wrap=True)
    return 0


def summary(done: Rebuilt, path: Path) -> str:
    bad = f"; {len(done.unreadable)} JSON file(s) were not unit records (first: {done.unreadable[0][0]}: " \
          f"{done.unreadable[0][1]})" if done.unreadable else ""
    return (f"results: {path}: {done.records} unit record(s) from {done.folders} run folder(s): {done.written} "
            f"written, {done.kept} already there{bad}")


def _ledger_folders(path: Path) -> list[Path]:
    """The folders of the records the ledger names (read without its key: paths are not secret)."""
    if not path.is_file():
        return []
    engine = open_reader(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            paths = conn.execute(select(identities.c.record_path).where(identities.c.record_path.is_not(None))
                                 .distinct()).scalars()
            return sorted({Path(p).parent for p in paths})
    except SQLAlchemyError:
        return []
    finally:
        engine.dispose()


def history_lost(store: ResultsStore, station: str, ledger: Ledger | None, out: Path) -> str | None:
    """At a station's start: when its store holds no unit but its ledger counts tests here, or ``out`` holds
    run folders of this station, the store is rebuilt from them (and the ledger's record folders); what to
    tell (None: nothing was lost)."""
    unfinished = store.path.with_name(store.path.name + ".rebuilding") if store.path is not None else None
    try:
        with store.engine.connect() as conn:
            if conn.execute(select(units.c.record_id).limit(1)).first() is not None and not (
                    unfinished is not None and unfinished.exists()):
                return None
        tested, recorded = 0, set()
        if ledger is not None:
            with ledger.engine.connect() as conn:
                tested = int(conn.execute(select(func.coalesce(func.sum(ledger_units.c.tests), 0))).scalar_one())
                recorded = {Path(p).parent for p in conn.execute(
                    select(identities.c.record_path).where(identities.c.record_path.is_not(None))).scalars()}
    except SQLAlchemyError as e:
        return f"results: cannot compare the results store with the ledger: {first_line(e)}"
    ours = [f for f in run_folders([out]) if station_of(f) == station]
    if not tested and not ours:
        return None
    if unfinished is not None:
        unfinished.touch()  # a station stopped mid-rebuild finishes it at its next start
    done = rebuild(store, run_folders([*ours, *sorted(recorded)]))
    if unfinished is not None:
        unfinished.unlink(missing_ok=True)
    why = f"the ledger counts {tested} test(s) on this station" if tested else \
        f"{out} holds {len(ours)} run folder(s) of this station"
    said = (f"results: {store.shown} held no unit though {why} (it was removed?); rebuilt from the run folders: "
            f"{done.records} unit record(s)")
    if done.records < tested:
        said += (f"; {tested - done.records} test(s) have no record there: the retest limit counts those only "
                 "where the central results store has them ('linegate results rebuild --from RUN_DIR' adds "
                 "other folders)")
    return said


__all__ = ["add_parser", "history_lost", "run", "summary"]
