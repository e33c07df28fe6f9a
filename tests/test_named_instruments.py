"""Instruments as named, typed parts: the fixture file's names, drivers, channels and socket-level
instruments, at load and at the jig.

The bench is pyvisa-sim (tests/sim/named-instruments.yaml): a Keithley 2000 DMM and a Keithley
2260B supply answering what PyMeasure's classes send, and a three-output supply in linegate's
SCPI dialect; plus the project's simulated bench (fixtures/sim/instruments.yaml) for psu and dmm.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from linegate.drivers.instruments import InstrumentRejected, Multimeter, PowerSupply
from linegate.fixtures.config import FixtureError, load_fixture
from linegate.fixtures.jig import Jig, JigError
from linegate.station.cli import main

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).parent / "sim" / "named-instruments.yaml"
PLAN = REPO / "plans" / "esp-at-module.yaml"
K2000 = "pymeasure.instruments.keithley.Keithley2000"
K2260B = "pymeasure.instruments.keithley.Keithley2260B"
TERMINATED = '{write_termination: "\\n", read_termination: "\\n"}'


def fixture_file(tmp_path: Path, instruments: str, sockets: str = "  - name: A\n    dut: {port: loop://}\n") -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(f"station: bench\nsockets:\n{sockets}instruments:\n{instruments}")
    return path


def bench(address: str, extra: str = "") -> str:
    return f'{{address: "{address}", backend: "{BENCH}@sim", timeout_ms: 300{extra}}}'


# -- the fixture file ----------------------------------------------------------------------
def test_psu_and_dmm_without_a_driver_take_linegates_scpi_supply_and_dmm():
    config = load_fixture(REPO / "fixtures" / "sim-station.yaml")
    assert [(name, inst.driver_for(name)) for name, inst in config.instruments.items()] == [
        ("psu", "scpi-psu"), ("dmm", "scpi-dmm")]


def test_any_name_with_a_driver_at_station_and_socket_level(tmp_path):
    config = load_fixture(fixture_file(
        tmp_path,
        f"  meter: {{driver: {K2000}, address: GPIB0::16::INSTR, options: {{read_termination: \"\\n\"}}}}\n"
        "  main_rail: {driver: scpi-psu, address: ASRL23::INSTR, channel: 2}\n",
        "  - name: A\n    dut: {port: loop://}\n    instruments:\n"
        "      psu: {address: ASRL1::INSTR, backend: '@sim'}\n"))
    meter, rail = config.instruments.get("meter"), config.instruments.get("main_rail")
    assert meter is not None and meter.driver_for("meter") == K2000 and meter.options == {"read_termination": "\n"}
    assert rail is not None and rail.channel == 2
    [(name, own)] = config.sockets[0].instruments.items()
    assert name == "psu" and own.driver_for(name) == "scpi-psu"


def test_the_readmes_real_station_example_loads(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Pointing the same plan at real hardware"):]
    path = tmp_path / "line3.yaml"
    path.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    config = load_fixture(path)
    assert [name for name, _ in config.instruments.items()] == ["psu", "aux_rail", "meter"]
    assert [[name for name, _ in s.instruments.items()] for s in config.sockets] == [["dmm"], ["dmm"]]


REFUSED = {
    "built-in linegate fixture": ("  dut: {address: ASRL1::INSTR}\n",
                                  "instruments: 'dut' is the name of a fixture station tests get already"),
    "pytest's own fixture": ("  tmp_path: {driver: scpi-dmm, address: ASRL2::INSTR}\n",
                             "instruments: 'tmp_path' is the name of a fixture station tests get already"),
    "linegate's prefix": ("  lg_jig: {driver: scpi-dmm, address: ASRL2::INSTR}\n",
                          "instruments: 'lg_jig' is the name of a fixture station tests get already"),
    "not an identifier": ("  2nd-psu: {driver: scpi-psu, address: ASRL1::INSTR}\n",
                          "instruments: '2nd-psu' is not a name a station test can ask for"),
    "keyword": ("  class: {driver: scpi-psu, address: ASRL1::INSTR}\n",
                "instruments: 'class' is not a name a station test can ask for"),
    "no driver": ("  scope: {address: ASRL1::INSTR}\n", "instruments: scope.driver: missing: scpi-psu or scpi-dmm"),
    "driver of no form": ("  scope: {driver: keithley 2000, address: ASRL1::INSTR}\n",
                          "instruments.scope.driver: 'keithley 2000' is neither scpi-psu nor scpi-dmm"),
    "no such PyMeasure class": ("  meter: {driver: pymeasure.instruments.keithley.Keithley9999, address: X}\n",
                                "instruments: meter.driver: pymeasure.instruments.keithley.Keithley9999: "
                                "pymeasure.instruments.keithley has no PyMeasure instrument class 'Keithley9999'"),
    "no such module": ("  meter: {driver: labdrivers.meters.Fluke, address: X}\n",
                       "instruments: meter.driver: labdrivers.meters.Fluke: no module 'labdrivers.meters'"),
    "not an instrument class": ("  meter: {driver: pathlib.Path, address: X}\n",
                                "instruments: meter.driver: pathlib.Path: pathlib has no PyMeasure instrument class"),
    "channel of a DMM": ("  dmm: {address: ASRL2::INSTR, channel: 2}\n",
                         "instruments: dmm.channel: only the scpi-psu driver selects a channel; scpi-dmm is not it"),
    "channel zero": ("  psu: {address: ASRL1::INSTR, channel: 0}\n",
                     "instruments.psu.channel: Input should be greater than or equal to 1"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_instrument_exits_2_with_one_line_naming_file_and_field(tmp_path, capsys, case):
    instruments, expected = REFUSED[case]
    path = fixture_file(tmp_path, instruments)
    with pytest.raises(FixtureError) as caught:
        load_fixture(path)
    assert str(caught.value).startswith(f"{path}: {expected}"), str(caught.value)
    rc = main(["run", "--fixture", str(path), "--plan", str(PLAN), "--units", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines() == [f"linegate: error: {caught.value}"], err


def test_a_socket_instrument_is_checked_as_well(tmp_path):
    path = fixture_file(tmp_path, "  psu: {address: ASRL1::INSTR}\n",
                        "  - name: A\n    dut: {port: loop://}\n    instruments:\n      unit: {address: X}\n")
    with pytest.raises(FixtureError, match=r"sockets\[0\]\(A\)\.instruments: 'unit' is the name of a fixture"):
        load_fixture(path)


# -- multi-output supplies -----------------------------------------------------------------
def test_each_channel_is_its_own_instrument_on_one_shared_session(tmp_path):
    jig = Jig.open(load_fixture(fixture_file(
        tmp_path, f"  core: {bench('ASRL23::INSTR', ', channel: 1, driver: scpi-psu')}\n"
        f"  io: {bench('ASRL23::INSTR', ', channel: 2, driver: scpi-psu')}\n")))
    try:
        core, io = jig.instrument("core"), jig.instrument("io")
        assert isinstance(core, PowerSupply) and isinstance(io, PowerSupply)
        assert core.resource is io.resource, "two outputs of one supply: one VISA session"
        core.set_voltage(1.8)
        io.set_voltage(3.3)
        core.output(True)
        io.output(True)
        assert (core.measure_voltage(), io.measure_voltage()) == (1.8, 3.3)
        core.resource.write("INST:NSEL 3")  # the third output: never set
        assert core.resource.query("MEAS:VOLT?") == "0.0000"
        assert core.is_output_on() and io.is_output_on()
        assert jig.safe_state() == []
        assert not core.is_output_on() and not io.is_output_on()
        assert jig.idns == {"core": "LINEGATE-SIM,PSU-3303,SIM-PSU3-0001,1.0.0",
                            "io": "LINEGATE-SIM,PSU-3303,SIM-PSU3-0001,1.0.0"}
    finally:
        jig.close()


def test_a_channel_the_supply_does_not_have_is_refused_naming_the_selection(tmp_path):
    aux = bench("ASRL23::INSTR", ", channel: 4, driver: scpi-psu")
    jig = Jig.open(load_fixture(fixture_file(tmp_path, f"  aux: {aux}\n")))
    try:
        aux = jig.instrument("aux")
        with pytest.raises(InstrumentRejected) as caught:
            aux.set_voltage(5.0)
        assert str(caught.value) == 'ASRL23::INSTR: INST:NSEL 4: instrument reported -100,"Command error"'
        assert jig.safe_state() == ['aux ASRL23::INSTR: INST:NSEL 4: instrument reported -100,"Command error"']
    finally:
        jig.close()


# -- PyMeasure instruments -----------------------------------------------------------------
def pymeasure_jig(tmp_path: Path) -> Jig:
    return Jig.open(load_fixture(fixture_file(
        tmp_path,
        f"  meter: {{driver: {K2000}, {bench('ASRL21::INSTR')[1:-1]}, options: {TERMINATED}}}\n"
        f"  bench_supply: {{driver: {K2260B}, {bench('ASRL22::INSTR')[1:-1]}, "
        "options: {write_termination: \"\\n\"}}\n")))


def test_a_pymeasure_instrument_by_import_path_measures_and_identifies(tmp_path):
    from pymeasure.instruments.keithley import Keithley2000, Keithley2260B

    jig = pymeasure_jig(tmp_path)
    try:
        meter, supply = jig.instrument("meter"), jig.instrument("bench_supply")
        assert isinstance(meter, Keithley2000) and isinstance(supply, Keithley2260B)
        meter.measure_voltage(10)
        assert (meter.mode, meter.voltage_range, meter.voltage) == ("voltage", 10.0, 3.2825)
        assert jig.idns == {"meter": "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1234567,A20 /A02",
                            "bench_supply": "Keithley Instruments Inc.,2260B-30-36,1234567,01.72.20150702"}
    finally:
        jig.close()


def test_safe_state_calls_each_pymeasure_instruments_shutdown(tmp_path):
    jig = pymeasure_jig(tmp_path)
    try:
        supply = jig.instrument("bench_supply")
        supply.output_enabled = True
        assert jig.safe_state() == []
        assert supply.output_enabled is False and supply.isShutdown
    finally:
        jig.close()


def test_a_failing_shutdown_is_returned_and_logged_and_the_others_still_run(tmp_path, caplog):
    jig = pymeasure_jig(tmp_path)
    meter = jig.instrument("meter")
    jig.instrument("bench_supply").adapter.connection.close()  # the supply dropped off the bus
    with caplog.at_level(logging.WARNING, logger="linegate.fixtures.jig"):
        [problem] = jig.safe_state()
    assert problem.startswith("bench_supply ASRL22::INSTR: shutdown(): InvalidSession: "), problem
    assert "\n" not in problem and meter.isShutdown
    assert [r.getMessage() for r in caplog.records] == [f"safe state not reached: {problem}"]
    jig.close()
    assert jig.instruments == {}


def test_a_pymeasure_instrument_answering_nothing_is_one_jig_error_line(tmp_path):
    config = load_fixture(fixture_file(tmp_path, f"  meter: {{driver: {K2000}, {bench('ASRL29::INSTR')[1:-1]}}}\n"))
    with pytest.raises(JigError) as caught:
        Jig.open(config)
    assert str(caught.value) == f"ASRL29::INSTR: {K2000}: id: empty identification: nothing answering there"


def test_an_option_the_pymeasure_class_does_not_take_is_one_jig_error_line(tmp_path):
    config = load_fixture(fixture_file(
        tmp_path, f"  meter: {{driver: {K2000}, {bench('ASRL21::INSTR')[1:-1]}, options: {{baud: 9600}}}}\n"))
    with pytest.raises(JigError) as caught:
        Jig.open(config)
    assert str(caught.value).startswith(f"ASRL21::INSTR: {K2000}: cannot open ({BENCH}@sim): "), str(caught.value)
    assert "baud" in str(caught.value) and "\n" not in str(caught.value)


# -- socket-level instruments --------------------------------------------------------------
TWO_SOCKETS = ("  - name: A\n    dut: {port: loop://}\n    instruments:\n"
               f"      psu: {bench('ASRL23::INSTR', ', channel: 1')}\n"
               "  - name: B\n    dut: {port: loop://}\n")


def test_a_socket_gets_its_own_instrument_by_a_name_else_the_stations(tmp_path):
    config = load_fixture(fixture_file(
        tmp_path, "  psu: {address: ASRL1::INSTR, backend: '@sim'}\n  dmm: {address: ASRL2::INSTR, backend: '@sim'}\n",
        TWO_SOCKETS))
    jig = Jig.open(config)
    try:
        own, shared = jig.instrument("psu", "A"), jig.instrument("psu", "B")
        assert isinstance(own, PowerSupply) and own.channel == 1 and own.idn.startswith("LINEGATE-SIM,PSU-3303")
        assert isinstance(shared, PowerSupply) and shared is jig.instrument("psu") and shared is jig.psu
        assert shared.idn.startswith("LINEGATE-SIM,PSU-3305")
        assert isinstance(jig.instrument("dmm", "A"), Multimeter) and jig.instrument("dmm", "A") is jig.dmm
        assert jig.instrument("scope", "A") is None
        assert set(jig.idns) == {"psu", "dmm", "A/psu"}
        own.output(True)
        shared.output(True)
        assert own.is_output_on() and shared.is_output_on()
        assert jig.safe_state() == []
        assert not own.is_output_on() and not shared.is_output_on()
    finally:
        jig.close()
