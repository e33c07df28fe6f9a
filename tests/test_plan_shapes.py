"""Every plan shape runs every unit: 1, 2 and 6 steps; steps using only the supply, only the DUT, nothing.

A warm pytest session keeps the jig across units; what a step asks for must be set up again for
each unit whatever the plan's length (a one-step plan once passed unit 1 and errored every later one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture
from linegate.station.run import LineError

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"

STEPS = '''
import itertools

_calls = itertools.count(1)


def test_psu_only(psu, measure):
    measure("volts", psu.measure_voltage(), "V")


def test_dut_only(dut, measure):
    dut.ping()
    measure("ping", True)


def test_nothing(measure):
    measure("calls", next(_calls))


def test_unit_only(unit, measure):
    measure("fresh_unit", "seen" not in unit.facts)
    unit.facts["seen"] = "yes"
'''

LIMITS = {
    "test_psu_only": "{name: volts, units: V, low: 0, high: 5}",
    "test_dut_only": "{name: ping, equals: true}",
    "test_nothing": "{name: calls, low: 1, high: 1000}",
    "test_unit_only": "{name: fresh_unit, equals: true}",
}

SHAPES = {
    "one-dut": ["test_dut_only"],
    "one-psu": ["test_psu_only"],
    "one-nothing": ["test_nothing"],
    "one-unit": ["test_unit_only"],
    "two": ["test_psu_only", "test_dut_only"],
    "six": ["test_nothing", "test_psu_only", "test_dut_only", "test_unit_only", "test_psu_only_2",
            "test_dut_only_2"],
}


def _plan(tmp_path: Path, shape: str, tag: str = "") -> Path:
    module = f"shape_{shape.replace('-', '_')}{tag}"  # one name per test: pytest imports them all here
    tests = tmp_path / "tests"
    tests.mkdir()
    code = STEPS + "\n\ntest_psu_only_2 = test_psu_only\ntest_dut_only_2 = test_dut_only\n"
    (tests / f"{module}.py").write_text(code)
    lines = []
    for i, test in enumerate(SHAPES[shape]):
        limit = LIMITS[test.removesuffix("_2")]
        lines.append(f"  - name: step{i}\n    test: {module}.py::{test}\n    measurements:\n      - {limit}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: shape\nversion: '1'\nstation_tests: tests\nsteps:\n" + "".join(lines))
    return plan


def _sockets(count: int):
    config = load_fixture(FIXTURE)
    sockets = [config.sockets[0].model_copy(update={
        "name": name, "dut": config.sockets[0].dut.model_copy(update={"port": f".sim/socket-{name}"})})
        for name in "AB"[:count]]
    return config.model_copy(update={"sockets": sockets,
                                     "simulated": config.simulated.model_copy(update={"fail_share": 0.0})})


@pytest.mark.parametrize("sockets", [1, 2])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_unit_of_every_plan_shape_runs_every_step(tmp_path, shape, sockets):
    plan = load_plan(_plan(tmp_path, shape, f"_{sockets}"))
    result = run_fixture(_sockets(sockets), plan, out=tmp_path / "out", units=4)
    assert len(result.records) == 4
    for record in result.records:
        assert [s.name for s in record.steps] == [f"step{i}" for i in range(len(SHAPES[shape]))]
        assert record.outcome.value == "PASS", [(s.name, s.message) for s in record.steps]


def test_a_station_test_named_by_two_steps_is_refused(tmp_path):
    plan = _plan(tmp_path, "two", "_twice")
    text = plan.read_text().replace("::test_psu_only", "::test_dut_only")
    plan.write_text(text)
    with pytest.raises(LineError, match=r"steps\[1\]\(step1\)\.test: .*already the test of step step0"):
        run_fixture(_sockets(1), load_plan(plan), out=tmp_path / "out", units=1)
