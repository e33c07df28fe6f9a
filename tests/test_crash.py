"""Small versions of the crash campaign and the fault runs: the invariants hold after every kind of stop."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.sim.cloud.faults import FaultOptions
from linegate.plans import Outcome
from linekit import REPO, invariants, run_service


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_sigkill_at_every_transition_in_turn(service):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "crash.py"), "--units", "6", "--service", service,
         "--random-share", "0", "--max-nth", "1"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["kills"]["transition"] >= 2, result  # it really was killed, more than once
    assert (result["lost"], result["duplicated"], result["double_committed"]) == (0, 0, 0), result
    assert result["committed"] >= 1


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_four_sockets_sigkill_supervisor_worker_and_all(service):
    """A supervisor and four socket workers: the supervisor killed (its workers die with it), one worker
    killed (the run goes on to exit 0, the unit ERROR with its record), everything killed; at transitions
    and at random instants. Nothing lost, duplicated or committed twice; every PASS record provisioned."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "crash.py"), "--units", "8", "--sockets", "4", "--chunk", "2",
         "--service", service, "--max-nth", "1", "--seed", "3", "--verbose"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert all(result["kills_by_target"][t] >= 1 for t in ("supervisor", "worker", "all")), result
    assert (result["lost"], result["duplicated"], result["double_committed"]) == (0, 0, 0), result
    assert result["record_problems"] == [], result
    assert result["committed"] >= 1


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
