"""A fault is never exit 0: bad output folders, repeated serials, SIGTERM and full disks, through the CLI.

Exit codes: 0 ran, 1 station fault, 2 bad input, 3 jig or cloud unavailable, 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture
from linegate.station.faults import StationFault
from linekit import with_worker_patch

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"


def linegate(*args: str, cwd: Path, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_out_that_is_a_file_is_refused_before_anything_opens(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    done = linegate("demo", "--units", "2", "--out", "results", "--state-dir", "state", cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr) == "linegate: error: --out results: is a file, not a folder"
    assert not (tmp_path / "state").exists(), "no ledger opened, no identity reserved or assigned"


def test_out_that_cannot_be_written_is_refused(tmp_path):
    done = linegate("demo", "--units", "1", "--out", "/proc/linegate-out", cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith("linegate: error: --out /proc/linegate-out: cannot write there:")


def test_a_serial_given_twice_is_refused(tmp_path):
    done = linegate("run", "--fixture", str(FIXTURE), "--plan", str(REPO / "plans" / "esp-at-module.yaml"),
                    "--sn", "LG1", "LG2", "LG1", cwd=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr) == "linegate: error: --sn: LG1 given more than once"


def test_sigterm_aborts_the_unit_writes_the_run_summary_and_exits_143(tmp_path):
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_slow.py").write_text("import time\n\n\ndef test_slow(dut, measure):\n    dut.ping()\n"
                                        "    time.sleep(0.4)\n    measure('ok', True)\n")
    plan = tmp_path / "slow.yaml"  # a unit is under test nearly all the time: SIGTERM lands inside one
    plan.write_text("name: slow\nversion: '1'\nstation_tests: tests\nsteps:\n"
                    "  - name: slow\n    test: test_slow.py::test_slow\n    measurements:\n"
                    "      - {name: ok, equals: true}\n")
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "run", "--fixture", str(FIXTURE), "--plan", str(plan),
                             "--units", "100", "--out", "o"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(own_tmp)})
    deadline = time.monotonic() + 60
    while not list((tmp_path / "o").glob("run-*/*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "linegate: stopped by SIGTERM" and "Traceback" not in err
    run_dir = next((tmp_path / "o").glob("run-*"))
    records = [json.loads(p.read_text()) for p in run_dir.glob("*.json") if p.name != "run.json"]
    assert [r["outcome"] for r in records].count("ABORTED") == 1
    for name in ("index.html", "lot.html", "junit.xml"):
        assert (run_dir / name).is_file(), name
    assert not list(own_tmp.glob("linegate-sim-*")), "temporary folders removed"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (a new station state holds three SQLite files, each with its WAL and shared memory until
    the last connection closes: ~750 KiB at its peak): root may mount one; elsewhere the fault-injection test
    covers it."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; test_a_failing_write_* injects the fault instead")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _audit(state: Path, cwd: Path) -> dict:
    done = linegate("ledger", "audit", "--ledger", str(state / "ledger.db"), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_full_output_disk_stops_the_run_with_exit_1_and_one_line(small_disk, tmp_path):
    done = linegate("demo", "--units", "40", "--out", str(small_disk), "--state-dir", "state", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"linegate: station fault: no space left on device: {small_disk}/"), line
    assert "Traceback" not in done.stderr
    assert not _leftovers(small_disk)
    again = linegate("demo", "--units", "2", "--out", "o2", "--state-dir", "state", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    audit = _audit(tmp_path / "state", tmp_path)
    assert (audit["lost"], audit["duplicated"], audit["double_committed"]) == (0, 0, 0), audit


@pytest.mark.slow
def test_full_state_disk_stops_the_run_with_exit_1_and_one_line(small_disk, tmp_path):
    state = small_disk / "state"
    first = linegate("demo", "--units", "1", "--out", "o", "--state-dir", str(state), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    ballast = small_disk / "ballast"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    ballast.write_bytes(b"\0" * max(0, free - 256 * 1024))
    done = linegate("demo", "--units", "60", "--out", "o", "--state-dir", str(state), cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"linegate: station fault: no space left on device: {state}/"), line
    assert "Traceback" not in done.stderr
    assert not _leftovers(small_disk)
    ballast.unlink()
    again = linegate("demo", "--units", "3", "--out", "o", "--state-dir", str(state), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    audit = _audit(state, tmp_path)
    assert (audit["lost"], audit["duplicated"], audit["double_committed"]) == (0, 0, 0), audit


DISK_FILLS = """
import errno, os
from pathlib import Path

_real, _writes = Path.write_text, []


def _filling(self, text, *args, **kwargs):
    if self.name.startswith(".LG") and self.name.endswith(".html.tmp"):
        _writes.append(self)
        if len(_writes) == 3:
            _real(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
    return _real(self, text, *args, **kwargs)


Path.write_text = _filling
"""


def test_a_failing_write_stops_the_run_and_leaves_no_temporary_file(tmp_path):
    """Where no small disk can be mounted: the third unit's report write fails with ENOSPC half-way."""
    plan = with_worker_patch(load_plan(REPO / "plans" / "esp-at-module.yaml"), tmp_path, DISK_FILLS)
    out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
    with pytest.raises(StationFault) as caught:
        run_fixture(load_fixture(FIXTURE), plan, out=out, units=8)
    run_dir = next(out.glob("run-*"))
    assert re.match(rf"no space left on device: {re.escape(str(run_dir))}/\.LG\w+\.html\.tmp", str(caught.value))
    assert not _leftovers(out)
    records = sorted((p for p in run_dir.glob("*.json") if p.name != "run.json"), key=lambda p: p.name)
    assert len(records) == 3, "the station stopped at the unit it could not record"
    last = json.loads(records[-1].read_text())
    assert last["outcome"] == "ERROR" and last["failure"]["message"].startswith("no space left on device")


def test_an_internal_error_of_pytest_is_exit_1_never_0(tmp_path):
    """A plugin hook of the station tests that breaks: pytest's INTERNALERROR becomes a station fault."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text("def pytest_runtest_logreport(report):\n"
                                       "    if report.when == 'teardown':\n"
                                       "        raise RuntimeError('a broken reporting hook')\n")
    (tests / "test_hooked.py").write_text("def test_ok(measure):\n    measure('ok', True)\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: hooked\nversion: '1'\nstation_tests: tests\nsteps:\n"
                    "  - name: ok\n    test: test_hooked.py::test_ok\n    measurements:\n"
                    "      - {name: ok, equals: true}\n")
    done = linegate("run", "--fixture", str(FIXTURE), "--plan", str(plan), "--units", "3", "--out", "o",
                    cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("linegate: station fault: ") and "a broken reporting hook" in line, done.stderr
    assert "INTERNALERROR" not in done.stderr and "Traceback" not in done.stderr
    log = next((tmp_path / "o").glob("run-*/station-fault.log"))
    assert "RuntimeError: a broken reporting hook" in log.read_text()
