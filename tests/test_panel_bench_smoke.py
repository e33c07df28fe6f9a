"""A small run of bench/panel.py: it prints the panel's latency and CPU beside their targets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_panel_benchmark_prints_latency_and_cpu_with_targets():
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
    done = subprocess.run([sys.executable, str(REPO / "bench" / "panel.py"), "--sockets", "2", "--rate", "10",
                           "--seconds", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "panel bench: 2 sockets x 10 events/s, 1 browser(s), 2 s (40 events, 40 seen rendered)" in out
    assert "hub -> drawn (its frame):" in out and "target <= 100 ms:" in out
    assert "supervisor CPU (hub + server):" in out and "target <= 5 %:" in out
