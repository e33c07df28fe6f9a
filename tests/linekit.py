"""Running the simulated line against the cloud emulators, for the gate and crash tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from cloudkit import FAST_RETRY
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.config import load_fixture
from linegate.fixtures.sim.cloud.server import CloudEmulator
from linegate.fixtures.sim.jig import SimulatedDuts
from linegate.plans import Plan, load_plan
from linegate.station.compose import run_fixture
from linegate.station.ledger.audit import audit
from linegate.station.ledger.journal import Ledger
from linegate.station.run import RunResult

REPO = Path(__file__).resolve().parent.parent


def with_worker_patch(plan: Plan, folder: Path, conftest: str) -> Plan:
    """``plan`` on a copy of its station tests with ``conftest`` beside them: code a test runs inside the
    socket's worker (where the units are tested: a monkeypatch in the test's own process would not reach it)."""
    tests = folder / "station_tests"
    shutil.copytree(plan.tests_dir, tests, ignore=shutil.ignore_patterns("__pycache__"))
    (tests / "conftest.py").write_text(conftest)
    return plan.model_copy(update={"station_tests": str(tests)})


def run_service(emu: CloudEmulator, service: str, state_dir: Path, units: int, *, seed: int = 1,
                fail_share: float | None = None, faults: tuple[str, ...] = ()) -> tuple[RunResult, Ledger]:
    config = load_fixture(REPO / "fixtures" / "sim-station.yaml")
    sim = config.simulated.model_copy(update={"seed": seed, "faults": faults,
                                               **({"fail_share": fail_share} if fail_share is not None else {})})
    config = config.model_copy(update={"cloud": CloudAccount.from_emulator(emu.info()), "simulated": sim})
    plan = load_plan(REPO / "plans" / f"esp-at-{service}.yaml")
    ledger = Ledger(state_dir / "ledger.db")
    result = run_fixture(config, plan, out=state_dir / "out", units=units, state_dir=state_dir, ledger=ledger,
                         retry=FAST_RETRY)
    return result, ledger


def invariants(ledger: Ledger, emu: CloudEmulator, state_dir: Path) -> dict:
    from cloudkit import sim_state

    result = audit(ledger, sim_state(emu), SimulatedDuts(state_dir))
    return {k: result[k] for k in ("lost", "duplicated", "double_committed")} | {"details": result["details"]}
