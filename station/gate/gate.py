"""The provisioning gate: a unit reaches the cloud only after it passed, exactly once.

Flash-then-commit (YoSmart, Ayla, EnOS DPS): take an identity from the
pool, write it into the DUT, read it back byte for byte, then commit.
Commit-then-flash (EnOS MQTT): journal, register, store the secret, then
write and read back. Every ledger transition is committed before the side
effect it announces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linegate.drivers.cloud import AlreadyDone, CloudError, RateLimited, Unavailable, UnknownOutcome
from linegate.drivers.dut import DutError
from linegate.drivers.dut.esp_at import EspAt
from linegate.plans import CommitStatus, NvsWrite, ProvisioningRecord, StepOutcome
from linegate.plans.provisioning import ProvisioningSpec
from linegate.station.gate import dut_io
from linegate.station.gate.factory_log import FactoryLog
from linegate.station.gate.pool import Pool, PoolEmpty
from linegate.station.gate.service import Service, UnitFacts
from linegate.station.ledger.journal import Identity, Ledger, LedgerError
from linegate.station.ledger.schema import (
    ASSIGNED,
    COMMITTED,
    COMMITTING,
    FLASHED,
    NEEDS_ATTENTION,
    ON_UNIT,
    QUARANTINED,
    RELEASED,
    RESERVED,
)


@dataclass
class GateResult:
    outcome: StepOutcome
    message: str
    record: ProvisioningRecord
    ident: Identity | None = None


def _status_of(ident: Identity) -> CommitStatus:
    """A record's commit status for an identity in this ledger state: the record never contradicts it."""
    if ident.state == COMMITTED:
        return CommitStatus.COMMITTED
    if ident.state == NEEDS_ATTENTION:
        return CommitStatus.NEEDS_ATTENTION
    if ident.state == COMMITTING or (ident.state == FLASHED and ident.queued):
        return CommitStatus.PENDING  # an interrupted commit is finished (or queued) by the next start's recovery
    return CommitStatus.NOT_ATTEMPTED


@dataclass
class _Run:
    service: str
    identity: str = ""
    written: list[NvsWrite] = field(default_factory=list)
    readback_ok: bool = False
    attempts: int = 0
    response: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    code: str | None = None

    def done(self, outcome: StepOutcome, status: CommitStatus, message: str = "",
             ident: Identity | None = None) -> GateResult:
        record = ProvisioningRecord(service=self.service, identity=self.identity, written=tuple(self.written),
                                    readback_ok=self.readback_ok, commit_status=status, reason=message,
                                    code=self.code, attempts=self.attempts, response=self.response,
                                    timings_ms={k: round(v * 1000, 2) for k, v in self.timings.items()})
        return GateResult(outcome, message, record, ident)


