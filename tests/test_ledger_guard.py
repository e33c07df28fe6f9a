"""Who may open a ledger: one station at a time, with the ledger's own key, on a file that is whole."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from linegate.station.ledger.crypto import ENV, LedgerKeyError, fingerprint
from linegate.station.ledger.errors import LedgerBusy, LedgerCorrupt
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.lock import refuse_if_held
from pgkit import pg_schema, postgres_up

PRIVATE = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIsecretsecret\n-----END EC PRIVATE KEY-----\n"
needs_pg = pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL on 127.0.0.1:5432 (or no psycopg)")


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def _sealed_ledger(path: Path, n: int = 2) -> None:
    ledger = Ledger(path)
    rid = ledger.open_request("ayla", n)
    ledger.add_reserved("ayla", rid, [(f"AC{i:03d}", {"public_key": "pk"}, PRIVATE) for i in range(n)])
    ledger.close()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != ENV}


def linegate(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env())


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _no_unit_ran(out: str) -> None:
    assert "[  1/" not in out and "PASS" not in out, out


# -- one station per ledger ------------------------------------------------------------------------------------

def test_a_second_station_on_a_sqlite_ledger_is_refused_naming_the_holder(tmp_path):
    path = tmp_path / "ledger.db"
    first = Ledger(path)
    first.hold("station-a")
    second = Ledger(path)  # opening to read is fine (ledger status)
    host = socket.gethostname()
    with pytest.raises(LedgerBusy, match=rf"{path}: in use by station station-a \(pid {os.getpid()} on {host} "
                                         r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); one station per SQLite ledger"):
        second.hold("station-b")
    with pytest.raises(LedgerBusy, match="station-a"):
        refuse_if_held(path)
    first.close()
    refuse_if_held(path)
    second.hold("station-b")  # free once the first one closed
    with pytest.raises(LedgerBusy, match="in use by station station-b"):
        Ledger(path).hold("station-a")
    second.close()


def test_the_lock_goes_with_a_killed_holder(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom linegate.station.ledger.journal import Ledger\n"
         f"Ledger({str(path)!r}).hold('doomed')\nprint('held', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LedgerBusy, match=f"in use by station doomed \\(pid {holder.pid} "):
            Ledger(path).hold("next")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    ledger = Ledger(path)
    ledger.hold("next")  # the kernel dropped the lock with the process
    ledger.close()


def test_demo_on_a_state_dir_in_use_exits_2_before_any_unit(tmp_path):
    state = tmp_path / "state"
    held = Ledger(state / "ledger.db")
    held.hold("line-3")
    try:
        done = linegate("demo", "--units", "2", "--state-dir", str(state), "--out", "out", cwd=tmp_path)
        assert done.returncode == 2
        line = one_line(done.stderr)
        assert line.startswith(f"linegate: error: {state / 'ledger.db'}: in use by station line-3 "
                               f"(pid {os.getpid()} on {socket.gethostname()} since "), line
        _no_unit_ran(done.stdout)
        assert not list(state.glob("dut-*.json")), "no DUT was touched"
        # status reads without the lock; recover and audit need the station stopped
        assert linegate("ledger", "status", "--ledger", str(state / "ledger.db"), cwd=tmp_path).returncode == 0
        for cmd in ("recover", "audit"):
            done = linegate("ledger", cmd, "--ledger", str(state / "ledger.db"), cwd=tmp_path)
            assert done.returncode == 2 and "in use by station line-3" in one_line(done.stderr)
    finally:
        held.close()


@needs_pg
def test_many_stations_share_a_postgresql_ledger_each_name_once(monkeypatch):
    monkeypatch.setenv(ENV, "ab" * 32)
    name = f"line-{uuid.uuid4().hex[:6]}"  # advisory locks span the database: a name no other test uses
    with pg_schema() as url:
        a, b, c = Ledger(url), Ledger(url), Ledger(url)
        try:
            a.hold(name)
            b.hold(f"{name}-other")  # another station on the same ledger: fine
            with pytest.raises(LedgerBusy, match=rf"station name {name} is in use by station {name} "
                                                 rf"\(pid {os.getpid()} on .* since .*\); each station name runs once"):
                c.hold(name)
            a.close()
            c.hold(name)  # released with the first one
        finally:
            for ledger in (a, b, c):
                ledger.close()


# -- the key belongs to the ledger -----------------------------------------------------------------------------

def test_the_ledger_stores_a_fingerprint_of_its_key_never_the_key(tmp_path):
    _sealed_ledger(tmp_path / "ledger.db")
    key = bytes.fromhex((tmp_path / "ledger.key").read_text().strip())
    db = sqlite3.connect(tmp_path / "ledger.db")
    stored = db.execute("SELECT value FROM meta WHERE key = 'key_fingerprint'").fetchone()[0]
    db.close()
    assert stored.strip('"') == fingerprint(key)
    raw = (tmp_path / "ledger.db").read_bytes()
    assert key not in raw and key.hex().encode() not in raw


def test_a_key_that_is_not_the_ledgers_is_refused_naming_where_it_came_from(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    _sealed_ledger(path)
    monkeypatch.setenv(ENV, "22" * 32)
    with pytest.raises(LedgerKeyError, match=f"{path}: the key from {ENV} is not this ledger's key"):
        Ledger(path)
    monkeypatch.delenv(ENV)
    (tmp_path / "ledger.key").write_text("33" * 32 + "\n")
    with pytest.raises(LedgerKeyError, match=f"{path}: the key from {tmp_path / 'ledger.key'} is not this ledger's"):
        Ledger(path)


def test_no_fresh_key_beside_a_ledger_that_has_one(tmp_path):
    path = tmp_path / "ledger.db"
    _sealed_ledger(path)
    (tmp_path / "ledger.key").unlink()
    with pytest.raises(LedgerKeyError, match=f"its key {tmp_path / 'ledger.key'} is missing and the ledger holds"):
        Ledger(path)
    assert not (tmp_path / "ledger.key").exists()
    # A ledger with a fingerprint and no secrets yet: still its own key, still no fresh one.
    empty = tmp_path / "other" / "ledger.db"
    Ledger(empty).close()
    (empty.parent / "ledger.key").unlink()
    with pytest.raises(LedgerKeyError, match="is missing"):
        Ledger(empty)
    assert not (empty.parent / "ledger.key").exists()


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_ledger_beside_its_key_is_refused_not_started_over(tmp_path, how):
    path = tmp_path / "ledger.db"
    _sealed_ledger(path)
    if how == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(LedgerKeyError, match=f"{path}: the ledger is missing or empty but its key "
                                             f"{tmp_path / 'ledger.key'} exists: restore the ledger or move the key"):
        Ledger(path)
    assert not path.exists() or path.stat().st_size == 0, "nothing was started over"


def test_a_ledger_from_before_fingerprints_is_checked_by_opening_a_secret(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    _sealed_ledger(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'key_fingerprint'")
    db.commit()
    db.close()
    monkeypatch.setenv(ENV, "44" * 32)
    with pytest.raises(LedgerKeyError, match=f"the key from {ENV} does not open the ledger's sealed secrets"):
        Ledger(path)
    monkeypatch.delenv(ENV)
    ledger = Ledger(path)  # its own key: accepted, and its fingerprint stored from now on
    assert ledger.get_meta("key_fingerprint")
    ledger.close()


@needs_pg
def test_a_postgresql_ledger_takes_its_key_from_the_environment_only(tmp_path, monkeypatch):
    with pg_schema() as url:
        with pytest.raises(LedgerKeyError, match=f"takes its key from {ENV} only"):
            Ledger(url)
        assert not (tmp_path / "ledger.key").exists() and not Path("ledger.key").exists()
        monkeypatch.setenv(ENV, "55" * 32)
        Ledger(url).close()
        monkeypatch.setenv(ENV, "66" * 32)  # another station with another key
        with pytest.raises(LedgerKeyError, match=f"the key from {ENV} is not this ledger's key"):
            Ledger(url)


def test_demo_without_its_key_exits_2_before_any_unit(tmp_path):
    """The issue's reproduction: demo, rm the key, demo again."""
    state = tmp_path / "D"
    first = linegate("demo", "--units", "4", "--state-dir", str(state), "--out", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (state / "ledger.key").unlink()
    again = linegate("demo", "--units", "10", "--state-dir", str(state), "--out", "out", cwd=tmp_path)
    assert again.returncode == 2
    assert one_line(again.stderr) == (
        f"linegate: error: {state / 'ledger.db'}: its key {state / 'ledger.key'} is missing and the ledger holds "
        f"sealed secrets or a key fingerprint: restore the key file or set {ENV} (a new key would not open them)")
    _no_unit_ran(again.stdout)
    assert not (state / "ledger.key").exists()


# -- a damaged file is found at open ---------------------------------------------------------------------------

def _damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 2)
        return
    page = 4096
    with path.open("r+b") as f:  # the b-tree page header of a page in the middle of the file
        f.seek((size // page // 2) * page)
        f.write(b"\xff" * 16)


@pytest.mark.parametrize("how", ["page", "truncated"])
def test_a_damaged_ledger_is_refused_at_open(tmp_path, how):
    path = tmp_path / "ledger.db"
    _sealed_ledger(path, 200)
    assert path.stat().st_size > 20 * 4096 and not (tmp_path / "ledger.db-wal").exists()
    _damage(path, how)
    with pytest.raises(LedgerCorrupt, match=f"{path}: the ledger file is damaged: .+; restore it from a backup"):
        Ledger(path)
    done = linegate("ledger", "status", "--ledger", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"linegate: error: {path}: the ledger file is damaged: ")


def test_the_default_demo_state_is_not_wiped_while_a_station_holds_it(tmp_path):
    from linegate.station.cloud_setup import fresh_demo_state

    state = tmp_path / "demo"
    ledger = Ledger(state / "ledger.db")
    ledger.hold("sim-station-1")
    try:
        with pytest.raises(LedgerBusy, match="in use by station sim-station-1"):
            fresh_demo_state(state)
        assert (state / "ledger.db").is_file()
    finally:
        ledger.close()
    fresh_demo_state(state)
    assert not (state / "ledger.db").exists()
