"""Identities reserved ahead of need, in batches, in the background.

The pool keeps each service between its low and high watermarks so a unit
takes an identity from the ledger without waiting for the cloud. Each
reserve call is journaled before it is made; if its answer is lost the call
is closed as ``lost`` and the audit counts what it may have wasted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from linegate.drivers.cloud import CloudError, UnknownOutcome
from linegate.plans.provisioning import PoolSpec
from linegate.station.gate.services import Service
from linegate.station.gate.waker import WakeableThread
from linegate.station.ledger.journal import Identity, Ledger

log = logging.getLogger(__name__)


class PoolEmpty(Exception):
    pass


class Pool(WakeableThread):
    def __init__(self, ledger: Ledger, service: Service, spec: PoolSpec, *, retry_s: float = 0.5) -> None:
        super().__init__(f"pool-{service.name}")
        self.ledger = ledger
        self.service = service
        self.spec = spec
        self.retry_s = retry_s
        self.last_error: str = ""
        self._changed = threading.Condition()
        # In a socket's worker the refill runs in the supervisor: asking for it is a message there,
        # and a dry pool is looked at again every ``poll_s``.
        self.ask_refill: Callable[[], None] = self.wake
        self.poll_s = 0.5

    def take(self, mac: str, serial: str | None, wait_s: float = 30.0) -> Identity:
        """An identity for this unit; waits for a refill when the pool is dry."""
        ident = self.ledger.take(self.service.name, mac, serial)
        if ident is not None:
            self.ask_refill()
            return ident
        with self._changed:
            self.ask_refill()
            deadline_left = wait_s
            while ident is None and deadline_left > 0 and not self.stopping:
                self._changed.wait(min(self.poll_s, deadline_left))
                deadline_left -= self.poll_s
                ident = self.ledger.take(self.service.name, mac, serial)
        if ident is None:
            raise PoolEmpty(f"{self.service.name}: no identity in the pool after {wait_s:g} s"
                            + (f" ({self.last_error})" if self.last_error else ""))
        return ident

    def refill_once(self) -> int:
        """One reserve call if below the low watermark; returns identities added."""
        have = self.ledger.pool_size(self.service.name)
        if have >= self.spec.low and have > 0:
            return 0
        count = min(self.spec.high - have, self.spec.batch, self.service.batch_max)
        if count <= 0:
            return 0
        request = self.ledger.open_request(self.service.name, count)
        try:
            reserved = self.service.reserve(count)
        except UnknownOutcome as e:
            self.ledger.close_request(request, f"answer lost: {e}")
            raise
        except CloudError as e:
            self.ledger.close_request(request, f"refused or not sent: {e}")
            raise
        self.ledger.add_reserved(self.service.name, request,
                                 [(r.identity, r.payload, r.secret) for r in reserved])
        with self._changed:
            self._changed.notify_all()
        return len(reserved)

    def tick(self) -> float:
        try:
            added = self.refill_once()
        except CloudError as e:
            self.last_error = str(e)
            log.warning("pool %s: %s", self.service.name, e)
            return self.retry_s
        self.last_error = ""
        return 0.0 if added else 1.0
