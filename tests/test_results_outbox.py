"""The outbox never stuck: a unit the central store refuses for what it holds is set aside with the store's
reason and the others go on; a failure of the store itself still retries the whole batch.

SQLite and the shared PostgreSQL (a schema per test, when it answers) alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg.errors
import pytest
from linegate.station.console import LiveConsole
from linegate.station.events import ResultsSync
from linegate.station.results.background import BackgroundSync
from linegate.station.results.set_aside import refused_for_content
from linegate.station.results.store import ResultsStore
from linegate.station.results.sync import Outbox, SyncError
from pgkit import pg_schema, postgres_up
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from synckit import POISON, census, fill_outbox, refuse_poison, take_poison, with_units
from synthetic import make_record


def test_a_33_character_unit_reaches_postgresql_as_it_reaches_sqlite(tmp_path, central):
    """Free text is unbounded on every database (PostgreSQL's VARCHAR(32) refused it, SQLite took it)."""
    long = "A" * 33
    record = with_units(make_record(1), long)
    record = record.model_copy(update={"plan": record.plan.model_copy(update={"version": "v" * 300}),
                                       "unit": record.unit | {"serial": "S" * 500}})
    with ResultsStore(tmp_path / "s" / "results.db") as local:
        local.write(record, run_dir=tmp_path / "run")
        outbox = Outbox(local, central)
        assert outbox.push() == 1 and outbox.set_aside() == 0
        outbox.close()
    engine = create_engine(central)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT units FROM measurements WHERE idx = 0")).scalar() == long
        assert conn.execute(text("SELECT plan_version, serial FROM unit_tests")).one() == ("v" * 300, "S" * 500)
    engine.dispose()


def test_a_refused_unit_is_set_aside_with_its_reason_and_the_others_go_on(tmp_path, central):
    refuse_poison(central)
    path = tmp_path / "s" / "results.db"
    good = fill_outbox(path, 30)
    with ResultsStore(path) as local:
        bad = with_units(make_record(500), POISON)
        local.write(bad, run_dir=tmp_path / "run")
        more = fill_outbox(path, 7, first=600)
        outbox = Outbox(local, central)
        assert outbox.push(size=8) == 37
        assert outbox.lag()[0] == 0 and outbox.set_aside() == 1
        assert outbox.push() == 0  # it stays aside: not sent again and again
        assert sorted(census(central).ids) == sorted(good + more)
        later = fill_outbox(path, 5, first=700)  # another run: its units go too
        assert outbox.push() == 5 and set(later) <= set(census(central).ids)
        with local.begin() as conn:
            reason = conn.execute(text("SELECT reason FROM outbox_set_aside")).scalar_one()
        assert ("poisoned units" in reason) if central.startswith("sqlite") else \
            reason.startswith("measurements: IntegrityError: new row for relation \"measurements\" violates check")
        # rewritten (a late commit): tried again under its new revision, refused again, still one set aside
        local.write(bad, run_dir=tmp_path / "run")
        assert outbox.lag()[0] == 1
        assert outbox.push() == 0 and outbox.set_aside() == 1 and outbox.lag()[0] == 0
        take_poison(central)
        assert outbox.retry_set_aside() == (1, 0)
        assert outbox.set_aside() == 0 and bad.record_id in census(central).ids
        outbox.close()
    assert len(census(central).ids) == len(set(census(central).ids)) == 43


def test_a_failure_of_the_store_itself_sets_nothing_aside(tmp_path):
    path = tmp_path / "s" / "results.db"
    fill_outbox(path, 4)
    gone = tmp_path / "central.db"
    with ResultsStore(gone):
        pass
    with ResultsStore(path) as local:
        outbox = Outbox(local, f"sqlite:///{gone}")
        outbox.push(size=2)
        fill_outbox(path, 3, first=50)
        engine = create_engine(f"sqlite:///{gone}")
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE measurements"))  # not a row's fault: every batch would fail
        engine.dispose()
        with pytest.raises(SyncError):
            outbox.push()
        assert outbox.set_aside() == 0 and outbox.lag()[0] == 3
        outbox.close()


@pytest.mark.parametrize(("error", "row"), [
    (psycopg.errors.StringDataRightTruncation, True), (psycopg.errors.NumericValueOutOfRange, True),
    (psycopg.errors.CheckViolation, True), (psycopg.errors.NotNullViolation, True),
    (psycopg.errors.ProgramLimitExceeded, True), (psycopg.errors.UniqueViolation, False),
    (psycopg.errors.DeadlockDetected, False), (psycopg.errors.SerializationFailure, False),
    (psycopg.errors.UndefinedTable, False), (psycopg.errors.AdminShutdown, False), (psycopg.OperationalError, False)])
def test_what_counts_as_a_rows_fault_and_what_as_the_stores(error, row):
    wrapper = DataError if issubclass(error, psycopg.DataError) else IntegrityError \
        if issubclass(error, psycopg.IntegrityError) else OperationalError
    assert refused_for_content(wrapper("INSERT", {}, error("x"))) is row


def test_the_lag_event_console_and_end_of_run_tell_the_set_aside(tmp_path):
    central = f"sqlite:///{tmp_path / 'central.db'}"
    refuse_poison(central)
    path = tmp_path / "s" / "results.db"
    fill_outbox(path, 3)
    seen: list[ResultsSync] = []
    with ResultsStore(path) as local:
        local.write(with_units(make_record(90), POISON), run_dir=tmp_path / "run")
        sync = BackgroundSync(Outbox(local, central), poll_s=0.05, report_every_s=0.05).start(seen.append)
        lag = sync.finish(deadline_s=5)
        sync.close()
    assert (lag.behind, lag.set_aside, lag.error) == (0, 1, "")
    assert seen[-1].set_aside == 1
    line = LiveConsole.results_line(seen[-1]).plain
    assert line.endswith("1 refused, set aside ('linegate results outbox' lists them)"), line


def linegate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_results_sync_and_outbox_name_the_set_aside_unit_and_retry_sends_it(tmp_path):
    central = f"sqlite:///{tmp_path / 'central.db'}"
    refuse_poison(central)
    state = tmp_path / "s"
    fill_outbox(state / "results.db", 4)
    bad = with_units(make_record(77), POISON)
    with ResultsStore(state / "results.db") as local:
        local.write(bad, run_dir=tmp_path / "run")
    done = linegate("results", "sync", "--state-dir", str(state), "--results", central, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"linegate: results: {tmp_path / 'central.db'} refused 1 unit(s) for what they hold: set aside in the outbox "
        f"{state / 'results.db'} (4 other(s) sent); 'linegate results outbox' lists them and why"]
    listed = linegate("results", "outbox", "--state-dir", str(state), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [target] = json.loads(listed.stdout)["targets"]
    assert target["behind"] == 0 and [s["serial"] for s in target["set_aside"]] == ["LG00000077"]
    assert "poisoned units" in target["set_aside"][0]["reason"]
    shown = linegate("results", "outbox", "--state-dir", str(state), cwd=tmp_path)
    assert "0 behind, 1 set aside" in shown.stdout and "LG00000077" in shown.stdout
    take_poison(central)
    again = linegate("results", "sync", "--state-dir", str(state), "--results", central, "--retry-set-aside",
                     cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "sent 1 unit(s)" in again.stdout and bad.record_id in census(central).ids


def at_first_revision(url: str) -> None:
    """A results store as linegate made it at results_0001 (VARCHAR columns), with a unit in it."""
    from dataclasses import replace

    from linegate.station.migrations.runner import ensure
    from linegate.station.results.migrations import SCHEMA
    from linegate.station.results.store import open_engine

    engine = open_engine(url)
    ensure(engine, replace(SCHEMA, head="results_0001"), "old")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO runs VALUES ('r1', 'st1', 'h', '/run', '2026-11-01 08:00:00+00', '0.1')"))
        conn.execute(text("INSERT INTO unit_tests (record_id, run_id, revision, unit_key, serial, mac, station, "
                          "socket, host, operator, fixture, plan_name, plan_version, plan_sha256, outcome, "
                          "started_at, ended_at, duration_s, record_path, report_path, linegate_version) VALUES "
                          "('u1', 'r1', 1, 'k', 'SN1', '', 'st1', 'A', 'h', '', 'f', 'p', '1', '0', 'PASS', "
                          "'2026-11-01 08:00:00+00', '2026-11-01 08:00:02+00', 2.0, '', '', '0.1')"))
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_store_at_its_first_revision_is_upgraded_in_place_and_then_takes_long_text(tmp_path, kind):
    from linegate.station.cli import main

    if kind == "postgresql" and not postgres_up():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 (or psycopg missing)")
    with (pg_schema() if kind == "postgresql" else _sqlite(tmp_path)) as url:
        at_first_revision(url)
        if kind == "postgresql":  # a shared store waits for db upgrade; a station's own file upgrades on opening
            assert main(["db", "upgrade", "--results", url]) == 0
        with ResultsStore(url) as store:
            store.write(with_units(make_record(3), "B" * 40), run_dir=tmp_path / "run")
            with store.engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version_results")).scalar() == "results_0002"
                assert sorted(conn.execute(text("SELECT serial FROM unit_tests")).scalars()) == ["LG00000003", "SN1"]
                assert conn.execute(text("SELECT max(length(units)) FROM measurements")).scalar() == 40


class _sqlite:
    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'old.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        pass


def test_an_error_of_postgresql_is_one_line_not_two(tmp_path, caplog):
    """psycopg echoes an error raised in a pipelined executemany ("error ignored terminating <psycopg.Pipeline
    ...>: pipeline aborted"); linegate says it once."""
    if not postgres_up():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 (or psycopg missing)")
    path = tmp_path / "s" / "results.db"
    with pg_schema() as url:
        with ResultsStore(url):
            pass
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE unit_tests ADD CONSTRAINT no_poison CHECK (serial <> 'poison')"))
        engine.dispose()
        fill_outbox(path, 12)
        with ResultsStore(path) as local:
            record = make_record(50)
            local.write(record.model_copy(update={"unit": record.unit | {"serial": POISON}}), run_dir=tmp_path / "r")
            fill_outbox(path, 12, first=100)
            outbox = Outbox(local, url)
            with caplog.at_level("INFO"):
                assert outbox.push() == 24 and outbox.set_aside() == 1
            outbox.close()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
