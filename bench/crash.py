"""Crash campaign: kill the station with SIGKILL at every journal transition in turn and at random
instants, restart the same command, and check that nothing was lost, duplicated or committed twice.

The cloud emulators run in their own process (``linegate sim cloud``) so they outlive the station, as
the real services do. The station is ``linegate demo --service S --state-dir D --cloud URL``; each
restart recovers first and continues with the units not yet done. At the end ``linegate ledger audit``
cross-checks the ledger, the emulator's ``/_sim/state`` and every simulated DUT's NVS.

    python bench/crash.py [--units 200] [--service ayla ...] [--faults]

``--faults`` also turns on the emulator's fault injection (5xx, timeouts, dropped connections, lost
answers, rate limits, token expiry) and lets the simulated DUTs carry line noise and busy answers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRANSITIONS = {"ayla": ("reserved", "assigned", "flashed", "committing", "committed"),
               "yosmart": ("reserved", "assigned", "flashed", "committing", "committed"),
               "enos-dps": ("reserved", "assigned", "flashed", "committing", "committed"),
               "enos-mqtt": ("committing", "committed")}
LINEGATE = [sys.executable, "-m", "linegate"]


def start_cloud(state: Path, faults: bool) -> tuple[subprocess.Popen, dict]:
    args = [*LINEGATE, "sim", "cloud", "--port", "0", "--mqtt-port", "0", "--state", str(state), "--rsa-bits", "1024"]
    if faults:
        args += ["--fault-rate", "0.05", "--timeout-rate", "0.01", "--drop-rate", "0.02", "--lost-answer-rate", "0.03",
                 "--rate-limit-rate", "0.02", "--token-expiry-after", "40"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    info = json.loads(proc.stdout.readline())
    return proc, info


def campaign(service: str, units: int, work: Path, *, faults: bool, seed: int, random_share: float = 0.3,
             max_nth: int = 3) -> dict:
    """Runs the line until one run completes; until then every run is killed at a transition (in turn,
    at its 1st..``max_nth`` occurrence) or at a random instant."""
    rng = random.Random(seed)
    cloud, info = start_cloud(work / "cloud.sqlite", faults)
    state = work / "station"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [*LINEGATE, "demo", "--service", service, "--units", str(units), "--state-dir", str(state),
           "--cloud", info["base_url"], "--out", str(work / "out"), "--seed", str(seed)]
    kills = {"transition": 0, "random": 0}
    runs = 0
    started = time.perf_counter()
    try:
        cycle = 0
        while True:
            runs += 1
            run_env = dict(env)
            random_kill = None
            if runs <= units * 4 and rng.random() < random_share:
                random_kill = rng.uniform(1.0, 3.0)  # after start-up, somewhere in the line
            elif runs <= units * 4:
                point = TRANSITIONS[service][cycle % len(TRANSITIONS[service])]
                run_env["LINEGATE_CRASH_AT"] = f"{point}:{rng.randint(1, max_nth)}"
                cycle += 1
            proc = subprocess.Popen(cmd, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if random_kill is not None:
                try:
                    proc.wait(timeout=random_kill)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=600)
            if proc.returncode == -signal.SIGKILL:
                kills["random" if random_kill is not None else "transition"] += 1
                continue
            if proc.returncode != 0:
                raise RuntimeError(f"station exited {proc.returncode}: {err.strip()[-500:]}")
            break  # the line is complete
        audit = subprocess.run([*LINEGATE, "ledger", "audit", "--json", "--ledger", str(state / "ledger.db"),
                                "--cloud", info["base_url"], "--state-dir", str(state)],
                               capture_output=True, text=True, timeout=300)
        if audit.returncode != 0:
            raise RuntimeError(f"audit failed: {audit.stderr.strip()}")
        result = json.loads(audit.stdout)
    finally:
        cloud.send_signal(signal.SIGTERM)
        cloud.wait(30)
    units_done = sum(1 for p in (work / "out").glob("run-*/*.json") if p.name != "run.json")
    return {"service": service, "units": units, "runs": runs, "kills": kills, "records": units_done,
            "seconds": round(time.perf_counter() - started, 1),
            **{k: result[k] for k in ("lost", "duplicated", "double_committed", "wasted", "needs_attention",
                                      "committed", "wasted_reasons", "details")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--service", nargs="+", default=list(TRANSITIONS), choices=list(TRANSITIONS))
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--random-share", type=float, default=0.3, help="share of runs killed at a random instant")
    parser.add_argument("--max-nth", type=int, default=3, help="kill at the 1st..Nth occurrence of a transition")
    args = parser.parse_args()
    failed = False
    for service in args.service:
        with tempfile.TemporaryDirectory(prefix=f"lg-crash-{service}-") as tmp:
            r = campaign(service, args.units, Path(tmp), faults=args.faults, seed=args.seed,
                         random_share=args.random_share, max_nth=args.max_nth)
        print(f"{service}: {r['units']} units, {r['runs']} station runs, kills at transitions "
              f"{r['kills']['transition']}, at random instants {r['kills']['random']}, {r['seconds']} s")
        print(f"  lost {r['lost']}  duplicated {r['duplicated']}  double committed {r['double_committed']}  "
              f"committed {r['committed']}  needs attention {r['needs_attention']}  wasted {r['wasted']}")
        for reason, n in r["wasted_reasons"].items():
            print(f"    wasted {n}: {reason}")
        for line in r["details"]:
            print(f"    ! {line}")
        print("RESULT " + json.dumps({k: v for k, v in r.items() if k != "details"}))
        failed |= bool(r["lost"] or r["duplicated"] or r["double_committed"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
