"""The lot summary's two performance targets, figures printed beside them (issue 14):

- from the results database, 100,000 units of 20 measurements each: <= 3 s on SQLite;
- from 10,000 unit record files on disk (``linegate report lot RUN_DIR``): <= 5 s.

The store is built once with bulk inserts of synthetic rows (the shape ``tests/synthetic.py`` gives: four
sockets, one unit in 9 failing, one in 97 an ERROR, one in 50 retested) and the record files are written
once, both cached under ``out/bench/lot/``. Wall time and CPU time are printed: on a shared machine the
wall time includes the waits for a core.

    python bench/lot_bench.py [--units 100000] [--files 10000] [--cache out/bench/lot]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from linegate.reports.histogram import grid_cell  # noqa: E402
from linegate.reports.lot import load_tests, summarize_tests, write_summary  # noqa: E402
from linegate.reports.pareto import failure_key  # noqa: E402
from linegate.station.results.lot import lot_from_store  # noqa: E402
from linegate.station.results.schema import measurements, provisioning, runs, steps, units  # noqa: E402
from linegate.station.results.store import ResultsStore  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from synthetic import T0, make_record  # noqa: E402

DB_TARGET_S, FILES_TARGET_S = 3.0, 5.0
CHUNK = 5000  # units per insert transaction
RUN_ID = "00000000-0000-0000-0000-00000000be0c"


def synthetic_rows(first: int, last: int) -> dict[str, list[dict]]:
    """Rows for units ``first..last-1`` as ``rows.unit_rows`` lays them out, without building records."""
    from linegate.plans import Failure

    out: dict[str, list[dict]] = {"unit_tests": [], "steps": [], "measurements": [], "provisioning": []}
    for i in range(first, last):
        rng = random.Random(i)
        retest = i % 50 == 0  # a second test of unit i - 1
        key = i - 1 if retest else i
        fail, error = not retest and i % 9 == 0, not retest and i % 97 == 0
        record_id = str(uuid.UUID(int=i))
        started = T0 + timedelta(seconds=6 * i)
        outcome = "ERROR" if error else "FAIL" if fail else "PASS"
        failure = None
        if fail:
            failure = Failure(step="step_1", measurement="current_1_0", message="current_1_0 = 0.25 A: above high")
        elif error:
            failure = Failure(step="step_2", message=f"/dev/pts/{i % 40}: AT+GMR: no answer in time")
        mac = f"24:0a:{key >> 24 & 255:02x}:{key >> 16 & 255:02x}:{key >> 8 & 255:02x}:{key & 255:02x}"
        out["unit_tests"].append({
            "record_id": record_id, "run_id": RUN_ID, "revision": i, "unit_key": mac, "serial": f"LG{key:08d}",
            "mac": mac, "station": "st1", "socket": "ABCD"[i % 4], "host": "bench", "operator": "", "fixture": "f.yaml",
            "plan_name": "p", "plan_version": "1", "plan_sha256": "0" * 64, "outcome": outcome, "started_at": started,
            "ended_at": started + timedelta(seconds=2), "duration_s": 2.0,
            "failure_step": failure.step if failure else None,
            "failure_measurement": failure.measurement if failure else None,
            "failure_message": failure.message if failure else None,
            "failure_key": failure_key(failure) if failure else None, "retest_override": None,
            "record_path": "", "report_path": f"LG{key:08d}_{i}.html", "linegate_version": "0.1.0"})
        for s in range(4):
            step_fail = fail and s == 1
            out["steps"].append({"record_id": record_id, "idx": s, "name": f"step_{s}", "test": f"t.py::test_{s}",
                                 "outcome": "error" if error and s == 2 else "fail" if step_fail else "pass",
                                 "started_at": started + timedelta(seconds=s), "duration_s": 0.01,
                                 "message": "", "lock_wait_s": 0.0})
            for k in range(5):
                value, status = round(rng.gauss(0.080, 0.004), 5), "pass"
                if step_fail and k == 0:
                    value, status = 0.25, "fail"
                out["measurements"].append({
                    "record_id": record_id, "idx": s * 5 + k, "step_idx": s, "step": f"step_{s}",
                    "name": f"current_{s}_{k}", "value": value, "text": None, "units": "A", "low": 0.06,
                    "high": 0.1, "limit": "0.06..0.1 A", "status": status, "reason": "",
                    "cell": grid_cell(value, 0.06, 0.1)})
        if outcome == "PASS":
            out["provisioning"].append({"record_id": record_id, "service": "ayla", "identity": f"AC000W{i:09d}",
                                        "commit_status": "committed", "readback_ok": True, "reason": "",
                                        "code": None, "attempts": 1})
    return out


def results_store(cache: Path, count: int) -> Path:
    """The cached SQLite store of ``count`` units, built when missing (into a new file, renamed when whole)."""
    path = cache / f"results-{count}-v2.db"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    for stale in cache.glob(f"{building.name}*"):
        stale.unlink()
    started = time.perf_counter()
    store = ResultsStore(building)
    with store.begin() as conn:
        conn.execute(insert(runs), [{"run_id": RUN_ID, "station": "st1", "host": "bench", "run_dir": str(cache),
                                     "started_at": T0, "linegate_version": "0.1.0"}])
    for first in range(1, count + 1, CHUNK):
        rows = synthetic_rows(first, min(count + 1, first + CHUNK))
        with store.begin() as conn:
            for table in (units, steps, measurements, provisioning):
                conn.execute(insert(table), rows[table.name])
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(units)).scalar_one() == count
    store.close()  # the last connection's close checkpoints the WAL into the file
    building.rename(path)
    print(f"  (built {path} once: {count:,} units in {time.perf_counter() - started:.0f} s)")
    return path


def record_files(cache: Path, count: int) -> Path:
    """The cached folder of ``count`` unit record files (four sockets, as bench/reports.py)."""
    folder = cache / f"files-{count}"
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(1, count + 1):
        r = make_record(i, fail=i % 9 == 0, error=i % 97 == 0, socket="ABCD"[i % 4])
        (folder / f"{r.stem}.json").write_text(r.model_dump_json())
    done.write_text("")
    return folder


def timed(run: object) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=100_000, help="units in the results store")
    parser.add_argument("--files", type=int, default=10_000, help="unit record files on disk")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "bench" / "lot")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    print("lot summary (summarise + render + write lot.html)")
    store = results_store(args.cache, args.units)
    page = args.cache / "lot-db.html"
    db_wall, db_cpu, _ = timed(lambda: write_summary(lot_from_store(store), page))
    print(f"from the database, {args.units:,} units x 20 measurements (SQLite): {db_wall:.2f} s wall, "
          f"{db_cpu:.2f} s CPU (target <= {DB_TARGET_S:g} s at 100,000)")
    folder = record_files(args.cache, args.files)
    files_page = args.cache / "lot-files.html"
    files_wall, files_cpu, _ = timed(lambda: write_summary(summarize_tests(load_tests(folder), folder.name),
                                                           files_page))
    print(f"from {args.files:,} record files on disk: {files_wall:.2f} s wall, {files_cpu:.2f} s CPU "
          f"(target <= {FILES_TARGET_S:g} s at 10,000)")
    return {"db_s": db_wall, "db_cpu_s": db_cpu, "files_s": files_wall, "files_cpu_s": files_cpu}


if __name__ == "__main__":
    main()
