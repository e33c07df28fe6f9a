"""Small versions of the benchmarks: they run and print their figures."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from linegate.station.events import UnitStarted, Verdict, to_wire

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
    assert "sockets units  wall s  s/unit  span s units/min speed-up wall x  target  met" in out
    throughput = [line.split() for line in out.splitlines() if re.match(r"\s+[12]\s+4\s+\d+\.\d+\s", line)]
    assert [row[0] for row in throughput[:2]] == ["1", "2"] and throughput[0][6] == "1.00x"
    assert throughput[1][8] == "1.9x" and throughput[1][9] in ("met", "not")
    assert "supervisor RSS MB max" in out
    assert re.search(r"4-socket speed-up \d+\.\d\dx vs Amdahl's bound \d+\.\d\dx for s = 0\.\d{3} .*"
                     r"within 10%: (met|not met)", out)
    share = float(re.search(r"for s = (0\.\d+)", out).group(1))
    assert 0.03 < share < 0.25  # the DMM step is about a tenth of the unit
    if "takes no --events here" in out:  # today's station: no supervisor, no worker figures
        assert re.search(r"^\s+2\s+n/a\s+n/a\s+n/a\s+\d+\.\d$", out, re.M)


def test_sockets_benchmark_reads_worker_pids_and_start_up_from_the_event_stream(tmp_path):
    """The event stream's span and worker_started events, over real records of a 2-socket run."""
    sockets = _load_bench("sockets")
    fixture = tmp_path / "f.yaml"
    fixture.write_text(sockets.fixture_text(2, 0.0, dmm=True))
    done = subprocess.run([sys.executable, "-m", "linegate", "run", "--fixture", str(fixture), "--plan",
                           str(sockets.SHARED_DMM), "--units", "2", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, sockets.HOLD_ENV: "0.05"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    docs = sockets.records(tmp_path / "o")
    assert len(docs) == 2 and {doc["station"]["socket"] for doc in docs} == {"S1", "S2"}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    stream = [json.loads(to_wire(e)) for e in (
        UnitStarted("S1", index=1, serial=None, steps=4, at=t0),
        UnitStarted("S2", index=2, serial=None, steps=4, at=t0 + timedelta(seconds=0.5)),
        Verdict("S1", index=1, outcome="PASS", at=t0 + timedelta(seconds=1)),
        Verdict("S2", index=2, outcome="PASS", at=t0 + timedelta(seconds=2.5)))]
    stream += [{"v": 1, "kind": "worker_started", "socket": f"S{n}", "at": t0.isoformat(), "pid": 100 + n,
                "startup_s": 0.5 * n} for n in (1, 2)]
    run = sockets.summarize(2, 3.0, docs, stream, {100: 90_000, 101: 50_000, 102: 60_000, 103: 10}, 100)
    assert run.span_s == 2.5 and run.units == 2
    assert run.startup_s == [0.5, 1.0] and run.worker_rss_kb == [50_000, 60_000] and run.supervisor_rss_kb == 90_000
    hold = sum(s["duration_s"] for doc in docs for s in doc["steps"] if s["name"] == "shared_dmm")
    assert hold >= 2 * 0.05 and run.dmm_share == hold / sum(doc["duration_s"] for doc in docs)
    without = sockets.summarize(2, 3.0, docs, [], {100: 90_000}, 100)  # no stream: the records' own times
    assert without.startup_s == [] and without.worker_rss_kb == [] and 0 < without.span_s < 3.0
