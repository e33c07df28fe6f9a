"""Report rendering time: one unit report at 20 and 200 measurements, the lot summary at 1,000 and
10,000 units (synthetic records, the same ones the report tests use, spread over four sockets so that
the yield-per-socket table has its four rows and its Fisher tests to compute).

    python bench/reports.py [--repeat 20] [--lots 1000 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from linegate.reports import UnitReportRenderer
from linegate.reports.lot import LotRenderer, summarize, write_lot
from synthetic import make_record


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--lots", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    renderer = UnitReportRenderer()
    print("report rendering (median)")
    for n in (20, 200):
        record = make_record(1, measurements=n, fail=True)
        seconds = timed(lambda r=record: renderer.render(r), args.repeat)
        print(f"unit report, {n} measurements: {seconds * 1000:.1f} ms (target <= 30 ms at 20)")
    lot_renderer = LotRenderer()
    for units in args.lots:
        records = [make_record(i, fail=i % 9 == 0, error=i % 97 == 0, socket="ABCD"[i % 4])
                   for i in range(1, units + 1)]
        t = time.perf_counter()
        html = lot_renderer.render(summarize(records, title=f"lot of {units}"))
        seconds = time.perf_counter() - t
        print(f"lot summary, {units} units: {seconds:.2f} s, {len(html) / 1e6:.1f} MB (target <= 5 s at 10,000)")
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp)
            for r in records:
                (run_dir / f"{r.stem}.json").write_text(r.model_dump_json())
            t = time.perf_counter()
            write_lot(run_dir)
            print(f"  the same from {units} JSON files (linegate report lot): {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
