"""Hard step deadlines in the station: a step past its timeout_s is ERROR, its fixtures tear down, the run goes on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import PlanError, load_plan
from linegate.station.compose import run_fixture

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"

CODE = '''
import time
from pathlib import Path

import pytest

MARKS = Path(__file__).parent / "teardowns.txt"


@pytest.fixture
def marked():
    yield
    with MARKS.open("a") as f:
        f.write("torn down\\\\n")


def test_sleeps(marked, measure):
    time.sleep(30)
    measure("done", True)


def test_spins(marked, measure):
    while True:
        pass


def test_quick(measure):
    measure("done", True)
'''


def _plan(tmp_path: Path, module: str, steps: str, extra: str = "") -> Path:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / f"{module}.py").write_text(CODE)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: deadlines\nversion: '1'\nstation_tests: tests\nstop_on_failure: false\n{extra}steps:\n"
                    + steps.replace("MOD", module))
    return plan


STEP = "  - name: {name}\n    test: MOD.py::{test}\n{timeout}    measurements:\n      - {{name: done, equals: true}}\n"


def test_a_step_past_its_deadline_is_error_its_fixture_tears_down_and_the_next_step_runs(tmp_path):
    steps = (STEP.format(name="sleeps", test="test_sleeps", timeout="    timeout_s: 0.3\n")
             + STEP.format(name="spins", test="test_spins", timeout="    timeout_s: 0.3\n").replace(
                 "    measurements:\n      - {name: done, equals: true}\n", "")
             + STEP.format(name="quick", test="test_quick", timeout=""))
    plan = _plan(tmp_path, "deadline_steps", steps)
    t0 = time.monotonic()
    result = run_fixture(load_fixture(FIXTURE), load_plan(plan), out=tmp_path / "out", units=2)
    assert time.monotonic() - t0 < 10, "the 30 s sleep and the endless loop were cut short"
    for record in result.records:
        by_name = {s.name: s for s in record.steps}
        assert by_name["sleeps"].outcome.value == "error"
        assert by_name["sleeps"].message == "StepTimeout: step sleeps exceeded 0.3 s"
        assert by_name["spins"].message == "StepTimeout: step spins exceeded 0.3 s"
        assert 0.25 < by_name["sleeps"].duration_s < 2
        assert by_name["quick"].outcome.value == "pass"
        assert record.outcome.value == "ERROR"
    assert (tmp_path / "tests" / "teardowns.txt").read_text().count("torn down") == 4


def test_the_plan_default_applies_to_steps_without_their_own(tmp_path):
    steps = STEP.format(name="sleeps", test="test_sleeps", timeout="")
    plan = _plan(tmp_path, "deadline_default", steps, extra="step_timeout_s: 0.2\n")
    result = run_fixture(load_fixture(FIXTURE), load_plan(plan), out=tmp_path / "out", units=1)
    assert result.records[0].steps[0].message == "StepTimeout: step sleeps exceeded 0.2 s"


@pytest.mark.parametrize("value", ["0", "-1", ".nan"])
def test_a_deadline_that_is_not_a_positive_number_is_refused(tmp_path, value):
    steps = STEP.format(name="quick", test="test_quick", timeout=f"    timeout_s: {value}\n")
    plan = _plan(tmp_path, f"deadline_bad_{abs(hash(value))}", steps)
    with pytest.raises(PlanError, match=r"steps\[0\]\(quick\)\.timeout_s"):
        load_plan(plan)
