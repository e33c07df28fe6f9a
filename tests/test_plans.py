"""Plans: limits, verdicts and errors that name file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from linegate.plans import Limits, PlanError, Status, load_plan

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("limits", "value", "status"),
    [
        (dict(low=1, high=2), 1.5, Status.PASS),
        (dict(low=1, high=2), 0.9, Status.FAIL),
        (dict(low=1, high=2), 2.1, Status.FAIL),
        (dict(low=1, high=2, marginal_low=1.2, marginal_high=1.8), 1.1, Status.MARGINAL),
        (dict(low=1, high=2, marginal_low=1.2, marginal_high=1.8), 1.9, Status.MARGINAL),
        (dict(low=1, high=2, marginal_low=1.2, marginal_high=1.8), 1.5, Status.PASS),
        (dict(low=1), 100, Status.PASS),
        (dict(high=1), "0.5", Status.FAIL),
        (dict(high=1), float("nan"), Status.FAIL),
        (dict(equals=True), True, Status.PASS),
        (dict(equals=True), 1, Status.FAIL),
        (dict(equals=1), True, Status.FAIL),
        (dict(equals="v2"), "v2", Status.PASS),
        (dict(regex=r"4\.1\.\d+"), "4.1.1", Status.PASS),
        (dict(regex=r"4\.1\.\d+"), "4.1.1-rc", Status.FAIL),
    ],
)
def test_verdicts(limits, value, status):
    assert Limits(**limits).judge(value)[0] is status


def test_failure_reason_has_value_limit_and_units():
    status, reason = Limits(low=0.06, high=0.1, units="A").judge(0.24)
    assert status is Status.FAIL and reason == "0.24 A is above the high limit 0.1 A"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (dict(low=2, high=1), "low 2.0 is greater than high 1.0"),
        (dict(low=1, high=2, marginal_low=0.5), "marginal_low 0.5 is below low 1.0"),
        (dict(), "needs a limit"),
        (dict(low=1, regex="x"), "only one kind of limit"),
        (dict(regex="("), "does not compile"),
    ],
)
def test_inconsistent_limits_are_refused(limits, message):
    with pytest.raises(ValueError, match=message):
        Limits(**limits)


def test_example_plan_loads_with_hash_and_tests_dir():
    plan = load_plan(REPO / "plans" / "esp-at-module.yaml")
    assert plan.name == "esp-at-module" and len(plan.sha256) == 64
    assert plan.tests_dir == REPO / "station_tests"
    assert plan.steps[0].name == "power_on"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


BASE = """name: p
version: "1"
steps:
  - name: s1
    test: t.py::test_a
    measurements:
      - {name: m1, low: 1, high: 2}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE.replace("low: 1, high: 2", "low: 3, high: 2"),
         "steps[0](s1).measurements[0](m1): low 3.0 is greater than high 2.0"),
        (BASE.replace("t.py::test_a", "t.py"), "steps[0](s1).test: 't.py' is not of the form"),
        (BASE.replace("version", "vers"), "version: Field required"),
        (BASE + "colour: red\n", "colour: unknown field"),
        (BASE.replace("steps:", "steps: [\n"), "line "),
        ("- a\n- b\n", "a plan is a mapping"),
    ],
)
def test_bad_plans_are_one_line_naming_file_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    text = str(info.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_missing_plan_file(tmp_path):
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(tmp_path / "nope.yaml")
