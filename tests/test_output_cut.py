"""A reader that stops early (``linegate ... | head -1``) is not a fault: every command ends quietly with exit 0,
nothing on stderr, no traceback file anywhere. Tested with real pipes whose reader has gone before the
command writes its first byte, so the write fails every time (not only when the output outgrows the pipe)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    """A demo station's folder after two units: its ledger, results store and run folder."""
    where = tmp_path_factory.mktemp("station")
    done = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "2", "--out", "o", "--state-dir",
                           "s"], cwd=where, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return where


def _commands(where: Path) -> dict[str, list[str]]:
    run_dir = str(next((where / "o").glob("run-*")))
    ledger, state = str(where / "s" / "ledger.db"), str(where / "s")
    serial = json.loads((next((where / "o").glob("run-*/LG*.json"))).read_text())["unit"]["serial"]
    return {
        "--version": ["--version"],
        "--help": ["results", "units", "--help"],
        "ledger status": ["ledger", "status", "--ledger", ledger],
        "ledger status --json": ["ledger", "status", "--ledger", ledger, "--json"],
        "ledger audit --json": ["ledger", "audit", "--ledger", ledger, "--json"],
        "ledger recover": ["ledger", "recover", "--ledger", ledger],
        "results units": ["results", "units", "--state-dir", state],
        "results units --json": ["results", "units", "--state-dir", state, "--json"],
        "results history": ["results", "history", serial, "--state-dir", state],
        "results outbox --json": ["results", "outbox", "--state-dir", state, "--json"],
        "db current": ["db", "current", "--state-dir", state],
        "report lot": ["report", "lot", run_dir, "--out", str(where / "lot.html")],
        "report junit": ["report", "junit", run_dir, "--out", str(where / "junit.xml")],
        "sim cloud": ["sim", "cloud", "--port", "0", "--mqtt-port", "0"],
        "sim dut": ["sim", "dut", "--link", str(where / "ttyCUT")],
        "demo": ["demo", "--units", "1", "--service", "none", "--out", str(where / "o-cut")],
    }


COMMANDS = [
    "--version", "--help", "ledger status", "ledger status --json", "ledger audit --json", "ledger recover",
    "results units", "results units --json", "results history", "results outbox --json", "db current",
    "report lot", "report junit", "sim cloud", "sim dut", "demo"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_whose_reader_has_gone_ends_quietly_with_0(station, tmp_path, name):
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "linegate", *_commands(station)[name]], cwd=station,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(own_tmp)})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first write: that write fails (EPIPE)
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode()
    assert code == 0 and err == "", (code, err)
    faults = [p for p in (*own_tmp.rglob("*"), *station.rglob("*fault*")) if "fault" in p.name]
    assert faults == [], faults


def test_a_reader_that_reads_one_line_then_goes(station, tmp_path):
    """``linegate ledger audit --json | head -8`` as the issue has it: the rest of the output is dropped."""
    proc = subprocess.Popen([sys.executable, "-m", "linegate", *_commands(station)["ledger audit --json"]],
                            cwd=station, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"{"
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b"" and not list(tmp_path.glob("*fault*"))


def test_a_station_run_whose_reader_goes_mid_run_tests_every_unit_and_ends_with_0(tmp_path):
    """``linegate demo | head -1``: the line is not stopped by its console's reader; the rest is dropped."""
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--units", "4", "--out", "o", "--state-dir",
                             "s"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"linegate sim-station-1: plan ")
    proc.stdout.close()
    assert proc.wait(timeout=180) == 0
    assert proc.stderr.read() == b"" and not list(tmp_path.rglob("*fault*"))
    records = [p for p in (tmp_path / "o").glob("run-*/*.json") if p.name != "run.json"]
    assert len(records) == 4
