"""Writing an identity into the DUT's manufacturing NVS, reading it back, erasing it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from linegate.drivers.cloud.errors import redact_value
from linegate.drivers.dut import DutError
from linegate.drivers.dut.errors import DutCommandError
from linegate.drivers.dut.esp_at import EspAt
from linegate.plans import NvsWrite
from linegate.station.gate.services import NvsItem


def read(dut: EspAt, namespace: str, key: str, *, secret: bool = False) -> bytes | None:
    """The stored bytes, or None when the key (or namespace) is not there."""
    try:
        value = dut.mfg_read_all(namespace, key, secret=secret).value
    except DutCommandError:
        return None
    return str(value).encode() if isinstance(value, int) else value


def shown(item: NvsItem) -> str:
    if item.secret:
        return f"<redacted {len(item.value)} bytes>"
    text = item.value.decode(errors="replace")
    return text if len(text) <= 48 else f"{text[:24]}…{redact_value(text)}"


def ensure(dut: EspAt, items: Sequence[NvsItem], *, maybe_there: bool,
           fast: int | None = None) -> tuple[bool, list[NvsWrite]]:
    """The identity on the DUT, read back byte for byte. ``maybe_there`` (the DUT already holds its
    key): check first and write only if something differs; otherwise write straight away. ``fast``:
    the UART rate to do it at (the plan's ``flash_baudrate``)."""
    with link_at(dut, fast):
        if maybe_there:
            ok, written = verify(dut, items)
            if ok:
                return ok, written
        return write_and_verify(dut, items)


@contextmanager
def link_at(dut: EspAt, rate: int | None) -> Iterator[None]:
    """Module and host at ``rate`` for the block, then back. A module that refuses the switch stays at
    the link's rate (slower, never bricked); one that will not come back leaves the host at the link's
    rate, where the next unit starts."""
    default = dut.link.baudrate
    if not rate or rate == default:
        yield
        return
    switched = dut.switch_baudrate(rate)
    try:
        yield
    finally:
        if switched and not dut.switch_baudrate(default):
            dut.link.baudrate = default


def write_and_verify(dut: EspAt, items: Sequence[NvsItem]) -> tuple[bool, list[NvsWrite]]:
    """Write every item, then read each back and compare byte for byte."""
    for item in items:
        dut.mfg_write(item.namespace, item.key, item.type, item.value, secret=item.secret)
    return verify(dut, items)


def verify(dut: EspAt, items: Sequence[NvsItem]) -> tuple[bool, list[NvsWrite]]:
    results = []
    for item in items:
        back = read(dut, item.namespace, item.key, secret=item.secret)
        results.append(NvsWrite(namespace=item.namespace, key=item.key, bytes=len(item.value), secret=item.secret,
                                shown=shown(item), readback_ok=back == item.value))
    return all(r.readback_ok for r in results), results


def erase_and_confirm(dut: EspAt, items: Sequence[NvsItem]) -> bool:
    """Erase the identity's keys and read back that they are gone."""
    try:
        for item in items:
            try:
                dut.mfg_erase(item.namespace, item.key)
            except DutCommandError:
                pass  # already absent
        return all(read(dut, item.namespace, item.key, secret=item.secret) is None for item in items)
    except DutError:
        return False
