"""The supervisor's dealings with processes: the station's lock folder, waiting for a killed station's
workers, sending to a worker that may be gone, killing one, and saying how one died."""

from __future__ import annotations

import fcntl
import multiprocessing
import multiprocessing.context
import os
import signal
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from linegate.station.engine import worker
from linegate.station.engine.pipe import ToWorker
from linegate.station.engine.sockets import Slot
from linegate.station.faults import StationFault

OLD_WORKERS_WAIT_S = 15.0
# Loaded once by the fork server: a worker forked from it starts without importing them again (~1.1 s each)
WORKER_PRELOAD = ["linegate.station.engine.worker", "linegate.fixtures.plugin", "linegate.reports"]


def worker_context() -> multiprocessing.context.ForkServerContext:
    """Where workers are made: forked from a fork server (a clean single-threaded process started once, on
    the first worker, with the worker's modules loaded), not from the supervisor, whose threads a fork
    would copy mid-lock. The server ends when the supervisor does, and its workers with it (they die with
    their parent, the server). A worker takes the supervisor's environment as it is at each start
    (``WorkerSpec.env``), not the server's."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


def lock_dir_of(station: str) -> Path:
    """The station's lock folder on this host: shared instruments' locks and the workers' lock."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in station)
    return Path(tempfile.gettempdir()) / f"linegate-locks-{safe}"


def workers_lock_of(ledger_file: Path | None, lock_dir: Path) -> Path:
    """The lock every worker of a station holds while it lives: beside its ledger's file (two stations on one
    host, each with its own ledger, never wait for each other), else (a database ledger) the station's."""
    if ledger_file is not None:
        return ledger_file.with_name(f"{ledger_file.name}.{worker.WORKERS_LOCK}")
    return lock_dir / worker.WORKERS_LOCK


def wait_for_old_workers(path: Path, timeout_s: float = OLD_WORKERS_WAIT_S) -> None:
    """Workers of a station that was killed die with it, a moment later; none may touch the ledger
    while this start recovers it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StationFault(f"{path}: workers of an earlier run of this station "
                                       f"are still running after {timeout_s:g} s") from None
                time.sleep(0.05)
    finally:
        os.close(fd)  # releases the lock


def send(conn: Connection, message: ToWorker) -> None:
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):
        pass  # the worker died: its sentinel tells


def kill(slot: Slot) -> None:
    if slot.process is not None and slot.process.pid:
        try:
            os.kill(slot.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        slot.process.join(5)


def death(socket: str, code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"socket {socket}'s worker died ({name})"
    return f"socket {socket}'s worker ended unexpectedly (exit code {code})"

