"""The results database's figures beside their targets (issue 14), in one run:

- insert per unit: ``ResultsStore.write`` of a realistic record (10 steps, 20 measurements,
  provisioning), each in its own transaction as the station writes it; SQLite (target <= 2 ms) and
  PostgreSQL at 127.0.0.1:5432 over loopback (target <= 5 ms; a line says why when it does not answer);
- ``history SERIAL`` with 1,000,000 units stored (target <= 20 ms), on a SQLite store built once into
  ``out/bench/`` and reused (see ``build_history_store``);
- then ``bench/lot_bench.py``'s figures, when that file is there.

    python bench/results.py [--inserts 2000] [--history-units 1000000] [--queries 200] [--cache out/bench]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from linegate.plans import StepOutcome, StepRecord, UnitRecord
from linegate.station.results.query import history
from linegate.station.results.rows import run_row, unit_rows
from linegate.station.results.store import ResultsStore, put_rows
from pgkit import pg_schema, postgres_up
from synthetic import T0, make_record

REPO = Path(__file__).resolve().parent.parent
STATIONS = [f"line1-st{k}" for k in range(1, 9)]
RELABELLED_EVERY = 100_000  # the unit i with i % this == 3 is retested under a new serial (same MAC)
STORE_FORMAT = 1  # bump when the built store's contents change: an older cache is rebuilt


def realistic_record(i: int) -> UnitRecord:
    """Ten steps (four with five measurements each, six without: flash, provisioning...), a failure on
    every 12th unit, provisioning on the passing ones."""
    record = make_record(i, measurements=20, fail=i % 12 == 0)
    extra = tuple(StepRecord(name=f"step_{k}", test=f"test_station.py::test_{k}", outcome=StepOutcome.PASS,
                             started_at=record.started_at + timedelta(seconds=k), duration_s=0.05)
                  for k in range(len(record.steps), 10))
    return record.model_copy(update={"steps": record.steps + extra})


def time_inserts(url: str, count: int, run_dir: Path) -> tuple[float, float, float]:
    """(median, mean) seconds of one ``write``, over ``count`` units into a fresh store, and this process's
    CPU seconds a unit (a loaded machine stretches the wall-clock figures, less this one)."""
    records = [realistic_record(i) for i in range(1, count + 1)]
    times = []
    with ResultsStore(url) as store:
        cpu = time.process_time()
        for record in records:
            t = time.perf_counter()
            store.write(record, run_dir=run_dir, record_path=run_dir / f"{record.stem}.json",
                        report_path=run_dir / f"{record.stem}.html")
            times.append(time.perf_counter() - t)
        cpu = (time.process_time() - cpu) / count
    return statistics.median(times), statistics.mean(times), cpu


def time_batches(url: str, count: int, run_dir: Path, batch: int) -> float:
    """Seconds per unit when units arrive ``batch`` at a time in one transaction, as the sync sends the
    local store's rows to the central one (``put_rows``)."""
    records = [realistic_record(i) for i in range(1, count + 1)]
    with ResultsStore(url) as store:
        t = time.perf_counter()
        for start in range(0, count, batch):
            runs, rows = [], {}
            for revision, record in enumerate(records[start:start + batch], start + 1):
                run = run_row(record, run_dir)
                one = unit_rows(record, run_id=run["run_id"], record_path=str(run_dir / f"{record.stem}.json"),
                                report_path=str(run_dir / f"{record.stem}.html"))
                one["unit_tests"][0]["revision"] = revision
                runs.append(run)
                for table, table_rows in one.items():
                    rows.setdefault(table, []).extend(table_rows)
            with store.begin() as conn:
                put_rows(conn, runs, rows)
        return (time.perf_counter() - t) / count


def print_insert(where: str, timed: tuple[float, float, float], count: int, target_ms: float) -> None:
    median_s, mean_s, cpu_s = timed
    met = "met" if median_s * 1000 <= target_ms else "NOT met"
    print(f"insert per unit, {where}, one transaction each: {median_s * 1000:.2f} ms median, {mean_s * 1000:.2f} ms "
          f"mean over {count} (target <= {target_ms:g} ms): {met}; this process's CPU {cpu_s * 1000:.2f} ms a unit")


