"""Station tests of the example product: an ESP32-C3 module with ESP-AT firmware.

Each test drives the DUT and instruments and records measurements; the plan
(plans/esp-at-module.yaml) holds every limit.
"""

from __future__ import annotations

import re
import statistics
import time

SUPPLY_V = 3.3
CURRENT_LIMIT_A = 0.5
STATION_TAG_KEY = "station_tag"
CURRENT_SAMPLES = 8


def test_power_on(psu, dmm, measure):
    psu.set_current_limit(CURRENT_LIMIT_A)
    psu.set_voltage(SUPPLY_V)
    psu.output(True)
    measure("supply_voltage", psu.measure_voltage(), "V")
    measure("dut_voltage", dmm.measure_dc_voltage(), "V")


def test_link(dut, measure):
    dut.sync()
    dut.ping()
    measure("at_ok", True)


def test_firmware(dut, unit, measure):
    fw = dut.firmware()
    unit.facts.update(
        at_version=fw.at_version, sdk_version=fw.sdk_version, bin_version=fw.bin_version, port=dut.port,
        firmware_version=fw.version_text, firmware_module=fw.module,
    )
    measure("at_version", fw.at_version.split("(")[0])
    measure("bin_version", fw.bin_version)


def test_mac(dut, unit, station_run, measure):
    mac = dut.mac()
    unit.identity["mac"] = mac
    first_octet = int(mac[:2], 16)
    measure("mac", mac)
    measure("mac_unicast_assigned", mac != "00:00:00:00:00:00" and not first_octet & 0x01)
    seen = station_run.setdefault("macs", {})
    owner = seen.setdefault(mac, unit.identity.get("serial", str(unit.index)))
    measure("mac_unique_in_run", owner == unit.identity.get("serial", str(unit.index)))


def test_supply_current(psu, dmm, unit, measure):
    # A short capture of the idle current, kept with the report as a CSV (plotted there).
    t0 = time.perf_counter()
    samples = [(time.perf_counter() - t0, psu.measure_current()) for _ in range(CURRENT_SAMPLES)]
    unit.attach("supply-current.csv", "t_s,current_A\n" + "\n".join(f"{t:.4f},{a:.6f}" for t, a in samples),
                "text/csv")
    measure("supply_current", statistics.fmean(a for _, a in samples), "A")
    measure("dmm_current", dmm.measure_dc_current(), "A")


def test_factory_param(dut, unit, measure):
    tag = f"{unit.socket}-{unit.identity.get('serial', unit.index)}"
    dut.mfg_write("factory_param", STATION_TAG_KEY, 7, tag)
    back = dut.mfg_read("factory_param", STATION_TAG_KEY).value
    measure("factory_param_readback", back == tag.encode())
    assert re.fullmatch(rb"[\x20-\x7e]+", back), f"read back non-printable bytes {back!r}"
