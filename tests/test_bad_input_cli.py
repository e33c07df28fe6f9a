"""Bad plan and fixture files through ``linegate run``: exit 2, one stderr line naming file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from linegate.station.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"
PLAN = REPO / "plans" / "esp-at-module.yaml"


def plan_with(tmp_path: Path, old: str, new: str, encoding: str = "utf-8") -> Path:
    text = PLAN.read_text()
    assert old in text
    path = tmp_path / "plan.yaml"
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path


def fixture_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "fixture.yaml"
    path.write_text(FIXTURE.read_text() + extra)
    return path


def cycle(tmp_path: Path) -> Path:
    for name, base in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.yaml").write_text(f'name: {name}\nversion: "1"\nsteps_from: {base}.yaml\n')
    return tmp_path / "a.yaml"


def oversized(tmp_path: Path) -> Path:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.seek(38 * 1024 * 1024)
        f.write(b"\n")
    return path


CASES = {
    "nan limit": (lambda t: (FIXTURE, plan_with(t, "low: 0.060", "low: .nan")),
                  "steps[4](supply_current).measurements[0](supply_current).low: nan is not a finite number"),
    "duplicate key": (lambda t: (FIXTURE, plan_with(t, "version:", "name: again\nversion:")),
                      "line 5: duplicate key 'name' (first given on line 4)"),
    "steps_from cycle": (lambda t: (FIXTURE, cycle(t)), "steps_from: plans take their steps from each other"),
    "oversized plan": (lambda t: (FIXTURE, oversized(t)), "plan is 38.0 MiB, over the 1.0 MiB limit"),
    "not utf-8": (lambda t: (FIXTURE, plan_with(t, "version:", "# caf\u00e9\nversion:", "latin-1")),
                  "line 5: not UTF-8 text (byte 0xe9)"),
    "unknown fault": (lambda t: (fixture_with(t, "  faults: [smoke]\n"), PLAN),
                      "simulated.faults: unknown fault 'smoke'; known: bad-mac, baud-garble"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_files_exit_2_with_one_line_naming_file_and_field(tmp_path, capsys, case):
    make, expected = CASES[case]
    fixture, plan = make(tmp_path)
    named = fixture if fixture != FIXTURE else plan
    rc = main(["run", "--fixture", str(fixture), "--plan", str(plan), "--units", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"linegate: error: {named}: ") and expected in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def test_a_steps_from_cycle_in_a_real_process_is_one_line_not_a_recursion_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "linegate", "run", "--fixture", str(FIXTURE), "--plan", str(cycle(tmp_path)),
         "--out", "o"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    chain = " -> ".join(str(tmp_path / f"{n}.yaml") for n in ("a", "b", "a"))
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert done.stderr == (f"linegate: error: {tmp_path / 'a.yaml'}: steps_from: plans take their steps "
                           f"from each other in a cycle: {chain}\n")
