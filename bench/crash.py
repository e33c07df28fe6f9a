"""Crash campaign: SIGKILL the station at journal transitions and at random instants, restart it, and check
that nothing was lost, duplicated or committed twice.

The station is ``linegate demo --sockets N``: a supervisor and one worker process per socket. Each run
kills one of: the supervisor (its workers die with it), one worker (the supervisor buries its unit ERROR
and restarts it: the run must still end with exit 0), or everything (the process group); at a journal
transition (``LINEGATE_CRASH_AT``/``_IN``/``_KILL``, docs/ledger.md) or at a random instant. ``--units``
counts the whole line and a rerun continues it, so the line grows ``--chunk`` units a run: a killed
supervisor's run is restarted as it was, a run that ends moves the line on. A worker-targeted transition
kills every restarted worker again; a run whose sockets all got retired (exit 1) counts as killed. The
last run has no crash env. After each run the records are checked (a PASS holds a committed, kept or
pending identity; a serial passes once, or again as "kept" after a stop between its record and its
journal entry); at the end ``linegate ledger audit`` checks the ledger against the emulator's
``/_sim/state`` and every simulated DUT's NVS. A duplicate that is a part of an identity left on a second
DUT by a kill mid-flash is told apart (``partial_copies``). The emulator runs in its own process.

    python bench/crash.py [--units 200] [--sockets 4] [--service ayla ...] [--faults] [-v]

``--faults`` also turns on the emulator's fault injection (5xx, timeouts, dropped connections, lost
answers, rate limits, token expiry).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from linegate.station.ledger.audit import NAMESPACE

Points = dict[str, tuple[str, ...]]  # service -> journal states
FLASH_FIRST = ("reserved", "assigned", "flashed", "committing", "committed")
TRANSITIONS: Points = {"ayla": FLASH_FIRST, "yosmart": FLASH_FIRST, "enos-dps": FLASH_FIRST,
                       "enos-mqtt": ("committing", "committed")}
# the gate commits in a socket's worker; the pool refill, drained commits, recovery and burials in the supervisor
IN_WORKER: Points = {s: tuple(t for t in ts if t != "reserved") for s, ts in TRANSITIONS.items()}
IN_SUPERVISOR: Points = {s: tuple(t for t in ("reserved", "committed") if t in ts) for s, ts in TRANSITIONS.items()}
TARGETS = ("supervisor", "worker", "all")
RETIRED = "every socket is out of service"  # the supervisor's fault when all sockets are retired
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
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


@dataclass
class Kill:
    """What a run is to kill: ``target`` at the ``nth`` commit into ``point``, or at a random instant."""

    target: str | None  # supervisor | worker | all; None: nothing
    point: str | None = None  # None: at a random instant
    nth: int = 1

    def env(self) -> dict[str, str]:
        if self.target is None or self.point is None:
            return {}
        where = {"LINEGATE_CRASH_KILL": "group"} if self.target == "all" else {"LINEGATE_CRASH_IN": self.target}
        return {"LINEGATE_CRASH_AT": f"{self.point}:{self.nth}", **where}

    @property
    def kind(self) -> str:
        return "transition" if self.point else "random"

    def __str__(self) -> str:
        if self.target is None:
            return "no kill"
        return f"{self.target} at {self.point}:{self.nth}" if self.point else f"{self.target} at a random instant"


@dataclass
class Run:
    """A run's event stream (``--events``), read as it grows, and how the run ended."""

    path: Path
    seen: list[dict] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # socket -> its worker's pid
    testing: set[str] = field(default_factory=set)  # sockets with a unit in them
    started: float = field(default_factory=time.monotonic)
    first_unit: float | None = None
    units_started: int = 0
    returncode: int = 0
    stderr: str = ""
    killed_worker: int = 0  # the pid killed at a random instant
    _offset: int = 0

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        whole = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self._offset += len(whole)
        for event in (json.loads(line) for line in whole.splitlines()):
            self.seen.append(event)
            socket, kind = event["socket"], event["kind"]
            if kind == "worker_started":
                self.pids[socket] = event["pid"]
            elif kind == "unit_started":
                self.testing.add(socket)
                self.units_started += 1
                self.first_unit = self.first_unit or time.monotonic()
            elif kind in ("verdict", "worker_died"):
                self.testing.discard(socket)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.seen if e["kind"] == kind]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass  # ended meanwhile
    return found


def workers_of(pid: int) -> list[int]:
    """The station's socket workers: the children of its fork server (a child of the supervisor)."""
    found = []
    for child in _children(pid):
        try:
            if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                found += _children(child)
        except OSError:
            pass
    return found


