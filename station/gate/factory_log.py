"""Ayla factory log (version 4): one line per unit event, one file per production run."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from linegate.drivers.cloud.ayla_log import FactoryLogEntry, FactoryLogError, format_line
from linegate.plans.provisioning import ProvisioningSpec
from linegate.station.gate.services import UnitFacts
from linegate.station.ledger.journal import Identity


class FactoryLog:
    def __init__(self, spec: ProvisioningSpec) -> None:
        self.model = spec.ayla.model if spec.ayla else ""
        self.manuf_model = (spec.ayla.manuf_model if spec.ayla else None) or ""
        self.odm = (spec.ayla.odm if spec.ayla else None) or ""
        self.path: Path | None = None
        self.lines = 0
        self._lock = threading.Lock()

    def event(self, ident: Identity, facts: UnitFacts | None, status: str, err_code: int) -> None:
        if self.path is None:
            return
        mac = facts.mac_hex if facts else (ident.unit_mac or "").replace(":", "")
        entry = FactoryLogEntry(version=4, time=int(time.time()), status=status, err_code=err_code,
                                model=self.model, dsn=ident.identity, mac=mac, mfg_model=self.manuf_model,
                                mfg_sn=(facts.serial if facts else ident.unit_serial) or "",
                                hwsig=facts.hwsig if facts else "", odm=self.odm,
                                mfg_sw_version=(facts.firmware or "")[:40] if facts else "")
        try:
            line = format_line(entry)
        except FactoryLogError as e:
            line = format_line(FactoryLogEntry(version=4, time=entry.time, status=status, err_code=err_code,
                                               model=self.model, dsn=ident.identity, mac=mac,
                                               extra=str(e).replace(",", ";")[:60]))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="ascii", errors="replace") as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # the sockets' workers append to one file
                f.write(line + "\n")
            self.lines += 1
