"""The ledger: transitions, the constraints that make duplicates impossible, secrets sealed at rest."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from linegate.station.ledger.crypto import ENV, LedgerKeyError
from linegate.station.ledger.journal import IllegalMove, Ledger, LedgerError
from linegate.station.ledger.schema import ASSIGNED, COMMITTED, COMMITTING, FLASHED, RELEASED, RESERVED
from linegate.station.ledger.states import ON_UNIT, STATES, TRANSITIONS, IdentityState
from pgkit import pg_schema, postgres_up

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
    with pytest.raises(LedgerKeyError, match=f"the key from {ENV} is not this ledger's key"):
        Ledger(path)
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


@pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL on 127.0.0.1:5432 (or no psycopg)")
def test_postgresql_by_url(tmp_path):
    with pg_schema() as url:
        ledger = Ledger(url, key_file=tmp_path / "k")
        _fill(ledger, 3)
        a = ledger.take("ayla", "aa:01", None)
        assert ledger.take("ayla", "aa:02", None).identity != a.identity
        with pytest.raises(LedgerError):
            ledger.take("ayla", "aa:01", None)
        assert ledger.secret(a) == PRIVATE
        ledger.close()


# Every move the code makes, (from, to), with where it makes it. The table allows these and nothing else.
CODE_MOVES = {
    (RESERVED, ASSIGNED): "Ledger.take; gate._released_from_this_unit (back on the unit that held it)",
    ("released", ASSIGNED): "Ledger.take; gate._released_from_this_unit",
    ("released", COMMITTING): "gate._commit_then_flash: a deviceKey not registered before",
    (ASSIGNED, FLASHED): "gate._flash_then_commit; recovery._assigned (the DUT holds it)",
    (ASSIGNED, RELEASED): "gate._take_back, gate.unit_failed; recovery._assigned",
    (ASSIGNED, "quarantined"): "gate._take_back, gate.unit_failed (erase not confirmed)",
    (FLASHED, FLASHED): "gate._flash_then_commit (commit queued); recover (queued by recovery)",
    (FLASHED, COMMITTING): "Gate.commit (gate, drain, recovery)",
    (FLASHED, RELEASED): "gate._take_back, gate.unit_failed (a held identity on a failing unit)",
    (FLASHED, "quarantined"): "gate._take_back, gate.unit_failed",
    (COMMITTING, COMMITTED): "Gate.commit; Gate.register (EnOS MQTT)",
    (COMMITTING, FLASHED): "Gate.commit: the service is away, queued",
    (COMMITTING, "needs_attention"): "Gate.commit; gate._commit_then_flash; recovery._registering",
    (COMMITTING, RELEASED): "gate._commit_then_flash: not registered",
}
PAIRS = [(a, b) for a in STATES for b in STATES]


def _ids(legal: bool) -> list[str]:
    return [f"{a}->{b}" for a, b in PAIRS if ((a, b) in CODE_MOVES) == legal]


def test_the_table_is_the_moves_the_code_makes():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == set(CODE_MOVES)


def _in_state(ledger: Ledger, state: str, identity: str = "AC000"):
    """An identity put straight into ``state`` (with a unit where the state belongs to one)."""
    ident = ledger.find("ayla", identity)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE identities SET state = ?, unit_mac = ? WHERE id = ?",
                             (state, "aa:01" if state in ON_UNIT else None, ident.id))
    return ledger.find("ayla", identity)


@pytest.mark.parametrize(("source", "target"), [p for p in PAIRS if p in CODE_MOVES], ids=_ids(True))
def test_every_move_the_code_makes_is_allowed(tmp_path, source, target):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 1)
    ident = _in_state(ledger, source)
    unit = {"unit_mac": "aa:01"} if target in ON_UNIT and ident.unit_mac is None else {}
    moved = ledger.move(ident, target, **unit)
    assert moved.state is IdentityState(target)
    if target in ON_UNIT:
        assert moved.unit_mac == "aa:01"
    if target in (RESERVED, RELEASED):
        assert moved.unit_mac is None  # back in the pool, no longer on a unit


@pytest.mark.parametrize(("source", "target"), [p for p in PAIRS if p not in CODE_MOVES], ids=_ids(False))
def test_every_other_move_is_refused_naming_identity_from_and_to(tmp_path, source, target):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 1)
    ident = _in_state(ledger, source)
    with pytest.raises(IllegalMove, match=f"ayla AC000: cannot go to {target} from {source}: not a move"):
        ledger.move(ident, target, unit_mac="aa:01")
    with pytest.raises(IllegalMove):  # naming the state it is in as a possible source changes nothing
        ledger.move(ident, target, expect=(source, FLASHED), unit_mac="aa:01")
    assert ledger.find("ayla", "AC000").state == source


def test_a_reserved_identity_cannot_be_committed(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 1)
    ident = ledger.find("ayla", "AC000")
    with pytest.raises(LedgerError, match="ayla AC000: cannot go to committed from reserved"):
        ledger.move(ident, COMMITTED)
    assert ledger.find("ayla", "AC000").state == RESERVED


def test_a_state_that_belongs_to_a_unit_needs_one(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 2)
    released = _in_state(ledger, RELEASED)
    with pytest.raises(IllegalMove, match="ayla AC000: cannot go to committing from released: no unit holds it"):
        ledger.move(released, COMMITTING)
    with pytest.raises(IllegalMove, match="cannot go to assigned without a unit"):
        ledger.move(released, ASSIGNED, unit_mac=None)
    assert ledger.find("ayla", "AC000").state == RELEASED
    with pytest.raises(IllegalMove, match="no unit was named"):
        ledger.take("ayla", "", None)
    with pytest.raises(IllegalMove, match="cannot start as reserved"):
        ledger.insert_on_unit("enos-mqtt", "lg01", RESERVED, "aa:02", None, {})
    with pytest.raises(IllegalMove, match="cannot start as committing on unit none"):
        ledger.insert_on_unit("enos-mqtt", "lg01", COMMITTING, "", None, {})
    with pytest.raises(IllegalMove, match="by move"):
        ledger.update_fields(released, state=COMMITTED)
    assert ledger.find("ayla", "AC000").state == RELEASED


def test_states_are_an_enum_stored_as_the_same_strings(tmp_path):
    assert ASSIGNED is IdentityState.ASSIGNED and ASSIGNED == "assigned" and f"{ASSIGNED}" == "assigned"
    ledger = Ledger(tmp_path / "ledger.db")
    _fill(ledger, 1)
    ident = ledger.take("ayla", "aa:01", None)
    assert ident.state is IdentityState.ASSIGNED and ident.state == "assigned"
    ledger.close()
    db = sqlite3.connect(tmp_path / "ledger.db")
    assert db.execute("SELECT state FROM identities").fetchall() == [("assigned",)]
    db.close()
