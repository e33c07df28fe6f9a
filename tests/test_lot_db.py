"""The lot summary from the results database: the same numbers as from the record files, the filters,
the command's errors in one line (SQLite always, PostgreSQL when it answers)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from linegate.plans import StationRef, UnitRecord
from linegate.reports.lot import LotRenderer, LotSummary, load_tests, summarize, summarize_tests
from linegate.station.results.lot import LotFilter, lot_from_store
from linegate.station.results.store import ResultsError, ResultsStore
from pgkit import pg_schema, postgres_up
from synthetic import make_record


def on_station(record: UnitRecord, station: str) -> UnitRecord:
    return record.model_copy(update={"station": StationRef(name=station, fixture="f.yaml", socket=record.station.socket,
                                                           linegate_version="0.1.0")})


def lot_records() -> list[UnitRecord]:
    """Two stations of two sockets; failures, errors, an abort; units failing on st1 retested on st2."""
    records = [make_record(i, fail=i % 6 == 0, error=i % 17 == 0, aborted=i == 40, socket="AB"[i % 2])
               for i in range(1, 61)]
    records += [on_station(make_record(i, fail=i % 5 == 0, socket="AB"[i % 2]), "st2") for i in range(61, 91)]
    for n, failed in enumerate([r for r in records[:60] if r.outcome.value == "FAIL"][:4]):
        records.append(on_station(make_record(900 + n, mac=failed.unit["mac"], minutes=300 + n), "st2"))
    return records


def stored(records: list[UnitRecord], url: str, run_dir) -> None:
    with ResultsStore(url) as store:
        for r in records:
            store.write(r, run_dir=run_dir, record_path=run_dir / f"{r.stem}.json",
                        report_path=run_dir / f"{r.stem}.html")


def assert_same_numbers(a: LotSummary, b: LotSummary) -> None:
    for name in ("tests", "units", "passed_units", "first_pass_units", "retests", "outcomes", "pareto",
                 "provisioning", "started", "ended", "plans"):
        assert getattr(a, name) == getattr(b, name), name
    assert [(s.socket, s.tests, dict(s.outcomes), s.units, s.passed_units, s.first_tests, s.first_pass,
             dict(s.failing_steps), s.flagged) for s in a.sockets.sockets] == \
        [(s.socket, s.tests, dict(s.outcomes), s.units, s.passed_units, s.first_tests, s.first_pass,
          dict(s.failing_steps), s.flagged) for s in b.sockets.sockets]
    for x, y in zip(a.sockets.sockets, b.sockets.sockets, strict=True):
        assert (x.p_value is None and y.p_value is None) or x.p_value == pytest.approx(y.p_value, rel=1e-12)
    assert len(a.measurements) == len(b.measurements) > 0
    for x, y in zip(a.measurements, b.measurements, strict=True):
        assert (x.step, x.name, x.units, x.low, x.high, x.failed, x.n, x.passing.n) == \
            (y.step, y.name, y.units, y.low, y.high, y.failed, y.n, y.passing.n)
        assert (x.axis, x.counts) == (y.axis, y.counts)  # the same bins, to the count
        assert (x.overall.smallest, x.overall.largest) == (y.overall.smallest, y.overall.largest)
        assert y.mean == pytest.approx(x.mean, rel=1e-12) and y.sigma == pytest.approx(x.sigma, rel=1e-9)
        assert y.cpk == pytest.approx(x.cpk, rel=1e-9) and y.cpk_passing == pytest.approx(x.cpk_passing, rel=1e-9)
    keep = ("index", "socket", "serial", "mac", "outcome", "failure", "identity", "commit", "started")
    assert [{k: r[k] for k in keep} for r in a.rows] == [{k: r[k] for k in keep} for r in b.rows]


def test_files_and_sqlite_give_the_same_lot(tmp_path):
    records = lot_records()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for r in records:
        (run_dir / f"{r.stem}.json").write_text(r.model_dump_json())
    stored(records, str(tmp_path / "results.db"), run_dir)
    from_files = summarize_tests(load_tests(run_dir))
    from_db = lot_from_store(tmp_path / "results.db")
    assert_same_numbers(from_files, from_db)
    assert_same_numbers(summarize(records), from_db)
    assert from_db.units == 90 and from_db.retests == 4 and from_db.passed_units == from_db.first_pass_units + 4
    assert {s.socket for s in from_db.sockets.sockets} == {"st1 A", "st1 B", "st2 A", "st2 B"}
    assert from_db.rows[0]["report"].endswith(".html") and from_db.source == str(tmp_path / "results.db")
    assert 'id="measurements"' in LotRenderer().render(from_db)


@pytest.mark.parametrize("chosen", [
    LotFilter(station="st2"),
    LotFilter(since=datetime(2026, 11, 1, 8, 30, tzinfo=UTC), until=datetime(2026, 11, 1, 9, 10, tzinfo=UTC)),
    LotFilter(plan="p"),
    LotFilter(plan="000000"),  # a prefix of the plan's SHA-256
], ids=["station", "since-until", "plan-name", "plan-sha"])
def test_filters_pick_the_same_units_as_the_files_would(tmp_path, chosen):
    records = lot_records()
    stored(records, str(tmp_path / "results.db"), tmp_path)
    since = chosen.since or datetime.min.replace(tzinfo=UTC)
    until = chosen.until or datetime.max.replace(tzinfo=UTC)
    picked = [r for r in records if since <= r.started_at < until and chosen.station in (None, r.station.name)]
    from_db = lot_from_store(tmp_path / "results.db", chosen)
    assert 0 < from_db.tests == len(picked)
    assert_same_numbers(summarize(picked), from_db)


def test_no_unit_matches_a_plan_not_stored(tmp_path):
    stored(lot_records()[:5], str(tmp_path / "results.db"), tmp_path)
    assert lot_from_store(tmp_path / "results.db", LotFilter(plan="other")).tests == 0


@pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL answers on 127.0.0.1:5432")
def test_files_and_postgresql_give_the_same_lot(tmp_path):
    records = lot_records()
    with pg_schema() as url:
        stored(records, url, tmp_path)
        assert_same_numbers(summarize(records), lot_from_store(url))
        since = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
        assert_same_numbers(summarize([r for r in records if r.started_at >= since]),
                            lot_from_store(url, LotFilter(since=since)))


def test_a_store_that_cannot_be_read_is_one_line(tmp_path):
    with pytest.raises(ResultsError, match="no such results store"):
        lot_from_store(tmp_path / "missing.db")
    import sqlite3

    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE x (a)")
    with pytest.raises(ResultsError, match=r"other\.db: not a results store \(none of its tables; "):
        lot_from_store(tmp_path / "other.db")  # refused at open: it is left as it was


def linegate(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linegate", "report", "lot", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_report_lot_results_command(tmp_path):
    stored(lot_records(), str(tmp_path / "results.db"), tmp_path)
    page = tmp_path / "lot.html"
    done = linegate("--results", str(tmp_path / "results.db"), "--station", "st1", "--out", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "All 60 tests, newest first." in html and 'class="num cpk-passing' in html
    assert f"{tmp_path / 'results.db'} (--station st1)" in html  # a filtered lot says so
    done = linegate("--results", "results.db", "--since", "2026-11-01T08:30+00:00", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "lot.html").exists(), done.stderr
    failures = {
        ("--results", str(tmp_path / "nope.db")): "nope.db: no such results store",
        ("--results", "postgresql+psycopg://qa:s3cret@127.0.0.1:1/lots"): "qa:***@127.0.0.1:1/lots: cannot read",
        ("--results", "nosuchdb://x"): "nosuchdb://x: cannot use this database",
        ("--results", str(tmp_path / "results.db"), "--since", "monday"): "--since 'monday': not an ISO date/time",
        ("--results", str(tmp_path / "results.db"), "--plan", "other"): "no unit tests match (--plan other)",
        ("--station", "st1"): "add --results",
    }
    for args, said in failures.items():
        done = linegate(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and said in lines[0], (args, done.stderr)
        assert "s3cret" not in done.stderr


def test_the_units_table_lists_the_most_recent_and_says_how_many(tmp_path, monkeypatch):
    import linegate.reports.lot as lot
    from linegate.station.results.lot import summarize_db
    from sqlalchemy import create_engine

    records = lot_records()
    stored(records, str(tmp_path / "results.db"), tmp_path)
    monkeypatch.setattr(lot, "ROWS_SHOWN", 10)
    from_files = summarize(records)
    assert len(from_files.rows) == 10 and from_files.rows[0]["index"] == str(len(records))
    assert f"The 10 most recent of {len(records)} tests, newest first." in LotRenderer().render(from_files)
    engine = create_engine(f"sqlite:///{tmp_path / 'results.db'}")
    with engine.connect() as conn:
        from_db = summarize_db(conn, rows_shown=10)
    engine.dispose()
    assert [r["serial"] for r in from_db.rows] == [r["serial"] for r in from_files.rows]


def test_a_measurement_whose_limits_changed_mid_lot_agrees_too(tmp_path):
    from test_reports_lot import supply_voltage_lot

    records = supply_voltage_lot()  # one test of supply_voltage had other limits
    first = records[0]
    step = first.steps[0]
    other = step.measurements[0].model_copy(update={"value": 3.2741, "high": 3.4})  # in grid cell 10 of both sets
    records.append(first.model_copy(update={"record_id": "00000000-0000-0000-0000-0000000000ff",
                                            "unit": {"mac": "24:0a:c4:00:00:ff", "serial": "LG000000255"},
                                            "steps": (step.model_copy(update={"measurements": (other,)}),)}))
    stored(records, str(tmp_path / "results.db"), tmp_path)
    from_db = lot_from_store(tmp_path / "results.db")
    assert_same_numbers(summarize(records), from_db)
    supply = next(s for s in from_db.measurements if s.name == "supply_voltage")
    assert (supply.n, sum(supply.counts), supply.high) == (12, 10, 3.465)
