"""``linegate report lot RUN_DIR [--out FILE]``: the lot summary of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from linegate.station.run import LineError
from pydantic import ValidationError


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="reports built from a run's unit records")
    cmds = report.add_subparsers(dest="report_command", required=True)
    lot = cmds.add_parser("lot", help="yield, Pareto, histograms with Cpk, provisioning totals, every unit")
    lot.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder (out/run-...)")
    lot.add_argument("--out", type=Path, help="output file (default RUN_DIR/lot.html)")
    junit = cmds.add_parser("junit", help="JUnit XML of a run folder")
    junit.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    junit.add_argument("--out", type=Path, help="output file (default RUN_DIR/junit.xml)")


def run(args: argparse.Namespace) -> int:
    from linegate.reports.junit import junit_xml
    from linegate.reports.lot import load_records, write_lot

    if not args.run_dir.is_dir():
        raise LineError(f"{args.run_dir}: not a run folder")
    try:
        records = load_records(args.run_dir)
    except (ValidationError, ValueError) as e:
        raise LineError(f"{args.run_dir}: a unit record does not load: {str(e).splitlines()[0]}") from e
    if not records:
        raise LineError(f"{args.run_dir}: no unit records (*.json) here")
    if args.report_command == "lot":
        path = write_lot(args.run_dir, args.out, records)
    else:
        path = args.out or args.run_dir / "junit.xml"
        path.write_text(junit_xml(records, name=args.run_dir.name), encoding="utf-8")
    print(path)
    return 0
