"""Per-unit framework overhead: linegate vs OpenHTF on the same 20-step plan.

Each step makes one query to the same simulated ESP-AT module (a real pty)
and records one numeric measurement with limits. Overhead per unit is the
unit's wall time minus the bare cost of the 20 queries (timed in a plain
loop on the same module). Both frameworks run in one process, in alternating
blocks of units, so the machine's drift hits them alike.

    python bench/overhead.py [--units 60] [--block 10]
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
from linegate.station.compose import run_fixture

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


def bare_round(dut: EspAt) -> float:
    t = time.perf_counter()
    for _ in range(STEPS):
        float(len(dut.mac()))
    return time.perf_counter() - t


class OpenHtfUnits:
    """The same plan as an OpenHTF test; ``run_one`` tests one unit and returns its wall time."""

    def __init__(self, port: str) -> None:
        import openhtf as htf
        from openhtf.util import configuration

        logging.getLogger("openhtf").setLevel(logging.CRITICAL)
        configuration.CONF.load(capture_source=False)
        self.dut = EspAt(port)
        self.dut.sync()
        self.htf = htf
        self.phases = [self._phase(i) for i in range(STEPS)]
        self.count = 0

    def _phase(self, i: int):
        htf, dut, name = self.htf, self.dut, f"m_{i:02d}"

        @htf.measures(htf.Measurement(name).in_range(10, 20))
        def phase(test):
            test.measurements[name] = float(len(dut.mac()))

        return htf.PhaseOptions(name=f"step_{i:02d}")(phase)

    def run_one(self) -> float:
        self.count += 1
        test = self.htf.Test(*self.phases, test_name="bench")
        test.configure(default_dut_id=f"U{self.count}")
        t = time.perf_counter()
        test.execute(test_start=lambda: f"U{self.count}")
        return time.perf_counter() - t


def run_side_by_side(folder: Path, units: int, block: int, htf: OpenHtfUnits) -> dict[str, list[float]]:
    """Alternate the frameworks in blocks of ``block`` units, so both see the same machine.

    A station tests unit after unit, so each framework runs a block back to back (warm,
    as on the line); the blocks alternate because this VM's speed drifts by tens of
    percent from minute to minute. The first unit of every block is not counted (it
    pays the other framework's cold caches, and linegate's first unit the collection
    and jig opening). After each linegate block, while its last files are written,
    the OpenHTF block and as many bare loops of the same DUT work run. A linegate unit
    is timed from the end of the previous unit's file writing to the start of its own:
    the unit loop without the writer (the HTML report is timed apart).
    """
    from linegate.station import output

    plan = load_plan(write_plan(folder))
    config = FixtureConfig.model_validate(
        {"station": "bench", "sockets": [{"name": "A", "dut": {"port": "bench-A"}}],
         "simulated": {"seed": 9, "fail_share": 0.0}}
    )
    times: dict[str, list[float]] = {"linegate": [], "openhtf": [], "bare": []}
    records: list = []
    previous_end = [0.0]
    first_of_block = [True]
    original = output.RunWriter.__call__

    def timed(self, record):
        start = time.perf_counter()
        if not first_of_block[0]:
            times["linegate"].append(start - previous_end[0])
        first_of_block[0] = False
        records.append(record)
        original(self, record)
        if len(records) % block == 0:
            times["openhtf"].extend([htf.run_one() for _ in range(block)][1:])
            times["bare"].extend(bare_round(htf.dut) for _ in range(block))
            first_of_block[0] = True
        previous_end[0] = time.perf_counter()

    blocks = -(-units // (block - 1))
    output.RunWriter.__call__ = timed
    try:
        previous_end[0] = time.perf_counter()
        run_fixture(config, plan, out=folder / "out", units=blocks * block)
    finally:
        output.RunWriter.__call__ = original
    times["records"] = records  # type: ignore[assignment]
    return times


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"(units p10 {ordered[len(ordered) // 10] * 1000:.2f}, p90 {ordered[len(ordered) * 9 // 10] * 1000:.2f} ms)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=60, help="units timed per framework (at least)")
    parser.add_argument("--block", type=int, default=10, help="units per block, the first not timed (>= 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimEspAt(make_unit(random.Random(9))) as server:
        htf = OpenHtfUnits(server.path)
        times = run_side_by_side(Path(tmp), args.units, max(2, args.block), htf)
        htf.dut.close()
    records = times.pop("records")
    renderer = UnitReportRenderer()
    render = []
    for record in records[1:]:
        t = time.perf_counter()
        renderer.render(record)
        render.append(time.perf_counter() - t)

    bare = statistics.median(times["bare"])
    lg_unit, htf_unit = statistics.median(times["linegate"]), statistics.median(times["openhtf"])
    lg, htf = lg_unit - bare, htf_unit - bare
    print(f"plan: {STEPS} steps, 1 DUT query + 1 numeric measurement each; "
          f"{len(times['linegate'])} linegate and {len(times['openhtf'])} OpenHTF units timed, "
          f"in alternating blocks of {max(2, args.block)}")
    print(f"bare DUT work per unit (20 queries, plain loop): {bare * 1000:7.2f} ms")
    print(f"linegate per unit: {lg_unit * 1000:7.2f} ms  -> overhead {lg * 1000:6.2f} ms  {spread(times['linegate'])}")
    print(f"OpenHTF  per unit: {htf_unit * 1000:7.2f} ms  -> overhead {htf * 1000:6.2f} ms  {spread(times['openhtf'])}")
    print(f"overhead ratio linegate/OpenHTF: {lg / htf:.2f} (target <= 0.5)")
    print(f"per-unit HTML report, 20 measurements: median {statistics.median(render) * 1000:.2f} ms "
          f"(target <= 30 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
