"""kill -9 campaign of the results sync: the real ``linegate results sync`` killed at random instants.

An outbox of synthetic units (tests/synckit.py) is sent to a central store by ``linegate results sync``;
the process is killed with SIGKILL at a random moment once it is sending, again and again, then a last
sync runs to the end. The central store must then hold every unit exactly once, with as many steps,
measurements, provisioning and attachment rows as the outbox, but the poisoned units (``--poison``: a
measurement the central store refuses by a constraint): those must be set aside in the outbox, reported
by the last sync (exit 1) and ``linegate results outbox``, and absent from the central store. Central
stores: a fresh schema of the PostgreSQL at 127.0.0.1:5432 when it answers, and a SQLite file.

    python bench/sync_crash.py [--units 20000] [--kills 40] [--poison 3]
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
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pgkit import pg_schema, postgres_up  # noqa: E402
from synckit import census, fill_outbox, refuse_poison, units_in  # noqa: E402


def campaign(state_dir: Path, central: str, units: int, kills: int, poison: int,
             rng: random.Random) -> dict[str, object]:
    poisoned = frozenset(rng.sample(range(1, units + 1), poison))
    refuse_poison(central)
    ids = fill_outbox(state_dir / "results.db", units, poisoned=poisoned)
    bad = {ids[i - 1] for i in poisoned}
    command = [sys.executable, "-m", "linegate.station.cli", "results", "sync", "--state-dir", str(state_dir),
               "--results", central]
    killed = part_filled = 0
    started = time.perf_counter()
    for _ in range(kills):
        before = units_in(central)
        if before >= units - poison:
            break
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and units_in(central) <= before and time.monotonic() < deadline:
            time.sleep(0.01)  # until it is sending; then killed a random moment later
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += 1
        part_filled += 0 < units_in(central) < units
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    have, want = census(central), census(f"sqlite:///{state_dir / 'results.db'}")
    counts = Counter(have.ids)
    children_ok = all(have.children[t].get(k) == v for t, c in want.children.items() for k, v in c.items()
                      if k not in bad)  # a poisoned unit has none there
    listed = subprocess.run([*command[:3], "results", "outbox", "--state-dir", str(state_dir), "--json"],
                            capture_output=True, text=True, timeout=120)
    aside = {s["record_id"] for t in json.loads(listed.stdout)["targets"] for s in t["set_aside"]}
    return {"units": units, "kills": killed, "part_filled": part_filled, "exit": done.returncode,
            "duplicated": sum(n - 1 for n in counts.values() if n > 1), "lost": len(set(ids) - set(counts) - bad),
            "poisoned": len(bad), "set_aside_ok": aside == bad and not bad & set(counts),
            "children_ok": children_ok, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000, help="units in the outbox (default 20000)")
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs per central store (default 40)")
    parser.add_argument("--poison", type=int, default=3, help="units the central store refuses (default 3)")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    rng = random.Random(args.seed)
    print(f"{'central':<11} {'units':>6} {'kills':>5} {'mid':>5} {'exit':>4} {'dup':>4} {'lost':>4} "
          f"{'poisoned':>8} {'aside':>6} {'children':>8} {'s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        targets: list[tuple[str, str]] = [("sqlite", f"sqlite:///{Path(tmp) / 'central.db'}")]
        stack = pg_schema() if postgres_up() else None
        if stack is not None:
            targets.insert(0, ("postgresql", stack.__enter__()))
        else:
            print("postgresql  skipped: nothing answers on 127.0.0.1:5432")
        try:
            for name, url in targets:
                r = campaign(Path(tmp) / name, url, args.units, args.kills, args.poison, rng)
                print(f"{name:<11} {r['units']:>6} {r['kills']:>5} {r['part_filled']:>5} {r['exit']:>4} "
                      f"{r['duplicated']:>4} {r['lost']:>4} {r['poisoned']:>8} "
                      f"{'listed' if r['set_aside_ok'] else 'WRONG':>6} {'same' if r['children_ok'] else 'DIFFER':>8} "
                      f"{r['seconds']:>6.1f}   (target: 0 dup, 0 lost, the poisoned set aside and listed, "
                      f"children the same, exit {1 if args.poison else 0})")
        finally:
            if stack is not None:
                stack.__exit__(None, None, None)


if __name__ == "__main__":
    main()
