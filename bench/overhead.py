"""Per-unit framework overhead on the path users run: ``linegate run`` against OpenHTF, same plan, same module.

linegate is ``linegate run --fixture F --plan P --units N --events E`` as a subprocess (supervisor, one
worker, each unit's JSON record, HTML report, results-store rows, the event file), timed from the
``unit_started`` events: a unit's cycle is from its start to the next unit's start. OpenHTF runs the same
steps as phases, each with one measurement, on the same simulated ESP-AT module (a real pty), with its JSON
output callback (what an OpenHTF user keeps), and once more without any output; its cycle is one
``Test.execute``. Each step makes one query to the module; the bare cost of those queries (a plain loop on
the same module) is taken off both to give the overhead. The frameworks alternate in blocks (the first
unit of each block is not counted: it pays start-up) so this VM's drift hits them alike. Plans of 1, 20
and 100 steps give linegate's fixed cost per unit and per step (a least-squares line through the three).

    python bench/overhead.py [--units 40] [--block 10] [--steps 1 20 100]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from linegate.drivers.dut import EspAt
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import make_unit

LINEGATE = [sys.executable, "-m", "linegate"]
TARGET = 0.5


def write_plan(folder: Path, steps: int) -> Path:
    tests = "\n".join(
        f"def test_step_{i:03d}(dut, measure):\n    measure('m_{i:03d}', float(len(dut.mac())), 'chars')\n"
        for i in range(steps))
    (folder / f"test_bench_{steps}.py").write_text(tests)
    body = "".join(
        f"  - name: step_{i:03d}\n    test: test_bench_{steps}.py::test_step_{i:03d}\n"
        f"    measurements:\n      - {{name: m_{i:03d}, units: chars, low: 10, high: 20}}\n" for i in range(steps))
    plan = folder / f"bench-{steps}.yaml"
    plan.write_text(f"name: bench-{steps}\nversion: '1'\nstation_tests: .\nsteps:\n{body}")
    return plan


def write_fixture(folder: Path) -> Path:
    fixture = folder / "bench-station.yaml"
    fixture.write_text("station: bench-overhead\noperator: bench\nsockets:\n  - name: A\n"
                       "    dut: {port: .sim/socket-A}\nsimulated: {seed: 9, fail_share: 0.0}\n")
    return fixture


def bare_round(dut: EspAt, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        float(len(dut.mac()))
    return time.perf_counter() - t


def linegate_block(folder: Path, fixture: Path, plan: Path, units: int, n: int) -> list[float]:
    """One ``linegate run`` of ``units`` units: the cycles of all but the first (from the event stream)."""
    out, events = folder / f"out-{plan.stem}-{n}", folder / f"events-{plan.stem}-{n}.jsonl"
    cmd = [*LINEGATE, "run", "--fixture", str(fixture), "--plan", str(plan), "--units", str(units),
           "--out", str(out), "--state-dir", str(folder / "state"), "--events", str(events)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=folder,
                          env={**os.environ, "COLUMNS": "120"})
    if done.returncode != 0:
        raise SystemExit(f"bench/overhead.py: linegate run exited {done.returncode}: "
                         f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    starts = [datetime.fromisoformat(e["at"]) for e in map(json.loads, events.read_text().splitlines())
              if e["kind"] == "unit_started"]
    if len(starts) != units:
        raise SystemExit(f"bench/overhead.py: {len(starts)} of {units} units started in {events}")
    return [(b - a).total_seconds() for a, b in itertools.pairwise(starts[1:])]


class OpenHtf:
    """The same plan as an OpenHTF test; ``run_one`` tests one unit and returns its wall time."""

    def __init__(self, dut: EspAt, steps: int, output: Path | None) -> None:
        import openhtf as htf
        from openhtf.output.callbacks import json_factory
        from openhtf.util import configuration

        logging.getLogger("openhtf").setLevel(logging.CRITICAL)
        configuration.CONF.load(capture_source=False)
        self.htf, self.dut = htf, dut
        self.phases = [self._phase(i) for i in range(steps)]
        self.callbacks: list[Callable[..., Any]] = []
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            self.callbacks.append(json_factory.OutputToJSON(str(output / "{dut_id}.{start_time_millis}.json")))
        self.count = 0

    def _phase(self, i: int) -> Any:
        htf, dut, name = self.htf, self.dut, f"m_{i:03d}"

        @htf.measures(htf.Measurement(name).in_range(10, 20))
        def phase(test: Any) -> None:
            test.measurements[name] = float(len(dut.mac()))

        return htf.PhaseOptions(name=f"step_{i:03d}")(phase)

    def block(self, units: int) -> list[float]:
        times = []
        for _ in range(units):
            self.count += 1
            test = self.htf.Test(*self.phases, test_name="bench")
            test.configure(default_dut_id=f"U{self.count}")
            if self.callbacks:
                test.add_output_callbacks(*self.callbacks)
            with contextlib.redirect_stdout(io.StringIO()):  # its banner: not a cost a line would keep
                t = time.perf_counter()
                test.execute(test_start=lambda: f"U{self.count}")
                times.append(time.perf_counter() - t)
        return times[1:]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def measure(folder: Path, steps: int, units: int, block: int, server: SimEspAt) -> dict[str, float]:
    plan, fixture = write_plan(folder, steps), write_fixture(folder)
    dut = EspAt(server.path)
    dut.sync()
    with_json = OpenHtf(dut, steps, folder / f"htf-{steps}")
    bare_htf = OpenHtf(dut, steps, None)
    cycles: dict[str, list[float]] = {"linegate": [], "openhtf_json": [], "openhtf_bare": [], "bare": []}
    for n in range(max(1, -(-units // (block - 1)))):
        cycles["linegate"] += linegate_block(folder, fixture, plan, block + 1, n)
        cycles["openhtf_json"] += with_json.block(block)
        cycles["openhtf_bare"] += bare_htf.block(block)
        cycles["bare"] += [bare_round(dut, steps) for _ in range(block)]
    dut.close()
    return {k: statistics.median(v) for k, v in cycles.items()} | {"n": float(len(cycles["linegate"]))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=40, help="units timed per framework and plan (at least)")
    parser.add_argument("--block", type=int, default=10, help="units per block, the first not timed (>= 3)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 20, 100], help="plan sizes (default 1 20 100)")
    args = parser.parse_args()
    block = max(3, args.block)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, SimEspAt(make_unit(random.Random(9))) as server:
        for steps in args.steps:
            results[steps] = measure(Path(tmp), steps, args.units, block, server)
    print("cycle = one unit's start to the next's; overhead = cycle - the bare DUT queries (plain loop)")
    print(f"{'plan':>9} {'bare DUT':>10} {'linegate':>10} {'OpenHTF+JSON':>13} {'OpenHTF bare':>13} "
          f"{'lg ovh':>10} {'htf+JSON ovh':>13} {'htf ovh':>10} {'ratio':>6} {'ratio/bare':>10}")
    for steps, r in results.items():
        lg, hj, hb = r["linegate"] - r["bare"], r["openhtf_json"] - r["bare"], r["openhtf_bare"] - r["bare"]
        print(f"{steps:>4} step{'s' if steps > 1 else ' '} {ms(r['bare']):>10} {ms(r['linegate']):>10} "
              f"{ms(r['openhtf_json']):>13} {ms(r['openhtf_bare']):>13} {ms(lg):>10} {ms(hj):>13} {ms(hb):>10} "
              f"{lg / hj:6.2f} {lg / hb:10.2f}")
    if len(results) >= 2:
        xs = list(results)
        ys = [results[s]["linegate"] - results[s]["bare"] for s in xs]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        print(f"linegate fixed cost: {ms(my - slope * mx).strip()} per unit + {slope * 1000:.2f} ms per step "
              "(least squares over the plans)")
    if 20 in results:
        r = results[20]
        ratio = (r["linegate"] - r["bare"]) / (r["openhtf_json"] - r["bare"])
        print(f"20-step overhead ratio linegate/OpenHTF(JSON output): {ratio:.2f} (target <= {TARGET}); "
              f"{int(r['n'])} linegate units timed per plan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
