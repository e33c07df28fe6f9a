"""The results store's questions: ``units`` with its filters, a unit's ``history``, and the
``linegate results`` commands that print them (table, JSON, CSV) or refuse with one line."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloudline import closed_port
from linegate.plans import StationRef
from linegate.station.cli import main
from linegate.station.results.query import (
    UNIT_COLUMNS,
    QueryError,
    UnitFilter,
    history,
    parse_when,
    units,
)
from linegate.station.results.store import ResultsStore
from synthetic import T0, make_record

SHA = "ab12" + "0" * 60


def station_record(i: int, station: str, *, socket: str = "A", serial: str | None = None, mac: str | None = None,
                   fail: bool = False, minutes: float = 0.0, plan_sha: str | None = None):
    record = make_record(i, fail=fail, socket=socket, mac=mac, minutes=minutes or i)
    changes: dict = {"station": StationRef(name=station, fixture="f.yaml", socket=socket, linegate_version="0.1.0")}
    if serial is not None:
        changes["unit"] = {**record.unit, "serial": serial}
    if plan_sha is not None:
        changes["plan"] = record.plan.model_copy(update={"name": "other", "sha256": plan_sha})
    return record.model_copy(update=changes)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Units on two stations: LG00000001 fails on st1, passes on st2; LG00000002 is relabelled NEW-2 (same
    MAC) and retested on st2; unit 3 runs another plan on socket B; unit 4 is on st2 a day later."""
    mac1, mac2 = "24:0a:c4:00:00:01", "24:0a:c4:00:00:02"
    records = [
        station_record(1, "st1", mac=mac1, fail=True, minutes=1),
        station_record(2, "st1", mac=mac2, minutes=2),
        station_record(3, "st1", socket="B", minutes=3, plan_sha=SHA),
        station_record(11, "st2", serial="LG00000001", mac=mac1, minutes=10),
        station_record(12, "st2", serial="NEW-2", mac=mac2, minutes=11),
        station_record(4, "st2", minutes=24 * 60),
    ]
    path = tmp_path / "results.db"
    with ResultsStore(path) as store:
        for record in records:
            store.write(record, run_dir=tmp_path / record.station.name, record_path=tmp_path / f"{record.stem}.json",
                        report_path=tmp_path / f"{record.stem}.html")
    return path


def serials(rows) -> list[str]:
    return [r.serial for r in rows]


def test_units_filters_each_field(store_path):
    with ResultsStore(store_path, create=False) as store:
        assert serials(units(store, UnitFilter())) == ["LG00000001", "LG00000002", "LG00000003", "LG00000001",
                                                       "NEW-2", "LG00000004"]  # oldest first
        assert [r.station for r in units(store, UnitFilter(serial="LG00000001"))] == ["st1", "st2"]
        assert serials(units(store, UnitFilter(mac="24:0a:c4:00:00:02"))) == ["LG00000002", "NEW-2"]
        assert serials(units(store, UnitFilter(station="st1", socket="B"))) == ["LG00000003"]
        assert serials(units(store, UnitFilter(plan="other"))) == ["LG00000003"]
        assert serials(units(store, UnitFilter(plan="AB1"))) == ["LG00000003"]  # a sha256 prefix, any case
        assert len(units(store, UnitFilter(plan="p"))) == 5 and units(store, UnitFilter(plan="abx")) == []
        failed = units(store, UnitFilter(outcome="fail"))
        assert serials(failed) == ["LG00000001"] and failed[0].failure_key and failed[0].station == "st1"
        window = UnitFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=11))
        assert serials(units(store, window)) == ["LG00000002", "LG00000003", "LG00000001"]  # until is exclusive
        assert serials(units(store, UnitFilter(limit=2))) == ["NEW-2", "LG00000004"]  # the most recent, in order
        row = units(store, UnitFilter(serial="LG00000004"))[0]
    assert row.started_at == T0 + timedelta(days=1) and row.started_at.tzinfo is not None
    assert row.report_path.endswith(".html") and row.plan_sha256 == "0" * 64


def test_history_follows_the_unit_across_stations_and_its_relabel(store_path):
    with ResultsStore(store_path, create=False) as store:
        first = history(store, "LG00000001")
        relabelled = history(store, "LG00000002")
        again = history(store, "NEW-2")
        assert history(store, "NOPE") == []
    assert [(r.station, r.outcome) for r in first] == [("st1", "FAIL"), ("st2", "PASS")]
    assert first[0].service is None and first[1].service == "ayla" and first[1].commit_status == "committed"
    assert first[1].identity == "AC000W000000011" and all(r.report_path.endswith(".html") for r in first)
    assert [(r.serial, r.matched_by) for r in relabelled] == [("LG00000002", "serial"), ("NEW-2", "mac")]
    assert [(r.serial, r.matched_by) for r in again] == [("LG00000002", "mac"), ("NEW-2", "serial")]
    assert relabelled[0].started_at < relabelled[1].started_at


