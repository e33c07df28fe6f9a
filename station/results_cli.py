"""``linegate results units|history``: the results store's questions, as a table, JSON or CSV.

The store asked is the demo station's local one (``.linegate/demo/results.db``), a station's state folder's
(``--state-dir``), or any results store (``--results``: a SQLite path or a SQLAlchemy URL).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from linegate.station import rebuild_cli, sync_cli
from linegate.station.cli_args import Commands, whole
from linegate.station.cloud_setup import DEFAULT_STATE_DIR
from linegate.station.console import STYLE
from linegate.station.results.query import (
    DEFAULT_LIMIT,
    HISTORY_COLUMNS,
    MAX_LIMIT,
    OUTCOMES,
    UNIT_COLUMNS,
    HistoryRow,
    QueryError,
    UnitFilter,
    UnitRow,
    history,
    parse_when,
    units,
)
from linegate.station.results.reader import ResultsReader
from linegate.station.results.store import results_url, shown_url
from linegate.station.run import LineError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def add_parser(sub: Commands) -> Commands:
    """The ``results`` group; its sub-commands' action is returned so other modules can add theirs."""
    results = sub.add_parser("results", help="the results database: units, a unit's history, sending the outbox")
    cmds = results.add_subparsers(dest="results_command", required=True)
    found = cmds.add_parser("units", help="the tests that match the filters, oldest first")
    found.add_argument("--serial", help="the unit's serial number")
    found.add_argument("--mac", help="the unit's MAC, as recorded (aa:bb:cc:dd:ee:ff)")
    found.add_argument("--station", help="station name")
    found.add_argument("--socket", help="socket name (A, B, ...)")
    found.add_argument("--plan", help="plan name, or a prefix of its sha256")
    found.add_argument("--outcome", type=str.upper, metavar="|".join(OUTCOMES), help="the unit's outcome")
    found.add_argument("--since", help="from this ISO 8601 date or time on (2026-11-01, 2026-11-01T08:00Z); "
                                       "no offset: local time")
    found.add_argument("--until", help="before this time; a date includes that whole day")
    found.add_argument("--limit", type=whole(1, MAX_LIMIT), default=DEFAULT_LIMIT,
                       help=f"at most this many, the most recent (default {DEFAULT_LIMIT})")
    _output_args(found, csv_too=True)
    _store_args(found)
    hist = cmds.add_parser("history", help="every test of a unit on every station, in order, with its "
                                           "provisioning and report")
    hist.add_argument("serial", metavar="SERIAL")
    _output_args(hist, csv_too=False)
    _store_args(hist)
    sync_cli.add_parser(cmds)
    rebuild_cli.add_parser(cmds)
    return cmds


def _output_args(p: argparse.ArgumentParser, *, csv_too: bool) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print a JSON array")
    if csv_too:
        group.add_argument("--csv", action="store_true", help="print CSV (RFC 4180) with a header line")


def _store_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--results", metavar="URL", help="results store: SQLite path or SQLAlchemy URL "
                                                        f"(default {DEFAULT_STATE_DIR}/results.db)")
    group.add_argument("--state-dir", type=Path, metavar="DIR", help="the station's state folder: its DIR/results.db")


def open_store(args: argparse.Namespace) -> ResultsReader:
    """The store asked, opened to read only: a SQLite file that is not there, or holds no results store, is an
    error (nothing is made or migrated; the file stays as it is)."""
    target = args.results or str((args.state_dir or DEFAULT_STATE_DIR) / "results.db")
    url = results_url(target)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:  # a port that is not a number is a ValueError
        raise LineError(f"--results {shown_url(url)}: not a database URL") from e
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise LineError(f"{parsed.database}: no results store here (run 'linegate demo', or pass --state-dir "
                            "or --results)")
    return ResultsReader(url)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.results_command == "rebuild":
        return rebuild_cli.run(args, console)
    if args.results_command in ("sync", "outbox"):
        return sync_cli.run(args, console)
    if args.results_command == "units":
        since = _when("--since", args.since, end_of_day=False)
        until = _when("--until", args.until, end_of_day=True)
        try:
            where = UnitFilter(serial=args.serial, mac=args.mac, station=args.station, socket=args.socket,
                               plan=args.plan, outcome=args.outcome, since=since, until=until, limit=args.limit)
        except QueryError as e:
            raise LineError(f"--{e}") from e  # its message starts with the field's name
        with open_store(args) as store:
            found = units(store, where)
        if args.json:
            _print_json(found)
        elif args.csv:
            _print_csv(found, UNIT_COLUMNS)
        else:
            console.print(units_table(found, store.shown, console.width))
        return 0  # a reader that stops early (| head) is the CLI's main's to handle, for every command
    with open_store(args) as store:
        tests = history(store, args.serial)
    if args.json:
        _print_json(tests)
    else:
        console.print(history_table(tests, args.serial, store.shown, console.width))
    return 0


def _when(flag: str, text: str | None, *, end_of_day: bool) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_when(text, end_of_day=end_of_day)
    except QueryError as e:
        raise LineError(f"{flag} {e}") from e


