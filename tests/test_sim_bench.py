"""The simulated bench (fixtures/sim/instruments.yaml) on its own, and with the simulated line on top.

pyvisa-sim keeps one bench per YAML path for the whole process; each test copies the file so its
bench is fresh, as a bench just switched on.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import pyvisa
from linegate.drivers.instruments import Multimeter, PowerSupply, open_resource
from linegate.fixtures.config import (
    DutPort,
    FixtureConfig,
    InstrumentAddress,
    Instruments,
    Socket,
    default_sim_instruments,
)
from linegate.fixtures.jig import Jig
from linegate.fixtures.sim.jig import SimulatedLine
from linegate.fixtures.sim.unit import SimUnit
from linegate.plans import load_plan
from linegate.plans.limits import Status

PLAN = load_plan(Path(__file__).resolve().parent.parent / "plans" / "esp-at-module.yaml")


def judged(readings: dict[str, float]) -> dict[str, tuple[Status, str]]:
    """The example plan's verdict on each reading, by measurement name."""
    verdicts = {}
    for step in PLAN.steps:
        for spec in step.measurements:
            if spec.name in readings:
                verdicts[spec.name] = spec.judge(readings[spec.name])
    assert verdicts.keys() == readings.keys()
    return verdicts


def power_on_and_read(psu: PowerSupply, dmm: Multimeter) -> dict[str, float]:
    """What the example plan's power_on and supply_current steps do to the bench."""
    psu.set_current_limit(0.5)
    psu.set_voltage(3.3)
    psu.output(True)
    return {"supply_voltage": psu.measure_voltage(), "dut_voltage": dmm.measure_dc_voltage(),
            "supply_current": psu.measure_current(), "dmm_current": dmm.measure_dc_current()}


@pytest.fixture
def fresh_bench(tmp_path: Path) -> Path:
    return Path(shutil.copy(default_sim_instruments(), tmp_path / "instruments.yaml"))


def test_bench_on_its_own_reads_an_idle_module_within_the_plans_limits(fresh_bench):
    manager = pyvisa.ResourceManager(f"{fresh_bench}@sim")
    try:
        psu = PowerSupply(open_resource("ASRL1::INSTR", manager=manager, timeout_ms=200))
        dmm = Multimeter(open_resource("ASRL2::INSTR", manager=manager, timeout_ms=200))
        readings = power_on_and_read(psu, dmm)
    finally:
        manager.close()
    assert readings == pytest.approx(
        {"supply_voltage": 3.3, "dut_voltage": 3.272, "supply_current": 0.080, "dmm_current": 0.080})
    assert judged(readings) == dict.fromkeys(readings, (Status.PASS, ""))


def test_supply_reading_follows_the_set_voltage(fresh_bench):
    manager = pyvisa.ResourceManager(f"{fresh_bench}@sim")
    try:
        psu = PowerSupply(open_resource("ASRL1::INSTR", manager=manager, timeout_ms=200))
        for volts in (1.8, 5.0):
            psu.set_voltage(volts)
            assert psu.measure_voltage() == pytest.approx(volts)
    finally:
        manager.close()


def sim_jig(bench: Path) -> Jig:
    backend = f"{bench}@sim"
    return Jig.open(FixtureConfig(
        station="bench", sockets=(Socket(name="A", dut=DutPort(port="loop://")),),
        instruments=Instruments(psu=InstrumentAddress(address="ASRL1::INSTR", backend=backend, timeout_ms=200),
                                dmm=InstrumentAddress(address="ASRL2::INSTR", backend=backend, timeout_ms=200))))


def test_simulated_line_sets_each_units_values_on_top(fresh_bench):
    jig = sim_jig(fresh_bench)
    try:
        assert jig.psu is not None and jig.dmm is not None
        hungry_unit = SimUnit(mac="24:0a:c4:00:00:01", chip_id="1", faults=frozenset({"high-current"}))
        SimulatedLine.apply_electrical(jig, hungry_unit)
        hungry = power_on_and_read(jig.psu, jig.dmm)
        SimulatedLine.apply_electrical(jig, SimUnit(mac="24:0a:c4:00:00:02", chip_id="2", supply_current_a=0.0842))
        nominal = power_on_and_read(jig.psu, jig.dmm)
    finally:
        jig.close()
    assert hungry == pytest.approx(
        {"supply_voltage": 3.3, "dut_voltage": 3.216, "supply_current": 0.240, "dmm_current": 0.240})
    assert judged(hungry)["supply_current"] == (Status.FAIL, "0.24 A is above the high limit 0.1 A")
    assert nominal == pytest.approx(
        {"supply_voltage": 3.3, "dut_voltage": 3.27053, "supply_current": 0.0842, "dmm_current": 0.0842})


BENCH_WITHOUT_BACK_DOOR = """\
spec: "1.1"
devices:
  psu:
    eom: {ASRL INSTR: {q: "\\n", r: "\\n"}}
    error:
      error_queue:
        - {q: "SYST:ERR?", default: '0,"No error"', command_error: '-113,"Undefined header"'}
    dialogues:
      - {q: "*IDN?", r: "ACME,PSU,1,1"}
      - {q: "*CLS"}
    properties:
      voltage:
        default: 0.0
        getter: {q: "MEAS:VOLT?", r: "{:.4f}"}
        setter: {q: "VOLT {:f}"}
        specs: {min: 0, max: 30, type: float}
      output:
        default: "OFF"
        getter: {q: "OUTP?", r: "{:s}"}
        setter: {q: "OUTP {:s}"}
        specs: {valid: ["ON", "OFF"], type: str}
resources:
  ASRL1::INSTR: {device: psu}
"""


def test_simulated_line_on_a_bench_without_its_back_door_leaves_no_error_behind(tmp_path, caplog):
    bench = tmp_path / "plain.yaml"
    bench.write_text(BENCH_WITHOUT_BACK_DOOR)
    backend = f"{bench}@sim"
    jig = Jig.open(FixtureConfig(
        station="bench", sockets=(Socket(name="A", dut=DutPort(port="loop://")),),
        instruments=Instruments(psu=InstrumentAddress(address="ASRL1::INSTR", backend=backend, timeout_ms=200))))
    try:
        assert jig.psu is not None
        with caplog.at_level(logging.WARNING, logger="linegate.fixtures.sim.jig"):
            SimulatedLine.apply_electrical(jig, SimUnit(mac="24:0a:c4:00:00:03", chip_id="3"))
        jig.psu.set_voltage(3.3)  # the refused SIM:LOAD is not blamed on the next setting
    finally:
        jig.close()
    assert caplog.messages == ["simulated line cannot set the unit's values: ASRL1::INSTR: SIM:LOAD 0.080000: "
                               'instrument reported -113,"Undefined header"']
