"""SCPI drivers: exact pairs (every pair used) and the pyvisa-sim bench."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvisa
from linegate.drivers.instruments import (
    InstrumentBadAnswer,
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
FAULTY_BENCH = Path(__file__).parent / "sim" / "faulty-instruments.yaml"


def opened(idn: str, *pairs: tuple[str, str | None]) -> ScriptedResource:
    """The pairs of opening a driver (identify, clear status, empty error queue), then ``pairs``."""
    return ScriptedResource([("*IDN?", idn), ("*CLS", None), NO_ERROR, *pairs])


def test_psu_pairs():
    res = opened(
        "ACME,PSU,1,1",
        ("VOLT 3.3000", None), NO_ERROR,
        ("CURR 0.5000", None), NO_ERROR,
        ("OUTP ON", None), NO_ERROR,
        ("MEAS:VOLT?", "3.2990"),
        ("MEAS:CURR?", "0.08120"),
        ("OUTP OFF", None), NO_ERROR,
    )
    psu = PowerSupply(res)
    assert psu.idn == "ACME,PSU,1,1"
    psu.set_voltage(3.3)
    psu.set_current_limit(0.5)
    psu.output(True)
    assert psu.measure_voltage() == pytest.approx(3.299)
    assert psu.measure_current() == pytest.approx(0.0812)
    psu.output(False)
    res.assert_all_used()


def test_dmm_pairs_and_non_numeric_answer():
    res = opened("ACME,DMM,2,1", ("MEAS:VOLT:DC?", "+3.27E+00"), ("MEAS:CURR:DC?", "OVLD"))
    dmm = Multimeter(res)
    assert dmm.measure_dc_voltage() == pytest.approx(3.27)
    with pytest.raises(Exception, match="SCRIPTED::INSTR: MEAS:CURR:DC\\?: not a number: 'OVLD'"):
        dmm.measure_dc_current()
    res.assert_all_used()


def test_rejected_setting_names_address_command_and_instrument_error():
    res = opened("A,B,C,D", ("VOLT 99.0000", None), ("SYST:ERR?", '-222,"Data out of range"'))
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
    assert psu.is_output_on()
    psu.write("SIM:LOAD 0.0812")  # the simulated line's back door: one unit's load
    assert psu.measure_voltage() == pytest.approx(3.3)
    assert psu.measure_current() == pytest.approx(0.0812)
    with pytest.raises(InstrumentRejected, match=r"^ASRL1::INSTR: VOLT 99\.0000: instrument reported -224,"):
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


# -- instruments answering garbage -------------------------------------------------------
@pytest.fixture
def faulty_bench():
    rm = pyvisa.ResourceManager(f"{FAULTY_BENCH}@sim")
    yield rm
    rm.close()


def faulty_psu(rm: pyvisa.ResourceManager, address: str) -> PowerSupply:
    return PowerSupply(open_resource(address, manager=rm, timeout_ms=200), address=address)


def test_non_ascii_identification_is_a_bad_answer_naming_address_and_command(faulty_bench):
    with pytest.raises(InstrumentBadAnswer) as caught:
        faulty_psu(faulty_bench, "ASRL11::INSTR")
    assert str(caught.value) == (
        r"ASRL11::INSTR: *IDN?: answer is not ASCII text: b'LINEGATE-SIM,PSU-3305,\xc3\xbf\xc3\xbe\xc2\x80,1.4.2'"
    )
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


def test_non_ascii_reading_is_a_bad_answer_and_the_instrument_keeps_working(faulty_bench):
    psu = faulty_psu(faulty_bench, "ASRL12::INSTR")
    psu.set_voltage(3.3)
    with pytest.raises(InstrumentBadAnswer, match=r"^ASRL12::INSTR: MEAS:VOLT\?: answer is not ASCII text: "
                                                  r"b'3\.3000\\xc2\\xb5'$"):
        psu.measure_voltage()
    psu.write("SIM:LOAD 0.05")
    assert psu.measure_current() == pytest.approx(0.05), "the bad answer was read whole: nothing left behind"


def test_garbled_error_queue_names_the_command_it_was_checking(faulty_bench):
    psu = faulty_psu(faulty_bench, "ASRL14::INSTR")
    with pytest.raises(InstrumentBadAnswer, match=r"^ASRL14::INSTR: VOLT 3\.3000; SYST:ERR\?: answer is not ASCII"):
        psu.set_voltage(3.3)


@pytest.mark.parametrize("answer", ["3.3\u00b5", "3.3\x00", "\x1b[2J", "\u03a9"])
def test_decoded_answer_that_is_not_printable_ascii_is_a_bad_answer(answer):
    res = opened("A,B,C,D", ("MEAS:VOLT?", answer))
    psu = PowerSupply(res)
    with pytest.raises(InstrumentBadAnswer, match=r"^SCRIPTED::INSTR: MEAS:VOLT\?: answer is not ASCII text: '"):
        psu.measure_voltage()
    res.assert_all_used()


@pytest.mark.parametrize("answer", ["nan", "INF", "-inf", "1_000", "1e999", "3.3 V", "0x10", ""])
def test_answer_that_is_not_a_scpi_number_is_a_bad_answer(answer):
    res = opened("A,B,C,D", ("MEAS:VOLT:DC?", answer))
    with pytest.raises(InstrumentBadAnswer, match=r"^SCRIPTED::INSTR: MEAS:VOLT:DC\?: not a (finite )?number: '"):
        Multimeter(res).measure_dc_voltage()
    res.assert_all_used()


@pytest.mark.parametrize("answer", ["+1.5E+00", "-.5", "42", "3.", "9.9E37"])
def test_scpi_numbers_are_read(answer):
    res = opened("A,B,C,D", ("MEAS:VOLT:DC?", answer))
    assert Multimeter(res).measure_dc_voltage() == float(answer)


def test_error_queue_answer_that_is_no_entry_is_a_bad_answer():
    res = opened("A,B,C,D", ("OUTP OFF", None), ("SYST:ERR?", "garbage"))
    with pytest.raises(InstrumentBadAnswer, match=r"^SCRIPTED::INSTR: OUTP OFF; SYST:ERR\?: not an error-queue entry"):
        PowerSupply(res).output(False)
    res.assert_all_used()


def test_long_bad_answer_is_cut_short_in_one_line():
    res = opened("A,B,C,D", ("MEAS:CURR?", "\u00ff" * 500 + "\n" + "x" * 500))
    with pytest.raises(InstrumentBadAnswer) as caught:
        PowerSupply(res).measure_current()
    text = str(caught.value)
    assert "\n" not in text and text.isascii() and len(text) < 300
    assert text.endswith("'... (1001 long)")
