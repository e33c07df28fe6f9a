"""Small versions of the benchmarks: they run and print their figures."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def bench(script: str, *args: str, timeout: float = 180) -> str:
    """Run ``bench/<script>`` with small arguments; its stdout, once it exited 0."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_overhead_benchmark_prints_the_comparison():
    out = bench("overhead.py", "--units", "2", "--block", "3", "--steps", "1", "20")
    assert "20-step overhead ratio linegate/OpenHTF(JSON output):" in out
    assert "linegate fixed cost:" in out and " per step " in out


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


def _load_bench(name: str):
    """``bench/<name>.py`` as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sockets_benchmark_prints_throughput_workers_and_amdahl_side_by_side(tmp_path):
    out = bench("sockets.py", "--units", "4", "--sockets", "1", "2", "--delay", "0.01", "--out", str(tmp_path))
    assert "sockets units  wall s  span s span/min span x steady/min speed-up  target  met" in out
    throughput = [line.split() for line in out.splitlines() if re.match(r"\s+[12]\s+4\s+\d+\.\d+\s", line)]
    assert [row[0] for row in throughput[:2]] == ["1", "2"] and throughput[0][7] == "1.00x"
    assert throughput[1][8] == "1.9x" and throughput[1][9] in ("met", "not")
    assert "supervisor RSS MB max" in out
    workers = [line.split() for line in out.splitlines() if re.match(r"\s+2\s+2\s+\d+\.\d\d/\d+\.\d\d\s", line)]
    assert workers, out  # two workers, their start-up times from the worker_started events
    assert re.search(r"4-socket speed-up \d+\.\d\dx vs Amdahl's bound \d+\.\d\dx for s = 0\.\d{3} .*"
                     r"within 10%: (met|not met)", out)
    share = float(re.search(r"for s = (0\.\d+)", out).group(1))
    assert 0.03 < share < 0.25  # the DMM step is about a tenth of the unit


def test_sockets_benchmark_reads_worker_pids_and_start_up_from_the_event_stream(tmp_path):
    """The figures of a real 2-socket run, from its records and its event stream."""
    sockets = _load_bench("sockets")
    fixture = tmp_path / "f.yaml"
    fixture.write_text(sockets.fixture_text(2, 0.0, dmm=True))
    events = tmp_path / "ev.jsonl"
    done = subprocess.run([sys.executable, "-m", "linegate", "run", "--fixture", str(fixture), "--plan",
                           str(sockets.SHARED_DMM), "--units", "4", "--out", str(tmp_path / "o"), "--events",
                           str(events)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, sockets.HOLD_ENV: "0.05"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    docs = sockets.records(tmp_path / "o")
    stream = sockets.read_events(events)
    pids = [e["pid"] for e in stream if e["kind"] == "worker_started"]
    assert len(docs) == 4 and len(pids) == 2
    run = sockets.summarize(2, 3.0, docs, stream, {pids[0]: 90_000, pids[1]: 50_000, 1: 10}, 1)
    assert run.units == 4 and run.span_s > 0 and len(run.startup_s) == 2 and all(s > 0 for s in run.startup_s)
    assert run.worker_rss_kb == [90_000, 50_000] and run.supervisor_rss_kb == 10
    hold = sum(s["duration_s"] for doc in docs for s in doc["steps"] if s["name"] == "shared_dmm")
    assert hold >= 4 * 0.05 and run.dmm_share == hold / sum(doc["duration_s"] for doc in docs)
    waits = [s["lock_wait_s"] for doc in docs for s in doc["steps"] if s["name"] == "shared_dmm"]
    assert run.lock_wait_s == sum(waits) / 4
    without = sockets.summarize(2, 3.0, docs, [], {}, 1)  # no stream: the records' own times
    assert without.startup_s == [] and without.worker_rss_kb == [] and without.span_s > 0




def test_results_benchmark_prints_inserts_and_history_beside_their_targets(tmp_path):
    args = ("--inserts", "20", "--batch", "10", "--history-units", "3000", "--queries", "5", "--cache", str(tmp_path),
            "--no-lot")
    out = bench("results.py", *args)
    assert re.search(r"insert per unit, SQLite, WAL, one transaction each: \d+\.\d\d ms median, \d+\.\d\d ms mean "
                     r"over 20 \(target <= 2 ms\): (met|NOT met); this process.s CPU \d+\.\d\d ms a unit", out)
    assert re.search(r"SQLite, 10 units a transaction \(the sync's batches\): \d+\.\d\d ms a unit", out)
    assert re.search(r"insert per unit, PostgreSQL (over loopback, one transaction each: \d+\.\d\d ms "
                     r"median|: skipped)", out)
    assert "history store: 3,000 unit tests with their provisioning, built in" in out
    assert re.search(r"history SERIAL, 3,000 units stored: \d+\.\d\d ms median, .*\(target <= 20 ms\): (met|NOT met); "
                     r"a relabelled unit's history holds 2 tests", out)
    assert "history store: 3,000 unit tests with their provisioning, reused" in bench("results.py", *args)
