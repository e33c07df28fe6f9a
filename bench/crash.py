"""Crash campaign: kill the station with SIGKILL at journal transitions and at random instants, restart it,
and check that nothing was lost, duplicated or committed twice.

The station is ``linegate demo --service S --sockets N --state-dir D --cloud URL``: a supervisor process
and one worker process per socket. Each run kills one of: the supervisor (its workers die with it), one
worker (the supervisor buries its unit ERROR and restarts it; the run goes on and must end with exit 0),
or everything (the station's process group), either at a journal transition (``LINEGATE_CRASH_AT`` with
``LINEGATE_CRASH_IN`` / ``LINEGATE_CRASH_KILL``, see docs/ledger.md) or at a random instant. The line
grows a chunk of units at a time (``--units`` counts the whole line; a rerun continues it): a run killed
with its supervisor is restarted with the same command, a run that ends moves the line on a chunk. A
worker-targeted transition kills every restarted worker again; a run whose sockets all got retired
(exit 1) counts as killed. The last run has no crash env. Every run's records are checked (a PASS has a
committed, kept or pending identity; a serial passes at most once), then ``linegate ledger audit``
cross-checks the ledger, the emulator's ``/_sim/state`` and every simulated DUT's NVS.

The cloud emulators run in their own process (``linegate sim cloud``) so they outlive the station.

    python bench/crash.py [--units 200] [--sockets 4] [--service ayla ...] [--faults]

``--faults`` also turns on the emulator's fault injection (5xx, timeouts, dropped connections, lost
answers, rate limits, token expiry) and lets the simulated DUTs carry line noise and busy answers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TRANSITIONS = {"ayla": ("reserved", "assigned", "flashed", "committing", "committed"),
               "yosmart": ("reserved", "assigned", "flashed", "committing", "committed"),
               "enos-dps": ("reserved", "assigned", "flashed", "committing", "committed"),
               "enos-mqtt": ("committing", "committed")}
# where each is committed: the gate runs in a socket's worker; the pool refill, the commit drain, recovery
# at start and the burial of a dead worker's unit in the supervisor
IN_WORKER = {s: tuple(t for t in ts if t != "reserved") for s, ts in TRANSITIONS.items()}
IN_SUPERVISOR = {s: tuple(t for t in ("reserved", "committed") if t in ts) for s, ts in TRANSITIONS.items()}
TARGETS = ("supervisor", "worker", "all")
RETIRED = "every socket's worker was retired"
MAX_KILLED_IN_A_ROW = 3  # then a run whose kill does not end it (one worker, at a random instant)
LINEGATE = [sys.executable, "-m", "linegate"]


class CampaignError(Exception):
    """The station did something a crash must not make it do: one line."""


def start_cloud(state: Path, faults: bool) -> tuple[subprocess.Popen, dict]:
    args = [*LINEGATE, "sim", "cloud", "--port", "0", "--mqtt-port", "0", "--state", str(state), "--rsa-bits", "1024"]
    if faults:
        args += ["--fault-rate", "0.05", "--timeout-rate", "0.01", "--drop-rate", "0.02", "--lost-answer-rate", "0.03",
                 "--rate-limit-rate", "0.02", "--token-expiry-after", "40"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    info = json.loads(proc.stdout.readline())
    return proc, info


@dataclass
class Kill:
    """What one run is to kill: ``target`` at the ``nth`` commit into ``point``, or at a random instant."""

    target: str | None  # supervisor | worker | all; None: a clean run
    point: str | None = None  # None: at a random instant
    nth: int = 1

    def env(self) -> dict[str, str]:
        if self.target is None or self.point is None:
            return {}
        env = {"LINEGATE_CRASH_AT": f"{self.point}:{self.nth}"}
        if self.target == "all":
            env["LINEGATE_CRASH_KILL"] = "group"  # whichever process reaches it takes the group down
        else:
            env["LINEGATE_CRASH_IN"] = self.target
        return env

    @property
    def kind(self) -> str:
        return "transition" if self.point else "random"

    def __str__(self) -> str:
        if self.target is None:
            return "no kill"
        return f"{self.target} at {self.point}:{self.nth}" if self.point else f"{self.target} at a random instant"


@dataclass
class Events:
    """The run's event stream (``--events``), read as it grows."""

    path: Path
    seen: list[dict] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # socket -> its worker's pid
    testing: dict[str, int] = field(default_factory=dict)  # socket -> index of the unit in it
    first_unit: float | None = None
    units_started: int = 0
    _buffer: str = ""
    _offset: int = 0

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            f.seek(self._offset)
            chunk = f.read()
            self._offset = f.tell()
        *lines, self._buffer = (self._buffer + chunk).split("\n")
        for line in lines:
            event = json.loads(line)
            self.seen.append(event)
            socket, kind = event["socket"], event["kind"]
            if kind == "worker_started":
                self.pids[socket] = event["pid"]
            elif kind == "unit_started":
                self.testing[socket] = event["index"]
                self.units_started += 1
                self.first_unit = self.first_unit or time.monotonic()
            elif kind in ("verdict", "worker_died"):
                self.testing.pop(socket, None)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.seen if e["kind"] == kind]


