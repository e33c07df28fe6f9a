"""The ledger: the station's durable journal of identities and units.

Every transition is committed before the side effect it announces (before a
DUT write, before each cloud call), so after a kill the journal says what
may have happened and recovery can find out what did. The crash hook
(``LINEGATE_CRASH_AT=state[:n]``) kills the process right after the n-th
commit into that state; the crash harness uses it to stop at every
transition in turn. ``LINEGATE_CRASH_IN=supervisor|worker`` limits it to the
station's supervisor (the process with no ``multiprocessing`` parent) or to
its socket workers (unset: any process), each process counting its own
commits; ``LINEGATE_CRASH_KILL=group`` kills the process's whole process
group instead of the process alone (unset or ``process``: the process).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linegate.station.ledger.errors import IllegalMove, LedgerBusy, LedgerCorrupt, LedgerError
from linegate.station.ledger.schema import identities, requests, units
from linegate.station.ledger.states import (
    ASSIGNED,
    BORN,
    FLASHED,
    ON_UNIT,
    POOLED,
    RESERVED,
    TRANSITIONS,
    IdentityState,
)
from linegate.station.ledger.store import LedgerStore, ledger_url
from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.exc import IntegrityError

CRASH_ENV = "LINEGATE_CRASH_AT"
CRASH_IN_ENV = "LINEGATE_CRASH_IN"
CRASH_KILL_ENV = "LINEGATE_CRASH_KILL"
_POOLED = tuple(s.value for s in POOLED)

__all__ = ["Identity", "IllegalMove", "Ledger", "LedgerBusy", "LedgerCorrupt", "LedgerError", "ledger_url"]


@dataclass(frozen=True)
class Identity:
    id: int
    service: str
    identity: str
    state: IdentityState
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
        return cls(m["id"], m["service"], m["identity"], IdentityState(m["state"]), m["unit_mac"], m["unit_serial"],
                   dict(m["payload"] or {}), m["secret"], m["reason"], bool(m["queued"]), m["attempts"],
                   m["commit_summary"], m["record_path"])


def _crash_hook_from_env() -> Callable[[str], None] | None:
    """The hook ``LINEGATE_CRASH_AT`` / ``LINEGATE_CRASH_IN`` / ``LINEGATE_CRASH_KILL`` ask for (see the module's
    docstring); ``None`` when unset or when this process is not the one ``LINEGATE_CRASH_IN`` names."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return None
    where = os.environ.get(CRASH_IN_ENV, "")
    kill = os.environ.get(CRASH_KILL_ENV, "process")
    if where not in ("", "supervisor", "worker"):
        raise ValueError(f"{CRASH_IN_ENV}={where!r}: expected supervisor or worker (unset: any process)")
    if kill not in ("process", "group"):
        raise ValueError(f"{CRASH_KILL_ENV}={kill!r}: expected process or group")
    in_worker = multiprocessing.parent_process() is not None
    if (where == "supervisor" and in_worker) or (where == "worker" and not in_worker):
        return None
    state, _, nth = spec.partition(":")
    remaining = [int(nth or 1)]

    def hook(reached: str) -> None:
        if reached == state:
            remaining[0] -= 1
            if remaining[0] <= 0:
                if kill == "group":
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT of one row gave it."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class Ledger(LedgerStore):
    """The journal of identities and units; every transition is one committed transaction."""

    def __init__(self, url: str | Path, *, key_file: Path | None = None,
                 crash_hook: Callable[[str], None] | None = None) -> None:
        super().__init__(url, key_file=key_file, crash_hook=crash_hook or _crash_hook_from_env())

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
            rid = _new_id(conn.execute(insert(requests).values(service=service, count=count, state="open",
                                                               reason="", created_at=time.time())))
        return int(rid)

    def add_reserved(self, service: str, request_id: int,
                     items: list[tuple[str, dict[str, Any], bytes | None]]) -> None:
        now = time.time()
        rows = [dict(service=service, identity=ident, state=RESERVED.value, payload=payload,
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
                identities.c.service == service, identities.c.state.in_(_POOLED))).scalar_one()

    def backlog(self, service: str) -> int:
        """Commits waiting for the service (flashed, queued)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(identities).where(
                identities.c.service == service, identities.c.state == FLASHED.value,
                identities.c.queued.is_(True))).scalar_one()

    def take(self, service: str, mac: str, serial: str | None) -> Identity | None:
        """The oldest pooled identity, now assigned to this unit; None when the pool is empty."""
        if not mac:
            raise IllegalMove(f"{self.shown}: {service}: an identity is taken for a unit, and no unit was named")
        with self._tx() as conn:
            query = (select(identities).where(identities.c.service == service,
                                              identities.c.state.in_(_POOLED))
                     .order_by(identities.c.id).limit(1))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # two stations never take the same one
            row = conn.execute(query).first()
            if row is None:
                return None
            try:
                conn.execute(update(identities).where(identities.c.id == row.id).values(
                    state=ASSIGNED.value, unit_mac=mac, unit_serial=serial, reason="", updated_at=time.time()))
            except IntegrityError as e:
                raise LedgerError(f"{self.shown}: unit {mac} already holds a {service} identity") from e
            ident = Identity.of(conn.execute(select(identities).where(identities.c.id == row.id)).one())
        self._reached(ASSIGNED)
        return ident

    def insert_on_unit(self, service: str, identity: str, state: str, mac: str, serial: str | None,
                       payload: dict[str, Any]) -> Identity:
        """For commit-then-flash services: the identity is born on the unit (journaled before the call)."""
        born = IdentityState(state)
        if born not in BORN or born not in ON_UNIT or not mac:
            raise IllegalMove(f"{self.shown}: {service} {identity}: cannot start as {born} on unit {mac or 'none'}")
        now = time.time()
        with self._tx() as conn:
            try:
                rid = _new_id(conn.execute(insert(identities).values(
                    service=service, identity=identity, state=born.value, unit_mac=mac, unit_serial=serial,
                    payload=payload, reason="", queued=False, attempts=0, created_at=now,
                    updated_at=now)))
            except IntegrityError as e:
                raise LedgerError(f"{self.shown}: {service} {identity} or unit {mac} is already in the ledger") from e
            ident = Identity.of(conn.execute(select(identities).where(identities.c.id == rid)).one())
        self._reached(born)
        return ident

    # -- transitions -----------------------------------------------------
    def move(self, ident: Identity, to: str, *, expect: tuple[str, ...] | None = None, secret: bytes | None = None,
             **values: Any) -> Identity:
        """Commit ``ident`` into state ``to`` from one of ``expect`` (default: its current state).

        Only moves in ``TRANSITIONS`` are made; a state that belongs to a unit needs one.
        """
        target = IdentityState(to)
        sources = tuple(IdentityState(s) for s in (expect or (ident.state,)))
        name = f"{self.shown}: {ident.service} {ident.identity}"
        for source in sources:
            if target not in TRANSITIONS[source]:
                raise IllegalMove(f"{name}: cannot go to {target} from {source}: not a move the ledger allows")
        if "state" in values:
            raise IllegalMove(f"{name}: a state is set by move(to=...), not as a value")
        needs_unit = target in ON_UNIT
        if needs_unit and "unit_mac" in values and not values["unit_mac"]:
            raise IllegalMove(f"{name}: cannot go to {target} without a unit")
        if secret is not None:
            values["secret"] = self.seal(ident.service, ident.identity, secret)
        if target in POOLED:
            values.setdefault("unit_mac", None)
            values.setdefault("unit_serial", None)
            values.setdefault("queued", False)
        where = [identities.c.id == ident.id, identities.c.state.in_([s.value for s in sources])]
        if needs_unit and "unit_mac" not in values:
            where.append(identities.c.unit_mac.is_not(None))
        with self._tx() as conn:
            done = conn.execute(update(identities).where(*where)
                                .values(state=target.value, updated_at=time.time(), **values))
            if done.rowcount != 1:
                now = conn.execute(select(identities.c.state).where(identities.c.id == ident.id)).scalar()
                if now in sources:
                    raise IllegalMove(f"{name}: cannot go to {target} from {now}: no unit holds it")
                raise LedgerError(f"{name}: cannot go to {target} from {now}")
            fresh = Identity.of(conn.execute(select(identities).where(identities.c.id == ident.id)).one())
        self._reached(target)
        return fresh

    def update_fields(self, ident: Identity, **values: Any) -> Identity:
        if "state" in values:
            raise IllegalMove(f"{self.shown}: {ident.service} {ident.identity}: a state changes by move() only")
        with self._tx() as conn:
            conn.execute(update(identities).where(identities.c.id == ident.id).values(updated_at=time.time(),
                                                                                      **values))
            return Identity.of(conn.execute(select(identities).where(identities.c.id == ident.id)).one())

    # -- lookups ---------------------------------------------------------
    def on_unit(self, service: str, mac: str) -> Identity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(identities).where(identities.c.service == service,
                                                        identities.c.unit_mac == mac,
                                                        identities.c.state.in_([s.value for s in ON_UNIT]))).first()
        return None if row is None else Identity.of(row)

    def find(self, service: str, identity: str) -> Identity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(identities).where(identities.c.service == service,
                                                        identities.c.identity == identity)).first()
        return None if row is None else Identity.of(row)

    def in_states(self, *states: str, service: str | None = None, queued: bool | None = None) -> list[Identity]:
        query = select(identities).where(identities.c.state.in_([str(s) for s in states])).order_by(identities.c.id)
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
