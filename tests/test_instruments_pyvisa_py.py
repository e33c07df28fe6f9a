"""The SCPI drivers through pyvisa-py (``backend: "@py"``) to an instrument on a raw TCP socket.

The instrument is a scripted SCPI server on 127.0.0.1 (tests/scpi_socket.py): real sockets, real
pyvisa-py, exact command/response pairs, every pair used.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import pyvisa
from linegate.drivers.instruments import (
    InstrumentNotFound,
    InstrumentRejected,
    InstrumentTimeout,
    PowerSupply,
    open_resource,
)
from linegate.fixtures.config import load_fixture
from linegate.fixtures.jig import Jig, JigError
from linegate.fixtures.sim.jig import SimulatedLine
from linegate.fixtures.sim.unit import SimUnit
from scpi_socket import ScpiSocketInstrument

NO_ERROR = ("SYST:ERR?", '0,"No error"')
OPEN_PSU = [("*IDN?", "RIGOL TECHNOLOGIES,DP832,DP8B0000001,00.01.16"), ("*CLS", None), NO_ERROR]
OPEN_DMM = [("*IDN?", "KEITHLEY INSTRUMENTS,MODEL DMM6500,04512345,1.7.12b"), ("*CLS", None), NO_ERROR]


@pytest.fixture
def py_manager():
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


def test_supply_over_pyvisa_py_socket(py_manager):
    with ScpiSocketInstrument([
        *OPEN_PSU,
        ("CURR 0.5000", None), NO_ERROR,
        ("VOLT 3.3000", None), NO_ERROR,
        ("OUTP ON", None), NO_ERROR,
        ("OUTP?", "ON"),
        ("MEAS:VOLT?", "3.2990"),
        ("MEAS:CURR?", "0.0812"),
        ("OUTP OFF", None), NO_ERROR,
    ]) as instrument:
        psu = PowerSupply(open_resource(instrument.address, "@py", manager=py_manager, timeout_ms=1000))
        assert psu.address == instrument.address
        assert psu.idn.startswith("RIGOL TECHNOLOGIES,DP832")
        psu.set_current_limit(0.5)
        psu.set_voltage(3.3)
        psu.output(True)
        assert psu.is_output_on()
        assert psu.measure_voltage() == pytest.approx(3.299)
        assert psu.measure_current() == pytest.approx(0.0812)
        psu.output(False)
        psu.close()
        instrument.assert_all_used()


def test_refusal_and_silence_over_pyvisa_py_are_typed_and_name_the_command(py_manager):
    with ScpiSocketInstrument([
        *OPEN_PSU,
        ("VOLT 99.0000", None), ("SYST:ERR?", '-222,"Data out of range"'),
        ("MEAS:VOLT?", None),  # the instrument never answers
    ]) as instrument:
        psu = PowerSupply(open_resource(instrument.address, "@py", manager=py_manager, timeout_ms=300))
        with pytest.raises(InstrumentRejected) as refused:
            psu.set_voltage(99)
        assert str(refused.value) == f'{instrument.address}: VOLT 99.0000: instrument reported -222,"Data out of range"'
        with pytest.raises(InstrumentTimeout) as silent:
            psu.measure_voltage()
        assert str(silent.value) == f"{instrument.address}: MEAS:VOLT?: no answer in time"
        psu.close()
        instrument.assert_all_used()


def test_nothing_listening_on_the_socket_is_not_found_in_one_line():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    address = f"TCPIP0::127.0.0.1::{port}::SOCKET"
    with pytest.raises(InstrumentNotFound) as caught:
        PowerSupply(open_resource(address, "@py", timeout_ms=300))
    assert str(caught.value) == f"{address}: *IDN?: VISA error: [Errno 111] Connection refused"


def test_fixture_with_pyvisa_py_instruments_opens_the_jig_and_leaves_it_safe(tmp_path: Path):
    """The README's real-station fixture, addresses aside: supply and DMM on ``backend: "@py"``."""
    with ScpiSocketInstrument([
        *OPEN_PSU,
        ("CURR 0.5000", None), NO_ERROR,
        ("OUTP OFF", None), NO_ERROR,  # safe state on close
    ]) as supply, ScpiSocketInstrument([*OPEN_DMM, ("MEAS:VOLT:DC?", "+3.27100E+00")]) as meter:
        fixture = tmp_path / "line3.yaml"
        fixture.write_text(f"""\
station: line3-station2
sockets:
  - name: A
    dut: {{port: "loop://"}}
instruments:
  psu: {{address: "{supply.address}", backend: "@py"}}   # pyvisa-py
  dmm: {{address: "{meter.address}", backend: "@py"}}
""")
        jig = Jig.open(load_fixture(fixture))
        try:
            assert jig.psu is not None and jig.dmm is not None
            # A simulated line never drives instruments that are not on a pyvisa-sim bench.
            SimulatedLine.apply_electrical(jig, SimUnit(mac="24:0a:c4:00:00:09", chip_id="9"))
            jig.psu.set_current_limit(0.5)
            assert jig.dmm.measure_dc_voltage() == pytest.approx(3.271)
        finally:
            jig.close()
        supply.assert_all_used()
        meter.assert_all_used()


def test_fixture_with_a_pyvisa_py_supply_that_is_not_there_is_a_jig_error(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    fixture = tmp_path / "line3.yaml"
    fixture.write_text(f"""\
station: line3-station2
sockets:
  - name: A
    dut: {{port: "loop://"}}
instruments:
  psu: {{address: "TCPIP0::127.0.0.1::{port}::SOCKET", backend: "@py", timeout_ms: 300}}
""")
    with pytest.raises(JigError) as caught:
        Jig.open(load_fixture(fixture))
    assert str(caught.value) == f"TCPIP0::127.0.0.1::{port}::SOCKET: *IDN?: VISA error: [Errno 111] Connection refused"
    assert isinstance(caught.value.__cause__, InstrumentNotFound)