def workers_of(pid: int) -> list[int]:
    """The station's socket workers: its children started by multiprocessing's spawn."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    found = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            pass
    return found


@dataclass
class Run:
    returncode: int
    stderr: str
    events: Events
    killed_worker: int = 0  # the pid killed at a random instant
    to_first_unit: float | None = None  # seconds from the start to the first unit in a socket


def run_station(cmd: list[str], env: dict[str, str], kill: Kill, events_path: Path, rng: random.Random,
                pace: dict[str, float], to_go: int) -> Run:
    """One run of the station, killing what ``kill`` says at a random instant (a transition kill is the
    station's own); ``pace`` (seconds to the first unit, seconds of testing) places that instant, which
    comes at the latest when the last of the ``to_go`` units the run has to test is in a socket."""
    events = Events(events_path)
    err_path = events_path.with_suffix(".stderr")
    started = time.monotonic()
    with err_path.open("w") as err:
        proc = subprocess.Popen([*cmd, "--events", str(events_path)], env={**env, **kill.env()},
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    at_start = kill.target != "worker" and rng.random() < 0.25  # during start-up and recovery
    delay = rng.uniform(0.0, pace["startup"] if at_start else 0.7 * pace["testing"])  # 0.7: mostly before its end
    killed_worker = 0
    pending = kill.target is not None and kill.point is None
    try:
        while proc.poll() is None:
            time.sleep(0.02)
            events.read()
            if not pending:
                continue
            since = started if at_start else events.first_unit
            last_unit_in = to_go > 0 and events.units_started >= to_go
            if not last_unit_in and (since is None or time.monotonic() < since + delay):
                continue
            if kill.target == "worker":
                workers = workers_of(proc.pid)
                in_unit = [p for s, p in events.pids.items() if s in events.testing and p in workers]
                if workers:
                    killed_worker = rng.choice(in_unit or workers)
                    _sigkill(killed_worker)
                    pending = False
            else:
                (os.killpg if kill.target == "all" else os.kill)(proc.pid, signal.SIGKILL)
                pending = False
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    events.read()
    return Run(proc.returncode, err_path.read_text(errors="replace"), events, killed_worker,
               events.first_unit - started if events.first_unit is not None else None)


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def check_buried(run: Run) -> list[dict]:
    """The workers killed with SIGKILL in ``run``; each one's unit must be ERROR with its record on disk."""
    deaths = [e for e in run.events.of("worker_died") if "SIGKILL" in e["reason"]]
    for death in deaths:
        if not death["index"]:
            continue
        key = (death["socket"], death["index"])
        verdicts = [e for e in run.events.of("verdict") if (e["socket"], e["index"]) == key]
        written = [e for e in run.events.of("record_written") if (e["socket"], e["index"]) == key]
        if not verdicts or verdicts[-1]["outcome"] != "ERROR":
            raise CampaignError(f"socket {key[0]} unit {key[1]}: its worker was killed but no ERROR verdict was told")
        if not written or not Path(written[-1]["path"]).is_file():
            raise CampaignError(f"socket {key[0]} unit {key[1]}: its worker was killed but its record is not on disk")
    return deaths


def check_records(out: Path, cache: dict[Path, tuple[float, dict]]) -> tuple[list[str], set[str]]:
    """Every record on disk: a PASS holds a committed, kept or pending identity; a serial passes once.
    Returns what is wrong, and the serials recorded."""
    problems, passed, serials = [], Counter(), set()
    for path in sorted(out.glob("run-*/*.json")):
        if path.name == "run.json":
            continue
        mtime = path.stat().st_mtime
        if path not in cache or cache[path][0] != mtime:
            cache[path] = (mtime, json.loads(path.read_text()))
        record = cache[path][1]
        serials.add(record["unit"].get("serial") or path.name)
        if record["outcome"] != "PASS":
            continue
        passed[record["unit"].get("serial")] += 1
        status = (record.get("provisioning") or {}).get("commit_status")
        if status not in ("committed", "kept", "pending"):
            problems.append(f"{path.name}: PASS with commit_status {status}")
    problems += [f"serial {sn}: {n} PASS records" for sn, n in passed.items() if n > 1]
    return problems, serials


@dataclass
class Campaign:
    """One service's line, grown ``chunk`` units at a time to ``units``, every run killed as ``choose`` says."""

    service: str
    units: int
    work: Path
    base: list[str]  # the station's command, less --units
    rng: random.Random
    random_share: float = 0.3
    max_nth: int = 3
    chunk: int = 12
    sockets: int = 1
    verbose: bool = False
    runs: Counter[str] = field(default_factory=Counter)  # target (or "clean") -> runs
    kills: Counter[tuple[str, str]] = field(default_factory=Counter)  # (target, kind) -> kills
    missed: set[str] = field(default_factory=set)  # targets whose last transition was not reached
    turns: Counter[str] = field(default_factory=Counter)  # target -> transitions asked of it
    other_deaths: list[str] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)  # what is wrong in the records -> after which run
    cache: dict[Path, tuple[float, dict]] = field(default_factory=dict)
    pace: dict[str, float] = field(default_factory=lambda: {"startup": 3.0, "testing": 2.0})

    def choose(self) -> Kill:
        """The target killed least so far (then run least), at its next transition in turn, or at a random
        instant: ``random_share`` of the time, and always when the service has no transition in that
        process or its last one was not reached."""
        target = min(TARGETS, key=lambda t: (sum(v for (tt, _), v in self.kills.items() if tt == t), self.runs[t]))
        points = {"supervisor": IN_SUPERVISOR, "worker": IN_WORKER, "all": TRANSITIONS}[target][self.service]
        if not points or target in self.missed or self.rng.random() < self.random_share:
            return Kill(target)
        point = points[self.turns[target] % len(points)]
        self.turns[target] += 1
        # each process counts its own commits: a worker sees about chunk / sockets units a run, the pool
        # refill ('reserved', the supervisor's) comes about once a run
        most = 1 if target == "supervisor" or point == "reserved" else max(1, self.chunk // self.sockets)
        return Kill(target, point, self.rng.randint(1, min(self.max_nth, most)))

    def judge(self, n: int, kill: Kill, run: Run) -> bool:
        """Counts the run's kills and checks it; True when it ended by itself (exit 0)."""
        self.runs[kill.target or "clean"] += 1
        deaths = check_buried(run)
        ended, sigkilled = run.returncode == 0, run.returncode == -signal.SIGKILL
        killed = 0
        if kill.target in ("supervisor", "all") and sigkilled:
            killed = 1
        elif kill.target == "worker":
            mine = [d for d in deaths if kill.point or d["pid"] == run.killed_worker]
            if run.killed_worker and not mine and ended:
                raise CampaignError(f"run {n}: worker {run.killed_worker} was killed but no worker_died told it")
            deaths, killed = [d for d in deaths if d not in mine], len(mine)
        retired = kill.target == "worker" and kill.point and run.returncode == 1 and RETIRED in run.stderr
        if not (ended or retired or (kill.target in ("supervisor", "all") and sigkilled)):
            raise CampaignError(f"run {n} ({kill}) exited {run.returncode}: {run.stderr.strip()[-500:]}")
        if kill.target is not None:
            self.kills[(kill.target, kill.kind)] += killed
            (self.missed.discard if killed or not kill.point else self.missed.add)(kill.target)
        if not sigkilled:
            self.other_deaths += [f"run {n} ({kill}): {d['reason']}" for d in deaths]
        for problem in check_records(self.work / "out", self.cache)[0]:
            self.problems.setdefault(problem, n)
        if run.to_first_unit is not None:
            self.pace["startup"] = max(1.0, run.to_first_unit)
            if ended and run.events.first_unit is not None:
                self.pace["testing"] = max(0.5, time.monotonic() - run.events.first_unit)
        return ended

    def run(self) -> None:
        """Until a run with no crash env of its own has ended the whole line."""
        target, in_a_row, last = min(self.chunk, self.units), 0, False
        while True:
            n = sum(self.runs.values()) + 1
            if last:
                kill = Kill(None)
            elif in_a_row >= MAX_KILLED_IN_A_ROW:
                kill = Kill("worker")  # at a random instant: the run goes on to its end
            else:
                kill = self.choose()
            to_go = target - len(check_records(self.work / "out", self.cache)[1])
            run = run_station([*self.base, "--units", str(target)], {**os.environ, "PYTHONUNBUFFERED": "1"}, kill,
                              self.work / f"events-{n:03d}.jsonl", self.rng, self.pace, to_go)
            ended = self.judge(n, kill, run)
            if self.verbose:
                print(f"  run {n} --units {target}, {kill}: exit {run.returncode}, kills so far "
                      f"{dict(self.kills)}", file=sys.stderr, flush=True)
            in_a_row = 0 if ended else in_a_row + 1
            if ended and target == self.units:
                if not kill.env():
                    return
                last = True
            elif ended:
                target = min(self.units, target + self.chunk)


def campaign(service: str, units: int, work: Path, *, faults: bool, seed: int, sockets: int = 1,
             random_share: float = 0.3, max_nth: int = 3, chunk: int | None = None, verbose: bool = False) -> dict:
    """The service's crash campaign on a fresh cloud emulator and state folder, then the audit."""
    cloud, info = start_cloud(work / "cloud.sqlite", faults)
    state, out = work / "station", work / "out"
    base = [*LINEGATE, "demo", "--service", service, "--sockets", str(sockets), "--state-dir", str(state),
            "--cloud", info["base_url"], "--out", str(out), "--seed", str(seed)]
    c = Campaign(service, units, work, base, random.Random(seed), random_share, max_nth, chunk or max(3, 3 * sockets),
                 sockets, verbose)
    started = time.perf_counter()
    try:
        c.run()
        audit = subprocess.run([*LINEGATE, "ledger", "audit", "--json", "--ledger", str(state / "ledger.db"),
                                "--cloud", info["base_url"], "--state-dir", str(state)],
                               capture_output=True, text=True, timeout=300)
        if audit.returncode != 0:
            raise CampaignError(f"audit failed: {audit.stderr.strip()}")
        result = json.loads(audit.stdout)
    finally:
        cloud.send_signal(signal.SIGTERM)
        cloud.wait(30)
    records = sum(1 for p in out.glob("run-*/*.json") if p.name != "run.json")
    by_target = {t: sum(v for (tt, _), v in c.kills.items() if tt == t) for t in TARGETS}
    by_kind = {k: sum(v for (_, kk), v in c.kills.items() if kk == k) for k in ("transition", "random")}
    return {"service": service, "units": units, "sockets": sockets, "runs": sum(c.runs.values()),
            "runs_by_target": dict(c.runs), "kills": by_kind, "kills_by_target": by_target,
            "kills_by": {f"{t}/{k}": v for (t, k), v in sorted(c.kills.items()) if v}, "records": records,
            "record_problems": [f"after run {n}: {p}" for p, n in c.problems.items()],
            "other_worker_deaths": c.other_deaths, "seconds": round(time.perf_counter() - started, 1),
            **{k: result[k] for k in ("lost", "duplicated", "double_committed", "wasted", "needs_attention",
                                      "committed", "wasted_reasons", "details")}}


def report(r: dict) -> None:
    print(f"{r['service']}: {r['units']} units on {r['sockets']} socket(s), {r['runs']} station runs "
          f"({', '.join(f'{t} {n}' for t, n in sorted(r['runs_by_target'].items()))}), {r['seconds']} s")
    print(f"  kills: supervisor {r['kills_by_target']['supervisor']}, worker {r['kills_by_target']['worker']}, "
          f"all {r['kills_by_target']['all']}; at transitions {r['kills']['transition']}, "
          f"at random instants {r['kills']['random']}  ({', '.join(f'{k} {v}' for k, v in r['kills_by'].items())})")
    print(f"  lost {r['lost']}  duplicated {r['duplicated']}  double committed {r['double_committed']}  "
          f"committed {r['committed']}  needs attention {r['needs_attention']}  wasted {r['wasted']}  "
          f"records {r['records']}")
    for reason, n in r["wasted_reasons"].items():
        print(f"    wasted {n}: {reason}")
    for line in [*r["details"], *r["record_problems"]]:
        print(f"    ! {line}")
    for line in r["other_worker_deaths"]:
        print(f"    worker death not asked for: {line}")
    print("RESULT " + json.dumps({k: v for k, v in r.items() if k != "details"}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=1, help="sockets of the simulated station (default 1)")
    parser.add_argument("--service", nargs="+", default=list(TRANSITIONS), choices=list(TRANSITIONS))
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--random-share", type=float, default=0.3, help="share of runs killed at a random instant")
    parser.add_argument("--max-nth", type=int, default=3, help="kill at the 1st..Nth occurrence of a transition")
    parser.add_argument("--chunk", type=int, default=None, help="units the line grows by per run (default 3 a socket)")
    parser.add_argument("--verbose", "-v", action="store_true", help="a line on stderr per station run")
    parser.add_argument("--keep", action="store_true", help="keep each service's work folder (printed)")
    args = parser.parse_args()
    failed = False
    for service in args.service:
        tmp = Path(tempfile.mkdtemp(prefix=f"lg-crash-{service}-"))
        if args.keep:
            print(f"{service}: work folder {tmp}")
        try:
            r = campaign(service, args.units, tmp, faults=args.faults, seed=args.seed, sockets=args.sockets,
                         random_share=args.random_share, max_nth=args.max_nth, chunk=args.chunk,
                         verbose=args.verbose)
        except CampaignError as e:
            print(f"{service}: {e}", file=sys.stderr)
            failed = True
            continue
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        report(r)
        failed |= bool(r["lost"] or r["duplicated"] or r["double_committed"] or r["record_problems"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
