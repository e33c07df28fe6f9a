"""The results store holds what the records on disk say: a real line writes it, a late commit rewrites it,
and PostgreSQL holds the same rows when it answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cloudkit import FAST_RETRY
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.config import load_fixture
from linegate.plans import CommitStatus, Outcome, ProvisioningRecord, UnitRecord, load_plan
from linegate.station.compose import run_fixture
from linegate.station.ledger.journal import Ledger
from linegate.station.results.schema import measurements, provisioning, steps, units
from linegate.station.results.store import ResultsStore
from pgkit import pg_schema, postgres_up
from synthetic import make_record

REPO = Path(__file__).resolve().parent.parent


def stored(store: ResultsStore, record_id: str) -> dict:
    """The unit's row, its children counts and its provisioning row, as the store has them."""
    with store.engine.connect() as conn:
        unit = conn.execute(sa.select(units).where(units.c.record_id == record_id)).mappings().one()
        counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.record_id == record_id))
                  .scalar_one() for t in (steps, measurements, provisioning)}
        prov = conn.execute(sa.select(provisioning).where(provisioning.c.record_id == record_id)).mappings().first()
    return {"unit": dict(unit), "counts": counts, "provisioning": dict(prov) if prov else None}


def records_in(out: Path) -> list[UnitRecord]:
    return [UnitRecord.model_validate_json(p.read_text()) for p in sorted(out.glob("run-*/*.json"))
            if p.name != "run.json"]


def test_a_demo_line_writes_one_row_per_unit_record(tmp_path):
    done = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "4", "--sockets", "2", "--out", "o",
                           "--state-dir", "s"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = records_in(tmp_path / "o")
    assert len(records) == 4 and {r.station.socket for r in records} <= {"A", "B"}  # who takes which: timing
    with ResultsStore(tmp_path / "s" / "results.db", create=False) as store:
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() == 4
        for record in records:
            row = stored(store, record.record_id)
            assert row["unit"]["outcome"] == record.outcome.value
            assert row["unit"]["serial"] == record.unit["serial"] and row["unit"]["mac"] == record.unit["mac"]
            assert row["unit"]["socket"] == record.station.socket and row["unit"]["plan_sha256"] == record.plan.sha256
            assert row["counts"]["steps"] == len(record.steps)
            assert row["counts"]["measurements"] == len(record.measurements())
            assert Path(row["unit"]["record_path"]).name == f"{record.stem}.json"
            assert Path(row["unit"]["report_path"]).is_file()
            if record.provisioning is None:
                assert row["provisioning"] is None
            else:
                assert row["provisioning"]["identity"] == record.provisioning.identity
                assert row["provisioning"]["commit_status"] == record.provisioning.commit_status.value


def test_a_store_that_refuses_a_units_rows_is_a_station_fault_and_leaves_no_stale_report(tmp_path):
    """The rows are part of recording the unit: refused (here by a SQLite trigger), the unit is ERROR with its
    record, the station stops with exit 1 in one line, and no report tells the verdict it had before."""
    with ResultsStore(tmp_path / "s" / "results.db") as store, store.begin() as conn:
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON unit_tests "
                             "BEGIN SELECT RAISE(ABORT, 'the store says no'); END")
    done = subprocess.run([sys.executable, "-m", "linegate", "demo", "--service", "none", "--units", "2", "--out",
                           "o", "--state-dir", "s"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "cannot store unit" in done.stderr and "the store says no" in done.stderr
    records = records_in(tmp_path / "o")
    assert records and all(r.outcome is Outcome.ERROR and r.failure and r.failure.step == "record" for r in records)
    run_dir = next((tmp_path / "o").glob("run-*"))
    for record in records:
        assert not (run_dir / f"{record.stem}.html").exists()
        assert not (run_dir / "openhtf" / f"{record.stem}.json").exists()


def test_a_late_commit_rewrites_the_units_row(emulator, tmp_path):
    """The service answers 5xx to the first commits: units pass with their commit pending, the drain
    commits them later and rewrites their records; the store follows under new revisions."""
    emulator.faults.queue("5xx", service="ayla", operation="manufacture", times=4)
    config = load_fixture(REPO / "fixtures" / "sim-station.yaml")
    config = config.model_copy(update={"cloud": CloudAccount.from_emulator(emulator.info())})
    ledger = Ledger(tmp_path / "ledger.db")
    with ResultsStore(tmp_path / "results.db") as store:
        try:
            result = run_fixture(config, load_plan(REPO / "plans" / "esp-at-ayla.yaml"), out=tmp_path / "out",
                                 units=6, state_dir=tmp_path, ledger=ledger, retry=FAST_RETRY, results=store)
        finally:
            ledger.close()
        late = [r for r in result.records if r.provisioning is not None
                and r.provisioning.commit_status is CommitStatus.PENDING]
        assert late, "at least one commit had to wait"
        with store.engine.connect() as conn:
            revisions = conn.execute(sa.select(sa.func.count(), sa.func.max(units.c.revision))
                                     .select_from(units)).one()
        assert revisions[0] == len(result.records) == 6
        assert revisions[1] >= 6 + len(late)  # every rewrite took a new revision, no row was added
        for record in late:
            row = stored(store, record.record_id)
            assert row["provisioning"]["commit_status"] == "committed"
            assert row["provisioning"]["reason"].startswith("committed later")
            assert row["counts"]["steps"] == len(record.steps)  # replaced, not doubled


def test_writing_a_record_again_replaces_its_rows_under_a_new_revision(tmp_path):
    pending = make_record(7).model_copy(update={"provisioning": ProvisioningRecord(
        service="ayla", identity="AC000W000000007", readback_ok=True, commit_status=CommitStatus.PENDING)})
    with ResultsStore(tmp_path / "results.db") as store:
        store.write(pending, run_dir=tmp_path)
        store.write(make_record(8), run_dir=tmp_path)
        before = stored(store, pending.record_id)
        committed = pending.model_copy(update={"provisioning": pending.provisioning.model_copy(
            update={"commit_status": CommitStatus.COMMITTED})})
        store.write(committed, run_dir=tmp_path, record_path=tmp_path / "r.json")
        after = stored(store, pending.record_id)
    assert after["unit"]["revision"] > before["unit"]["revision"] > 0  # the rewrite is the latest write
    assert (before["provisioning"]["commit_status"], after["provisioning"]["commit_status"]) == ("pending",
                                                                                                  "committed")
    assert after["counts"] == before["counts"] == {"steps": 4, "measurements": 20, "provisioning": 1}
    assert after["unit"]["record_path"] == str((tmp_path / "r.json").resolve())


@pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL answers on 127.0.0.1:5432")
def test_postgresql_holds_the_same_rows_and_a_rewrite_replaces_them(tmp_path):
    records = [make_record(i, fail=i == 2) for i in (1, 2, 3)]
    with pg_schema() as url, ResultsStore(url) as store:
        for record in records:
            store.write(record, run_dir=tmp_path)
        store.write(records[0].model_copy(update={"outcome": Outcome.FAIL}), run_dir=tmp_path)
        rows = [stored(store, r.record_id) for r in records]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() == 3
    assert [r["unit"]["outcome"] for r in rows] == ["FAIL", "FAIL", "PASS"]
    first, second, third = (r["unit"]["revision"] for r in rows)
    assert first > third > second  # the rewrite of the first came last
    assert [r["counts"]["measurements"] for r in rows] == [20, 20, 20]
    assert rows[0]["unit"]["started_at"] == records[0].started_at  # an aware time, read back as written
    assert rows[1]["provisioning"] is None and rows[2]["provisioning"]["identity"] == "AC000W000000003"
