"""Throughput of 1, 2, 4 and 8 sockets side by side, on a DUT-bound plan, and the cost of one shared DMM.

Each run is ``linegate run --fixture F --plan P --units N --out D --events E`` as a subprocess (one
supervisor, one worker process per socket), on a generated fixture file of simulated ESP-AT modules that
take ``--delay`` seconds (default 0.1) to answer each command; the plan (bench/sockets/dut-bound.yaml) sends
ten AT commands a unit, so a unit waits ~1 s on its DUT. Printed per socket count: the command's wall time;
the span from the first unit's start to the last verdict and its rate (worker start-up skew and the last,
partly idle round included); the steady rate (verdicts from the moment the last worker was ready to the
last unit handed out, every socket busy) and its speed-up over one socket against the targets (x1.9, x3.6,
x6.5 for 2, 4, 8 sockets). The workers' start-up times come from the ``worker_started`` events and each
process's VmRSS is sampled every 0.2 s. The second scenario (bench/sockets/shared-dmm.yaml) adds a step
holding the station's one DMM for about a tenth of the unit; its 4-socket steady speed-up is set against
Amdahl's bound 1/(s + (1-s)/4), s being the share of a unit's time in that step on one socket. Run it from
the repository:

    python bench/sockets.py [--units 48] [--sockets 1 2 4 8] [--delay 0.1] [--dmm-sockets 4] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent / "sockets"
DUT_BOUND, SHARED_DMM = HERE / "dut-bound.yaml", HERE / "shared-dmm.yaml"
DMM_STEP = "shared_dmm"
HOLD_ENV = "LINEGATE_BENCH_DMM_HOLD_S"  # read by bench/sockets/test_socket_bench.py
LINEGATE = [sys.executable, "-m", "linegate"]
TARGETS = {2: 1.9, 4: 3.6, 8: 6.5}
AMDAHL_WITHIN = 0.10
POLL_S = 0.2


class BenchError(Exception):
    """A run did not complete as the bench needs. The message is one line."""


@dataclass
class Run:
    sockets: int
    units: int
    wall_s: float
    span_s: float  # first unit started to last verdict
    dmm_share: float  # share of the units' time in the shared-DMM step
    steady: tuple[int, float] | None = None  # verdicts and seconds while every worker was up and units remained
    lock_wait_s: float | None = None  # per unit, waiting for shared instruments' locks (records' lock_wait_s)
    startup_s: list[float] = field(default_factory=list)  # per worker, from worker_started events
    worker_rss_kb: list[int] = field(default_factory=list)  # max VmRSS per worker
    supervisor_rss_kb: int = 0


def events_supported() -> bool:
    """Whether this linegate's ``run`` takes ``--events FILE`` (the supervisor's event stream)."""
    done = subprocess.run([*LINEGATE, "run", "--help"], capture_output=True, text=True, timeout=60)
    return "--events" in done.stdout


def fixture_text(sockets: int, delay_s: float, dmm: bool) -> str:
    """A fixture file of ``sockets`` simulated sockets (sim-station.yaml's shape); the DMM is the station's."""
    lines = [f"station: bench-{sockets}-socket", "operator: bench", "sockets:"]
    for n in range(1, sockets + 1):
        lines += [f"  - name: S{n}", f"    dut: {{port: .sim/socket-S{n}, timeout_s: 1.0}}"]
    if dmm:
        lines += ["instruments:", '  dmm: {address: "ASRL2::INSTR", backend: "@sim"}']
    lines.append(f"simulated: {{seed: 1, fail_share: 0.0, command_delay_s: {delay_s!r}}}")
    return "\n".join(lines) + "\n"


def descendants(root: int) -> set[int]:
    """Processes under ``root`` (its workers and theirs), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def read_events(path: Path) -> list[dict]:
    """The event stream's complete lines as JSON objects (kinds this bench does not know are kept too)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def records(out: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in out.glob("run-*/*.json")]
    return [doc for doc in found if "schema_version" in doc and "steps" in doc]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_station(work: Path, sockets: int, units: int, delay_s: float, plan: Path, hold_s: float,
             with_events: bool) -> Run:
    """One ``linegate run`` of ``units`` units on ``sockets`` simulated sockets, timed and sampled."""
    name = f"{plan.stem}-{sockets}"
    fixture = work / f"{name}.yaml"
    fixture.write_text(fixture_text(sockets, delay_s, dmm=plan == SHARED_DMM))
    out, events = work / f"out-{name}", work / f"{name}.events.jsonl"
    cmd = [*LINEGATE, "run", "--fixture", str(fixture), "--plan", str(plan), "--units", str(units), "--out", str(out)]
    if with_events:
        cmd += ["--events", str(events)]
    env = {**os.environ, HOLD_ENV: repr(hold_s), "PYTHONUNBUFFERED": "1"}
    deadline = time.monotonic() + 120 + units * (30 * delay_s + hold_s + 2)
    peak: dict[int, int] = {}
    with open(work / f"{name}.log", "w") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            for pid in (proc.pid, *descendants(proc.pid)):
                kb = rss_kb(pid)
                if kb is not None:
                    peak[pid] = max(peak.get(pid, 0), kb)
            try:
                proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)  # the station and its workers: a session of our own
                proc.wait()
                raise BenchError(f"linegate run on {sockets} socket(s) did not finish in time "
                                 f"(its output: {log.name}, kept with --out)")
        wall_s = time.monotonic() - t0
    if proc.returncode != 0:
        tail = (work / f"{name}.log").read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise BenchError(f"linegate run on {sockets} socket(s) exited {proc.returncode}: {tail[0]}")
    docs = records(out)
    if len(docs) != units or any(doc["outcome"] != "PASS" for doc in docs):
        outcomes = sorted(doc["outcome"] for doc in docs)
        raise BenchError(f"{out}: expected {units} PASS records, found {len(docs)}: {outcomes}")
    return summarize(sockets, wall_s, docs, read_events(events) if with_events else [], peak, proc.pid)


def summarize(sockets: int, wall_s: float, docs: list[dict], stream: list[dict], peak: dict[int, int],
              supervisor: int) -> Run:
    """A run's figures from its unit records, its event stream (may be empty) and the sampled VmRSS peaks."""
    starts = [_at(e["at"]) for e in stream if e.get("kind") == "unit_started"]
    ends = [_at(e["at"]) for e in stream if e.get("kind") == "verdict"]
    if not (starts and ends):  # no event stream: the records' own times
        starts = [_at(doc["started_at"]) for doc in docs]
        ends = [_at(doc["ended_at"]) for doc in docs]
    workers = [e for e in stream if e.get("kind") == "worker_started"]
    steady = None
    if workers and starts:  # from the last worker ready to the last unit handed out: every socket busy
        begin, end = max(_at(e["at"]) for e in workers), max(starts)
        done = sum(1 for t in ends if begin <= t <= end)
        if done >= sockets and end > begin:
            steady = (done, (end - begin).total_seconds())
    steps = [step for doc in docs for step in doc["steps"]]
    in_dmm = sum(step["duration_s"] for step in steps if step["name"] == DMM_STEP)
    waited = [step["lock_wait_s"] for step in steps if "lock_wait_s" in step]
    return Run(sockets, len(docs), wall_s, (max(ends) - min(starts)).total_seconds(),
               in_dmm / sum(doc["duration_s"] for doc in docs), steady=steady,
               lock_wait_s=sum(waited) / len(docs) if waited else None,
               startup_s=[float(e["startup_s"]) for e in workers],
               worker_rss_kb=[peak[e["pid"]] for e in workers if e.get("pid") in peak],
               supervisor_rss_kb=peak.get(supervisor, 0))


def per_min(run: Run) -> float:
    return run.units / run.span_s * 60


def steady_per_min(run: Run) -> float:
    """Units a minute while every socket's worker was up and had units: the line's running rate (start-up and
    the last, partly idle round are shown apart: worker start-up below, the span's rate beside)."""
    if run.steady is None:
        return per_min(run)
    done, seconds = run.steady
    return done / seconds * 60


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def print_throughput(runs: list[Run], source: str) -> None:
    base = runs[0]
    print(f"{'sockets':>7} {'units':>5} {'wall s':>7} {'span s':>7} {'span/min':>8} {'span x':>6} "
          f"{'steady/min':>10} {'speed-up':>8} {'target':>7}  met")
    for run in runs:
        speed = steady_per_min(run) / steady_per_min(base)
        target = TARGETS.get(run.sockets)
        met = "-" if target is None else ("met" if speed >= target else "not met")
        print(f"{run.sockets:>7} {run.units:>5} {run.wall_s:>7.2f} {run.span_s:>7.2f} {per_min(run):>8.1f} "
              f"{per_min(run) / per_min(base):>5.2f}x {steady_per_min(run):>10.1f} {speed:>7.2f}x "
              f"{'-' if target is None else f'{target:.1f}x':>7}  {met}")
    print(f"span: first unit started to last verdict ({source}), start-up skew and the last round included; "
          "steady: verdicts from the last worker ready to the last unit handed out, every socket busy; the "
          "speed-up (judged) is the steady rate's over one socket's")


def print_workers(runs: list[Run], with_events: bool) -> None:
    print(f"{'sockets':>7} {'workers':>7} {'start-up s mean/max':>19} {'worker RSS MB max':>17} "
          f"{'supervisor RSS MB max':>21}")
    for run in runs:
        if with_events and run.startup_s:
            startup = f"{sum(run.startup_s) / len(run.startup_s):.2f}/{max(run.startup_s):.2f}"
            count = str(len(run.startup_s))
        else:
            startup = count = "n/a"
        rss = (f"{mb(min(run.worker_rss_kb))}-{mb(max(run.worker_rss_kb))}" if run.worker_rss_kb else "n/a")
        print(f"{run.sockets:>7} {count:>7} {startup:>19} {rss:>17} {mb(run.supervisor_rss_kb):>21}")


def print_amdahl(one: Run, many: Run) -> None:
    print(f"{'sockets':>7} {'units':>5} {'span s':>7} {'units/min':>9} {'DMM share':>9} {'lock wait s/unit':>16}")
    for run in (one, many):
        wait = "n/a" if run.lock_wait_s is None else f"{run.lock_wait_s:.3f}"
        print(f"{run.sockets:>7} {run.units:>5} {run.span_s:>7.2f} {per_min(run):>9.1f} {run.dmm_share:>9.1%} "
              f"{wait:>16}")
    s, n = one.dmm_share, many.sockets
    bound = 1 / (s + (1 - s) / n)
    speed = steady_per_min(many) / steady_per_min(one)
    within = speed >= (1 - AMDAHL_WITHIN) * bound
    print(f"{n}-socket speed-up {speed:.2f}x vs Amdahl's bound {bound:.2f}x for s = {s:.3f} "
          f"(1/(s + (1-s)/{n})): {speed / bound:.0%} of the bound; within {AMDAHL_WITHIN:.0%}: "
          f"{'met' if within else 'not met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=48, help="units of each run, shared by its sockets")
    parser.add_argument("--sockets", type=int, nargs="+", default=[1, 2, 4, 8], help="socket counts (1 first)")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds a simulated module takes per command")
    parser.add_argument("--dmm-sockets", type=int, default=4, help="sockets of the shared-DMM scenario; 0: skip it")
    parser.add_argument("--dmm-hold", type=float, help="seconds the DMM step holds the DMM (default: --delay)")
    parser.add_argument("--out", type=Path, help="keep fixture files, logs, events and run folders here")
    args = parser.parse_args()
    if args.units < 1 or args.delay < 0 or any(n < 1 for n in args.sockets) or args.sockets[0] != 1:
        parser.error("--units >= 1, --delay >= 0, and --sockets starting with 1 (the baseline)")
    hold_s = args.delay if args.dmm_hold is None else args.dmm_hold
    with_events = events_supported()
    work = args.out.resolve() if args.out else Path(tempfile.mkdtemp(prefix="linegate-bench-sockets-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"linegate socket benchmark: simulated ESP-AT modules answering each command in {args.delay:g} s, "
              f"{args.units} units a run")
        if not with_events:
            print("linegate run takes no --events here (no per-socket supervisor yet): worker columns are n/a "
                  "and sockets run one after another, so a speed-up near 1.0x is expected")
        runs = [run_station(work, n, args.units, args.delay, DUT_BOUND, hold_s, with_events) for n in args.sockets]
        print(f"\nDUT-bound plan ({DUT_BOUND.name}: 10 AT commands a unit, no instrument, no provisioning)")
        print_throughput(runs, "from the event stream" if with_events else "from the unit records")
        print("\nworkers (worker_started events; VmRSS sampled every 0.2 s)")
        print_workers(runs, with_events)
        if args.dmm_sockets > 1:
            one, many = (run_station(work, n, args.units, args.delay, SHARED_DMM, hold_s, with_events)
                         for n in (1, args.dmm_sockets))
            print(f"\nshared DMM ({SHARED_DMM.name}: the same plus a step holding the station's DMM {hold_s:g} s)")
            print_amdahl(one, many)
    except BenchError as e:
        print(f"bench/sockets.py: {e}", file=sys.stderr)
        return 1
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