def _print_json(rows: Sequence[UnitRow]) -> None:
    print(json.dumps([row.as_json() for row in rows], indent=1))


def _print_csv(rows: Sequence[UnitRow], columns: Sequence[str]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\r\n")  # RFC 4180: CRLF, quotes only where needed
    out.writerow(columns)
    for row in rows:
        values = row.as_json()
        out.writerow([csv_cell(values[c]) for c in columns])
    sys.stdout.flush()


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (OWASP): text starting with = + - @ tab or CR gets a
    leading quote; a control character (ESC, BEL: a record written by an older linegate may hold one) is
    written as its escape, never sent to the terminal; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA):
        value = "'" + value
    if isinstance(value, str) and not value.isprintable():
        value = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)
    return value


def _started(row: UnitRow) -> str:
    return row.started_at.strftime("%Y-%m-%d %H:%M:%S")


def _where(row: UnitRow) -> str:
    return f"{row.station}/{row.socket}" if row.socket else row.station


def _failure(row: UnitRow) -> str:
    return row.failure_key or row.failure_message or ""


def units_table(rows: Sequence[UnitRow], shown: str, width: int) -> Table | Text:
    """Started, station/socket, serial, outcome and failure always; MAC and plan when the failure column
    keeps at least 24 characters with them. Narrower (80 columns), the time and the station share a
    column on two lines."""
    if not rows:
        return Text(f"no unit matches in {shown}")
    cells: dict[str, list[str]] = {
        "started (UTC)": [_started(r) for r in rows], "station": [_where(r) for r in rows],
        "serial": [r.serial for r in rows], "MAC": [r.mac for r in rows],
        "plan": [f"{r.plan_name} v{r.plan_version}" for r in rows], "outcome": [r.outcome for r in rows]}
    names = ["started (UTC)", "station", "serial", "outcome"]
    stacked = _left(cells, names, width) < 24
    if stacked:
        names = ["started (UTC)\nstation", "serial", "outcome"]
        cells[names[0]] = [f"{a}\n{b}" for a, b in zip(cells["started (UTC)"], cells["station"], strict=True)]
    for optional, after in (("MAC", "serial"), ("plan", "outcome")):
        if _left(cells, [*names, optional], width) >= 24:
            names.insert(names.index(after) + 1, optional)
    table = Table(title=f"{len(rows)} unit test{'s' if len(rows) != 1 else ''} in {shown}", show_lines=stacked)
    return _filled(table, rows, cells, names, "failure", [_failure(r) for r in rows])


def history_table(rows: Sequence[HistoryRow], serial: str, shown: str, width: int) -> Table | Text:
    """One test a row, its report path and its provisioning or failure on lines of their own in the last
    column; when that column would keep under 40 characters (80 columns), the time and the station
    share a column, and the unit and its outcome another."""
    if not rows:
        return Text(f"no test of {serial} in {shown}")
    cells: dict[str, list[str]] = {
        "started (UTC)": [_started(r) for r in rows], "station": [_where(r) for r in rows],
        "unit": [r.serial if r.matched_by == "serial" else f"{r.serial or '-'} (same MAC)" for r in rows],
        "outcome": [r.outcome for r in rows]}
    names = list(cells)
    if _left(cells, names, width) < 40:
        names = ["started (UTC)\nstation", "unit\noutcome"]
        for name, (top, below) in zip(names, (("started (UTC)", "station"), ("unit", "outcome")), strict=True):
            cells[name] = [f"{a}\n{b}" for a, b in zip(cells[top], cells[below], strict=True)]
    details = []
    for row in rows:
        lines = [row.report_path or "(no report)"]
        if row.service:
            lines.append(f"{row.service} {row.identity or '-'}: {row.commit_status}")
        lines += [_failure(row)] if _failure(row) else []
        details.append("\n".join(lines))
    macs = sorted({r.mac for r in rows if r.mac})
    table = Table(title=f"{serial}: {len(rows)} test{'s' if len(rows) != 1 else ''}"
                        f"{' (MAC ' + ', '.join(macs) + ')' if macs else ''} in {shown}", show_lines=True)
    return _filled(table, rows, cells, names, "report / provisioning or failure", details)


def _filled(table: Table, rows: Sequence[UnitRow], cells: dict[str, list[str]], names: list[str], last: str,
            last_cells: list[str]) -> Table:
    """The columns ``names`` at their widest cell (rich would narrow them first), then ``last``, folded."""
    for name in names:
        table.add_column(name, overflow="fold", width=_width(cells, name))
    table.add_column(last, overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*(Text(cells[n][i], style=STYLE.get(row.outcome, "") if "outcome" in n else "")
                        for n in names), Text(last_cells[i]))
    return table


def _width(cells: dict[str, list[str]], name: str) -> int:
    return max(len(line) for cell in [name, *cells[name]] for line in cell.split("\n"))


def _left(cells: dict[str, list[str]], names: list[str], width: int) -> int:
    """Characters left for the last column: each column costs 2 of padding and 1 of border."""
    return width - sum(_width(cells, n) for n in names) - 3 * (len(names) + 1) - 1


__all__ = ["HISTORY_COLUMNS", "add_parser", "history_table", "open_store", "run", "units_table"]
