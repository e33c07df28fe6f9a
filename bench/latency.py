"""Per-unit wall time with the cloud at 0 ms and at 300 ms per call, side by side.

The same simulated line (ESP-AT modules on ptys, pyvisa-sim bench) provisions with Ayla against the
emulators in this process. The pool reserves ahead of need and commits follow from the durable queue
(``commit: background``), so cloud latency stays out of the unit's critical path; the inline flow, where
each unit waits for its own commit, is shown for comparison. Per-unit time is the span from the first
unit's start to the last unit's end, divided by the number of units.

    python bench/latency.py [--units 30] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
from pathlib import Path

from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.config import load_fixture
from linegate.fixtures.sim.cloud.faults import FaultOptions
from linegate.fixtures.sim.cloud.server import CloudEmulator
from linegate.plans import Outcome, load_plan
from linegate.station.compose import run_fixture
from linegate.station.ledger.journal import Ledger

REPO = Path(__file__).resolve().parent.parent


def per_unit(latency_ms: float, units: int, commit: str) -> tuple[float, int, int]:
    """(seconds per unit, units passed, commits confirmed at the end)."""
    with tempfile.TemporaryDirectory() as tmp, \
            CloudEmulator(rsa_bits=1024, mqtt_port=None, faults=FaultOptions(latency_ms=latency_ms)) as emu:
        state = Path(tmp)
        config = load_fixture(REPO / "fixtures" / "sim-station.yaml")
        config = config.model_copy(update={"cloud": CloudAccount.from_emulator(emu.info()),
                                           "simulated": config.simulated.model_copy(update={"fail_share": 0.0})})
        plan = load_plan(REPO / "plans" / "esp-at-ayla.yaml")
        spec = plan.provisioning.model_copy(update={
            "commit": commit, "pool": plan.provisioning.pool.model_copy(update={"low": 10, "high": 40})})
        plan = plan.model_copy(update={"provisioning": spec})
        ledger = Ledger(state / "ledger.db")
        result = run_fixture(config, plan, out=state / "out", units=units, state_dir=state, ledger=ledger,
                             retry=RetryPolicy(attempts=3, wait_initial=0.05, wait_jitter=0.0))
        records = result.records
        span = (max(r.ended_at for r in records) - min(r.started_at for r in records)).total_seconds()
        committed = sum(1 for i in ledger.all() if i.state == "committed")
        ledger.close()
        return span / len(records), sum(r.outcome is Outcome.PASS for r in records), committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = []
    for commit in ("background", "inline"):
        fast = [per_unit(0.0, args.units, commit) for _ in range(args.repeat)]
        slow = [per_unit(args.latency_ms, args.units, commit) for _ in range(args.repeat)]
        f = statistics.median(x[0] for x in fast)
        s = statistics.median(x[0] for x in slow)
        rows.append((commit, f, s, fast[-1], slow[-1]))
    print(f"per-unit wall time, Ayla provisioning, {args.units} units, cloud latency 0 vs {args.latency_ms:g} ms")
    print(f"{'commit':12} {'0 ms':>10} {f'{args.latency_ms:g} ms':>10} {'ratio':>7}  passed/committed")
    for commit, f, s, fast, slow in rows:
        print(f"{commit:12} {f * 1000:8.1f}ms {s * 1000:8.1f}ms {s / f:7.2f}  "
              f"{fast[1]}/{fast[2]} and {slow[1]}/{slow[2]}")
    print(f"latency ratio with the pool and background commits: {rows[0][2] / rows[0][1]:.2f} (target <= 1.05)")


if __name__ == "__main__":
    main()
