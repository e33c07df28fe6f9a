"""Who may use a ledger: one station per SQLite file, each station name once on a PostgreSQL ledger.

SQLite: an exclusive ``flock`` on a file beside the ledger, held for the whole run; the file names the
holder (station, pid, host, since) so the station turned away can say who has it. The kernel drops
the lock when the holder dies, even by SIGKILL. PostgreSQL: a session advisory lock keyed on the
station name, on a connection kept open for the run; the holder is written into the ``meta`` table.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linegate.station.ledger.errors import LedgerBusy, LedgerError
from sqlalchemy import Connection, Engine, text


def holder_info(station: str) -> dict[str, Any]:
    return {"station": station, "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def describe(holder: Any) -> str:
    if not isinstance(holder, dict) or "pid" not in holder:
        return "another process (it has not said who it is)"
    return (f"station {holder.get('station', '?')} (pid {holder['pid']} on {holder.get('host', '?')} "
            f"since {holder.get('since', '?')})")


def hold_file(path: Path, station: str, shown: str) -> int:
    """The open, locked lock file (its descriptor); LedgerBusy naming the holder when another has it."""
    fd = _locked(path, shown)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_info(station)).encode(), 0)
    except OSError as e:  # a full disk: the fault names the file, and the lock is not kept
        os.close(fd)
        raise OSError(e.errno, e.strerror, str(path)) from e
    return fd


def release_file(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # no stale holder for the next station to misreport
    finally:
        os.close(fd)  # closing drops the flock


def lock_path(ledger_path: Path) -> Path:
    return ledger_path.with_suffix(".lock")


def refuse_if_held(ledger_path: Path) -> None:
    """LedgerBusy when a station holds the SQLite ledger at ``ledger_path`` (check before wiping its folder)."""
    path = lock_path(ledger_path)
    if path.exists():
        os.close(_locked(path, str(ledger_path)))


def _locked(path: Path, shown: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise LedgerError(f"{shown}: cannot open the lock file {path}: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0) or b"null")
        except ValueError:
            holder = None
        finally:
            os.close(fd)
        raise LedgerBusy(f"{shown}: in use by {describe(holder)}; one station per SQLite ledger (stop it, "
                         "or give this station its own state dir)") from None
    return fd


def advisory_key(station: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``, the same on every station for one name."""
    return int.from_bytes(hashlib.sha256(f"linegate station {station}".encode()).digest()[:8], "big", signed=True)


def hold_advisory(engine: Engine, station: str) -> Connection | None:
    """A connection holding the station's advisory lock, or None when another session holds it."""
    conn = engine.connect()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(station)}).scalar()
        conn.commit()  # a session lock outlives the transaction; do not sit idle in one
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        return None
    return conn


def release_advisory(conn: Connection, station: str) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(station)})
        conn.commit()
    finally:
        conn.close()
