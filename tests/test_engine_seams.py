"""The engine is given a source of units and a way to look at a DUT; only the composition knows the simulator."""

from __future__ import annotations

import ast
import io
import pickle
from functools import partial
from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.fixtures.jig import Jig
from linegate.fixtures.sim.jig import SimulatedDuts, SimulatedLine
from linegate.fixtures.sim.unit import SimUnit
from linegate.plans import load_plan
from linegate.station.compose import SimulatedUnits
from linegate.station.engine.options import LineOptions
from linegate.station.engine.sources import UnitStart
from linegate.station.handler import OperatorUnits
from linegate.station.ledger.audit import audit
from linegate.station.ledger.journal import Ledger
from linegate.station.run import run_sockets

REPO = Path(__file__).resolve().parent.parent
STATION = REPO / "station"
FIXTURE = REPO / "fixtures" / "sim-station.yaml"
SIMULATOR = "linegate.fixtures.sim"
# the composition, and the simulators' own commands (`linegate sim cloud|dut`); cloud_setup starts the
# in-process cloud emulators of `linegate demo`
MAY_IMPORT_THE_SIMULATOR = {"compose.py", "sim_cloud.py", "sim_dut.py", "cloud_setup.py"}
# where a fixture file's `simulated:` section is read: the composition, and `linegate demo` setting its seed
MAY_READ_SIMULATED = {"compose.py", "cli.py"}


def _station_modules() -> list[tuple[str, ast.Module]]:
    return [(path.relative_to(STATION).as_posix(), ast.parse(path.read_text(), str(path)))
            for path in sorted(STATION.rglob("*.py"))]


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_station_module_but_the_composition_imports_the_simulator():
    modules = _station_modules()
    assert any(name == "engine/sources.py" for name, _ in modules)  # the walk does go into sub-packages
    offenders = {name: sorted(n for n in _imported(tree) if n == SIMULATOR or n.startswith(SIMULATOR + "."))
                 for name, tree in modules if name not in MAY_IMPORT_THE_SIMULATOR}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_engine_never_reads_the_simulated_section():
    readers = sorted(name for name, tree in _station_modules()
                     if any(isinstance(n, ast.Attribute) and n.attr == "simulated" for n in ast.walk(tree)))
    assert set(readers) <= MAY_READ_SIMULATED, readers


STEPS = '''
def test_mac(dut, unit, measure):
    unit.identity["mac"] = dut.mac()
    measure("read", True)
'''


def _mac_plan(tmp_path: Path) -> Path:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "seam_mac.py").write_text(STEPS)
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: ping\nversion: '1'\nstation_tests: tests\nsteps:\n"
                    "  - name: mac\n    test: seam_mac.py::test_mac\n    measurements:\n"
                    "      - {name: read, equals: true}\n")
    return plan


class ScannedUnits:
    """A handler that scans each unit's label before putting it in (not the simulated line's source)."""

    def __init__(self, line: SimulatedLine, labels: list[str], benched: Path) -> None:
        self.line = line
        self.labels = labels
        self.asked: list[str] = []
        self.benched = benched  # the worker's bench hook runs in its process: it leaves a file per unit

    def next_unit(self, socket: str) -> UnitStart | None:
        self.asked.append(socket)
        if len(self.asked) > len(self.labels):
            return None
        unit = self.line.insert(socket, None, fresh=len(self.asked) > 1)
        return UnitStart(socket=socket, index=len(self.asked), serial=self.labels[len(self.asked) - 1],
                         bench=partial(_bench, self.benched / unit.serial))


def _bench(mark: Path, jig: Jig) -> None:
    mark.write_text(",".join(jig.duts))  # the bench hook is given the open jig

def test_the_engine_tests_what_any_source_hands_it_on_a_fixture_without_simulated(tmp_path):
    plan = load_plan(_mac_plan(tmp_path))
    with SimulatedLine(load_fixture(FIXTURE), base=tmp_path / "ptys") as line:
        real = line.config.model_copy(update={"simulated": None})  # modules on ptys, as a real jig's ports
        (tmp_path / "benched").mkdir()
        source = ScannedUnits(line, ["SCAN-0001", "SCAN-0002", "SCAN-0003"], tmp_path / "benched")
        result = run_sockets(real, plan, units=source, probe=None, options=LineOptions(tmp_path / "out"))
    assert [r.unit["serial"] for r in result.records] == ["SCAN-0001", "SCAN-0002", "SCAN-0003"]
    assert [r.station.socket for r in result.records] == ["A", "A", "A"]
    assert [r.outcome.value for r in result.records] == ["PASS"] * 3
    assert source.asked == ["A"] * 4  # the fourth answer, None, ended the run
    assert [p.read_text() for p in (tmp_path / "benched").iterdir()] == ["A"] * 3  # each unit's hook ran, jig open
    assert len({r.unit["mac"] for r in result.records}) == 3  # the source put a fresh module in each time


