"""bench/lot_bench.py runs end to end on a small lot (2,000 units in the store, 200 record files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "lot_bench.py"


def test_lot_bench_prints_both_figures_beside_their_targets(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("lot_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.main(["--units", "2000", "--files", "200", "--cache", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "from the database, 2,000 units" in printed and "target <= 3 s at 100,000" in printed
    assert "from 200 record files on disk" in printed and "target <= 5 s at 10,000" in printed
    assert all(figures[k] > 0 for k in ("db_s", "db_cpu_s", "files_s", "files_cpu_s"))
    assert (tmp_path / "results-2000-v2.db").exists() and (tmp_path / "files-200" / ".complete").exists()
    assert "2000 tests" in (tmp_path / "lot-db.html").read_text().replace(",", "")
    again = bench.main(["--units", "2000", "--files", "200", "--cache", str(tmp_path)])  # from the cache
    assert "built" not in capsys.readouterr().out and again["db_s"] > 0
