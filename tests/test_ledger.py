"""The ledger: transitions, the constraints that make duplicates impossible, secrets sealed at rest."""

from __future__ import annotations

import os
import socket
import stat
import uuid

import pytest
from linegate.station.ledger.crypto import ENV, LedgerKeyError
from linegate.station.ledger.journal import Ledger, LedgerError
from linegate.station.ledger.schema import ASSIGNED, COMMITTED, COMMITTING, FLASHED, RELEASED

PRIVATE = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecretsecret\n-----END RSA PRIVATE KEY-----\n"


def _fill(ledger: Ledger, n: int = 3, service: str = "ayla") -> None:
    rid = ledger.open_request(service, n)
    ledger.add_reserved(service, rid, [(f"AC{i:03d}", {"public_key": "pk"}, PRIVATE) for i in range(n)])


def test_lifecycle_and_pool_order(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger)
    assert ledger.pool_size("ayla") == 3
    ident = ledger.take("ayla", "aa:01", "SN1")
    assert (ident.identity, ident.state, ident.unit_mac) == ("AC000", ASSIGNED, "aa:01")
    for state in (FLASHED, COMMITTING, COMMITTED):
        ident = ledger.move(ident, state)
    assert ledger.on_unit("ayla", "aa:01").state == COMMITTED
    with pytest.raises(LedgerError, match="cannot go to released from committed"):
        ledger.move(ident, RELEASED, expect=(ASSIGNED, FLASHED))
    other = ledger.take("ayla", "aa:02", "SN2")
    ledger.move(other, RELEASED)
    assert ledger.pool_size("ayla") == 2
    assert ledger.take("ayla", "aa:03", None).identity == "AC001"  # oldest first; released ones come back later


def test_one_identity_per_unit_and_one_unit_per_identity(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger)
    ledger.take("ayla", "aa:01", None)
    with pytest.raises(LedgerError, match="already holds"):
        ledger.take("ayla", "aa:01", None)
    with pytest.raises(LedgerError):
        ledger.insert_on_unit("ayla", "AC000", COMMITTING, "bb:02", None, {})  # AC000 is someone's already
    ledger.insert_on_unit("enos-mqtt", "lgaa01", COMMITTING, "aa:01", None, {})  # another service: fine


def test_secrets_are_sealed_and_files_private(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "ledger.db"
    ledger = Ledger(path)
    _fill(ledger, 1)
    ident = ledger.take("ayla", "aa:01", None)
    assert ledger.secret(ident) == PRIVATE
    ledger.close()
    for f in (path, tmp_path / "ledger.key"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"MIIEsecret" not in raw and b"PRIVATE KEY" not in raw
    monkeypatch.setenv(ENV, "11" * 32)
    with pytest.raises(LedgerKeyError, match="does not open"):
        Ledger(path).secret(ident)
    monkeypatch.setenv(ENV, "not a key")
    with pytest.raises(LedgerKeyError, match="64 hex digits or base64"):
        Ledger(path)


def test_a_sealed_secret_cannot_move_to_another_identity(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 2)
    a = ledger.take("ayla", "aa:01", None)
    b = ledger.take("ayla", "aa:02", None)
    forged = ledger.update_fields(b, secret=a.sealed)
    with pytest.raises(LedgerKeyError):
        ledger.secret(forged)


def test_crash_hook_fires_after_the_commit(tmp_path):
    reached = []
    ledger = Ledger(tmp_path / "ledger.db", crash_hook=reached.append)
    _fill(ledger, 1)
    ident = ledger.take("ayla", "aa:01", None)
    ledger.move(ident, FLASHED)
    assert reached == ["reserved", "assigned", "flashed"]
    assert ledger.find("ayla", "AC000").state == FLASHED  # committed before the hook ran


def _postgres_up() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _postgres_up(), reason="no PostgreSQL on 127.0.0.1:5432 (or no psycopg)")
def test_postgresql_by_url(tmp_path):
    import sqlalchemy

    schema = f"lg_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
        ledger = Ledger(url, key_file=tmp_path / "k")
        _fill(ledger, 3)
        a = ledger.take("ayla", "aa:01", None)
        assert ledger.take("ayla", "aa:02", None).identity != a.identity
        with pytest.raises(LedgerError):
            ledger.take("ayla", "aa:01", None)
        assert ledger.secret(a) == PRIVATE
        ledger.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