def test_the_simulated_line_puts_a_fresh_module_into_whichever_socket_frees(tmp_path):
    config = load_fixture(FIXTURE)
    two = config.model_copy(update={"sockets": [
        config.sockets[0].model_copy(update={"name": name, "dut": config.sockets[0].dut.model_copy(
            update={"port": f".sim/socket-{name}"})}) for name in "AB"]})
    with SimulatedLine(two, base=tmp_path) as line:
        first = {socket: unit.serial for socket, unit in line.current.items()}
        units = SimulatedUnits(line, 3)
        b1 = units.next_unit("B")
        b2 = units.next_unit("B")
        a1 = units.next_unit("A")
        assert units.next_unit("A") is None
        assert units.next_unit("B") is None
        assert (b1.socket, b1.index, b1.serial) == ("B", 1, first["B"])  # the module the line started with
        assert b1.bench is not None and pickle.loads(pickle.dumps(b1.bench))  # a worker process runs it
        assert b2 is not None and b2.serial not in first.values()  # B freed: a fresh module went in
        assert line.current["B"].serial == b2.serial
        assert a1 is not None and (a1.socket, a1.index, a1.serial) == ("A", 3, first["A"])


def test_operator_units_hand_each_serial_once_socket_by_socket(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a robot handler: no terminal, no prompt
    units = OperatorUnits(None, ["SN1", "SN2", "SN3"])
    got = [units.next_unit(s) for s in ("A", "B", "A", "B")]
    assert got == [UnitStart("A", 1, "SN1"), UnitStart("B", 2, "SN2"), UnitStart("A", 3, "SN3"), None]
    counted = OperatorUnits(2, None)
    assert [counted.next_unit("A"), counted.next_unit("A"), counted.next_unit("A")] == [
        UnitStart("A", 1, None), UnitStart("A", 2, None), None]


def _dut(state_dir: Path, mac: str, dsn: bytes | None) -> None:
    unit = SimUnit(mac=mac, chip_id=mac[-2:], state_file=state_dir / f"dut-{mac.replace(':', '')}.json")
    if dsn is not None:
        unit.nvs["ayla"] = {"dsn": (7, dsn)}
    unit.save()


@pytest.fixture
def ayla_ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.set_meta("spec:ayla", {"service": "ayla"})
    yield ledger
    ledger.close()


def test_the_audit_looks_at_the_duts_through_the_probe(tmp_path, ayla_ledger):
    duts = tmp_path / "duts"
    duts.mkdir()
    _dut(duts, "24:0a:c4:00:00:01", b"AC000W000000001")
    _dut(duts, "24:0a:c4:00:00:02", b"AC000W000000001")  # the same DSN flashed onto a second DUT
    _dut(duts, "24:0a:c4:00:00:03", None)
    probe = SimulatedDuts(duts)
    assert sorted(probe.at_hand()) == ["240ac4000001", "240ac4000002", "240ac4000003"]
    assert probe.probe("24:0a:c4:00:00:02")["ayla"] == {"dsn": b"AC000W000000001"}
    assert probe.probe("24:0a:c4:00:00:09") is None
    result = audit(ayla_ledger, None, probe)
    assert result["duplicated"] == 1
    assert result["details"] == ["ayla: AC000W000000001 is in 2 DUTs"]
    assert audit(ayla_ledger, None, None)["duplicated"] == 0  # no DUT at hand: that view is not checked


def test_pty_folders_of_killed_stations_are_swept_at_the_next_start(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    import tempfile

    from linegate.station.compose import PTY_PREFIX, sweep_stale_pty_dirs

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{PTY_PREFIX}{gone.stdout.strip()}-abc"
    alive = tmp_path / f"{PTY_PREFIX}{os.getpid()}-def"
    dead.mkdir()
    alive.mkdir()
    sweep_stale_pty_dirs()
    assert not dead.exists() and alive.exists()
