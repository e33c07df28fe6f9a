"""The ledger and its key belong together.

The ledger stores the key's fingerprint (an HMAC of a fixed label, never the key). A key that does
not match is refused before anything runs; a fresh key is never made beside a ledger that already
holds sealed secrets or a fingerprint; a PostgreSQL ledger takes its key from the environment only,
so every station sharing it uses the same one.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from linegate.station.ledger.crypto import (
    ENV,
    LedgerKeyError,
    SecretBox,
    create_key,
    fingerprint,
    key_from_env,
    read_key,
)
from linegate.station.ledger.schema import identities, meta
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

FINGERPRINT = "key_fingerprint"


def ledger_is_gone(path: Path) -> bool:
    """A SQLite ledger that is missing or emptied (a live one is never shorter than its first page)."""
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def refuse_orphan_key(path: Path, key_file: Path, shown: str) -> None:
    """A key file whose ledger is gone: the ledger was lost, starting over would hide it."""
    if key_file.exists() and ledger_is_gone(path):
        raise LedgerKeyError(f"{shown}: the ledger is missing or empty but its key {key_file} exists: restore "
                             "the ledger or move the key away")


def open_key(engine: Engine, shown: str, key_file: Path | None) -> bytes:
    """This ledger's key, checked against its fingerprint (stored on first use)."""
    env = key_from_env()
    if env is not None:
        key, where = env, ENV
    elif key_file is None:
        raise LedgerKeyError(f"{shown}: a shared (PostgreSQL) ledger takes its key from {ENV} only, the same "
                             "key on every station; set it")
    elif key_file.exists():
        key, where = read_key(key_file), str(key_file)
    else:
        if _stored(engine) is not None or _one_sealed(engine) is not None:
            raise LedgerKeyError(f"{shown}: its key {key_file} is missing and the ledger holds sealed secrets or "
                                 f"a key fingerprint: restore the key file or set {ENV} (a new key would not "
                                 "open them)")
        key, where = create_key(key_file), str(key_file)
    _check(engine, shown, key, where)
    return key


def _check(engine: Engine, shown: str, key: bytes, where: str) -> None:
    mine = fingerprint(key)
    stored = _stored(engine)
    if stored is None:
        sealed = _one_sealed(engine)
        if sealed is not None:  # a ledger from before fingerprints: the key must open what it sealed
            service, identity, secret = sealed
            try:
                SecretBox(key).open(secret, f"{service}/{identity}")
            except LedgerKeyError:
                raise LedgerKeyError(f"{shown}: the key from {where} does not open the ledger's sealed secrets: "
                                     "use the key the ledger was made with") from None
        try:
            with engine.begin() as conn:
                conn.execute(insert(meta).values(key=FINGERPRINT, value=mine))
            return
        except IntegrityError:  # another station stored it first: compare with theirs
            stored = _stored(engine)
    if stored is None or not hmac.compare_digest(str(stored), mine):
        raise LedgerKeyError(f"{shown}: the key from {where} is not this ledger's key (its fingerprint differs): "
                             "use the key the ledger was made with")


def _stored(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(meta.c.value).where(meta.c.key == FINGERPRINT)).scalar()


def _one_sealed(engine: Engine) -> tuple[str, str, bytes] | None:
    with engine.connect() as conn:
        row = conn.execute(select(identities.c.service, identities.c.identity, identities.c.secret)
                           .where(identities.c.secret.is_not(None)).limit(1)).first()
    return None if row is None else (row.service, row.identity, row.secret)
