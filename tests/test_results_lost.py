"""A station's results store removed, emptied or replaced: mid-run the station stops (exit 1, one line) instead
of writing into nothing; between runs it is rebuilt from the run folders, so the retest limit still holds;
``linegate results rebuild`` makes it again from the JSON records, idempotently by record id."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from linegate.station import cli
from linegate.station.results.store import ResultsError, ResultsStore
from sqlalchemy import text
from synthetic import make_record
from test_retest import _fixture, _plan


def linegate(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def records_in(out: Path) -> list[Path]:
    return [p for p in sorted(out.glob("run-*/*.json")) if p.name != "run.json"]


def _spoil(db: Path, how: str) -> None:
    if how == "removed":
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
    elif how == "emptied":
        os.truncate(db, 0)
    else:  # another store moved over it, as a restore from a backup would
        other = db.with_name("other.db")
        with ResultsStore(other):
            pass
        os.replace(other, db)


@pytest.mark.parametrize("how", ["removed", "emptied", "replaced"])
def test_a_store_spoiled_mid_run_stops_the_station_in_one_line_naming_it(tmp_path, how):
    db = tmp_path / "s" / "results.db"
    run = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--units", "150", "--service", "none",
                            "--state-dir", "s", "--out", "o"], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(records_in(tmp_path / "o")) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    _spoil(db, how)
    out, err = run.communicate(timeout=180)
    assert run.returncode == 1, out + err
    [line] = [x for x in err.splitlines() if x.strip()]
    said = {"removed": "was removed", "emptied": "was emptied", "replaced": "was replaced by another file"}[how]
    assert line.startswith("linegate: station fault: writing the record of unit ") and \
        f"{db}: the results store {said} while the station ran" in line, line
    assert "'linegate results rebuild --state-dir DIR' makes it again" in line
    tested = len(records_in(tmp_path / "o"))
    assert tested < 150  # it stopped
    if how == "removed":
        assert not db.exists()  # nothing made in its place to write into
        made = linegate("results", "rebuild", "--state-dir", "s", "--from", "o", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert f"{tested} unit record(s) from 1 run folder(s): {tested} written, 0 already there" in made.stdout
        again = linegate("results", "rebuild", "--state-dir", "s", "--from", "o", cwd=tmp_path)
        assert f"0 written, {tested} already there" in again.stdout
        found = linegate("results", "units", "--state-dir", "s", "--json", cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        assert len(json.loads(found.stdout)) == tested


def test_a_write_into_a_store_replaced_by_another_is_refused(tmp_path):
    db = tmp_path / "results.db"
    with ResultsStore(db) as store:
        store.write(make_record(1), run_dir=tmp_path)
        with store.engine.begin() as conn:  # same file, another store's identity (a restore in place)
            conn.execute(text("UPDATE store_identity SET store_id = 'another'"))
        with pytest.raises(ResultsError, match="was replaced by another store while the station ran"):
            store.write(make_record(2), run_dir=tmp_path)
    db.unlink()
    with pytest.raises(ResultsError, match=r"the results store is not there \(removed\?\)"):
        ResultsStore(db, create=False)  # a worker opening it after it went: nothing made in its place
    assert not db.exists()


def test_a_store_removed_between_runs_comes_back_and_the_retest_limit_still_holds(tmp_path, capsys):
    plan, fixture, state = _plan(tmp_path, max_attempts=1), _fixture(tmp_path, "line-1"), tmp_path / "state"

    def run() -> tuple[int, str]:
        code = cli.main(["run", "--fixture", str(fixture), "--plan", str(plan), "--sn", "SN-1", "--out",
                         str(tmp_path / "out"), "--state-dir", str(state)])
        return code, capsys.readouterr().err.strip()

    assert run() == (0, "")  # failed once: the limit
    for path in state.glob("results.db*"):
        path.unlink()
    code, err = run()
    first, second = err.splitlines()
    assert first == (f"results: {state / 'results.db'} held no unit though {tmp_path / 'out'} holds 1 run folder(s) "
                     "of this station (it was removed?); rebuilt from the run folders: 1 unit record(s)")
    assert code == 2 and second.startswith("linegate: error: --sn SN-1: send to rework: SN-1 failed 1 times")


def test_a_demo_state_whose_store_went_is_rebuilt_from_what_the_ledger_counts(tmp_path):
    first = linegate("demo", "--units", "3", "--state-dir", "s", "--out", "o", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for path in (tmp_path / "s").glob("results.db*"):
        path.unlink()
    shutil.rmtree(tmp_path / "o")  # the records are gone too: the ledger still knows 3 tests were run
    second = linegate("demo", "--units", "2", "--state-dir", "s", "--out", "o", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines()[0] == (
        f"results: {tmp_path / 's' / 'results.db'} held no unit though the ledger counts 3 test(s) on this station "
        "(it was removed?); rebuilt from the run folders: 0 unit record(s); 3 test(s) have no record there: the "
        "retest limit counts those only where the central results store has them ('linegate results rebuild "
        "--from RUN_DIR' adds other folders)")


def test_a_ledger_removed_mid_run_stops_the_station_before_journaling_into_nothing(tmp_path):
    """The same class of fault on the ledger: removed mid-run, the demo once went on to exit 0 with every
    identity it journaled since gone with the file."""
    run = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--units", "150", "--state-dir", "s",
                            "--out", "o"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(records_in(tmp_path / "o")) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    for path in (tmp_path / "s").glob("ledger.db*"):
        if not path.name.endswith(".lock"):
            path.unlink()
    out, err = run.communicate(timeout=180)
    assert run.returncode == 1, out + err
    [line] = [x for x in err.splitlines() if x.strip()]
    assert "LedgerGone: " in line and f"{tmp_path / 's' / 'ledger.db'}: the ledger was removed while the station " \
        "ran; the station stops" in line, line
    assert len(records_in(tmp_path / "o")) < 150


def test_a_rebuild_cut_short_is_finished_at_the_next_start(tmp_path, capsys):
    """The store is rebuilt one record at a time: a station stopped after the first row has a store that is
    not empty but not whole; the marker left beside it makes the next start rebuild again."""
    plan, fixture, state = _plan(tmp_path, max_attempts=5), _fixture(tmp_path, "line-1"), tmp_path / "state"

    def run(sn: str) -> int:
        return cli.main(["run", "--fixture", str(fixture), "--plan", str(plan), "--sn", sn, "--out",
                         str(tmp_path / "out"), "--state-dir", str(state)])

    assert run("SN-1") == 0 and run("SN-2") == 0
    db = state / "results.db"
    with ResultsStore(db) as store, store.engine.begin() as conn:
        for child in ("measurements", "steps", "provisioning", "attachments"):
            conn.execute(text(f"DELETE FROM {child} WHERE record_id IN (SELECT record_id FROM unit_tests "
                              "WHERE serial = 'SN-2')"))
        conn.execute(text("DELETE FROM unit_tests WHERE serial = 'SN-2'"))
    db.with_name("results.db.rebuilding").touch()
    capsys.readouterr()
    assert run("SN-3") == 0
    assert "rebuilt from the run folders: 2 unit record(s)" in capsys.readouterr().err
    assert not db.with_name("results.db.rebuilding").exists()
    with ResultsStore(db) as store, store.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT serial FROM unit_tests")).scalars()) == ["SN-1", "SN-2", "SN-3"]
