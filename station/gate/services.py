"""The four provisioning services behind the one interface of ``service.py`` (re-exported here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from linegate.drivers.cloud import (
    AlreadyDone,
    Ayla,
    CloudError,
    EnosDps,
    EnosMqttRegistrar,
    NotFound,
    YoSmart,
    derive_device_key,
)
from linegate.drivers.cloud.http import CHECK_CONNECT_S, HttpService
from linegate.drivers.dut.esp_at import NvsType
from linegate.fixtures.cloud_account import CloudAccount, Endpoint, ServiceName
from linegate.plans.provisioning import EnosDpsSpec, EnosMqttSpec, ProvisioningSpec
from linegate.station.gate.service import (
    Lookup,
    NvsItem,
    Reserved,
    Service,
    ServiceConfigError,
    UnitFacts,
)
from linegate.station.ledger.journal import Identity

__all__ = ["Lookup", "NvsItem", "Reserved", "Service", "ServiceConfigError", "UnitFacts", "make_service"]


def _endpoint(account: CloudAccount, service: str, which: ServiceName) -> Endpoint:
    endpoint = account.url_for(which)
    if endpoint is None:  # the fixture loader refuses an account like this; a hand-made one may be
        raise ServiceConfigError(f"service {service}: the fixture's cloud section gives no URL for it")
    return endpoint


def _header_token_url(account: CloudAccount, service: Literal["ayla", "yosmart"]) -> str:
    """httpx turns ``user:password@`` in a URL into HTTP basic auth, which replaces the Authorization
    header these services take their token in: every call would be refused as unauthorised."""
    endpoint = _endpoint(account, service, service)
    parts = urlsplit(endpoint.url)
    if parts.username is not None or parts.password is not None:
        raise ServiceConfigError(f"service {service}: {endpoint.source} carries 'user:password@', but {service} "
                                 "takes its token in the Authorization header, which basic auth would replace; "
                                 "remove it from the URL")
    return endpoint.url


class AylaService(Service):
    name, namespace, id_key = "ayla", "ayla", "dsn"

    def __init__(self, spec: ProvisioningSpec, account: CloudAccount, **http: Any) -> None:
        super().__init__(spec)
        if account.ayla is None or spec.ayla is None:
            raise ServiceConfigError("service ayla: the fixture's cloud section has no 'ayla' account")
        url = _header_token_url(account, "ayla")
        acc = account.ayla
        cert = (acc.client_cert, acc.client_key) if acc.client_cert and acc.client_key else acc.client_cert
        kw = dict(ca_bundle=acc.ca_bundle, client_cert=cert, timeout=account.timeout_s, **http)
        self.settings = spec.ayla
        self.client = Ayla(url, acc.token.get_secret_value(), **kw)
        self.oem = Ayla(url, acc.oem_token.get_secret_value(), **kw) if acc.oem_token else None
        if self.settings.provision and self.oem is None:
            raise ServiceConfigError("service ayla: the plan asks for provision but the account has no oem_token")
        self._clients = [c for c in (self.client, self.oem) if c is not None]

    def _probe(self, client: HttpService) -> None:
        # AFS checks the token before the body: count 0 is refused with AFS-602, a bad token with 401.
        # The OEM token may not reserve (403), so it tries a provision of a DSN that cannot exist (404).
        assert isinstance(client, Ayla)
        if client is self.oem:
            client.provision("LINEGATE-STARTUP-CHECK", model=self.settings.model)
        else:
            client.reserve(self.settings.model, 0)

    def reserve(self, count: int) -> list[Reserved]:
        return [Reserved(d.dsn, {"public_key": d.public_key}, d.private_key.encode() if d.private_key else None)
                for d in self.client.reserve(self.settings.model, count)]

    def items(self, ident: Identity, secret: bytes | None) -> list[NvsItem]:
        out = [self._str("dsn", ident.identity), self._str("public_key", ident.payload["public_key"])]
        if secret:
            out.append(NvsItem(self.namespace, "private_key", NvsType.BINARY, secret, secret=True))
        return out

    def commit(self, ident: Identity, unit: UnitFacts) -> dict[str, Any]:
        s = self.settings
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            device = self.client.manufacture(ident.identity, model=s.model, mac=unit.mac_hex, hwsig=unit.hwsig,
                                             dom_at=now, manuf_model=s.manuf_model, manuf_sn=unit.serial,
                                             odm=s.odm, module_sw_version=unit.firmware)
        except AlreadyDone:
            # AFS-606 for a DSN the ledger put on this unit: our own earlier call took effect.
            device = {"dsn": ident.identity, "note": "AFS-606: already manufactured (our earlier call)"}
        summary = {"manufacture": "ok", "dom_at": str(device.get("dom_at", "")), "dsn": ident.identity}
        if s.provision and self.oem is not None:
            self.oem.provision(ident.identity, model=s.model, oem_model=s.oem_model)
            summary["provision"] = "ok"
        return summary


class YoSmartService(Service):
    name, namespace, id_key = "yosmart", "yosmart", "device_id"

    def __init__(self, spec: ProvisioningSpec, account: CloudAccount, **http: Any) -> None:
        super().__init__(spec)
        if account.yosmart is None or spec.yosmart is None:
            raise ServiceConfigError("service yosmart: the fixture's cloud section has no 'yosmart' account")
        url = _header_token_url(account, "yosmart")
        self.settings = spec.yosmart
        self.client = YoSmart(url, account.yosmart.token.get_secret_value(),
                              timeout=account.timeout_s, **http)
        self._clients = [self.client]

    def _probe(self, client: HttpService) -> None:
        # The token is checked before the params: size 0 is refused with 010204 and uses no licence.
        self.client.request_device_ids(0)

    def reserve(self, count: int) -> list[Reserved]:
        ids = self.client.request_device_ids(count)
        sns = self.client.request_sn(len(ids))
        return [Reserved(device_id, {"sn": sn}) for device_id, sn in zip(ids, sns, strict=True)]

    def items(self, ident: Identity, secret: bytes | None) -> list[NvsItem]:
        return [self._str("device_id", ident.identity), self._str("sn", ident.payload["sn"])]

    def commit(self, ident: Identity, unit: UnitFacts) -> dict[str, Any]:
        # Both calls are safe to repeat for the same pair, so a retry after a crash is harmless.
        device_id = self.client.activate_device_id(unit.chip_id, self.settings.app_eui, ident.identity)
        sn = self.client.bind_sn(device_id, ident.payload["sn"])
        return {"activateDeviceId": device_id, "bindSN": sn, "chipId": unit.chip_id}


class EnosDpsService(Service):
    name, namespace, id_key = "enos-dps", "enos", "sn"

    def __init__(self, spec: ProvisioningSpec, account: CloudAccount, **http: Any) -> None:
        super().__init__(spec)
        if account.enos is None:
            raise ServiceConfigError("service enos-dps: the fixture's cloud section has no 'enos' account")
        acc = account.enos
        self.settings = spec.enos_dps or EnosDpsSpec()
        group_id = self.settings.group_id or acc.group_id
        if not group_id:
            raise ServiceConfigError("service enos-dps: no group_id in the plan or the account")
        self.group_id: str = group_id
        self.product_key = acc.product_key or ""
        dps, token = _endpoint(account, self.name, "enos-dps"), _endpoint(account, self.name, "enos-token")
        self.client = EnosDps(dps.url, acc.app_key, acc.app_secret.get_secret_value(), acc.org_id,
                              token_url=token.url, timeout=account.timeout_s, **http)
        self._clients = [self.client]

    @property
    def url(self) -> str:
        """The start-up check only fetches a token: name the token service (the gateway unless
        cloud.enos.token_url puts it elsewhere)."""
        return self.client.token_url

    def _probe(self, client: HttpService) -> None:
        self.client.access_token()  # the gateway token: the app key and secret

    def reserve(self, count: int) -> list[Reserved]:
        return [Reserved(sn, {"group_id": self.group_id}) for sn in self.client.create(self.group_id, count)]

    def items(self, ident: Identity, secret: bytes | None) -> list[NvsItem]:
        out = [self._str("sn", ident.identity)]
        if self.product_key:
            out.append(self._str("product_key", self.product_key))
        return out

    def commit(self, ident: Identity, unit: UnitFacts) -> dict[str, Any]:
        data: dict[str, Any] = {**self.settings.device_data, "mac": unit.mac_hex}
        if unit.serial:
            data["deviceSn"] = unit.serial
        device = self.client.allocate(ident.identity, data)
        return {"allocate": device.get("allocateStatus", ""), "status": device.get("status", {}).get("currentStatus")}

    def lookup(self, ident: Identity, unit: UnitFacts) -> Lookup:
        try:
            device = self.client.get(ident.identity)
        except NotFound:
            return "not_committed"
        except CloudError:
            return "unknown"
        if device.get("allocateStatus") != "allocated":
            return "not_committed"
        mine = str(device.get("deviceData", {}).get("mac", "")) == unit.mac_hex
        return "committed" if mine else "unknown"


class EnosMqttService(Service):
    """Commit-then-flash: the deviceSecret exists only after registration."""

    name, namespace, id_key = "enos-mqtt", "enos", "device_key"
    flash_first = False

    def __init__(self, spec: ProvisioningSpec, account: CloudAccount, **http: Any) -> None:
        super().__init__(spec)
        acc = account.enos
        broker = account.url_for("enos-mqtt")
        if acc is None or acc.gateway is None or broker is None:
            raise ServiceConfigError("service enos-mqtt: the fixture's cloud section needs an enos gateway and "
                                     "the broker's URL (cloud.enos.mqtt_url)")
        self.settings = spec.enos_mqtt or EnosMqttSpec()
        self.product_key = self.settings.product_key or acc.sub_product_key or ""
        if not self.product_key:
            raise ServiceConfigError("service enos-mqtt: no sub-device product_key in the plan or the account")
        self.registrar = EnosMqttRegistrar(broker.url, acc.gateway.product_key, acc.gateway.device_key,
                                           acc.gateway.device_secret.get_secret_value(), timeout=account.timeout_s)
        self._connected = False

    @property
    def url(self) -> str:
        return self.registrar.url

    def check(self, connect_s: float = CHECK_CONNECT_S) -> None:
        """Log the gateway in to the broker; the session is kept for the units."""
        if not self._connected:
            self.registrar.connect(connect_timeout=connect_s)
            self._connected = True

    def device_key(self, unit: UnitFacts) -> str:
        return derive_device_key(self.settings.device_key_prefix, unit.mac)

    def register(self, ident: Identity, unit: UnitFacts) -> tuple[dict[str, Any], bytes]:
        if not self._connected:
            self.registrar.connect()
            self._connected = True
        name = unit.serial or unit.mac_hex
        device = self.registrar.register(self.product_key, ident.identity, name, timezone=self.settings.timezone,
                                         attributes={"mac": unit.mac_hex}, request_id=f"lg-{ident.id}")
        return {"asset_id": device.asset_id, "product_key": device.product_key}, device.device_secret.encode()

    def items(self, ident: Identity, secret: bytes | None) -> list[NvsItem]:
        assert secret is not None
        return [self._str("device_key", ident.identity), self._str("product_key", self.product_key),
                NvsItem(self.namespace, "device_secret", NvsType.STRING, secret, secret=True)]

    def commit(self, ident: Identity, unit: UnitFacts) -> dict[str, Any]:
        raise NotImplementedError("enos-mqtt commits through register()")

    def close(self) -> None:
        if self._connected:
            self.registrar.close()
            self._connected = False


def make_service(spec: ProvisioningSpec, account: CloudAccount | None, **http: Any) -> Service:
    if account is None:
        raise ServiceConfigError(f"the plan provisions with {spec.service} but the fixture has no 'cloud' section")
    classes: dict[str, type[AylaService | YoSmartService | EnosDpsService | EnosMqttService]] = {
        "ayla": AylaService, "yosmart": YoSmartService, "enos-dps": EnosDpsService, "enos-mqtt": EnosMqttService}
    return classes[spec.service](spec, account, **http)
