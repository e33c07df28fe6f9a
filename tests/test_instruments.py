"""SCPI drivers: exact pairs (every pair used) and the pyvisa-sim bench."""

from __future__ import annotations

import pytest
import pyvisa
from linegate.drivers.instruments import (
    InstrumentNotFound,
    InstrumentRejected,
    InstrumentTimeout,
    Multimeter,
    PowerSupply,
    open_resource,
)
from linegate.fixtures.config import default_sim_instruments
from scripted import ScriptedResource

NO_ERROR = ("SYST:ERR?", '+0,"No error"')


def test_psu_pairs():
    res = ScriptedResource([
        ("*IDN?", "ACME,PSU,1,1"),
        ("VOLT 3.3000", None), NO_ERROR,
        ("CURR 0.5000", None), NO_ERROR,
        ("OUTP 1", None), NO_ERROR,
        ("MEAS:VOLT?", "3.2990"),
        ("MEAS:CURR?", "0.08120"),
    ])
    psu = PowerSupply(res)
    assert psu.idn == "ACME,PSU,1,1"
    psu.set_voltage(3.3)
    psu.set_current_limit(0.5)
    psu.output(True)
    assert psu.measure_voltage() == pytest.approx(3.299)
    assert psu.measure_current() == pytest.approx(0.0812)
    res.assert_all_used()


def test_dmm_pairs_and_non_numeric_answer():
    res = ScriptedResource([
        ("*IDN?", "ACME,DMM,2,1"),
        ("MEAS:VOLT:DC?", "+3.27E+00"),
        ("MEAS:CURR:DC?", "OVLD"),
    ])
    dmm = Multimeter(res)
    assert dmm.measure_dc_voltage() == pytest.approx(3.27)
    with pytest.raises(Exception, match="SCRIPTED::INSTR: MEAS:CURR:DC\\?: not a number: 'OVLD'"):
        dmm.measure_dc_current()
    res.assert_all_used()


def test_rejected_setting_names_address_command_and_instrument_error():
    res = ScriptedResource([("*IDN?", "A,B,C,D"), ("VOLT 99.0000", None), ("SYST:ERR?", '-222,"Data out of range"')])
    psu = PowerSupply(res)
    with pytest.raises(InstrumentRejected, match=r"SCRIPTED::INSTR: VOLT 99.0000: .*-222"):
        psu.set_voltage(99)
    res.assert_all_used()


@pytest.fixture
def bench():
    rm = pyvisa.ResourceManager(f"{default_sim_instruments()}@sim")
    yield rm
    rm.close()


def test_sim_bench_through_real_pyvisa(bench):
    psu = PowerSupply(open_resource("ASRL1::INSTR", manager=bench, timeout_ms=200), address="ASRL1::INSTR")
    dmm = Multimeter(open_resource("ASRL2::INSTR", manager=bench, timeout_ms=200), address="ASRL2::INSTR")
    assert psu.idn.startswith("LINEGATE-SIM,PSU") and dmm.idn.startswith("LINEGATE-SIM,DMM")
    psu.set_voltage(3.3)
    psu.output(True)
    psu.resource.write("SIM:LOAD 0.0812")  # the simulated DUT's load
    assert psu.measure_voltage() == pytest.approx(3.3)
    assert psu.measure_current() == pytest.approx(0.0812)
    with pytest.raises(InstrumentRejected, match="-100"):
        psu.set_voltage(99)
    with pytest.raises(InstrumentTimeout, match="ASRL1::INSTR: BOGUS\\?"):
        psu.query("BOGUS?")


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")
def test_missing_instrument_is_named(bench):
    # pyvisa-sim opens any ASRL address and stays silent; a real VISA refuses to open.
    with pytest.raises((InstrumentNotFound, InstrumentTimeout), match="ASRL9::INSTR"):
        PowerSupply(open_resource("ASRL9::INSTR", manager=bench, timeout_ms=100), address="ASRL9::INSTR")


def test_unknown_backend_is_named():
    with pytest.raises(InstrumentNotFound, match=r"TCPIP0::10\.255\.0\.1::INSTR: cannot open"):
        open_resource("TCPIP0::10.255.0.1::INSTR", "/nonexistent/bench.yaml@sim")
