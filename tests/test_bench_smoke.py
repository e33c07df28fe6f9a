"""Small versions of the benchmarks: they run and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bench(script: str, *args: str, timeout: float = 180) -> str:
    """Run ``bench/<script>`` with small arguments; its stdout, once it exited 0."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_overhead_benchmark_prints_the_comparison():
    out = bench("overhead.py", "--units", "2", "--block", "2")
    assert "overhead ratio linegate/OpenHTF:" in out
    assert "per-unit HTML report, 20 measurements:" in out


def test_cloud_benchmark_prints_rates_and_retry_cost():
    out = bench("cloud.py", "--calls", "5")
    for line in ("yosmart requestSN(1)", "ayla manufacture", "enos-dps allocate (signed)", "enos-mqtt register",
                 "one retry (YoSmart 010000"):
        assert line in out


def test_latency_benchmark_prints_the_ratio():
    out = bench("latency.py", "--units", "3", "--latency-ms", "50", timeout=300)
    assert "latency ratio with the pool and background commits:" in out
    assert "3/3 and 3/3" in out  # every unit passed and was committed, at both latencies


def test_reports_benchmark_prints_its_figures():
    out = bench("reports.py", "--repeat", "2", "--lots", "50")
    for line in ("unit report, 20 measurements:", "unit report, 200 measurements:", "lot summary, 50 units:",
                 "the same from 50 JSON files"):
        assert line in out


def test_flash_benchmark_prints_the_rate_against_the_limit_and_the_time_saved():
    out = bench("flash.py", "--key-bytes", "512", "--repeat", "1")
    assert "key write, 512 B at 115200 baud:" in out and "of the 11,520 B/s limit (target >= 90%" in out
    assert "with AT+UART_CUR to 921600 and back:" in out and "saves" in out


def test_flash_benchmark_falls_back_when_the_module_refuses_the_switch():
    out = bench("flash.py", "--key-bytes", "256", "--repeat", "1", "--fault", "baud-refuse")
    assert "switch to 921600 baud failed; fell back to 115200 baud" in out and "link still answers: True" in out
