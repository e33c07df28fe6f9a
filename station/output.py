"""Where a run's files go: one folder per run, written atomically.

The run folder is created when the first unit is done, so a run that never
started (bad plan, missing port) leaves nothing behind in the output folder.

The run's index (``index.html``, ``run.json``) lists every unit, so writing it
costs more the longer the run: it is rewritten after a unit only when at least
``1 / INDEX_SHARE`` times its last writing time has passed (at most 5 % of the
line's time; after 1000 units every ~0.6 s, after 20 000 every ~9 s), and
always at the end. The units' own files are written at once, every unit.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from linegate.fixtures.config import missing_folder
from linegate.plans import UnitRecord
from linegate.reports import IndexRow, RunIndexRenderer, UnitReportRenderer
from linegate.reports.junit import junit_xml
from linegate.reports.lot import load_records, write_lot
from linegate.reports.openhtf_export import openhtf_json
from linegate.station.results.store import ResultsStore

INDEX_SHARE = 0.05


class OutputError(Exception):
    """The output folder cannot take the run's files. One line naming it."""


def check_writable(out: Path, option: str = "--out") -> None:
    """Refuse an output folder that is a file or cannot be written, before any unit runs.

    Nothing is created: the folder appears with the first unit's files (its missing parents with it)."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == out else f"is under {existing}, a file"
        raise OutputError(f"{option} {out}: {where}, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise OutputError(f"{option} {out}: cannot write there: {e.strerror or e}") from e


def check_file(path: Path, option: str) -> None:
    """Refuse a file to write whose folder is not there (a typo must not make folders) or that is a folder,
    before anything opens. Nothing is created."""
    if (missing := missing_folder(path)) is not None:
        raise OutputError(f"{option} {path}: {missing}")
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder, not a file")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename: a reader sees the old file or the new, never half;
    a failed write (a full disk) leaves no temporary file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None:  # a failed write() names no file: name it
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise


def write_unit_files(run_dir: Path, record: UnitRecord, renderer: UnitReportRenderer,
                     results: ResultsStore | None = None) -> tuple[Path, Path]:
    """A unit's JSON record, its OpenHTF export and its HTML report, then its rows in the station's results
    store (a rewritten record replaces its rows); returns (json, html) paths."""
    json_path = run_dir / f"{record.stem}.json"
    html_path = json_path.with_suffix(".html")
    write_atomic(html_path, renderer.render(record))
    (run_dir / "openhtf").mkdir(exist_ok=True)
    write_atomic(run_dir / "openhtf" / json_path.name, openhtf_json(record))
    write_atomic(json_path, record.model_dump_json(indent=1))  # a record on disk has its report
    if results is not None:
        results.write(record, run_dir=run_dir, record_path=json_path, report_path=html_path)
    return json_path, html_path


def salvage_record(run_dir: Path, record: UnitRecord) -> None:
    """The ERROR record of a unit whose files or rows could not all be written: the report and export
    written before the failure told the verdict it had then, so they go; the record alone stays."""
    for stale in (run_dir / f"{record.stem}.html", run_dir / "openhtf" / f"{record.stem}.json"):
        stale.unlink(missing_ok=True)
    write_atomic(run_dir / f"{record.stem}.json", record.model_dump_json(indent=1))


class RunWriter:
    def __init__(
        self,
        out: Path,
        meta: dict[str, str],
        keep_records: bool = True,
        results: ResultsStore | None = None,
    ) -> None:
        self.out = out
        self.results = results
        self.started = datetime.now(UTC)
        self.run_dir = out / f"run-{self.started.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self.meta = meta
        self.rows: list[IndexRow] = []
        self.records: list[UnitRecord] = []  # kept in memory only when asked: a line runs for days
        self.keep_records = keep_records
        self._unit_html = UnitReportRenderer()
        self._index = RunIndexRenderer()
        self._index_written_at: float | None = None
        self._index_cost = 0.0

    def __call__(self, record: UnitRecord) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        json_path, _ = write_unit_files(self.run_dir, record, self._unit_html, self.results)
        self.add(IndexRow.of(0, record), record)
        return json_path

    def add(self, row: IndexRow, record: UnitRecord | None) -> None:
        """A unit whose files are written (by a socket's worker): its row, numbered in the run's order."""
        self.rows.append(replace(row, index=len(self.rows) + 1))
        if self.keep_records and record is not None:
            self.records.append(record)
        if self._index_due():
            self.write_index()

    def salvage(self, record: UnitRecord) -> None:
        """The record alone, when writing the unit's files failed (a full disk): small, it may still fit."""
        salvage_record(self.run_dir, record)

    def finish(self) -> None:
        """The run's lot summary and JUnit XML, from every record the run wrote."""
        if not self.rows:
            return
        self.write_index()
        records = load_records(self.run_dir)  # from disk: commits that landed later rewrote some
        write_lot(self.run_dir, records=records)
        write_atomic(self.run_dir / "junit.xml", junit_xml(records, name=self.run_dir.name))

    def _index_due(self) -> bool:
        written = self._index_written_at
        return written is None or time.monotonic() - written >= self._index_cost / INDEX_SHARE

    def write_index(self) -> None:
        if not self.rows:
            return
        started = time.perf_counter()
        write_atomic(self.run_dir / "index.html", self._index.render("linegate run", self.meta, self.rows))
        summary = {
            "meta": self.meta,
            "started_at": self.started.isoformat(timespec="milliseconds"),
            "units": [row.__dict__ for row in self.rows],
        }
        write_atomic(self.run_dir / "run.json", json.dumps(summary, indent=1))
        self._index_cost = time.perf_counter() - started
        self._index_written_at = time.monotonic()