class Gate:
    def __init__(self, ledger: Ledger, service: Service, spec: ProvisioningSpec, *, pool: Pool | None = None,
                 factory_log: FactoryLog | None = None) -> None:
        self.ledger = ledger
        self.service = service
        self.spec = spec
        self.pool = pool
        self.factory_log = factory_log  # the service's factory log (Ayla's): a line per unit the gate judged
        self.kick: Callable[[], None] | None = None  # wakes the drain when a commit is queued

    # -- one unit ----------------------------------------------------------
    def provision(self, dut: EspAt, facts: UnitFacts) -> GateResult:
        run = _Run(self.service.name)
        try:
            if self.service.flash_first:
                return self._flash_then_commit(dut, facts, run)
            return self._commit_then_flash(dut, facts, run)
        except DutError as e:
            return run.done(StepOutcome.FAIL, self._status_in_ledger(run.identity), f"DUT: {e}")
        except (LedgerError, PoolEmpty) as e:
            return run.done(StepOutcome.ERROR, self._status_in_ledger(run.identity), str(e))

    def unidentified(self, why: str) -> GateResult:
        """A unit that passed its steps but whose MAC cannot be read: it fails, nothing is taken."""
        return _Run(self.service.name).done(StepOutcome.FAIL, CommitStatus.NOT_ATTEMPTED, why)

    def faulted(self, mac: str | None, why: str) -> GateResult:
        """The gate broke on this unit: ERROR, with what the ledger holds for it."""
        return GateResult(StepOutcome.ERROR, why, self.snapshot(mac, why))

    def snapshot(self, mac: str | None, why: str) -> ProvisioningRecord:
        """The unit's provisioning as the ledger has it now (after a stop or a fault cut the gate short)."""
        ident = None
        if mac:
            try:
                ident = self.ledger.on_unit(self.service.name, mac)
            except Exception:  # the ledger may be what broke: the record still gets written
                ident = None
        if ident is None:
            return ProvisioningRecord(service=self.service.name, identity="", commit_status=CommitStatus.NOT_ATTEMPTED,
                                      reason=why)
        status = _status_of(ident)
        if ident.state == COMMITTING:
            why = f"{why}; the interrupted commit is resolved at the next start"
        on_dut = ident.state in (FLASHED, COMMITTING, COMMITTED) if self.service.flash_first else \
            bool(ident.payload.get("flashed"))
        return ProvisioningRecord(service=self.service.name, identity=ident.identity, commit_status=status,
                                  readback_ok=on_dut, reason=why)

    def _status_in_ledger(self, identity: str) -> CommitStatus:
        """What the record says of an identity the gate was working on when something went wrong."""
        ident = self.ledger.find(self.service.name, identity) if identity else None
        return _status_of(ident) if ident is not None else CommitStatus.NOT_ATTEMPTED

    def _held(self, dut: EspAt, facts: UnitFacts, run: _Run) -> tuple[Identity | None, GateResult | None]:
        """What the DUT already holds; a refusal when the ledger does not give it to this unit."""
        raw = dut_io.read(dut, self.service.namespace, self.service.id_key)
        if raw is None:
            return None, None
        held = raw.decode(errors="replace")
        run.identity = held
        known = self.ledger.find(self.service.name, held)
        if known is not None and known.unit_mac != facts.mac and known.payload.get("released_from") == facts.mac:
            return self._released_from_this_unit(dut, known, facts, run)
        if known is None:
            why = "the ledger does not know it"
        elif known.unit_mac != facts.mac:
            why = f"the ledger gives it to unit {known.unit_mac or 'none'} ({known.state})"
        elif known.state not in ON_UNIT:
            why = f"the ledger has it as {known.state}"
        else:
            return known, None
        return None, run.done(StepOutcome.FAIL, CommitStatus.NOT_ATTEMPTED,
                              f"the DUT already holds {self.service.name} identity {held} and {why}; "
                              "it was not overwritten (check the unit, then erase the "
                              f"'{self.service.namespace}' namespace to re-provision)")

    def _released_from_this_unit(self, dut: EspAt, known: Identity, facts: UnitFacts,
                                 run: _Run) -> tuple[Identity | None, GateResult | None]:
        """Recovery released an identity it could not see on this DUT, but the DUT has (some of) it.

        Still in the pool: it is this unit's again. Given to another unit since: this copy is erased
        (and the erase read back) before the unit gets a fresh one.
        """
        if known.state in (RESERVED, RELEASED):
            payload = {k: v for k, v in known.payload.items() if k != "released_from"}
            ident = self.ledger.move(known, ASSIGNED, unit_mac=facts.mac, unit_serial=facts.serial,
                                     payload=payload, reason="back on the unit that held it before a stop")
            return ident, None
        items = self.service.items(known, self.ledger.secret(known))
        if dut_io.erase_and_confirm(dut, items):
            run.identity = ""
            return None, None
        return None, run.done(StepOutcome.FAIL, CommitStatus.NOT_ATTEMPTED,
                              f"the DUT holds a stale copy of {known.identity} (now on unit {known.unit_mac}) "
                              "and erasing it was not confirmed")

    def _flash_then_commit(self, dut: EspAt, facts: UnitFacts, run: _Run) -> GateResult:
        t0 = time.perf_counter()
        held, refusal = self._held(dut, facts, run)
        if refusal:
            return refusal
        ident = held or self.ledger.on_unit(self.service.name, facts.mac)
        if ident is None:
            if self.pool is None:
                raise PoolEmpty(f"{self.service.name}: no pool")
            ident = self.pool.take(facts.mac, facts.serial)
        run.identity = ident.identity
        run.timings["take"] = time.perf_counter() - t0
        if ident.state == NEEDS_ATTENTION:
            return run.done(StepOutcome.ERROR, CommitStatus.NEEDS_ATTENTION,
                            f"{ident.identity} needs attention: {ident.reason}", ident)
        items = self.service.items(ident, self.ledger.secret(ident))
        t1 = time.perf_counter()
        try:
            ok, run.written = dut_io.ensure(dut, items, maybe_there=held is not None,
                                            fast=self.spec.flash_baudrate)
        except DutError as e:
            return self._take_back(dut, ident, items, run, f"DUT failed during the write: {e}")
        run.readback_ok = ok
        run.timings["flash"] = time.perf_counter() - t1
        if not ok:
            return self._take_back(dut, ident, items, run, "read-back differs from what was written")
        self._event(ident, facts, "label", 0)
        if ident.state == ASSIGNED:
            ident = self.ledger.move(ident, FLASHED)
        if ident.state == COMMITTED:
            run.response = {k: str(v) for k, v in (ident.commit_summary or {}).items()}
            return run.done(StepOutcome.PASS, CommitStatus.KEPT,
                            "already committed to this unit: kept, not re-committed", ident)
        if self.spec.commit == "background" and ident.state == FLASHED:
            ident = self.ledger.move(ident, FLASHED, queued=True, reason="commit queued")
            if self.kick is not None:
                self.kick()
            return run.done(StepOutcome.PASS, CommitStatus.PENDING, "commit queued: it follows in the background",
                            ident)
        return self._commit(ident, facts, run)

    def _commit(self, ident: Identity, facts: UnitFacts, run: _Run) -> GateResult:
        t0 = time.perf_counter()
        try:
            ident, summary = self.commit(ident, facts)
        except (Unavailable, RateLimited) as e:
            run.code = e.code
            ident = self.ledger.find(self.service.name, ident.identity) or ident
            if not ident.queued:
                return run.done(StepOutcome.ERROR, CommitStatus.FAILED,
                                f"service unavailable and the commit backlog is full ({self.spec.max_backlog}): {e}",
                                ident)
            run.timings["commit"] = time.perf_counter() - t0
            return run.done(StepOutcome.PASS, CommitStatus.PENDING, f"commit pending: {e.problem}", ident)
        except CloudError as e:
            run.code = e.code
            fresh = self.ledger.find(self.service.name, ident.identity)
            status = CommitStatus.NEEDS_ATTENTION if fresh and fresh.state == NEEDS_ATTENTION else CommitStatus.FAILED
            return run.done(StepOutcome.ERROR, status, str(e), fresh)
        finally:
            run.attempts = self.service.attempts()
        run.timings["commit"] = time.perf_counter() - t0
        run.response = {k: str(v) for k, v in summary.items()}
        self._event(ident, facts, "config", 0)
        return run.done(StepOutcome.PASS, CommitStatus.COMMITTED, "", ident)

    def commit(self, ident: Identity, facts: UnitFacts) -> tuple[Identity, dict[str, Any]]:
        """Journal ``committing``, call the service, journal the answer. Shared with the drain and recovery.

        A lost answer is resolved by looking (DPS ``get``) or by repeating a call that is safe to
        repeat (YoSmart, AFS where AFS-606 for our DSN means done); what stays unknown is
        ``needs_attention``. A refusal releases nothing: the identity is on a unit that passed. When
        the service is away the identity goes back to ``flashed``, queued for the drain unless it is a
        new commit and the backlog is full.
        """
        resuming = ident.state == COMMITTING or ident.queued
        if ident.state == COMMITTING:
            # Resuming a commit a stop interrupted: look before repeating where the service can tell.
            if self.service.lookup(ident, facts) == "committed":
                summary = {"resolved": "the service shows the interrupted commit took effect"}
                return self.ledger.move(ident, COMMITTED, commit_summary=summary, reason="", queued=False), summary
        else:
            ident = self.ledger.move(ident, COMMITTING, expect=(FLASHED,), attempts=ident.attempts + 1,
                                     queued=False)
        try:
            summary = self._call_resolving(ident, facts)
        except UnknownOutcome:
            self.ledger.move(ident, NEEDS_ATTENTION, reason="commit outcome unknown after a repeat")
            raise
        except AlreadyDone as e:
            self.ledger.move(ident, NEEDS_ATTENTION, reason=f"{e.code}: the service gives it to another unit")
            raise
        except (Unavailable, RateLimited) as e:
            room = resuming or self.ledger.backlog(self.service.name) < self.spec.max_backlog
            self.ledger.move(ident, FLASHED, expect=(COMMITTING,), queued=room, reason=f"commit pending: {e}")
            raise
        except CloudError as e:
            self.ledger.move(ident, NEEDS_ATTENTION, reason=f"commit refused: {e}")
            raise
        ident = self.ledger.move(ident, COMMITTED, commit_summary=summary, reason="", queued=False)
        return ident, summary

    def _call_resolving(self, ident: Identity, facts: UnitFacts) -> dict[str, Any]:
        """The commit call; after a lost answer, look, and if the service cannot tell, call once more."""
        for last in (False, True):
            try:
                return self.service.commit(ident, facts)
            except UnknownOutcome:
                if self.service.lookup(ident, facts) == "committed":
                    return {"resolved": "the service shows the commit took effect"}
                if last:
                    raise
        raise AssertionError("unreachable")

    def _take_back(self, dut: EspAt, ident: Identity, items: list[Any], run: _Run, why: str) -> GateResult:
        """The unit failed with this identity written: erase it, confirm, then release (or quarantine)."""
        self._event(ident, None, "fail", 1)
        if ident.state in (COMMITTED, COMMITTING, NEEDS_ATTENTION):
            return run.done(StepOutcome.FAIL, CommitStatus.FAILED, f"{why}; the identity stays with this unit", ident)
        if dut_io.erase_and_confirm(dut, items):
            ident = self.ledger.move(ident, RELEASED, expect=(ASSIGNED, FLASHED), reason=f"released: {why}")
            return run.done(StepOutcome.FAIL, CommitStatus.NOT_ATTEMPTED, f"{why}; erased and released", ident)
        ident = self.ledger.move(ident, QUARANTINED, expect=(ASSIGNED, FLASHED),
                                 reason=f"{why}; erase not confirmed")
        return run.done(StepOutcome.FAIL, CommitStatus.NOT_ATTEMPTED, f"{why}; erase not confirmed: quarantined", ident)

    def unit_failed(self, dut: EspAt, facts: UnitFacts) -> str:
        """A unit that failed a step may hold an identity from an earlier run: take it back."""
        ident = self.ledger.on_unit(self.service.name, facts.mac)
        if ident is None:
            return self._erase_stale_copy(dut, facts)
        if ident.state not in (ASSIGNED, FLASHED):
            return ""
        items = self.service.items(ident, self.ledger.secret(ident))
        try:
            erased = dut_io.erase_and_confirm(dut, items)
        except DutError:
            erased = False
        if erased:
            self.ledger.move(ident, RELEASED, expect=(ASSIGNED, FLASHED), reason="released: the unit failed a step")
            return f"{ident.identity} erased from the failed unit and released"
        self.ledger.move(ident, QUARANTINED, expect=(ASSIGNED, FLASHED),
                         reason="the unit failed a step; erase not confirmed")
        return f"{ident.identity} quarantined: the unit failed and the erase was not confirmed"

    def _erase_stale_copy(self, dut: EspAt, facts: UnitFacts) -> str:
        """A failed unit may hold a copy of an identity recovery released from it: erase that copy."""
        try:
            raw = dut_io.read(dut, self.service.namespace, self.service.id_key)
        except DutError:
            return ""
        known = self.ledger.find(self.service.name, raw.decode(errors="replace")) if raw else None
        if known is None or known.payload.get("released_from") != facts.mac:
            return ""
        erased = dut_io.erase_and_confirm(dut, self.service.items(known, self.ledger.secret(known)))
        return f"stale copy of {known.identity} " + ("erased" if erased else "NOT erased: check the unit")

    # -- EnOS MQTT ---------------------------------------------------------
    def _commit_then_flash(self, dut: EspAt, facts: UnitFacts, run: _Run) -> GateResult:
        svc = self.service
        held, refusal = self._held(dut, facts, run)
        if refusal:
            return refusal
        ident = held or self.ledger.on_unit(svc.name, facts.mac)
        t0 = time.perf_counter()
        if ident is None:
            key = svc.device_key(facts)
            old = self.ledger.find(svc.name, key)
            if old is not None and old.state == RELEASED:
                ident = self.ledger.move(old, COMMITTING, unit_mac=facts.mac, unit_serial=facts.serial)
            elif old is not None:
                return run.done(StepOutcome.ERROR, CommitStatus.NEEDS_ATTENTION,
                                f"deviceKey {key} is {old.state} for unit {old.unit_mac}")
            else:
                ident = self.ledger.insert_on_unit(svc.name, key, COMMITTING, facts.mac, facts.serial, {})
            run.identity = ident.identity
            try:
                ident = self.register(ident, facts)
            except (UnknownOutcome, AlreadyDone) as e:
                run.code = e.code
                ident = self.ledger.move(ident, NEEDS_ATTENTION,
                                         reason=f"{e}; the deviceSecret can only be recovered through the "
                                                "connection service")
                return run.done(StepOutcome.ERROR, CommitStatus.NEEDS_ATTENTION, str(e), ident)
            except CloudError as e:
                run.code = e.code
                ident = self.ledger.move(ident, RELEASED, reason=f"not registered: {e}")
                return run.done(StepOutcome.ERROR, CommitStatus.FAILED, f"service unavailable: {e}"
                                if isinstance(e, Unavailable) else str(e), ident)
            finally:
                run.attempts = 1
            run.timings["commit"] = time.perf_counter() - t0
        run.identity = ident.identity
        if ident.state != COMMITTED:
            return run.done(StepOutcome.ERROR, CommitStatus.NEEDS_ATTENTION,
                            f"{ident.identity} is {ident.state}: {ident.reason}", ident)
        items = svc.items(ident, self.ledger.secret(ident))
        t1 = time.perf_counter()
        run.response = {k: str(v) for k, v in (ident.commit_summary or {}).items()}
        try:
            ok, run.written = dut_io.ensure(dut, items, maybe_there=held is not None,
                                            fast=self.spec.flash_baudrate)
        except DutError as e:
            return run.done(StepOutcome.FAIL, CommitStatus.COMMITTED, f"DUT failed during the write: {e}; the "
                            "registration stays with this unit and is written again on re-test", ident)
        run.readback_ok = ok
        run.timings["flash"] = time.perf_counter() - t1
        if not ok:
            return run.done(StepOutcome.FAIL, CommitStatus.COMMITTED, "read-back differs from what was written; the "
                            "registration stays with this unit and is written again on re-test", ident)
        if not ident.payload.get("flashed"):
            ident = self.ledger.update_fields(ident, payload={**ident.payload, "flashed": True})
            return run.done(StepOutcome.PASS, CommitStatus.COMMITTED, "", ident)
        return run.done(StepOutcome.PASS, CommitStatus.KEPT, "already registered to this unit: kept", ident)

    def register(self, ident: Identity, facts: UnitFacts, how: str = "200") -> Identity:
        """EnOS MQTT: register the sub-device; its secret is in the ledger before anything else happens."""
        payload, secret = self.service.register(ident, facts)
        return self.ledger.move(ident, COMMITTED, secret=secret, payload={**payload, "flashed": False},
                                commit_summary={"register": how, **payload})

    # ------------------------------------------------------------------
    def _event(self, ident: Identity, facts: UnitFacts | None, status: str, err: int) -> None:
        if self.factory_log is not None:
            self.factory_log.event(ident, facts, status, err)
