"""Serials: the plan's form (``serial: {regex}``), the operator's typed or scanned serial, retests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from linegate.plans import PlanError, load_plan
from linegate.plans.serial import SerialSpec, refusal
from linegate.station.handler import OperatorUnits

REPO = Path(__file__).resolve().parent.parent


def _answers(*lines: str):
    queue = list(lines)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    return ask, asked


def test_a_serial_of_the_wrong_form_is_refused_with_the_reason_and_asked_again():
    said: list[str] = []
    ask, asked = _answers("ab12", "SN-0001")
    units = OperatorUnits(None, None, SerialSpec(regex=r"SN-\d{4}", description="SN- and 4 digits"), ask=ask,
                          say=said.append)
    start = units.next_unit("A")
    assert start is not None and start.serial == "SN-0001"
    assert said == ["socket A: refused: the serial 'ab12' does not match the plan's form SN-\\d{4} (SN- and 4 "
                    "digits); nothing tested"]
    assert len(asked) == 2 and "socket A" in asked[0]


def test_the_typed_serial_is_used_and_enter_alone_takes_the_next_given_one():
    ask, _ = _answers("TYPED-1", "")
    units = OperatorUnits(None, ["SN1", "SN2"], ask=ask, say=lambda _: None)
    first, second = units.next_unit("A"), units.next_unit("B")
    assert first is not None and first.serial == "TYPED-1"
    assert second is not None and second.serial == "SN2"


def test_a_serial_already_tested_in_this_run_is_tested_again_only_when_confirmed():
    ask, asked = _answers("SN-1", "SN-1", "n", "SN-1", "y")
    units = OperatorUnits(3, None, ask=ask, say=lambda _: None)
    assert units.next_unit("A").serial == "SN-1"
    retest = units.next_unit("A")
    assert retest is not None and retest.serial == "SN-1" and retest.index == 2
    assert sum("already tested in this run" in a for a in asked) == 2  # refused once, then confirmed


def test_input_ending_ends_the_line():
    ask, _ = _answers()
    assert OperatorUnits(5, None, ask=ask, say=lambda _: None).next_unit("A") is None


@pytest.mark.parametrize(("serial", "problem"), [
    ("", "the serial is empty"),
    ("x" * 65, "65 characters long, over 64"),
    ("SN 1", "spaces or control characters"),
    ("SN\x071", "spaces or control characters"),
])
def test_serials_that_are_never_good(serial, problem):
    why = refusal(serial, None)
    assert why is not None and problem in why


def test_a_plan_with_a_broken_serial_regex_is_refused_in_one_line(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\nversion: '1'\nserial: {regex: 'SN-[0-9'}\nsteps:\n  - {name: a, test: t.py::test_a}\n")
    with pytest.raises(PlanError, match=r"p.yaml: serial.regex: .*is not a regular expression"):
        load_plan(plan)


def test_sn_of_the_wrong_form_is_bad_input_before_anything_opens(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text((REPO / "plans" / "esp-at-module.yaml").read_text().replace(
        "station_tests: ../station_tests", f"station_tests: {REPO / 'station_tests'}\nserial: {{regex: 'LG\\d{{8}}'}}"))
    done = subprocess.run([sys.executable, "-m", "linegate", "run", "--fixture", str(REPO / "fixtures" /
                           "sim-station.yaml"), "--plan", str(plan), "--sn", "LG01000001", "bad-1", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("linegate: error: --sn bad-1: the serial 'bad-1' does not match the plan's form "
                                   "LG\\d{8}")
    assert not (tmp_path / "o").exists()