def test_times_are_read_as_iso_8601_dates_or_times():
    assert parse_when("2026-11-01T08:30Z") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert parse_when("2026-11-01 16:30+08:00") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    local = datetime(2026, 11, 1).astimezone()  # a date is the local midnight
    assert parse_when("2026-11-01") == local.astimezone(UTC)
    assert parse_when("2026-11-01", end_of_day=True) == (local + timedelta(days=1)).astimezone(UTC)
    for bad in ("yesterday", "2026-13-01", "24h", ""):
        with pytest.raises(QueryError, match="not an ISO 8601 date or time"):
            parse_when(bad)
    with pytest.raises(QueryError, match="outcome 'MAYBE': not one of PASS, FAIL, ERROR, ABORTED"):
        UnitFilter(outcome="MAYBE")
    with pytest.raises(QueryError, match="needs its offset"):
        UnitFilter(since=datetime(2026, 11, 1))


def test_cli_units_as_json_csv_and_a_table(store_path, capsys):
    assert main(["results", "units", "--results", str(store_path), "--station", "st2", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["serial"] for d in docs] == ["LG00000001", "NEW-2", "LG00000004"]
    assert docs[0]["started_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert main(["results", "units", "--results", str(store_path), "--since", "2026-11-01T08:02Z",
                 "--until", "2026-11-01T08:11:00+00:00", "--csv"]) == 0
    text = capsys.readouterr().out
    assert text.endswith("\r\n")  # RFC 4180 line ends
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(UNIT_COLUMNS) and [r[1] for r in rows[1:]] == ["LG00000002", "LG00000003", "LG00000001"]
    retested = list(csv.DictReader(io.StringIO(text, newline="")))[2]
    assert retested["outcome"] == "PASS" and retested["failure_key"] == "" and retested["station"] == "st2"
    assert main(["results", "units", "--results", str(store_path), "--outcome", "FAIL"]) == 0
    table = capsys.readouterr().out
    assert "LG00000001" in table and "FAIL" in table and "LG00000002" not in table


