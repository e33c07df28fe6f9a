"""Small versions of the crash campaign and the fault runs: the invariants hold after every kind of stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.sim.cloud.faults import FaultOptions
from linegate.plans import Outcome
from linegate.station.ledger.journal import Ledger, _crash_hook_from_env
from linekit import REPO, invariants, run_service


def test_crash_hook_is_for_the_process_named(monkeypatch):
    monkeypatch.setenv("LINEGATE_CRASH_AT", "flashed:2")
    monkeypatch.setenv("LINEGATE_CRASH_IN", "worker")
    assert _crash_hook_from_env() is None  # this process has no multiprocessing parent: a supervisor
    monkeypatch.setenv("LINEGATE_CRASH_IN", "supervisor")
    assert _crash_hook_from_env() is not None
    monkeypatch.setenv("LINEGATE_CRASH_IN", "socket")
    with pytest.raises(ValueError, match="LINEGATE_CRASH_IN='socket'"):
        _crash_hook_from_env()


def test_crash_hook_kills_the_whole_group():
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              "print(child.pid, flush=True)\n"
              "from linegate.station.ledger.journal import _crash_hook_from_env\n"
              "hook = _crash_hook_from_env()\n"
              "hook('assigned'); hook('flashed')\n"
              "time.sleep(60)\n")
    env = {**os.environ, "LINEGATE_CRASH_AT": "flashed", "LINEGATE_CRASH_KILL": "group"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert proc.wait(timeout=30) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _cmdline(child).endswith(b"sleep(60)\0"):  # a zombie's is empty
        assert time.monotonic() < deadline, f"pid {child} of the killed group still runs"
        time.sleep(0.05)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""



def crash_campaign(*args: str) -> dict:
    """bench/crash.py's RESULT for one service, after the checks every campaign must pass."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "crash.py"), *args, "--verbose"],
                          capture_output=True, text=True, timeout=600)
    said = done.stdout[-2000:] + done.stderr[-3000:]
    results = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, said  # a run ended in a way no kill explains
    result = results[0]
    assert (result["lost"], result["double_committed"], result["record_problems"]) == (0, 0, []), said
    assert result["committed"] >= 1, said
    assert result["duplicated"] == 0, said
    assert done.returncode == 0, said
    return result


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_sigkill_at_every_transition_in_turn(service):
    result = crash_campaign("--units", "6", "--service", service, "--random-share", "0", "--max-nth", "1")
    assert result["kills"]["transition"] >= 2, result  # it really was killed, more than once


@pytest.mark.slow  # 25-35 s each on an idle 2-core machine, up to ~60 s when it is shared
@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_four_sockets_sigkill_supervisor_worker_and_all(service):
    """A supervisor and four socket workers: the supervisor killed (its workers die with it), one worker
    killed (the run goes on to exit 0, the unit ERROR with its record), everything killed; at transitions
    and at random instants. Nothing lost, duplicated or committed twice; every PASS record provisioned."""
    result = crash_campaign("--units", "8", "--sockets", "4", "--chunk", "2", "--service", service,
                            "--max-nth", "1", "--seed", "3")
    assert all(result["kills_by_target"][t] >= 1 for t in ("supervisor", "worker", "all")), result


def _children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").glob("*") for c in (t / "children").read_text().split()]


def _worker_of(station: int) -> int:
    """The socket worker of a one-socket station: forked by the station's fork server, its child."""
    server = next(k for k in _children(station) if b"forkserver" in Path(f"/proc/{k}/cmdline").read_bytes())
    return next(iter(_children(server)))


def test_worker_killed_mid_flash_leaves_no_second_copy(emulator, tmp_path):
    """The worker is killed once the gate has written the DSN into its DUT but not yet the private key."""
    state = tmp_path / "station"
    cmd = [sys.executable, "-m", "linegate", "demo", "--service", "ayla", "--units", "10", "--state-dir", str(state),
           "--cloud", emulator.info()["base_url"], "--out", str(tmp_path / "out")]
    station = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    caught = None
    while station.poll() is None and caught is None:
        for dut in state.glob("dut-*.json"):
            try:
                held = json.loads(dut.read_text())["nvs"].get("ayla", {})
            except (OSError, ValueError):
                continue  # being replaced
            if "dsn" in held and "private_key" not in held:
                os.kill(_worker_of(station.pid), signal.SIGKILL)
                caught = dut.name
                break
        time.sleep(0.0005)
    _, err = station.communicate(timeout=120)
    if caught is None or station.returncode != 0:  # not the failure this test waits for
        raise RuntimeError(f"no worker caught mid-flash ({caught}) or the station exited {station.returncode}: {err}")
    ledger = Ledger(state / "ledger.db")
    try:
        found = invariants(ledger, emulator, state)
    finally:
        ledger.close()
    assert found == {"lost": 0, "duplicated": 0, "double_committed": 0, "details": []}


@pytest.mark.emulator(faults=FaultOptions(fault_rate=0.08, drop_rate=0.04, lost_answer_rate=0.06, rate_limit_rate=0.04,
                                          timeout_rate=0.02, hang_s=1.0, retry_after_s=0.05, seed=5))
@pytest.mark.parametrize("service", ["ayla", "enos-dps"])
def test_cloud_and_dut_faults_keep_the_invariants(emulator, tmp_path, service, monkeypatch):
    real = CloudAccount.from_emulator

    def short_timeout(info):  # a hung call must not hold the unit for 10 s
        return real(info).model_copy(update={"timeout_s": 0.5})

    monkeypatch.setattr(CloudAccount, "from_emulator", short_timeout)
    result, ledger = run_service(emulator, service, tmp_path, units=12, faults=("noise",))
    assert len(result.records) == 12
    for r in result.records:
        assert r.outcome in (Outcome.PASS, Outcome.FAIL, Outcome.ERROR)
        if r.outcome is not Outcome.PASS:
            assert r.failure is not None and r.failure.message
    assert emulator.faults.injected, "faults were injected"
    assert invariants(ledger, emulator, tmp_path) == {"lost": 0, "duplicated": 0, "double_committed": 0,
                                                      "details": []}
