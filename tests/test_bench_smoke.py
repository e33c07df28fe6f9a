"""Small versions of the benchmarks: they run and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_overhead_benchmark_prints_the_comparison():
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "overhead.py"), "--units", "2", "--block", "2"],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "overhead ratio linegate/OpenHTF:" in done.stdout
    assert "per-unit HTML report, 20 measurements:" in done.stdout


def test_cloud_benchmark_prints_rates_and_retry_cost():
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cloud.py"), "--calls", "5"],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("yosmart requestSN(1)", "ayla manufacture", "enos-dps allocate (signed)", "enos-mqtt register",
                 "one retry (YoSmart 010000"):
        assert line in done.stdout


def test_latency_benchmark_prints_the_ratio():
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "latency.py"), "--units", "3", "--latency-ms", "50"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "latency ratio with the pool and background commits:" in done.stdout
    assert "3/3 and 3/3" in done.stdout  # every unit passed and was committed, at both latencies


def test_reports_benchmark_prints_its_figures():
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "reports.py"), "--repeat", "2", "--lots", "50"],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("unit report, 20 measurements:", "unit report, 200 measurements:", "lot summary, 50 units:",
                 "the same from 50 JSON files"):
        assert line in done.stdout