def run_station(cmd: list[str], kill: Kill, events: Path, rng: random.Random, pace: dict[str, float],
                to_go: int) -> Run:
    """One run, killing what ``kill`` says at a random instant (a transition kill is the station's own),
    placed by ``pace`` (seconds to the first unit, seconds of testing) and at the latest when the last
    of the ``to_go`` units is in a socket."""
    run = Run(events)
    with events.with_suffix(".stderr").open("w+") as err:
        proc = subprocess.Popen([*cmd, "--events", str(events)], env={**os.environ, **kill.env()},
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        at_start = kill.target != "worker" and rng.random() < 0.25  # during start-up and recovery
        delay = rng.uniform(0.0, pace["startup"] if at_start else 0.7 * pace["testing"])
        pending = kill.target is not None and kill.point is None
        try:
            while proc.poll() is None:
                time.sleep(0.02)
                run.read()
                since = run.started if at_start else run.first_unit
                due = (since is not None and time.monotonic() >= since + delay) or 0 < to_go <= run.units_started
                if not (pending and due):
                    continue
                if kill.target != "worker":
                    (os.killpg if kill.target == "all" else os.kill)(proc.pid, signal.SIGKILL)
                    pending = False
                elif workers := workers_of(proc.pid):
                    in_unit = [p for s, p in run.pids.items() if s in run.testing and p in workers]
                    chosen = rng.choice(in_unit or workers)
                    try:
                        os.kill(chosen, signal.SIGKILL)
                    except ProcessLookupError:
                        continue  # it ended meanwhile: another one at the next look
                    run.killed_worker, pending = chosen, False
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            run.returncode = proc.wait()
        err.seek(0)
        run.stderr = err.read()
    run.read()
    return run


def check_buried(run: Run) -> list[dict]:
    """The workers that died of SIGKILL in ``run``; each one's unit must be ERROR with its record on disk."""
    deaths = [e for e in run.of("worker_died") if "SIGKILL" in e["reason"]]
    for key in ((d["socket"], d["index"]) for d in deaths if d["index"]):
        verdicts = [e["outcome"] for e in run.of("verdict") if (e["socket"], e["index"]) == key]
        written = [e["path"] for e in run.of("record_written") if (e["socket"], e["index"]) == key]
        if verdicts[-1:] != ["ERROR"] or not written or not Path(written[-1]).is_file():
            raise CampaignError(f"socket {key[0]} unit {key[1]}: its worker was killed; verdicts {verdicts}, "
                                f"records {written} (expected ERROR, on disk)")
    return deaths


def check_records(out: Path, cache: dict[Path, tuple[float, dict]]) -> tuple[list[str], set[str], int]:
    """What is wrong in the records on disk, the serials recorded, and how many units passed again as
    "kept" with the same identity (re-tested after a stop between their record and their journal entry)."""
    problems, passes, serials = [], defaultdict(list), set()
    for path in sorted(p for p in out.glob("run-*/*.json") if p.name != "run.json"):
        mtime = path.stat().st_mtime
        if path not in cache or cache[path][0] != mtime:
            cache[path] = (mtime, json.loads(path.read_text()))
        record = cache[path][1]
        serials.add(record["unit"].get("serial") or path.name)
        if record["outcome"] == "PASS":
            prov = record.get("provisioning") or {}
            passes[record["unit"].get("serial")].append((record["started_at"], prov.get("commit_status"),
                                                         prov.get("identity")))
            if prov.get("commit_status") not in ("committed", "kept", "pending"):
                problems.append(f"{path.name}: PASS with commit_status {prov.get('commit_status')}")
    again = 0
    for serial, seen in passes.items():
        first, *later = sorted(seen)
        if any(status != "kept" or ident != first[2] for _, status, ident in later):
            problems.append(f"serial {serial}: PASS {len(seen)} times: {sorted(seen)}")
        again += len(later)
    return problems, serials, again


def partial_copies(service: str, state: Path, details: list[str]) -> list[str]:
    """Of the audit's duplicates, those where every DUT but one holds only part of the identity's keys."""
    ns, key = NAMESPACE[service]
    nvs = {p: json.loads(p.read_text())["nvs"].get(ns, {}) for p in state.glob("dut-*.json")}
    found = []
    for ident in (m.group(1) for d in details if (m := re.match(rf"{re.escape(service)}: (\S+) is in \d+ DUTs$", d))):
        holders = [keys for keys in nvs.values()
                   if isinstance(keys.get(key, [0, 0])[1], str) and base64.b64decode(keys[key][1]) == ident.encode()]
        if len(holders) > 1 and sum(len(k) == max(map(len, holders)) for k in holders) == 1:
            found.append(f"{ident}: {sorted(sorted(k) for k in holders)}")
    return found


@dataclass
class Campaign:
    """One service's line, grown ``chunk`` units a run to ``units``, every run killed as ``choose`` says."""

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

    def killed(self, target: str) -> int:
        return sum(n for (t, _), n in self.kills.items() if t == target)

    def choose(self) -> Kill:
        """The target killed least so far (then run least), at its next transition in turn or at a random
        instant: ``random_share`` of the time, and always when it has no transition in this service or
        its last one was not reached."""
        target = min(TARGETS, key=lambda t: (self.killed(t), self.runs[t]))
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
        killed = int(kill.target in ("supervisor", "all") and sigkilled)
        if kill.target == "worker":
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
        if run.first_unit is not None:
            self.pace["startup"] = max(1.0, run.first_unit - run.started)
            if ended:
                self.pace["testing"] = max(0.5, time.monotonic() - run.first_unit)
        if self.verbose:
            print(f"  run {n}, {kill}: exit {run.returncode}, {killed} killed", file=sys.stderr, flush=True)
        return ended

    def run(self) -> None:
        """Until a run with no crash env of its own has ended the whole line."""
        target, in_a_row, last = min(self.chunk, self.units), 0, False
        while True:
            n = sum(self.runs.values()) + 1
            kill = Kill(None) if last else Kill("worker") if in_a_row >= MAX_KILLED_IN_A_ROW else self.choose()
            to_go = target - len(check_records(self.work / "out", self.cache)[1])
            if self.verbose:
                print(f"  run {n}: --units {target} ({to_go} to test)", file=sys.stderr, flush=True)
            run = run_station([*self.base, "--units", str(target)], kill, self.work / f"events-{n:03d}.jsonl",
                              self.rng, self.pace, to_go)
            ended = self.judge(n, kill, run)
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
    _, serials, again = check_records(out, c.cache)
    return {"service": service, "units": units, "sockets": sockets, "runs": sum(c.runs.values()),
            "runs_by_target": dict(c.runs), "kills_by_target": {t: c.killed(t) for t in TARGETS},
            "kills": {k: sum(n for (_, kk), n in c.kills.items() if kk == k) for k in ("transition", "random")},
            "kills_by": {f"{t}/{k}": n for (t, k), n in sorted(c.kills.items()) if n},
            "units_recorded": len(serials), "passed_again_kept": again,
            "record_problems": [f"after run {n}: {p}" for p, n in c.problems.items()],
            "partial_copies": partial_copies(service, state, result["details"]),
            "other_worker_deaths": c.other_deaths, "seconds": round(time.perf_counter() - started, 1),
            **{k: result[k] for k in ("lost", "duplicated", "double_committed", "wasted", "needs_attention",
                                      "committed", "wasted_reasons", "details")}}


def report(r: dict) -> None:
    print(f"{r['service']}: {r['units']} units on {r['sockets']} socket(s), {r['runs']} station runs "
          f"({', '.join(f'{t} {n}' for t, n in sorted(r['runs_by_target'].items()))}), {r['seconds']} s")
    print(f"  kills: supervisor {r['kills_by_target']['supervisor']}, worker {r['kills_by_target']['worker']}, "
          f"all {r['kills_by_target']['all']}; at transitions {r['kills']['transition']}, at random instants "
          f"{r['kills']['random']}  ({', '.join(f'{k} {n}' for k, n in r['kills_by'].items())})")
    print(f"  lost {r['lost']}  duplicated {r['duplicated']} (partial copies {len(r['partial_copies'])})  "
          f"double committed {r['double_committed']}  committed {r['committed']}  needs attention "
          f"{r['needs_attention']}  wasted {r['wasted']}  units recorded {r['units_recorded']} "
          f"(passed again as kept {r['passed_again_kept']})")
    lines = [*(f"wasted {n}: {why}" for why, n in r["wasted_reasons"].items()), *(f"! {d}" for d in r["details"]),
             *(f"partial copy: {p}" for p in r["partial_copies"]), *(f"! {p}" for p in r["record_problems"]),
             *(f"worker death not asked for: {d}" for d in r["other_worker_deaths"])]
    for line in lines:
        print(f"    {line}")
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
    parser.add_argument("--chunk", type=int, default=None, help="units the line grows by a run (default 3 a socket)")
    parser.add_argument("--verbose", "-v", action="store_true", help="a line on stderr per station run")
    parser.add_argument("--keep", action="store_true", help="keep each service's work folder (printed)")
    args = parser.parse_args()
    failed = False
    for service in args.service:
        work = Path(tempfile.mkdtemp(prefix=f"lg-crash-{service}-"))
        if args.keep:
            print(f"{service}: work folder {work}", flush=True)
        try:
            r = campaign(service, args.units, work, faults=args.faults, seed=args.seed, sockets=args.sockets,
                         random_share=args.random_share, max_nth=args.max_nth, chunk=args.chunk, verbose=args.verbose)
        except CampaignError as e:
            print(f"{service}: {e}", file=sys.stderr)
            failed = True
            continue
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        report(r)
        failed |= bool(r["lost"] or r["duplicated"] or r["double_committed"] or r["record_problems"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
