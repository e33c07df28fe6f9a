"""The results sync: the station's outbox to a central store, idempotent by record_id, never stopping the line.

SQLite-to-SQLite always; PostgreSQL at 127.0.0.1:5432 when it answers (a schema per test); a private
PostgreSQL cluster for the central store stopped and restarted mid-run.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from linegate.plans import CommitStatus
from linegate.station.events import ResultsSync, from_wire, to_wire
from linegate.station.results.background import BackgroundSync, backoff_s
from linegate.station.results.rows import run_row, unit_rows
from linegate.station.results.store import ResultsStore, put_rows
from linegate.station.results.sync import Outbox, scrubbed
from sqlalchemy import create_engine, text
from synckit import census, fill_outbox, private_postgres, refuse_poison, units_in
from synthetic import make_record

TESTS = Path(__file__).resolve().parent
PASSWORD = "s3cret-Pw"
PUSH = """
import sys
from linegate.station.results.store import ResultsStore
from linegate.station.results.sync import Outbox
with ResultsStore(sys.argv[1]) as local:
    outbox = Outbox(local, sys.argv[2])
    print(outbox.push(size=int(sys.argv[3])), flush=True)
"""




def linegate(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def events_of(path: Path, kind: str) -> list[dict[str, object]]:
    if not path.exists():
        return []
    docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [d for d in docs if d["kind"] == kind]


def local_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'results.db'}"


def assert_same_units(local: str, central_url: str, *, also: list[str] = (), leave_out: str = "") -> None:
    """The central store has every unit of ``local`` (and ``also``; but ``leave_out``) exactly once, with all its
    children."""
    have = census(central_url)
    ids = Counter(have.ids)
    assert [i for i, n in ids.items() if n > 1] == [], "a record_id twice"
    want = census(local)
    assert (set(want.ids) | set(also)) - {leave_out} <= set(ids), "units lost"
    for table, counts in want.children.items():
        counts = {k: v for k, v in counts.items() if k != leave_out}
        assert {k: v for k, v in have.children[table].items() if k in counts} == counts, table


# -- the outbox itself ---------------------------------------------------------------------


def test_the_outbox_sends_in_order_once_and_a_resend_after_a_lost_note_doubles_nothing(tmp_path, central):
    ids = fill_outbox(tmp_path / "s" / "results.db", 450)
    with ResultsStore(tmp_path / "s" / "results.db") as local:
        outbox = Outbox(local, central)
        assert outbox.lag()[0] == 450
        assert outbox.push(size=100) == 450
        assert outbox.lag() == (0, None)
        # killed between the central commit and the local note: the same units are sent again
        with local.begin() as conn:
            conn.execute(text("UPDATE sync_state SET revision = 0"))
        assert outbox.push(size=100) == 450
        outbox.close()
    assert sorted(census(central).ids) == sorted(ids)
    assert_same_units(local_url(tmp_path / "s"), central)


def test_a_rewritten_unit_pending_then_committed_is_updated_in_the_central_store(tmp_path, central):
    path = tmp_path / "s" / "results.db"
    record = make_record(3)
    assert record.provisioning is not None
    pending = record.model_copy(update={"provisioning": record.provisioning.model_copy(
        update={"commit_status": CommitStatus.PENDING})})
    with ResultsStore(path) as local:
        local.write(pending, run_dir=tmp_path / "run")
        outbox = Outbox(local, central)
        assert outbox.push() == 1
        local.write(record, run_dir=tmp_path / "run")  # the late commit's rewrite: a new revision
        assert outbox.lag()[0] == 1
        assert outbox.push() == 1
        outbox.close()
    engine = create_engine(central)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT commit_status FROM provisioning")).all()
        units = conn.execute(text("SELECT count(*) FROM unit_tests")).scalar()
    engine.dispose()
    assert rows == [("committed",)] and units == 1


def test_a_central_store_made_again_under_the_same_url_gets_every_unit_again(tmp_path):
    """The sync state is kept for the central store's identity, not its name: dropped and made again (or
    restored from an older backup), it is another store, and nothing the new one lacks is left out."""
    ids = fill_outbox(tmp_path / "s" / "results.db", 30)
    central = f"sqlite:///{tmp_path / 'central.db'}"
    with ResultsStore(tmp_path / "s" / "results.db") as local:
        outbox = Outbox(local, central)
        assert outbox.push() == 30
        outbox.close()
        (tmp_path / "central.db").unlink()
        again = Outbox(local, central)
        assert again.push() == 30
        again.close()
    assert sorted(census(central).ids) == sorted(ids)


def test_an_older_version_sent_late_never_replaces_a_later_one(tmp_path, central):
    """Two senders of one outbox (the run's sync and 'linegate results sync'): the batch read before a late
    commit's rewrite may land after it; the central store keeps the later revision."""
    record = make_record(3)
    assert record.provisioning is not None
    pending = record.model_copy(update={"provisioning": record.provisioning.model_copy(
        update={"commit_status": CommitStatus.PENDING})})
    run = run_row(record, tmp_path / "run")
    old, new = (unit_rows(r, run_id=run["run_id"]) for r in (pending, record))
    old["unit_tests"][0]["revision"], new["unit_tests"][0]["revision"] = 1, 2
    with ResultsStore(central) as store:
        with store.begin() as conn:
            put_rows(conn, [run], new)
        with store.begin() as conn:
            put_rows(conn, [run], old)  # late
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT commit_status FROM provisioning")).all() == [("committed",)]
            assert conn.execute(text("SELECT revision FROM unit_tests")).all() == [(2,)]
            assert conn.execute(text("SELECT count(*) FROM measurements")).scalar() == len(record.measurements())


def test_lag_is_reported_when_it_changes_and_the_password_is_scrubbed(tmp_path):
    fill_outbox(tmp_path / "s" / "results.db", 5)
    url = f"postgresql+psycopg://station:{PASSWORD}@127.0.0.1:1/line"  # nothing listens on port 1
    seen: list[ResultsSync] = []
    with ResultsStore(tmp_path / "s" / "results.db") as local:
        sync = BackgroundSync(Outbox(local, url), poll_s=0.05, report_every_s=0.2).start(seen.append)
        deadline = time.monotonic() + 20
        while not any(e.error for e in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        fill_outbox(tmp_path / "s" / "results.db", 3, first=100)
        time.sleep(0.6)
        lag = sync.finish(deadline_s=1)
        sync.close()
        with local.begin() as conn:
            state = conn.execute(text("SELECT target, revision, last_error FROM sync_state")).one()
    assert lag.behind == 8 and lag.reachable is False and lag.oldest_s() is not None
    assert [e.behind for e in seen if e.error][-1] == 8 and seen[0].behind == 5
    assert all(e.reachable is not True for e in seen)
    assert state.target == "postgresql+psycopg://station:***@127.0.0.1:1/line" and state.revision == 0
    assert state.last_error.startswith("OperationalError: ") and PASSWORD not in repr(seen) + repr(state)
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert all(g.total_seconds() >= 0.15 for g in gaps[:-1])  # at most every report_every_s (the last: forced)


def test_backoff_doubles_to_a_cap_and_scrub_hides_a_password():
    waits = [backoff_s(n) for n in range(1, 10)]
    assert 0.4 <= waits[0] <= 0.5 and max(waits) <= 10 and waits[-1] >= 8
    assert scrubbed(f"could not connect as station:{PASSWORD}", f"postgresql://station:{PASSWORD}@h/d") == \
        "could not connect as station:***"


# -- a station run ---------------------------------------------------------------------------


def test_a_demo_with_results_ends_with_every_unit_in_the_central_store_exactly_once(tmp_path, central):
    done = linegate("demo", "--units", "8", "--sockets", "2", "--out", "o", "--state-dir", "s",
                    "--results", central, "--events", "ev.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "has every unit (8 sent this run)" in done.stdout
    local = local_url(tmp_path / "s")
    assert len(census(local).ids) == 8
    assert sorted(census(central).ids) == sorted(census(local).ids)
    assert_same_units(local, central)
    fields = "record_id, outcome, serial, mac, socket, started_at, failure_key, record_path"
    rows = {}
    for url in (local, central):
        engine = create_engine(url)
        with engine.connect() as conn:
            units = conn.execute(text(f"SELECT {fields} FROM unit_tests ORDER BY record_id")).all()
            prov = conn.execute(text("SELECT record_id, identity, commit_status FROM provisioning "
                                     "ORDER BY record_id")).all()
            rows[url] = ([(*u[:5], str(u[5])[:19], *u[6:]) for u in units], prov)
        engine.dispose()
    assert rows[local] == rows[central]  # a rewrite after a late commit included
    last = events_of(tmp_path / "ev.jsonl", "results_sync")[-1]
    assert last["behind"] == 0 and last["reachable"] is True and last["socket"] == ""


def test_a_central_store_away_keeps_the_line_running_and_no_password_shows(tmp_path):
    url = f"postgresql+psycopg://station:{PASSWORD}@127.0.0.1:1/line"
    done = linegate("demo", "--units", "4", "--out", "o", "--state-dir", "s", "--results", url,
                    "--events", "ev.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 units in" in done.stdout
    assert "results: 4 unit(s) not yet in postgresql+psycopg://station:***@127.0.0.1:1/line" in done.stdout
    assert "they stay in the outbox" in done.stdout
    told = events_of(tmp_path / "ev.jsonl", "results_sync")
    assert told[-1]["behind"] == 4 and told[-1]["reachable"] is False and told[-1]["error"]
    again = linegate("results", "sync", "--state-dir", "s", "--results", url, cwd=tmp_path)
    assert again.returncode == 3 and len(again.stderr.strip().splitlines()) == 1
    assert "4 of 4 unit(s) stay in the outbox" in again.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".db", ".sqlite", ".db-wal")]
    seen = done.stdout + done.stderr + again.stdout + again.stderr + "".join(
        p.read_text(errors="replace") for p in files)
    assert PASSWORD not in seen
    # the next push to a central store that answers sends them all
    pushed = linegate("results", "sync", "--state-dir", "s", "--results", "central.db", cwd=tmp_path)
    assert pushed.returncode == 0 and "sent 4 unit(s)" in pushed.stdout
    assert_same_units(local_url(tmp_path / "s"), f"sqlite:///{tmp_path / 'central.db'}")


def test_the_fixture_names_the_central_store_a_relative_file_next_to_it(tmp_path):
    (tmp_path / "fx").mkdir()
    fixture = tmp_path / "fx" / "f.yaml"
    fixture.write_text((TESTS.parent / "fixtures" / "sim-station.yaml").read_text() + "results: central.db\n")
    done = linegate("run", "--fixture", str(fixture), "--plan", str(TESTS.parent / "plans" / "esp-at-module.yaml"),
                    "--units", "2", "--state-dir", "s", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"the central store {tmp_path / 'fx' / 'central.db'} has every unit (2 sent this run)" in done.stdout
    assert sorted(census(f"sqlite:///{tmp_path / 'fx' / 'central.db'}").ids) == sorted(
        census(local_url(tmp_path / "s")).ids)


def test_a_bad_results_value_is_one_line_naming_it_exit_2(tmp_path):
    fixture = tmp_path / "f.yaml"
    fixture.write_text(f"station: s1\nsockets:\n  - name: A\n    dut: {{port: loop://}}\n"
                       f"results: 'mysql://u:{PASSWORD}@h/db'\n")
    plan = TESTS.parent / "plans" / "esp-at-module.yaml"
    done = linegate("run", "--fixture", str(fixture), "--plan", str(plan), "--units", "1", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"{fixture}: results: a mysql URL" in done.stderr and PASSWORD not in done.stderr
    cli = linegate("demo", "--units", "1", "--out", "o", "--results", f"postgresql://u:{PASSWORD}@h:port/x",
                   cwd=tmp_path)
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and PASSWORD not in cli.stderr


@pytest.mark.parametrize("typed", [f"postgresql+psycopg:/u:{PASSWORD}@127.0.0.1/x",  # a URL missing its ://
                                   f"postgresql+psycopg//u:{PASSWORD}@127.0.0.1/x", "127.0.0.1:5432/line3", "garbage"])
def test_a_url_typed_wrong_is_not_taken_for_a_file(tmp_path, typed):
    """Else the line would write a SQLite file of that name and say the central store has every unit."""
    done = linegate("demo", "--units", "1", "--out", "o", "--results", typed, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "neither a database URL nor an SQLite file" in done.stderr and PASSWORD not in done.stderr
    assert not (tmp_path / "o").exists() and sorted(p.name for p in tmp_path.iterdir()) == []
    fixture = tmp_path / "f.yaml"
    fixture.write_text(f"station: s1\nsockets:\n  - name: A\n    dut: {{port: loop://}}\nresults: '{typed}'\n")
    plan = TESTS.parent / "plans" / "esp-at-module.yaml"
    run = linegate("run", "--fixture", str(fixture), "--plan", str(plan), "--units", "1", cwd=tmp_path)
    assert run.returncode == 2 and f"{fixture}: results: neither a database URL" in run.stderr
    assert PASSWORD not in run.stderr


# -- kill -9, two stations, the central store stopped ---------------------------------------


@pytest.mark.slow
def test_kill_9_mid_sync_loses_nothing_and_doubles_nothing(tmp_path, central):
    """With a poisoned unit in the outbox (the central store refuses it): every other arrives exactly once, the
    poisoned one is set aside and stays."""
    outbox = tmp_path / "s" / "results.db"
    refuse_poison(central)
    ids = fill_outbox(outbox, 2000, poisoned=frozenset({777}))
    poisoned = ids[776]
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    rng = random.Random(14)
    kills, mid = 0, 0
    for _ in range(6):
        before = units_in(central)
        proc = subprocess.Popen([sys.executable, "-c", PUSH, str(outbox), central, "25"], env=env,
                                stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while proc.poll() is None and units_in(central) <= before and time.monotonic() < deadline:
            time.sleep(0.02)  # until it is sending; then killed a random moment later
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        mid += 0 < units_in(central) < 1999
    assert kills >= 3, "the sync ended before it could be killed often enough"
    done = subprocess.run([sys.executable, "-c", PUSH, str(outbox), central, "25"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    have = census(central)
    assert len(have.ids) == 1999 and sorted(have.ids) == sorted(i for i in ids if i != poisoned)
    assert_same_units(local_url(tmp_path / "s"), central, leave_out=poisoned)
    with ResultsStore(outbox) as local:
        left = Outbox(local, central)
        assert left.set_aside() == 1 and left.lag()[0] == 0
        left.close()
    print(f"kill -9: {kills} kills ({mid} with the central store part-filled), 0 duplicates, 0 lost, the poisoned "
          "unit set aside")


def test_two_stations_syncing_to_one_database_at_once(tmp_path, central):
    one = fill_outbox(tmp_path / "a" / "results.db", 600, station="line-1")
    two = fill_outbox(tmp_path / "b" / "results.db", 600, first=10_000, station="line-2")
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    procs = [subprocess.Popen([sys.executable, "-c", PUSH, str(tmp_path / d / "results.db"), central, "20"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for d in ("a", "b")]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [int(o[0]) for o in outs] == [600, 600]
    assert sorted(census(central).ids) == sorted(one + two)
    assert_same_units(local_url(tmp_path / "a"), central, also=two)
    assert_same_units(local_url(tmp_path / "b"), central, also=one)


@pytest.mark.slow
def test_the_central_database_stopped_and_restarted_mid_run(tmp_path):
    with private_postgres() as cluster:
        url = cluster.url(PASSWORD)  # trust auth: the password is not needed, only carried
        events = tmp_path / "ev.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--units", "400", "--sockets", "2",
                                 "--service", "none", "--out", "o", "--state-dir", "s", "--results", url,
                                 "--events", str(events)], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            _until(lambda: len(events_of(events, "record_written")) >= 6, "six units tested")
            _until(lambda: any(e["behind"] == 0 and e["reachable"] for e in events_of(events, "results_sync")),
                   "the sync caught up")
            cluster.stop()
            stopped_at = len(events_of(events, "record_written"))
            _until(lambda: len([e for e in events_of(events, "results_sync") if e["error"]]) >= 2,
                   "the lag told twice with its error")
            away = [e for e in events_of(events, "results_sync") if e["error"]]
            _until(lambda: len(events_of(events, "record_written")) >= stopped_at + 6, "six more units tested")
            away = [e for e in events_of(events, "results_sync") if e["error"]]
            assert away[-1]["behind"] > away[0]["behind"] > 0 and away[-1]["reachable"] is False
            cluster.start()
            restarted = time.monotonic()
            _until(lambda: events_of(events, "results_sync")[-1]["behind"] == 0
                   and not events_of(events, "results_sync")[-1]["error"], "caught up after the restart", 60)
            print(f"central away: lag grew to {away[-1]['behind']} units; caught up "
                  f"{time.monotonic() - restarted:.1f} s after the restart")
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err
        assert PASSWORD not in out + err + events.read_text()
        local = local_url(tmp_path / "s")
        tested = len(census(local).ids)
        assert tested >= stopped_at + 6
        assert_same_units(local, cluster.url())
        assert len(census(cluster.url()).ids) == tested


def _until(check: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


def test_the_wire_form_of_results_sync_round_trips():
    event = ResultsSync("", target="postgresql+psycopg://u:***@h/db", behind=3, oldest_s=12.5, reachable=False,
                        error="OperationalError: connection refused")
    assert from_wire(to_wire(event)) == event
