"""Per-unit framework overhead: linegate vs OpenHTF on the same 20-step plan.

Each step makes one query to the same simulated ESP-AT module (a real pty)
and records one numeric measurement with limits. Overhead per unit is the
unit's wall time minus the bare cost of the 20 queries (timed in a plain
loop on the same module). Both frameworks run side by side in one process.

    python bench/overhead.py [--units 30]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from linegate.drivers.dut import EspAt
from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import make_unit
from linegate.plans import load_plan
from linegate.reports import UnitReportRenderer
from linegate.station.run import run_line

STEPS = 20


def write_plan(folder: Path) -> Path:
    tests = "\n".join(
        f"def test_step_{i:02d}(dut, measure):\n    measure('m_{i:02d}', float(len(dut.mac())), 'chars')\n"
        for i in range(STEPS)
    )
    (folder / "test_bench.py").write_text(tests)
    steps = "".join(
        f"  - name: step_{i:02d}\n    test: test_bench.py::test_step_{i:02d}\n"
        f"    measurements:\n      - {{name: m_{i:02d}, units: chars, low: 10, high: 20}}\n"
        for i in range(STEPS)
    )
    plan = folder / "bench.yaml"
    plan.write_text(f"name: bench\nversion: '1'\nstation_tests: .\nsteps:\n{steps}")
    return plan


def bare_cost(port: str, rounds: int = 30) -> float:
    dut = EspAt(port)
    dut.sync()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(STEPS):
            float(len(dut.mac()))
        times.append(time.perf_counter() - t)
    dut.close()
    return statistics.median(times)


def run_linegate(folder: Path, units: int) -> tuple[list[float], list]:
    plan = load_plan(write_plan(folder))
    config = FixtureConfig.model_validate(
        {"station": "bench", "sockets": [{"name": "A", "dut": {"port": "bench-A"}}],
         "simulated": {"seed": 9, "fail_share": 0.0}}
    )
    stamps: list[float] = []
    records = []

    def on_unit(row, path) -> None:
        stamps.append(time.perf_counter())

    # Time each unit from the end of the previous unit's reporting to the
    # start of its own: the unit loop, without file writing (timed apart).
    from linegate.station import output

    original = output.RunWriter.__call__
    marks: list[tuple[float, float]] = []

    def timed(self, record):
        start = time.perf_counter()
        original(self, record)
        marks.append((start, time.perf_counter()))
        records.append(record)

    output.RunWriter.__call__ = timed
    try:
        t0 = time.perf_counter()
        run_line(config, plan, out=folder / "out", units=units, on_unit=on_unit)
    finally:
        output.RunWriter.__call__ = original
    per_unit = []
    previous_end = t0
    for start, end in marks:
        per_unit.append(start - previous_end)
        previous_end = end
    return per_unit[1:], records  # the first unit pays collection and jig opening


def run_openhtf(port: str, units: int) -> list[float]:
    import openhtf as htf
    from openhtf.util import configuration

    logging.getLogger("openhtf").setLevel(logging.CRITICAL)
    configuration.CONF.load(capture_source=False)
    dut = EspAt(port)
    dut.sync()

    def make_phase(i: int):
        name = f"m_{i:02d}"

        @htf.measures(htf.Measurement(name).in_range(10, 20))
        def phase(test):
            test.measurements[name] = float(len(dut.mac()))

        return htf.PhaseOptions(name=f"step_{i:02d}")(phase)

    phases = [make_phase(i) for i in range(STEPS)]
    times = []
    for n in range(units + 1):
        test = htf.Test(*phases, test_name="bench")
        test.configure(default_dut_id=f"U{n}")
        t = time.perf_counter()
        test.execute(test_start=lambda n=n: f"U{n}")
        times.append(time.perf_counter() - t)
    dut.close()
    return times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with SimEspAt(make_unit(random.Random(9))) as server:
            bare = bare_cost(server.path)
            htf_times = run_openhtf(server.path, args.units)
        lg_times, records = run_linegate(folder, args.units)
    renderer = UnitReportRenderer()
    render = []
    for record in records[1:]:
        t = time.perf_counter()
        renderer.render(record)
        render.append(time.perf_counter() - t)

    lg = statistics.median(lg_times) - bare
    htf = statistics.median(htf_times) - bare
    print(f"plan: {STEPS} steps, 1 DUT query + 1 numeric measurement each; {args.units} units per framework")
    print(f"bare DUT work per unit (20 queries, plain loop): {bare * 1000:7.2f} ms")
    print(f"linegate per unit: {statistics.median(lg_times) * 1000:7.2f} ms  -> overhead {lg * 1000:6.2f} ms")
    print(f"OpenHTF  per unit: {statistics.median(htf_times) * 1000:7.2f} ms  -> overhead {htf * 1000:6.2f} ms")
    print(f"overhead ratio linegate/OpenHTF: {lg / htf:.2f} (target <= 0.5)")
    print(f"per-unit HTML report, 20 measurements: median {statistics.median(render) * 1000:.2f} ms "
          f"(target <= 30 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
