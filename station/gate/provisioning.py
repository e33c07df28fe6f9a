"""Everything provisioning needs for one station run, opened and closed together."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from linegate.drivers.cloud import AuthError, CloudError, RetryPolicy, Unreachable, safe_url
from linegate.fixtures.cloud_account import CloudAccount
from linegate.plans import CommitStatus, ProvisioningRecord, UnitRecord
from linegate.plans.provisioning import ProvisioningSpec
from linegate.plans.record import LATER
from linegate.reports import UnitReportRenderer
from linegate.station.gate.factory_log import FactoryLog
from linegate.station.gate.gate import Gate
from linegate.station.gate.pool import Pool
from linegate.station.gate.recovery import Drain, RecoveryReport, recover
from linegate.station.gate.services import Service, make_service
from linegate.station.ledger.journal import Identity, Ledger
from linegate.station.ledger.probe import DutProbe
from linegate.station.output import write_unit_files
from linegate.station.results.store import ResultsError, ResultsStore

from linegate.errors import StationUnavailable

log = logging.getLogger(__name__)


class CloudUnavailable(StationUnavailable):
    """The provisioning service cannot be used at all (unreachable, or it refuses the station's
    credentials), found before the first unit. One line naming service and URL, no password."""

    label = "cloud"

    @classmethod
    def from_error(cls, service: str, url: str, error: CloudError) -> CloudUnavailable:
        """``url`` is the service's address as configured (its base URL or broker)."""
        if isinstance(error, AuthError):  # a Forbidden's detail says it is the role or scope
            what, hint = "refuses the station's credentials", "check the token / key in the fixture's cloud section"
        else:
            what, hint = "is unreachable", "check the URL in the fixture's cloud section and the network"
        detail = f"code {error.code}: {error.problem}" if error.code else error.problem
        return cls(f"{service} at {safe_url(url or error.url)} {what} ({error.operation}: {detail}); {hint}")


class Provisioning:
    def __init__(self, spec: ProvisioningSpec, account: CloudAccount | None, ledger: Ledger, *,
                 retry: RetryPolicy | None = None, probe: DutProbe | None = None,
                 drain_interval_s: float = 1.0) -> None:
        self.spec = spec
        self.ledger = ledger
        self.retry = retry
        self.service: Service = make_service(spec, account, **({"retry": retry} if retry else {}))
        self.pool = Pool(ledger, self.service, spec.pool) if self.service.flash_first else None
        self.factory_log = FactoryLog(spec) if spec.service == "ayla" else None
        self.gate = Gate(ledger, self.service, spec, pool=self.pool, factory_log=self.factory_log)
        self.probe = probe
        self.drain = Drain(self.gate, self.committed_later, interval_s=drain_interval_s)
        self._record_lock = threading.Lock()
        self._renderer = UnitReportRenderer()
        self.results: ResultsStore | None = None  # the station's results store: a rewrite updates its rows
        self.recovered: RecoveryReport | None = None
        self.in_supervisor = True  # owns the pool refill and the commit drain

    @classmethod
    def in_worker(cls, spec: ProvisioningSpec, account: CloudAccount | None, ledger: Ledger, *,
                  retry: RetryPolicy | None = None, ask: Callable[[str], None]) -> Provisioning:
        """The gate of a socket's worker: the supervisor checked the service, recovered, and runs the pool
        refill and the commit drain (one of each per station); ``ask("pool")`` / ``ask("drain")`` wakes them."""
        prov = cls(spec, account, ledger, retry=retry)
        prov.in_supervisor = False
        if prov.pool is not None:
            prov.pool.ask_refill = lambda: ask("pool")
            prov.pool.poll_s = 0.05
        prov.gate.kick = lambda: ask("drain")
        return prov

    def start(self) -> Provisioning:
        """Check the service, finish what a crash interrupted, fill the pool; raises ``CloudUnavailable``
        (nothing left running) when the service cannot be reached or refuses the credentials."""
        try:
            self._check()
        except CloudUnavailable:
            self.service.close()
            raise
        self.ledger.set_meta(f"spec:{self.spec.service}", self.spec.model_dump(mode="json"))
        self.recovered = recover(self.gate, self.probe)
        if self.pool is not None:
            try:  # fill the pool before the first unit, so no unit waits for a reservation
                self.pool.refill_once()
            except CloudError as e:
                if self.ledger.pool_size(self.service.name) == 0:  # no unit could be provisioned
                    self.service.close()
                    raise CloudUnavailable(f"{self.service.name} at {safe_url(self.service.url)} gives no "
                                           f"identities ({e.operation}: {e.problem}) and the pool is empty, so "
                                           "no unit could be provisioned; check the service and its URL") from e
                log.warning("pool %s: %s", self.service.name, e)
            self.pool.start()
        self.drain.start()
        return self

    def _check(self) -> None:
        """One quick call per client (once, short connect timeout): a dead service or wrong credentials
        stop the station in seconds. A service that answers but is unwell (5xx, slow) is left to the
        pool and the commit queue, as an outage after the start is."""
        try:
            self.service.check()
        except (Unreachable, AuthError) as e:
            raise CloudUnavailable.from_error(self.service.name, self.service.url, e) from e
        except CloudError as e:
            log.warning("%s start-up check: %s", self.service.name, e)

    def set_run_dir(self, run_dir: Path) -> None:
        if self.factory_log is not None:
            self.factory_log.path = run_dir / "ayla-factory-log.csv"

    def stop(self) -> None:
        if not self.in_supervisor:
            self.service.close()
            return
        self.drain.stop()
        if self.pool is not None:
            self.pool.stop()
        self.drain.drain_once(final=True)  # a last try, so a short outage does not outlive the run
        self.service.close()

    def committed_later(self, ident: Identity) -> None:
        """A queued commit went through: the unit's record and report say so now."""
        if not ident.record_path:
            return
        with self._record_lock:
            self._rewrite(ident)

    def _rewrite(self, ident: Identity) -> None:
        assert ident.record_path
        path = Path(ident.record_path)
        try:
            record = UnitRecord.model_validate_json(path.read_text())
        except (OSError, ValueError) as e:
            log.warning("cannot update %s after its commit: %s", path, e)
            return
        before = record.provisioning
        if before is None or CommitStatus.COMMITTED not in LATER.get(before.commit_status, frozenset()):
            return  # only a pending commit becomes committed later
        prov: ProvisioningRecord = before.model_copy(update={
            "commit_status": CommitStatus.COMMITTED,
            "reason": "committed later, when the service answered again" + (f" (at first: {before.reason})"
                                                                              if before.reason else ""),
            "response": {k: str(v) for k, v in (ident.commit_summary or {}).items()}})
        try:
            write_unit_files(path.parent, record.model_copy(update={"provisioning": prov}), self._renderer,
                             self.results)
        except (OSError, ResultsError) as e:
            log.warning("cannot update %s after its commit: %s", path, e)

