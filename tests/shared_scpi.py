"""A DMM on a raw TCP socket of 127.0.0.1 that several stations reach at once, and that breaks when
two of them use it at the same time (what a shared bench instrument does).

It speaks line-based SCPI to every connection (pyvisa-py's ``TCPIP0::127.0.0.1::<port>::SOCKET``).
A reading is a transaction of two commands: ``CONF:VOLT:DC`` opens it, ``READ?`` takes ``read_s``
to measure and closes it. Any command from another connection while a transaction is open is a
violation: it is recorded, and the instrument is then in the intruder's hands, so the transaction's
own ``READ?`` answers an overload (9.9E37) and queues error -221.

``bench`` writes a fixture file with that DMM as the station-level ``dmm`` and a plan whose station
tests use it; ``socket_station`` is one socket's station process (the supervisor's socket worker).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import station
from linegate.station.engine.options import LineOptions
from linegate.station.run import run_sockets

IDN = "LINEGATE-TEST,SHARED-DMM,0001,1.0"
VOLTS = "3.300000"
OVERLOAD = "9.9E37"
NO_ERROR = '+0,"No error"'
CONFLICT = '-221,"Settings conflict; another connection used the instrument mid-reading"'


class SharedScpiDmm:
    def __init__(self, read_s: float = 0.05) -> None:
        self.read_s = read_s
        self.violations: list[str] = []
        self.readings = 0  # transactions completed as they should
        self._mutex = threading.Lock()
        self._owner: int | None = None  # the connection whose transaction is open
        self._opened = ""  # what opened it, for the violation's message
        self._errors: dict[int, list[str]] = {}
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name=f"shared-dmm-{self.port}", daemon=True)
        self._accept.start()

    @property
    def address(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def _serve(self) -> None:
        connection = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection += 1
            thread = threading.Thread(target=self._talk, args=(conn, connection), daemon=True,
                                      name=f"shared-dmm-{self.port}-{connection}")
            self._threads.append(thread)
            thread.start()

    def _talk(self, conn: socket.socket, me: int) -> None:
        conn.settimeout(0.1)
        pending = b""
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    answer = self._answer(me, line.decode("ascii", "replace").strip())
                    if answer is not None:
                        conn.sendall(answer.encode("ascii") + b"\n")

    def _answer(self, me: int, command: str) -> str | None:
        with self._mutex:
            if self._owner is not None and self._owner != me:
                self.violations.append(f"connection {me} sent {command!r} while connection {self._owner}'s "
                                       f"{self._opened} ... READ? was open")
                self._errors.setdefault(self._owner, []).append(CONFLICT)
                self._owner = None  # the reading in progress is spoilt
            errors = self._errors.setdefault(me, [])
            if command == "*IDN?":
                return IDN
            if command == "*CLS":
                errors.clear()
                return None
            if command == "SYST:ERR?":
                return errors.pop(0) if errors else NO_ERROR
            if command == "CONF:VOLT:DC":
                self._owner, self._opened = me, command
                return None
            if command != "READ?":
                errors.append(f'-113,"Undefined header; {command}"')
                return None
        time.sleep(self.read_s)  # measuring: the transaction stays open meanwhile
        with self._mutex:
            if self._owner != me:
                self._errors.setdefault(me, []).append(CONFLICT)
                return OVERLOAD
            self._owner = None
            self.readings += 1
            return VOLTS

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._accept.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> SharedScpiDmm:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


STATION_TESTS = '''
import time
from pathlib import Path

import pytest
from linegate.fixtures.context import STATE

BARRIER = Path({barrier!r})


@pytest.fixture
def held_around(request):
    locks = request.config.stash[STATE].locks
    seen = ",".join(locks.held) if locks else ""
    yield seen
    with (BARRIER / "teardowns.txt").open("a") as f:
        f.write((",".join(locks.held) if locks else "") + "\\n")


def test_ready(unit, measure):
    """Both stations start testing together: neither opens its jig during the other's reading."""
    BARRIER.mkdir(exist_ok=True)
    (BARRIER / unit.socket).touch()
    ends = time.monotonic() + 60
    while len([p for p in BARRIER.iterdir() if len(p.name) == 1]) < {sockets} and time.monotonic() < ends:
        time.sleep(0.01)
    measure("ready", True)


def test_rail(dmm, held_around, measure):
    dmm.write("CONF:VOLT:DC")
    measure("rail", dmm.query_float("READ?"), "V")
    measure("held_at_setup", held_around)


def test_link(dut, request, measure):
    dut.ping()
    locks = request.config.stash[STATE].locks
    measure("held", ",".join(locks.held) if locks else "")


def test_fine(shared, dut, request, measure):
    locks = request.config.stash[STATE].locks
    outside = ",".join(locks.held) if locks else ""
    with shared("dmm") as dmm:
        inside = ",".join(locks.held) if locks else ""
        dmm.write("CONF:VOLT:DC")
        value = dmm.query_float("READ?")
    dut.ping()
    measure("fine", value, "V")
    measure("held", outside + "|" + inside)
'''

PLAN = """name: shared-bench
version: '1'
station_tests: tests
stop_on_failure: false
{extra}steps:
  - name: ready
    test: {module}.py::test_ready
    measurements: [{{name: ready, equals: true}}]
  - name: rail
    test: {module}.py::test_rail
    measurements:
      - {{name: rail, units: V, low: 3.2, high: 3.4}}
      - {{name: held_at_setup, equals: "{held}"}}
  - name: link
    test: {module}.py::test_link
    measurements: [{{name: held, equals: ""}}]
  - name: fine
    test: {module}.py::test_fine
    measurements:
      - {{name: fine, units: V, low: 3.2, high: 3.4}}
      - {{name: held, equals: "|{held}"}}
"""


def bench(tmp_path: Path, address: str, *, module: str, sockets: int = 2, locked: bool = True,
          extra: str = "") -> tuple[Path, Path]:
    """A fixture file (``sockets`` simulated sockets, a station-level ``dmm`` at ``address``) and a plan."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / f"{module}.py").write_text(
        STATION_TESTS.format(barrier=str(tmp_path / "barrier"), sockets=sockets))
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(module=module, extra=extra, held="dmm"))  # each station holds its own lock
    fixture = tmp_path / "station.yaml"
    fixture.write_text(
        "station: shared-bench\nsockets:\n"
        + "".join(f"  - name: {s}\n    dut: {{port: .sim/socket-{s}}}\n" for s in "AB"[:sockets])
        + f"instruments:\n  dmm: {{address: '{address}', backend: '@py', timeout_ms: 5000}}\n"
        "simulated: {seed: 1, fail_share: 0}\n")
    return fixture, plan


def socket_station(fixture: str, plan: str, socket: str, out: str, locked: bool, units: int) -> dict:
    """One socket's station process: the fixture restricted to ``socket``, its own supervisor and worker.
    ``locked``: both processes are the same station (they meet on its instrument locks); else each is a
    station of its own name, and nothing keeps them off the DMM at the same time."""
    config = load_fixture(fixture)
    config = config.model_copy(update={"sockets": tuple(s for s in config.sockets if s.name == socket),
                                       "station": config.station if locked else f"{config.station}-{socket}"})
    with station(config, units=units) as composed:
        result = run_sockets(composed.config, load_plan(plan), units=composed.units, probe=composed.probe,
                             options=LineOptions(Path(out)))
    return {"run_dir": str(result.run_dir), "records": [r.model_dump(mode="json") for r in result.records]}
