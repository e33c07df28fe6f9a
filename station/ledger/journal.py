"""The ledger: the station's durable journal of identities and units.

Every transition is committed before the side effect it announces (before a
DUT write, before each cloud call), so after a kill the journal says what
may have happened and recovery can find out what did. The crash hook
(``LINEGATE_CRASH_AT=state[:n]``) kills the process right after the n-th
commit into that state; the crash harness uses it to stop at every
transition in turn.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linegate.station.ledger.crypto import SecretBox, load_key
from linegate.station.ledger.schema import (
    ASSIGNED,
    FLASHED,
    ON_UNIT,
    RESERVED,
    STATES,
    identities,
    meta,
    metadata,
    requests,
    units,
)
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

CRASH_ENV = "LINEGATE_CRASH_AT"


class LedgerError(Exception):
    """The ledger cannot be opened or refused a transition. Names the ledger and the identity."""


@dataclass(frozen=True)
class Identity:
    id: int
    service: str
    identity: str
    state: str
    unit_mac: str | None
    unit_serial: str | None
    payload: dict[str, Any]
    sealed: bytes | None = field(repr=False)
    reason: str
    queued: bool
    attempts: int
    commit_summary: dict[str, Any] | None
    record_path: str | None

    @classmethod
    def of(cls, row: Any) -> Identity:
        m = row._mapping
        return cls(m["id"], m["service"], m["identity"], m["state"], m["unit_mac"], m["unit_serial"],
                   dict(m["payload"] or {}), m["secret"], m["reason"], bool(m["queued"]), m["attempts"],
                   m["commit_summary"], m["record_path"])


def _crash_hook_from_env() -> Callable[[str], None] | None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return None
    state, _, nth = spec.partition(":")
    remaining = [int(nth or 1)]

    def hook(reached: str) -> None:
        if reached == state:
            remaining[0] -= 1
            if remaining[0] <= 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


def ledger_url(path_or_url: str | Path) -> str:
    text = str(path_or_url)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


class Ledger:
    def __init__(self, url: str | Path, *, key_file: Path | None = None,
                 crash_hook: Callable[[str], None] | None = None) -> None:
        self.url = ledger_url(url)
        parsed = make_url(self.url)
        self.shown = parsed.render_as_string(hide_password=True)
        self._sqlite_path = Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database \
            else None
        if self._sqlite_path is not None:
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            if not self._sqlite_path.exists():
                os.close(os.open(self._sqlite_path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(self._sqlite_path, 0o600)
        default_key = (self._sqlite_path.with_suffix(".key") if self._sqlite_path else Path("ledger.key"))
        self._box = SecretBox(load_key(key_file or default_key))
        self._crash = crash_hook or _crash_hook_from_env()
        try:
            self.engine = self._engine()
            metadata.create_all(self.engine)
        except SQLAlchemyError as e:
            raise LedgerError(f"{self.shown}: cannot open the ledger: {type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]}") from e

    def _engine(self) -> Engine:
        if self._sqlite_path is not None:
            engine = create_engine(self.url, connect_args={"timeout": 30, "isolation_level": None})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")  # a committed transition survives power loss
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, no upgrade deadlocks

            return engine
        return create_engine(self.url, pool_pre_ping=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _reached(self, state: str) -> None:
        if self._crash is not None:
            self._crash(state)

    # -- secrets ---------------------------------------------------------
    def seal(self, service: str, identity: str, secret: bytes) -> bytes:
        return self._box.seal(secret, f"{service}/{identity}")

    def secret(self, ident: Identity) -> bytes | None:
        if ident.sealed is None:
            return None
        return self._box.open(ident.sealed, f"{ident.service}/{ident.identity}")

    # -- reserve calls and the pool ------------------------------------------
    def open_request(self, service: str, count: int) -> int:
        """Journal a reserve call before it is made: if its answer is lost, the audit knows why."""
        with self._tx() as conn:
            rid = conn.execute(insert(requests).values(service=service, count=count, state="open",
                                                       reason="", created_at=time.time())).inserted_primary_key[0]
        return int(rid)

    def add_reserved(self, service: str, request_id: int,
                     items: list[tuple[str, dict[str, Any], bytes | None]]) -> None:
        now = time.time()
        rows = [dict(service=service, identity=ident, state=RESERVED, payload=payload,
                     secret=None if secret is None else self.seal(service, ident, secret), reason="",
                     queued=False, attempts=0, request_id=request_id, created_at=now, updated_at=now)
                for ident, payload, secret in items]
        with self._tx() as conn:
            if rows:
                conn.execute(insert(identities), rows)
            conn.execute(update(requests).where(requests.c.id == request_id).values(state="done"))
        self._reached(RESERVED)

    def close_request(self, request_id: int, reason: str) -> None:
        with self._tx() as conn:
            conn.execute(update(requests).where(requests.c.id == request_id).values(state="lost", reason=reason))

    def pool_size(self, service: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(identities).where(
                identities.c.service == service, identities.c.state.in_((RESERVED, "released")))).scalar_one()

    def backlog(self, service: str) -> int:
        """Commits waiting for the service (flashed, queued)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(identities).where(
                identities.c.service == service, identities.c.state == FLASHED,
                identities.c.queued.is_(True))).scalar_one()

    def take(self, service: str, mac: str, serial: str | None) -> Identity | None:
        """The oldest pooled identity, now assigned to this unit; None when the pool is empty."""
        with self._tx() as conn:
            query = (select(identities).where(identities.c.service == service,
                                              identities.c.state.in_((RESERVED, "released")))
                     .order_by(identities.c.id).limit(1))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # two stations never take the same one
            row = conn.execute(query).first()
            if row is None:
                return None
            try:
                conn.execute(update(identities).where(identities.c.id == row.id).values(
                    state=ASSIGNED, unit_mac=mac, unit_serial=serial, reason="", updated_at=time.time()))
            except IntegrityError as e:
                raise LedgerError(f"{self.shown}: unit {mac} already holds a {service} identity") from e
            ident = Identity.of(conn.execute(select(identities).where(identities.c.id == row.id)).one())
        self._reached(ASSIGNED)
        return ident

    def insert_on_unit(self, service: str, identity: str, state: str, mac: str, serial: str | None,
                       payload: dict[str, Any]) -> Identity:
        """For commit-then-flash services: the identity is born on the unit (journaled before the call)."""
        now = time.time()
        with self._tx() as conn:
            try:
                rid = conn.execute(insert(identities).values(
                    service=service, identity=identity, state=state, unit_mac=mac, unit_serial=serial,
                    payload=payload, reason="", queued=False, attempts=0, created_at=now,
                    updated_at=now)).inserted_primary_key[0]
            except IntegrityError as e:
                raise LedgerError(f"{self.shown}: {service} {identity} or unit {mac} is already in the ledger") from e
            ident = Identity.of(conn.execute(select(identities).where(identities.c.id == rid)).one())
        self._reached(state)
        return ident

    # -- transitions -----------------------------------------------------
    def move(self, ident: Identity, to: str, *, expect: tuple[str, ...] | None = None, secret: bytes | None = None,
             **values: Any) -> Identity:
        """Commit ``ident`` into state ``to`` (from one of ``expect``, default its current state)."""
        if to not in STATES:
            raise ValueError(to)
        allowed = expect or (ident.state,)
        if secret is not None:
            values["secret"] = self.seal(ident.service, ident.identity, secret)
        if to in (RESERVED, "released"):
            values.setdefault("unit_mac", None)
            values.setdefault("unit_serial", None)
            values.setdefault("queued", False)
        with self._tx() as conn:
            done = conn.execute(update(identities).where(identities.c.id == ident.id,
                                                         identities.c.state.in_(allowed))
                                .values(state=to, updated_at=time.time(), **values))
            if done.rowcount != 1:
                now = conn.execute(select(identities.c.state).where(identities.c.id == ident.id)).scalar()
                raise LedgerError(f"{self.shown}: {ident.service} {ident.identity}: cannot go to {to} from {now}")
            fresh = Identity.of(conn.execute(select(identities).where(identities.c.id == ident.id)).one())
        self._reached(to)
        return fresh

    def update_fields(self, ident: Identity, **values: Any) -> Identity:
        with self._tx() as conn:
            conn.execute(update(identities).where(identities.c.id == ident.id).values(updated_at=time.time(),
                                                                                      **values))
            return Identity.of(conn.execute(select(identities).where(identities.c.id == ident.id)).one())

    # -- lookups ---------------------------------------------------------
    def on_unit(self, service: str, mac: str) -> Identity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(identities).where(identities.c.service == service,
                                                        identities.c.unit_mac == mac,
                                                        identities.c.state.in_(ON_UNIT))).first()
        return None if row is None else Identity.of(row)

    def find(self, service: str, identity: str) -> Identity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(identities).where(identities.c.service == service,
                                                        identities.c.identity == identity)).first()
        return None if row is None else Identity.of(row)

    def in_states(self, *states: str, service: str | None = None, queued: bool | None = None) -> list[Identity]:
        query = select(identities).where(identities.c.state.in_(states)).order_by(identities.c.id)
        if service is not None:
            query = query.where(identities.c.service == service)
        if queued is not None:
            query = query.where(identities.c.queued == queued)
        with self.engine.connect() as conn:
            return [Identity.of(r) for r in conn.execute(query)]

    def all(self) -> list[Identity]:
        with self.engine.connect() as conn:
            return [Identity.of(r) for r in conn.execute(select(identities).order_by(identities.c.id))]

    def reserve_calls(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(requests).order_by(requests.c.id))]

    # -- what the ledger was run with (for recover/audit from the command line) --
    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            if conn.execute(select(meta.c.key).where(meta.c.key == key)).first() is None:
                conn.execute(insert(meta).values(key=key, value=value))
            else:
                conn.execute(update(meta).where(meta.c.key == key).values(value=value))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
        return default if row is None else row[0]

    # -- units -----------------------------------------------------------
    def unit_finished(self, mac: str, outcome: str, record_id: str, serial: str | None = None, *,
                      ident: Identity | None = None, record_path: str | None = None) -> Identity | None:
        """One transaction per unit: its outcome, and where the record of its identity ``ident`` is.

        ``mac`` is the unit's key: its MAC, or ``sn:<serial>`` for a unit whose MAC could not be read.
        Returns ``ident`` as it is now (a background commit may have landed meanwhile).
        """
        now = time.time()
        with self._tx() as conn:
            if conn.execute(select(units.c.mac).where(units.c.mac == mac)).first() is None:
                conn.execute(insert(units).values(mac=mac, serial=serial, tests=1, outcome=outcome,
                                                  record_id=record_id, updated_at=now))
            else:
                conn.execute(update(units).where(units.c.mac == mac).values(
                    outcome=outcome, record_id=record_id, tests=units.c.tests + 1, updated_at=now))
            if ident is None:
                return None
            conn.execute(update(identities).where(identities.c.id == ident.id).values(record_path=record_path,
                                                                                       updated_at=now))
            return Identity.of(conn.execute(select(identities).where(identities.c.id == ident.id)).one())

    def finished_units(self) -> dict[str, str]:
        """mac -> outcome of every unit that has a final record."""
        with self.engine.connect() as conn:
            return {r.mac: r.outcome for r in conn.execute(select(units).where(units.c.outcome.is_not(None)))}

    def all_units(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(units))]

