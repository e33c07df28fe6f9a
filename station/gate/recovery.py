"""Finishing or rolling back what a crash interrupted, and draining commits that wait for the service.

``assigned``   the DUT write may have started: if the DUT is at hand, see what it holds; else release.
``flashed``    the unit passed and holds the identity: queue its commit.
``committing`` the call may or may not have happened: look, or repeat a call that is safe to repeat.
Open reserve calls are closed as ``lost`` (their identities, if any, are counted as wasted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from linegate.drivers.cloud import AlreadyDone, CloudError, RateLimited, Unavailable, UnknownOutcome
from linegate.station.gate.gate import Gate
from linegate.station.gate.service import UnitFacts
from linegate.station.gate.waker import WakeableThread
from linegate.station.ledger.journal import Identity
from linegate.station.ledger.probe import DutProbe
from linegate.station.ledger.schema import ASSIGNED, COMMITTING, FLASHED, NEEDS_ATTENTION, QUARANTINED, RELEASED

log = logging.getLogger(__name__)

# mac -> {namespace: {key: bytes}} of a DUT that is at hand, or None when it is not.


@dataclass
class RecoveryReport:
    released: list[str] = field(default_factory=list)
    flashed: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    lost_calls: int = 0

    def summary(self) -> str:
        parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in self.__dict__.items() if isinstance(v, list) and v]
        if self.lost_calls:
            parts.append(f"{self.lost_calls} reserve call(s) without an answer")
        return ", ".join(parts) or "nothing to recover"


def recover(gate: Gate, probe: DutProbe | None = None, *, mac: str | None = None) -> RecoveryReport:
    """Everything a stop interrupted, at start; with ``mac``, only that unit's identity (a socket's
    worker died while the other sockets go on: their identities in flight are theirs).

    At start the interrupted units are tested again, so an identity partly written into one is released:
    the gate knows it when that DUT comes back. A dead worker's unit is recorded ERROR and leaves the
    socket untested: an identity it does not hold whole is quarantined, never handed to another unit (a
    write the worker sent before it died may still land in the DUT after recovery looked).
    """
    ledger, service = gate.ledger, gate.service
    report = RecoveryReport()

    def interrupted(*states: str, queued: bool | None = None) -> list[Identity]:
        found = ledger.in_states(*states, service=service.name, queued=queued)
        return found if mac is None else [i for i in found if i.unit_mac == mac]

    if mac is None:  # a reserve call belongs to the supervisor's pool, which lives on
        for call in ledger.reserve_calls():
            if call["service"] == service.name and call["state"] == "open":
                ledger.close_request(call["id"], "the station stopped during the call")
                report.lost_calls += 1
    for ident in interrupted(ASSIGNED):
        _assigned(gate, ident, probe, report, retested=mac is None)
    for ident in interrupted(FLASHED, queued=False):
        gate.ledger.move(ident, FLASHED, queued=True, reason="commit pending: queued by recovery")
        report.queued.append(ident.identity)
    for ident in interrupted(COMMITTING):
        _committing(gate, ident, report)
    if mac is not None and report.queued and gate.kick is not None:
        gate.kick()
    return report


def _assigned(gate: Gate, ident: Identity, probe: DutProbe | None, report: RecoveryReport, *,
              retested: bool = True) -> None:
    items = gate.service.items(ident, gate.ledger.secret(ident))
    nvs = probe.probe(ident.unit_mac or "") if probe else None
    if nvs is not None and all(nvs.get(i.namespace, {}).get(i.key) == i.value for i in items):
        gate.ledger.move(ident, FLASHED, reason="recovered: the DUT holds it")
        report.flashed.append(ident.identity)
        return
    partial = nvs is not None and any(i.key in nvs.get(i.namespace, {}) for i in items)
    why = "partly written before the stop" if partial else "not on the DUT" if nvs is not None else \
        "DUT not at hand"
    if not retested:  # even "not on the DUT": a write the dead worker sent may still land after this look
        gate.ledger.move(ident, QUARANTINED, reason=f"quarantined by recovery: its unit's worker died, {why}; the "
                         "unit was recorded ERROR, not tested again")
        report.quarantined.append(ident.identity)
        return
    # If the DUT turns up holding (part of) it, the gate knows it came from this unit.
    gate.ledger.move(ident, RELEASED, reason=f"released by recovery: {why}",
                     payload={**ident.payload, "released_from": ident.unit_mac} if partial or nvs is None
                     else ident.payload)  # a DUT seen to hold none of it: an earlier unit's copy stays known
    report.released.append(ident.identity)


def _committing(gate: Gate, ident: Identity, report: RecoveryReport) -> None:
    facts = UnitFacts(mac=ident.unit_mac or "", serial=ident.unit_serial)
    if not gate.service.flash_first:
        _registering(gate, ident, facts, report)
        return
    try:
        gate.commit(ident, facts)
        report.committed.append(ident.identity)
    except (Unavailable, RateLimited):
        report.queued.append(ident.identity)  # back to flashed, queued, by Gate.commit
    except CloudError:
        report.needs_attention.append(ident.identity)


def _registering(gate: Gate, ident: Identity, facts: UnitFacts, report: RecoveryReport) -> None:
    """Stopped between journaling and the reply: registering again with the same deviceKey is the look.

    200 means the first request never took effect (now it has, and the secret is ours); 702 means it
    did and its secret was lost with the reply.
    """
    try:
        gate.register(ident, facts, how="200 (recovery)")
    except (AlreadyDone, UnknownOutcome) as e:
        gate.ledger.move(ident, NEEDS_ATTENTION, reason=f"stopped while registering ({e.code or 'no reply'}); the "
                         "deviceSecret can only be recovered through the connection service")
        report.needs_attention.append(ident.identity)
        return
    except CloudError:
        return  # the service is away: stays committing, resolved at the next start
    report.committed.append(ident.identity)


class Drain(WakeableThread):
    """Commits queued while the service was away, in order, when it answers again."""

    def __init__(self, gate: Gate, on_commit: Callable[[Identity], None] | None = None,
                 interval_s: float = 1.0) -> None:
        super().__init__("commit-drain")
        self.gate = gate
        self.on_commit = on_commit
        self.interval_s = interval_s
        self._lock = threading.Lock()
        gate.kick = self.wake

    def tick(self) -> float:
        self.drain_once()
        return self.interval_s

    def drain_once(self, *, final: bool = False) -> int:
        """Commit what waits, oldest first; ``final`` runs even after ``stop``."""
        done = 0
        with self._lock:
            for ident in self.gate.ledger.in_states(FLASHED, service=self.gate.service.name, queued=True):
                if self.stopping and not final:
                    break
                facts = UnitFacts(mac=ident.unit_mac or "", serial=ident.unit_serial)
                try:
                    committed, _ = self.gate.commit(ident, facts)
                except (Unavailable, RateLimited):
                    break  # still queued; in order: wait for the service before trying the next
                except CloudError as e:
                    log.warning("drain: %s", e)
                    continue
                done += 1
                if self.on_commit is not None:
                    self.on_commit(committed)
        return done
