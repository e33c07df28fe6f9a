"""``linegate report lot RUN_DIR | --results URL [...] [--out FILE]``: the lot summary of a run folder or of a
results database; ``linegate report junit RUN_DIR``: JUnit XML of a run folder."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from linegate.station.cli_args import Commands
from linegate.station.output import OutputError, check_file
from linegate.station.results.store import results_url, shown_url
from linegate.station.run import LineError
from pydantic import ValidationError


def add_parser(sub: Commands) -> None:
    report = sub.add_parser("report", help="reports built from a run's unit records or from a results database")
    cmds = report.add_subparsers(dest="report_command", required=True)
    lot = cmds.add_parser("lot", help="yield, Pareto, histograms with Cpk, provisioning totals, the latest units")
    lot.add_argument("run_dir", type=Path, nargs="?", metavar="RUN_DIR", help="a run folder (out/run-...)")
    lot.add_argument("--results", metavar="URL", help="a results store instead: a SQLite file or a database URL "
                                                      "(postgresql+psycopg://user@host/db)")
    lot.add_argument("--since", metavar="ISO", help="with --results: units started at or after (ISO date/time; "
                                                    "without an offset, this machine's local time)")
    lot.add_argument("--until", metavar="ISO", help="with --results: units started before")
    lot.add_argument("--station", metavar="S", help="with --results: one station's units")
    lot.add_argument("--plan", metavar="NAME_OR_SHA", help="with --results: the plan's name or SHA-256 (prefix)")
    lot.add_argument("--out", type=Path, help="output file (default RUN_DIR/lot.html, with --results ./lot.html)")
    junit = cmds.add_parser("junit", help="JUnit XML of a run folder")
    junit.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    junit.add_argument("--out", type=Path, help="output file (default RUN_DIR/junit.xml)")


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        try:
            check_file(args.out, "--out")
        except OutputError as e:
            raise LineError(str(e)) from e
    if args.report_command == "lot" and args.results is not None:
        print(_lot_from_database(args))
        return 0
    if args.report_command == "lot" and (args.since or args.until or args.station or args.plan):
        raise LineError("--since, --until, --station and --plan select units of a results database: add --results")
    if args.run_dir is None:
        raise LineError("report lot: give a RUN_DIR or --results URL")
    if not args.run_dir.is_dir():
        raise LineError(f"{args.run_dir}: not a run folder")
    print(_lot_from_files(args) if args.report_command == "lot" else _junit(args))
    return 0


def _lot_from_files(args: argparse.Namespace) -> Path:
    from linegate.reports.lot import load_tests, summarize_tests, write_summary

    try:
        tests = load_tests(args.run_dir)
    except ValueError as e:
        raise LineError(f"{args.run_dir}: a unit record does not load: {str(e).splitlines()[0]}") from e
    if not tests:
        raise LineError(f"{args.run_dir}: no unit records (*.json) here")
    return write_summary(summarize_tests(tests, title=args.run_dir.name), args.out or args.run_dir / "lot.html")


def _lot_from_database(args: argparse.Namespace) -> Path:
    from linegate.reports.lot import write_summary
    from linegate.station.results.lot import LotFilter, lot_from_store

    if args.run_dir is not None:
        raise LineError(f"{args.run_dir}: give a RUN_DIR or --results, not both")
    chosen = LotFilter(since=_when("--since", args.since), until=_when("--until", args.until),
                       station=args.station, plan=args.plan)
    picked = _described(args)  # a filtered lot says so in its title: it is not the whole store
    lot = lot_from_store(args.results, chosen, title=f"{shown_url(results_url(args.results))}{picked}")
    if not lot.tests:
        raise LineError(f"{lot.source}: no unit tests match{picked}")
    return write_summary(lot, args.out or Path("lot.html"))


def _when(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as e:
        raise LineError(f"{option} {text!r}: not an ISO date/time (2026-11-01 or 2026-11-01T08:00+08:00)") from e


def _described(args: argparse.Namespace) -> str:
    picked = [f"--{name} {value}" for name in ("since", "until", "station", "plan")
              if (value := getattr(args, name)) is not None]
    return f" ({' '.join(picked)})" if picked else ""


def _junit(args: argparse.Namespace) -> Path:
    from linegate.reports.junit import junit_xml
    from linegate.reports.lot import load_records

    try:
        records = load_records(args.run_dir)
    except (ValidationError, ValueError) as e:
        raise LineError(f"{args.run_dir}: a unit record does not load: {str(e).splitlines()[0]}") from e
    if not records:
        raise LineError(f"{args.run_dir}: no unit records (*.json) here")
    path: Path = args.out or args.run_dir / "junit.xml"
    path.write_text(junit_xml(records, name=args.run_dir.name), encoding="utf-8")
    return path
