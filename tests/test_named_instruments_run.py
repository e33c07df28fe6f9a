"""Named instruments through a station run: a PyMeasure instrument asked for by its name in a
station test, and socket-level instruments shadowing the station's.

The DUTs are the simulated ESP-AT modules on ptys; the instruments are pyvisa-sim
(tests/sim/named-instruments.yaml and the project's bench).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture

BENCH = Path(__file__).parent / "sim" / "named-instruments.yaml"
K2000_IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1234567,A20 /A02"

RAIL_TEST = """\
def test_rail(meter, measure):
    meter.measure_voltage(10)
    measure("rail_voltage", meter.voltage, "V")
"""


def own_plan(tmp_path: Path, module: str, code: str, steps: str) -> Path:
    """A plan over one station test file ``<module>.py`` (module names differ between tests:
    pytest imports them into this one process)."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / f"{module}.py").write_text(code)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: own\nversion: '1'\nstation_tests: tests\nsteps:\n{steps}")
    return plan


def simulated_station(tmp_path: Path, sockets: str, instruments: str) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(f"station: named-bench\nsockets:\n{sockets}instruments:\n{instruments}"
                    "simulated: {seed: 1, fail_share: 0}\n")
    return path


METER_STATION = (
    "  - name: A\n    dut: {port: .sim/socket-A}\n",
    "  meter:\n    driver: pymeasure.instruments.keithley.Keithley2000\n"
    f"    address: ASRL21::INSTR\n    backend: '{BENCH}@sim'\n"
    "    options: {write_termination: \"\\n\", read_termination: \"\\n\"}\n",
)


def test_a_pymeasure_instrument_is_a_fixture_by_its_name_and_the_plan_judges_its_reading(tmp_path):
    plan = own_plan(tmp_path, "test_pymeasure_rail_pass", RAIL_TEST,
                    "  - name: rail\n    test: test_pymeasure_rail_pass.py::test_rail\n    measurements:\n"
                    "      - {name: rail_voltage, units: V, low: 3.2, high: 3.4}\n")
    config = load_fixture(simulated_station(tmp_path, *METER_STATION))
    result = run_fixture(config, load_plan(plan), out=tmp_path / "out", units=2)
    assert [r.outcome.value for r in result.records] == ["PASS", "PASS"]
    for record in result.records:
        assert record.instruments == {"meter": K2000_IDN}
        [measured] = record.steps[0].measurements
        assert (measured.name, measured.value, measured.units, measured.status.value) == (
            "rail_voltage", 3.2825, "V", "pass")


def test_a_pymeasure_reading_outside_the_plans_limit_fails_the_unit(tmp_path):
    plan = own_plan(tmp_path, "test_pymeasure_rail_fail", RAIL_TEST,
                    "  - name: rail\n    test: test_pymeasure_rail_fail.py::test_rail\n    measurements:\n"
                    "      - {name: rail_voltage, units: V, low: 3.3, high: 3.4}\n")
    config = load_fixture(simulated_station(tmp_path, *METER_STATION))
    [record] = run_fixture(config, load_plan(plan), out=tmp_path / "out", units=1).records
    assert record.outcome.value == "FAIL"
    assert record.failure is not None and record.failure.measurement == "rail_voltage"
    assert record.steps[0].measurements[0].status.value == "fail"


def test_each_socket_gets_its_own_instrument_by_a_name_else_the_stations(tmp_path):
    barrier = tmp_path / "started"
    barrier.mkdir()
    plan = own_plan(tmp_path, "test_which_supply",  # each socket's first unit waits until the other's has begun
                    "import time\nfrom pathlib import Path\n\n\ndef test_which(psu, measure, unit):\n"
                    f"    here = Path({str(barrier)!r})\n    (here / unit.socket).touch()\n"
                    "    deadline = time.monotonic() + 30\n"
                    "    while len(list(here.iterdir())) < 2 and time.monotonic() < deadline:\n"
                    "        time.sleep(0.02)\n"
                    "    measure('supply_idn', psu.idn)\n",
                    "  - name: which\n    test: test_which_supply.py::test_which\n    measurements:\n"
                    "      - {name: supply_idn, regex: 'LINEGATE-SIM,PSU-330[35],.*'}\n")
    config = load_fixture(simulated_station(
        tmp_path,
        "  - name: A\n    dut: {port: .sim/socket-A}\n    instruments:\n"
        f"      psu: {{address: ASRL23::INSTR, backend: '{BENCH}@sim', channel: 1}}\n"
        "  - name: B\n    dut: {port: .sim/socket-B}\n",
        "  psu: {address: ASRL1::INSTR, backend: '@sim'}\n"))
    result = run_fixture(config, load_plan(plan), out=tmp_path / "out", units=4)
    seen = [(r.station.socket, r.outcome.value, r.steps[0].measurements[0].value) for r in result.records]
    own = {"A": "LINEGATE-SIM,PSU-3303,SIM-PSU3-0001,1.0.0", "B": "LINEGATE-SIM,PSU-3305,SIM-PSU-0001,1.4.2"}
    assert len(seen) == 4 and {socket for socket, _, _ in seen} == {"A", "B"}  # side by side: 1 to 3 units each
    assert all((outcome, idn) == ("PASS", own[socket]) for socket, outcome, idn in seen), seen
    assert all(set(r.instruments) == ({"psu", "A/psu"} if r.station.socket == "A" else {"psu"})  # each its own jig
               for r in result.records)


def test_plain_pytest_offers_the_fixture_files_names_too(tmp_path):
    plan = own_plan(tmp_path, "test_pymeasure_rail_plain", RAIL_TEST,
                    "  - name: rail\n    test: test_pymeasure_rail_plain.py::test_rail\n    measurements:\n"
                    "      - {name: rail_voltage, units: V, low: 3.2, high: 3.4}\n")
    station = simulated_station(tmp_path, *METER_STATION)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "tests"), "-p", "no:cacheprovider", "-q",
         "--lg-fixture", str(station), "--lg-plan", str(plan), "--lg-out", "o"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0 and "1 passed" in done.stdout.strip().splitlines()[-1], done.stdout[-2000:]