def print_batches(where: str, per_unit_s: float, count: int, batch: int, target_ms: float) -> None:
    met = "met" if per_unit_s * 1000 <= target_ms else "NOT met"
    print(f"  {where}, {batch} units a transaction (the sync's batches): {per_unit_s * 1000:.2f} ms a unit over "
          f"{count} (target <= {target_ms:g} ms): {met}")


def _sqlite_time(when: object) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]  # SQLAlchemy's SQLite format


def history_store(cache: Path, units: int) -> tuple[Path, float | None]:
    """The store with ``units`` tests: the cached one, else built now; (path, seconds to build or None)."""
    path = cache / f"results-history-{units}-v{STORE_FORMAT}.db"
    if path.is_file():
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    for leftover in cache.glob(building.name + "*"):
        leftover.unlink()
    t = time.perf_counter()
    build_history_store(building, units)
    os.replace(building, path)  # whole or absent: an interrupted build is started again
    return path, time.perf_counter() - t


def build_history_store(path: Path, count: int) -> None:
    """``count`` unit tests with the results schema and its indexes, by bulk inserts (sqlite3
    ``executemany`` in one transaction, the indexes dropped during the load and made again after).

    Units rows and provisioning rows (the passing tests) only: steps and measurements are not read by
    ``history``. About one physical unit in ten is tested twice (a retest on another station); every
    100,000th is retested under a new serial with its old MAC (relabelled). Eight stations, four sockets."""
    ResultsStore(path).close()  # the schema, exactly as the station makes it
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    indexes = [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                            "AND tbl_name IN ('unit_tests', 'provisioning')")]
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                              "AND tbl_name IN ('unit_tests', 'provisioning')").fetchall():
        db.execute(f"DROP INDEX {name}")
    db.execute("BEGIN")
    db.executemany("INSERT INTO runs (run_id, station, host, run_dir, started_at, linegate_version) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [(f"run-{s}", s, s, f"/srv/{s}/out", _sqlite_time(T0), "0.1.0") for s in STATIONS])
    unit_sql = ("INSERT INTO unit_tests (record_id, run_id, revision, unit_key, serial, mac, station, socket, host, "
                "operator, fixture, plan_name, plan_version, plan_sha256, outcome, started_at, ended_at, duration_s, "
                "failure_step, failure_measurement, failure_message, failure_key, record_path, report_path, "
                "linegate_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    prov_sql = ("INSERT INTO provisioning (record_id, service, identity, commit_status, readback_ok, reason, code, "
                "attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    sha = "b94d1f67aa2b0a6ff542c19a139f79227c568503a1b739aa6cfe81203b68288b"
    rng = random.Random(14)
    unit_rows, prov_rows = [], []
    physical = 0
    n = 0
    while n < count:
        physical += 1
        tests = 2 if physical % 10 == 0 or physical % RELABELLED_EVERY == 3 else 1
        mac = f"24:0a:c4:{physical >> 16 & 255:02x}:{physical >> 8 & 255:02x}:{physical & 255:02x}"
        for attempt in range(tests):
            if n >= count:
                break
            n += 1
            serial = f"LR{physical:08d}" if attempt and physical % RELABELLED_EVERY == 3 else f"LG{physical:08d}"
            station = STATIONS[(physical + attempt * 3) % len(STATIONS)]
            started = T0 + timedelta(seconds=physical * 3 + attempt * 7200)
            passed = attempt == tests - 1 or rng.random() < 0.5
            record_id = str(uuid.UUID(int=n))
            stem = f"{serial}_{started:%Y%m%dT%H%M%S}"
            unit_rows.append((
                record_id, f"run-{station}", n, mac, serial, mac, station, "ABCD"[physical % 4], station, "op",
                "station.yaml", "esp-at-ayla", "1.0.0", sha, "PASS" if passed else "FAIL", _sqlite_time(started),
                _sqlite_time(started + timedelta(seconds=40)), 40.0,
                None if passed else "supply_current", None if passed else "supply_current",
                None if passed else "supply_current = 0.24 A: above the high limit 0.1 A",
                None if passed else "supply_current: supply_current", f"/srv/{station}/out/{stem}.json",
                f"/srv/{station}/out/{stem}.html", "0.1.0"))
            if passed:
                prov_rows.append((record_id, "ayla", f"AC000W{physical:09d}", "committed", 1, "", None, 1))
        if len(unit_rows) >= 50_000:
            db.executemany(unit_sql, unit_rows)
            db.executemany(prov_sql, prov_rows)
            unit_rows, prov_rows = [], []
    db.executemany(unit_sql, unit_rows)
    db.executemany(prov_sql, prov_rows)
    for sql in indexes:
        db.execute(sql)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def time_history(path: Path, queries: int) -> tuple[float, float, float, int]:
    """(first, median, max) seconds of ``history`` over random serials and the relabelled ones; and the
    tests the relabelled serial's history found (2: one under each serial)."""
    with ResultsStore(path, create=False) as store:
        with store.engine.connect() as conn:
            physical = conn.exec_driver_sql("SELECT max(revision) FROM unit_tests").scalar_one() * 10 // 11
        rng = random.Random(1)
        serials = [f"LG{rng.randint(1, physical):08d}" for _ in range(queries)]
        serials[::50] = [f"LR{3 + k * RELABELLED_EVERY:08d}" for k in range(len(serials[::50]))]
        times = []
        for serial in serials:
            t = time.perf_counter()
            history(store, serial)
            times.append(time.perf_counter() - t)
        relabelled = len(history(store, f"LR{3:08d}"))
    return times[0], statistics.median(times), max(times), relabelled


def lot_bench() -> None:
    """``bench/lot_bench.py``'s ``main()`` (another part of issue 14), with its own defaults."""
    path = REPO / "bench" / "lot_bench.py"
    if not path.is_file():
        print("lot summary figures: bench/lot_bench.py is not there")
        return
    spec = importlib.util.spec_from_file_location("lot_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    argv, sys.argv = sys.argv, [str(path)]
    try:
        module.main(*([[]] if inspect.signature(module.main).parameters else []))
    finally:
        sys.argv = argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inserts", type=int, default=2000, help="units written per database (default 2000)")
    parser.add_argument("--history-units", type=int, default=1_000_000, help="tests in the history store")
    parser.add_argument("--batch", type=int, default=100, help="units a transaction in the sync's figure")
    parser.add_argument("--queries", type=int, default=200, help="history queries timed (default 200)")
    parser.add_argument("--cache", type=Path, default=REPO / "out" / "bench", help="where the history store is kept")
    parser.add_argument("--no-lot", action="store_true", help="do not run bench/lot_bench.py")
    args = parser.parse_args(argv)
    print("results database (issue 14)")
    with tempfile.TemporaryDirectory() as tmp:
        timed = time_inserts(str(Path(tmp) / "results.db"), args.inserts, Path(tmp) / "run")
        print_insert("SQLite, WAL", timed, args.inserts, 2)
        per_unit = time_batches(str(Path(tmp) / "batches.db"), args.inserts, Path(tmp) / "run", args.batch)
        print_batches("SQLite", per_unit, args.inserts, args.batch, 2)
    if postgres_up():
        with pg_schema() as url:
            timed = time_inserts(url, args.inserts, Path("/srv/run"))
        print_insert("PostgreSQL over loopback", timed, args.inserts, 5)
        with pg_schema() as url:
            per_unit = time_batches(url, args.inserts, Path("/srv/run"), args.batch)
        print_batches("PostgreSQL", per_unit, args.inserts, args.batch, 5)
    else:
        print("insert per unit, PostgreSQL: skipped, nothing answers on 127.0.0.1:5432 (target <= 5 ms)")
    path, built = history_store(args.cache, args.history_units)
    how = (f"built in {built:.0f} s by bulk inserts" if built is not None else "reused") + f": {path}"
    print(f"history store: {args.history_units:,} unit tests with their provisioning, {how}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    first, median, worst, relabelled = time_history(path, args.queries)
    met = "met" if median * 1000 <= 20 else "NOT met"
    print(f"history SERIAL, {args.history_units:,} units stored: {median * 1000:.2f} ms median, first "
          f"{first * 1000:.2f} ms, max {worst * 1000:.2f} ms over {args.queries} serials (target <= 20 ms): {met}; "
          f"a relabelled unit's history holds {relabelled} tests")
    if not args.no_lot:
        lot_bench()


if __name__ == "__main__":
    main()