def test_cli_history_and_the_default_stores(store_path, tmp_path, capsys, monkeypatch):
    assert main(["results", "history", "NEW-2", "--results", f"sqlite:///{store_path}", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [(d["serial"], d["matched_by"], d["service"]) for d in docs] == [("LG00000002", "mac", "ayla"),
                                                                             ("NEW-2", "serial", "ayla")]
    monkeypatch.chdir(tmp_path)
    demo = tmp_path / ".linegate" / "demo"
    demo.mkdir(parents=True)
    store_path.rename(demo / "results.db")  # the demo's store is the default
    assert main(["results", "history", "LG00000001"]) == 0
    out = capsys.readouterr().out
    assert "LG00000001: 2 tests" in out and "ayla AC000W000000011: committed" in out
    assert main(["results", "units", "--state-dir", str(demo), "--serial", "LG00000004", "--json"]) == 0
    assert [d["station"] for d in json.loads(capsys.readouterr().out)] == ["st2"]


@pytest.mark.parametrize(("args", "said"), [
    (["units", "--results", "missing.db"], "missing.db: no results store here"),
    (["units", "--state-dir", "nowhere"], "nowhere/results.db: no results store here"),
    (["units", "--results", "nope+x://u:pw@h/db"], "cannot use this database"),
    (["units", "--results", "empty.db"], "empty.db: not a results store (an empty file; "),
    (["units", "--results", "results.db", "--since", "last tuesday"], "--since 'last tuesday': not an ISO 8601"),
    (["units", "--results", "results.db", "--outcome", "maybe"], "--outcome 'MAYBE': not one of PASS, FAIL"),
    (["units", "--results", "results.db", "--limit", "0"], "argument --limit: must be 1 to 1000000000, not 0"),
    (["history", "X", "--results", "postgresql+psycopg://lg:s3cret@127.0.0.1:{port}/db"],
     "postgresql+psycopg://lg:***@127.0.0.1:{port}/db: cannot read the results store"),
    (["history", "X", "--results", "postgresql+psycopg://lg@127.0.0.1:{port}/db?password=s3cret"],
     "postgresql+psycopg://lg@127.0.0.1:{port}/db?password=***: cannot read the results store"),
    (["units", "--results", "postgresql+psycopg://lg:s3cret@127.0.0.1:abc/db"], "not a database URL"),
])
def test_cli_errors_are_one_line_and_exit_2(store_path, capsys, monkeypatch, args, said):
    monkeypatch.chdir(store_path.parent)
    Path("empty.db").write_bytes(b"")
    port = closed_port()
    assert main(["results", *(a.format(port=port) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said.format(port=port) in err and "s3cret" not in err, err
    assert err.startswith("linegate: error: ")
    assert not Path("missing.db").exists() and not Path("nowhere").exists()  # asking made nothing


def test_cli_error_from_a_process_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "linegate", "results", "units", "--since", "soon"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "linegate: error: --since 'soon': not an ISO 8601 date or time (2026-11-01, " \
                          "2026-11-01T08:30, 2026-11-01T08:30:00+08:00)\n"


def test_a_reader_that_stops_early_is_not_a_fault(tmp_path):
    """``linegate results units --csv | head -1``: exit 0, nothing on stderr, no fault log."""
    with ResultsStore(tmp_path / "results.db") as store:
        for i in range(1, 301):  # ~120 kB of CSV: more than a pipe holds
            store.write(make_record(i), run_dir=tmp_path, record_path=tmp_path / f"{i:0200d}.json")
    reader = subprocess.Popen([sys.executable, "-m", "linegate", "results", "units", "--state-dir", str(tmp_path),
                               "--csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert reader.stdout is not None and reader.stdout.readline().startswith(b"record_id,serial,mac,")
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    assert reader.stderr is not None and reader.stderr.read() == b""
    assert not list(tmp_path.glob("*fault*"))


def _queries(db: Path, out: Path) -> dict[str, list[str]]:
    """Every command that only reads a results store, on the store ``db`` (named results.db)."""
    return {"units": ["results", "units", "--results", str(db), "--json"],
            "history": ["results", "history", "LG00000001", "--results", str(db), "--json"],
            "outbox": ["results", "outbox", "--state-dir", str(db.parent), "--json"],
            "lot": ["report", "lot", "--results", str(db), "--out", str(out / "lot.html")],
            "db current": ["db", "current", "--results", str(db)]}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _rollback_copy(store_path: Path, folder: Path) -> Path:
    """A QA copy as ``sqlite3 .backup`` or a file manager leaves it: rollback journal, not WAL, mode 0444."""
    import sqlite3

    folder.mkdir()
    copy = folder / "results.db"
    with sqlite3.connect(store_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    copy.chmod(0o444)
    return copy


def test_queries_leave_a_read_only_copy_byte_identical(store_path, tmp_path):
    """Root writes a 0444 file all the same: what is asserted is that no query wrote it (nor beside it)."""
    copy = _rollback_copy(store_path, tmp_path / "qa")
    before = _files(copy.parent)
    for name, argv in _queries(copy, tmp_path).items():
        done = subprocess.run([sys.executable, "-m", "linegate", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == "", (name, done.stderr)
        assert _files(copy.parent) == before, f"{name} wrote the store"


def test_queries_refuse_an_empty_file_in_one_line_and_leave_it_empty(tmp_path):
    folder = tmp_path / "qa"
    folder.mkdir()
    empty = folder / "results.db"
    empty.write_bytes(b"")
    for name, argv in _queries(empty, tmp_path).items():
        done = subprocess.run([sys.executable, "-m", "linegate", *argv], capture_output=True, text=True, timeout=60)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, (name, done.stderr)
        assert f"{empty}: not a results store" in lines[0], (name, lines[0])
        assert _files(folder) == {"results.db": b""}, f"{name} wrote the empty file"


def test_db_current_never_makes_a_store_or_its_folder(tmp_path):
    missing = tmp_path / "nowhere" / "results.db"
    done = subprocess.run([sys.executable, "-m", "linegate", "db", "current", "--results", f"sqlite:///{missing}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "does not exist" in done.stderr and not (tmp_path / "nowhere").exists()


@pytest.fixture
def read_only_mount(tmp_path):
    """A folder on a read-only tmpfs, filled by ``fill(folder)`` before it is made read-only (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")

    def read_only() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)

    yield mount, read_only
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_queries_read_a_store_on_a_read_only_mount(store_path, read_only_mount, tmp_path, journal):
    """A WAL store without its -shm (SQLite cannot make it there) and a rollback-journal one: both answer."""
    import shutil
    import sqlite3

    mount, read_only = read_only_mount
    (mount / "qa").mkdir()
    copy = mount / "qa" / "results.db"
    shutil.copy(store_path, copy)
    with sqlite3.connect(copy) as conn:
        assert conn.execute(f"PRAGMA journal_mode={journal}").fetchone()[0] == journal
    conn.close()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["results.db"]
    read_only()
    before = _files(copy.parent)
    for name, argv in _queries(copy, tmp_path).items():
        done = subprocess.run([sys.executable, "-m", "linegate", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == "", (name, done.stderr)
        if name == "units":
            assert len(json.loads(done.stdout)) == 6
        if name == "history":
            assert [d["station"] for d in json.loads(done.stdout)] == ["st1", "st2"]
    assert _files(copy.parent) == before


def test_a_wal_store_on_a_read_only_mount_with_unread_writes_is_one_line(store_path, read_only_mount, tmp_path):
    """Its -wal holds writes and its -shm is gone (copied without it): read as immutable it would miss them."""
    import shutil
    import sqlite3

    mount, read_only = read_only_mount
    writer = sqlite3.connect(store_path)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("DELETE FROM unit_tests WHERE serial = 'NEW-2'")
    writer.commit()
    (mount / "qa").mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(f"{store_path}{suffix}", mount / "qa" / f"results.db{suffix}")
    writer.close()
    assert (mount / "qa" / "results.db-wal").stat().st_size > 0
    read_only()
    copy = mount / "qa" / "results.db"
    done = subprocess.run([sys.executable, "-m", "linegate", *_queries(copy, tmp_path)["units"]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{copy}: a WAL store on read-only media with writes in results.db-wal" in done.stderr
