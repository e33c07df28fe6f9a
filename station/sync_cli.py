"""``linegate results sync`` and the run's background sync of the station's outbox to the central store.

``linegate results sync --results URL`` sends a station's outbox (its local store) to the central store
now: what a run left there when the central store was away. Exit 0 when the central store has every
unit, 1 when it refused some for what they hold (set aside in the outbox, the others sent; listed by
``linegate results outbox``, sent again by ``--retry-set-aside``), 3 when it could not be reached (what
is left stays in the outbox), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from linegate.fixtures.config import folder_problem
from linegate.station import outbox_cli
from linegate.station.cli_args import Commands
from linegate.station.results.background import BackgroundSync, backoff_s
from linegate.station.results.store import ResultsStore, results_url
from linegate.station.results.sync import Lag, Outbox, SyncError
from linegate.station.run import LineError
from rich.console import Console

EXIT_SET_ASIDE = 1
EXIT_UNREACHABLE = 3
RESULTS_HELP = ("the central results store all stations share: postgresql+psycopg://user@host/db (the password "
                "best from PGPASSWORD or ~/.pgpass) or an SQLite file; the station's own store (STATE_DIR/results.db) "
                "is its outbox, sent in the background")


def add_args(p: argparse.ArgumentParser) -> None:
    """``--results URL`` of ``linegate run`` and ``demo``."""
    p.add_argument("--results", metavar="URL", help=RESULTS_HELP + " (overrides the fixture's 'results')")


def add_parser(cmds: Commands) -> None:
    """``linegate results sync``, in the ``results`` group."""
    sync = cmds.add_parser("sync", help="send what the station's outbox holds and the central store lacks, now")
    sync.add_argument("--state-dir", type=Path, help="the station's state folder, with its results.db (default: the "
                                                     "only .linegate/*/results.db here)")
    sync.add_argument("--results", metavar="URL", required=True, help=RESULTS_HELP)
    sync.add_argument("--retry-set-aside", action="store_true",
                      help="also send again the units the central store refused before (set aside in the outbox)")
    outbox = cmds.add_parser("outbox", help="what the station's outbox holds for each central store: units behind, "
                                            "units refused and set aside (with the store's reason)")
    outbox.add_argument("--state-dir", type=Path, help="the station's state folder, with its results.db (default: "
                                                       "the only .linegate/*/results.db here)")
    outbox.add_argument("--json", action="store_true", help="one JSON document instead of lines")


def run(args: argparse.Namespace, console: Console) -> int:
    if args.results_command == "outbox":
        return outbox_cli.show(outbox_path(args.state_dir), as_json=args.json, console=console)
    return _sync(args, console)


def outbox_path(state_dir: Path | None) -> Path:
    """The local store to send: ``STATE_DIR/results.db``, else the only one under ``.linegate/``."""
    if state_dir is not None:
        path = state_dir / "results.db"
        if not path.is_file():
            raise LineError(f"{path}: no results store here (a station run with --state-dir {state_dir} makes it)")
        return path
    found = sorted(Path(".linegate").glob("*/results.db"))
    if len(found) != 1:
        where = f"several: {', '.join(map(str, found))}" if found else "none"
        raise LineError(f".linegate/*/results.db: {where}; pass --state-dir DIR")
    return found[0]


def _sync(args: argparse.Namespace, console: Console) -> int:
    if (problem := folder_problem(args.results)) is not None:
        raise LineError(f"--results {problem}")
    path = outbox_path(args.state_dir)
    with ResultsStore(path) as local:
        outbox = open_outbox(local, args.results)
        try:
            before, _ = outbox.lag()
            try:
                sent = _push(outbox)
                if args.retry_set_aside:
                    sent += outbox.retry_set_aside()[0]
            except SyncError as e:
                outbox.note_error(e.reason)
                left, _ = outbox.lag()
                print(f"linegate: results: {e}; {left} of {before} unit(s) stay in the outbox {path}", file=sys.stderr)
                return EXIT_UNREACHABLE
            outbox.note_error("")
            refused = outbox.set_aside()
        finally:
            outbox.close()
    if refused:
        print(f"linegate: results: {outbox.target} refused {refused} unit(s) for what they hold: set aside in the "
              f"outbox {path} ({sent} other(s) sent); 'linegate results outbox' lists them and why", file=sys.stderr)
        return EXIT_SET_ASIDE
    console.print(f"results: sent {sent} unit(s) from {path} to {outbox.target}; it has every unit of the outbox")
    return 0


def _push(outbox: Outbox, attempts: int = 3) -> int:
    """Everything, tried again after a short wait when the central store refused a batch (another station
    making the tables or sending the same units at that moment); the units sent, failed tries' batches too."""
    before = outbox.sent
    for attempt in range(1, attempts + 1):
        try:
            outbox.push()
            break
        except SyncError:
            if attempt == attempts:
                raise
            time.sleep(backoff_s(attempt))
    return outbox.sent - before


def open_outbox(local: ResultsStore, central: str) -> Outbox:
    """The sync's view of ``local`` towards ``central``; refused (LineError) when they are the same store."""
    if results_url(central) == local.url:
        raise LineError(f"--results {local.shown}: this is the station's own store (its outbox), not a central one")
    return Outbox(local, central)


def prepare_sync(stack: ExitStack, local: ResultsStore, central: str | None) -> BackgroundSync | None:
    """The run's sync to ``central`` (None without one), its URL checked now, before anything runs; started
    by ``start(events)``, stopped with ``stack`` if the run fails."""
    if not central:
        return None
    sync = BackgroundSync(open_outbox(local, central))
    stack.callback(sync.close)
    return sync


def end_sync(sync: BackgroundSync | None, local: ResultsStore) -> str | None:
    """The run is over: one last short try; what to tell of where the units are."""
    if sync is None:
        return None
    lag: Lag = sync.finish()
    target = sync.outbox.target
    refused = (f"; {lag.set_aside} unit(s) it refused for what they hold are set aside in the outbox "
               f"{local.shown} ('linegate results outbox' lists them and why)") if lag.set_aside else ""
    if lag.behind == 0:
        every = "has every unit" if not lag.set_aside else "has every other unit"
        return f"results: the central store {target} {every} ({sync.sent} sent this run){refused}"
    why = f" ({lag.error})" if lag.error else ""
    return (f"results: {lag.behind} unit(s) not yet in {target}{why}; they stay in the outbox {local.shown}: "
            f"the next run sends them, or 'linegate results sync --results URL' now{refused}")


__all__ = ["add_args", "add_parser", "end_sync", "open_outbox", "outbox_path", "prepare_sync", "run"]
