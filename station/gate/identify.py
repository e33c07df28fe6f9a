"""Who the unit in the socket is, for the gate: the MAC a step recorded, or the DUT's own answer."""

from __future__ import annotations

import re

from linegate.drivers.dut import DutError, EspAt
from linegate.fixtures.context import UnitUnderTest
from linegate.station.gate.service import UnitFacts

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def unit_facts(unit: UnitUnderTest, mac: str) -> UnitFacts:
    """The firmware a unit reports to the cloud is its release (``Bin version``, e.g. v4.1.1.0(MINI-1)),
    not the AT core's build line, which is long and carries a date."""
    firmware = unit.facts.get("bin_version") or unit.facts.get("at_version")
    return UnitFacts(mac=mac, serial=unit.identity.get("serial"), firmware=firmware)


def identify(unit: UnitUnderTest, dut: EspAt) -> tuple[str | None, str]:
    """The unit's MAC: as a step recorded it, else read from the DUT. None and why when neither works."""
    mac = unit.identity.get("mac")
    if not mac:
        try:
            mac = dut.mac()
        except DutError as e:
            return None, f"the unit cannot be identified: reading its MAC failed: {e}"
        unit.identity["mac"] = mac
    if problem := _mac_problem(mac):
        return None, f"the unit cannot be identified: its MAC {mac} {problem}"
    return mac, ""


def _mac_problem(mac: str) -> str:
    """Why ``mac`` cannot identify a unit ('' when it can): the ledger keys identities by it."""
    if not _MAC.fullmatch(mac):
        return "is not six hex octets"
    if mac == "00:00:00:00:00:00":
        return "is all zero"
    if int(mac[:2], 16) & 0x01:
        return "is a multicast address"
    return ""
