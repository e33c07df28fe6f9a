"""The interface every provisioning service offers; the gate, the pool and recovery know only this.

A service says how to reserve identities, what to write into the DUT for one, how to commit it for a
unit, and how to look up whether a commit whose answer was lost took effect. A commit-first service
(``flash_first = False``, EnOS MQTT) instead registers the unit first and hands back its secret.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from linegate.drivers.cloud import Rejected
from linegate.drivers.cloud.http import CHECK_CONNECT_S, HttpService
from linegate.drivers.dut.esp_at import NvsType
from linegate.plans.provisioning import ProvisioningSpec
from linegate.station.ledger.journal import Identity

Lookup = Literal["committed", "not_committed", "unknown"]


class ServiceConfigError(Exception):
    """The plan names a service the station's cloud account does not configure."""


@dataclass(frozen=True)
class UnitFacts:
    mac: str  # aa:bb:cc:dd:ee:ff
    serial: str | None = None
    firmware: str | None = None

    @property
    def mac_hex(self) -> str:
        return self.mac.replace(":", "").lower()

    @property
    def chip_id(self) -> str:
        """ESP-AT reports the eFuse base MAC as the station MAC; it is the chip's unique id."""
        return self.mac_hex.upper()

    @property
    def hwsig(self) -> str:
        return f"mac-{self.mac_hex}"


@dataclass(frozen=True)
class NvsItem:
    namespace: str
    key: str
    type: NvsType
    value: bytes
    secret: bool = False


@dataclass(frozen=True)
class Reserved:
    identity: str
    payload: dict[str, Any]
    secret: bytes | None = None


class Service(ABC):
    name: str
    namespace: str
    id_key: str
    flash_first = True
    batch_max = 1000

    def __init__(self, spec: ProvisioningSpec) -> None:
        self.spec = spec
        self._clients: list[HttpService] = []
        if spec.namespace:
            self.namespace = spec.namespace

    def reserve(self, count: int) -> list[Reserved]:
        raise NotImplementedError(f"{self.name} identities are not reserved ahead")

    def device_key(self, unit: UnitFacts) -> str:
        """Commit-first services: the identity this unit registers under."""
        raise NotImplementedError(f"{self.name} takes its identities from the pool")

    def register(self, ident: Identity, unit: UnitFacts) -> tuple[dict[str, Any], bytes]:
        """Commit-first services: register the unit; returns what to show and the secret to write."""
        raise NotImplementedError(f"{self.name} commits after the write, it does not register first")

    @abstractmethod
    def items(self, ident: Identity, secret: bytes | None) -> list[NvsItem]:
        """What to write into the DUT, identity key first."""

    @abstractmethod
    def commit(self, ident: Identity, unit: UnitFacts) -> dict[str, Any]:
        """Report the unit to the service; returns a summary safe to show (no secrets)."""

    def lookup(self, ident: Identity, unit: UnitFacts) -> Lookup:
        """Whether a commit whose answer was lost took effect. Services without a read call say
        "unknown" and rely on their commit being safe to repeat (AFS-606 for our DSN counts as done;
        YoSmart answers a repeated activate/bind for the same pair the same way)."""
        return "unknown"

    @property
    def url(self) -> str:
        """Where the service is (a password in it masked by the clients' errors, not here)."""
        return self._clients[0].base_url if self._clients else ""

    def check(self, connect_s: float = CHECK_CONNECT_S) -> None:
        """Before the first unit: one call per client that proves the service is reachable and takes
        the credentials, and changes nothing there. Tried once, ``connect_s`` to connect. Raises
        ``Unreachable`` or ``AuthError`` (other ``CloudError``: the service is there but unwell)."""
        for client in self._clients:
            with client.checking(connect_s):
                try:
                    self._probe(client)
                except Rejected:  # refused after the credentials were accepted: what the probe expects
                    pass

    def _probe(self, client: HttpService) -> None:
        raise NotImplementedError(f"{self.name}: no start-up check")

    def attempts(self) -> int:
        """HTTP attempts of this thread's last call of each client (retries included)."""
        calls = [c.last_call for c in self._clients]
        return sum(c.attempts for c in calls if c is not None)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def _str(self, key: str, value: str, secret: bool = False) -> NvsItem:
        return NvsItem(self.namespace, key, NvsType.STRING, value.encode(), secret)
