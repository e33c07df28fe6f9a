"""The linegate command as a user meets it: exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from linegate.drivers.dut import EspAt, ResetLines

REPO = Path(__file__).resolve().parent.parent


def linegate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_demo_runs_and_prints_a_summary(tmp_path):
    done = linegate("demo", "--units", "5", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "5 units in" in done.stdout and "yield" in done.stdout
    runs = list((tmp_path / "o").glob("run-*"))
    assert len(runs) == 1 and len(list(runs[0].glob("*.html"))) == 7  # 5 units, index, lot summary


def test_bad_plan_is_one_line_no_traceback_nothing_written(tmp_path):
    plan = tmp_path / "bad.yaml"
    good = (REPO / "plans" / "esp-at-module.yaml").read_text()
    plan.write_text(good.replace("low: 0.060, high: 0.100", "low: 0.2, high: 0.1"))
    done = linegate("run", "--fixture", str(REPO / "fixtures" / "sim-station.yaml"), "--plan", str(plan),
                    "--out", "o", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert str(plan) in lines[0] and "steps[4](supply_current).measurements[0](supply_current)" in lines[0]
    assert "greater than high" in lines[0]
    assert not (tmp_path / "o").exists()


def test_missing_serial_port_is_named(tmp_path):
    fixture = tmp_path / "real.yaml"
    fixture.write_text("station: s\nsockets:\n  - name: A\n    dut: {port: /dev/ttyNOPE9}\n")
    done = linegate("run", "--fixture", str(fixture), "--plan", str(REPO / "plans" / "esp-at-module.yaml"),
                    "--units", "1", "--out", "o", cwd=tmp_path)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "/dev/ttyNOPE9" in done.stderr
    assert not (tmp_path / "o").exists()


def test_bad_fixture_field(tmp_path):
    fixture = tmp_path / "f.yaml"
    fixture.write_text("station: s\nsockets:\n  - name: A\n    dut: {port: /dev/x, baudrate: -1}\n")
    plan = str(REPO / "plans" / "esp-at-module.yaml")
    done = linegate("run", "--fixture", str(fixture), "--plan", plan, cwd=tmp_path)
    assert done.returncode == 2 and "sockets[0](A).dut.baudrate" in done.stderr and "Traceback" not in done.stderr


def test_sim_dut_serves_on_a_pty_until_killed(tmp_path):
    link = tmp_path / "ttyDUT"
    proc = subprocess.Popen(
        [sys.executable, "-m", "linegate", "sim", "dut", "--link", str(link), "--seed", "4",
         "--state", str(tmp_path / "state.json")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        dut = EspAt(str(link))
        dut.sync()
        assert dut.mac().startswith("24:0a:c4:")
        dut.mfg_write("ayla", "dsn", 7, "AC000W000000007")
        dut.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert not link.exists()
    assert "ayla" in (tmp_path / "state.json").read_text()


def test_no_bare_top_level_packages_importable():
    names = "('drivers', 'fixtures', 'plans', 'reports', 'station')"
    code = f"import importlib.util as u, sys; sys.exit(any(u.find_spec(n) for n in {names}))"
    done = subprocess.run([sys.executable, "-c", code], cwd="/", env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0


def test_no_module_imports_a_bare_folder_name():
    import ast

    bare = {"drivers", "fixtures", "plans", "reports", "station"}
    offenders = []
    for folder in ("drivers", "fixtures", "plans", "reports", "station", "station_tests", "tests", "bench", "src"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in bare]
    assert offenders == []


def test_ctrl_c_aborts_the_unit_closes_the_jig_and_exits_130(tmp_path):
    import json
    import signal
    import time

    own_tmp = tmp_path / "tmp"  # its pty folders, apart from other stations' on this machine
    own_tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "linegate", "demo", "--units", "100000", "--out", "o"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(own_tmp)},
    )
    deadline = time.monotonic() + 60
    while not list((tmp_path / "o").glob("run-*/*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    records = [json.loads(p.read_text()) for p in (tmp_path / "o").glob("run-*/*.json") if p.name != "run.json"]
    aborted = [r for r in records if r["outcome"] == "ABORTED"]
    assert len(aborted) == 1, "the unit under test when Ctrl-C came is recorded as ABORTED"
    assert any(s["outcome"] == "skipped" and "operator stopped" in s["message"] for s in aborted[0]["steps"])
    assert not list(own_tmp.glob("linegate-sim-*/.sim/socket-A")), "pty links removed"


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


def plain_pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "station_tests"), "-p", "no:cacheprovider", "-q", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def test_station_tests_run_straight_from_pytest_as_the_readme_says(tmp_path):
    done = plain_pytest("--lg-fixture", str(REPO / "fixtures" / "sim-station.yaml"),
                        "--lg-plan", str(REPO / "plans" / "esp-at-module.yaml"), "--lg-out", "o", cwd=tmp_path)
    summary = done.stdout.strip().splitlines()[-1]
    # seed 1's first simulated unit draws too much current: the plan's limit fails that one test
    assert done.returncode == 1 and "1 failed, 5 passed" in summary, done.stdout[-2000:]
    assert "supply_current: 0.24093 A is above the high limit 0.1 A" in done.stdout
    assert not list((tmp_path / "o" / ".sim").glob("socket-*"))  # the jig and its simulated module closed


def test_station_tests_without_a_fixture_file_say_so(tmp_path):
    done = plain_pytest("--lg-plan", str(REPO / "plans" / "esp-at-module.yaml"), cwd=tmp_path)
    assert done.returncode == 4  # pytest's usage error
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "station tests need a fixture file: pass --lg-fixture FILE" in lines[0]


def test_sim_dut_does_not_take_over_a_running_modules_link_and_serves_rfc2217(tmp_path):
    link = tmp_path / "ttyDUT"
    first = subprocess.Popen([sys.executable, "-m", "linegate", "sim", "dut", "--link", str(link), "--rfc2217"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == str(link)
        url = first.stdout.readline().strip()
        assert url.startswith("rfc2217://127.0.0.1:")
        second = subprocess.run([sys.executable, "-m", "linegate", "sim", "dut", "--link", str(link)],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 2 and "already the link of a running simulated module" in second.stderr
        assert link.is_symlink(), "the running module keeps its link"
        dut = EspAt(url, timeout=0.5, reset_lines=ResetLines(en="rts", boot="dtr"))
        dut.sync()
        dut.reset()
        dut.ping()
        dut.close()
    finally:
        first.terminate()
        assert first.wait(timeout=10) == 0
    bad = subprocess.run([sys.executable, "-m", "linegate", "sim", "dut", "--link", str(tmp_path / "f" / "x")],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "is not a folder" in bad.stderr


def test_brackets_and_emoji_codes_in_data_are_printed_as_they_are(tmp_path):
    """A failure, serial or plan name is data: '[/dev/x]' is no markup tag, ':ab:' in a MAC no emoji."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_brackets.py").write_text(
        "def test_port(measure):\n    measure('ok', True)\n"
        "    assert False, 'port [/dev/ttyUSB0] did not answer :ab:'\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: 'one[/x] [bold]'\nversion: '1'\nstation_tests: tests\nsteps:\n"
                    "  - name: port\n    test: test_brackets.py::test_port\n    measurements:\n"
                    "      - {name: ok, equals: true}\n")
    done = linegate("run", "--fixture", str(REPO / "fixtures" / "sim-station.yaml"), "--plan", str(plan),
                    "--sn", "LG[/]1", "LG[bold]2", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "plan one[/x] [bold] v1" in done.stdout
    assert "LG[/]1" in done.stdout and "LG[bold]2" in done.stdout
    assert "[/dev/ttyUSB0]" in done.stdout and ":ab:" in done.stdout and "\U0001f18e" not in done.stdout
    records = [json.loads(p.read_text()) for p in (tmp_path / "o").glob("run-*/LG*.json")]
    assert sorted(r["outcome"] for r in records) == ["FAIL", "FAIL"]


def test_a_line_already_complete_says_so(tmp_path):
    first = linegate("demo", "--units", "2", "--state-dir", "s", "--out", "o", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = linegate("demo", "--units", "2", "--state-dir", "s", "--out", "o", cwd=tmp_path)
    assert again.returncode == 0 and "already complete" in again.stdout and "None" not in again.stdout


def test_a_provisioning_plan_on_a_fixture_without_cloud_leaves_nothing_behind(tmp_path):
    done = linegate("run", "--fixture", str(REPO / "fixtures" / "sim-station.yaml"), "--plan",
                    str(REPO / "plans" / "esp-at-ayla.yaml"), "--units", "1", "--state-dir", "s", "--out", "o",
                    cwd=tmp_path)
    assert done.returncode == 2 and "has no 'cloud' section" in done.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "o").exists()
