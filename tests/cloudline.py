"""A fixture file with a ``cloud`` section, and the linegate command run in-process on it."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import yaml
from linegate.fixtures.sim.cloud.server import CloudEmulator
from linegate.station.cli import main

REPO = Path(__file__).resolve().parent.parent
SERVICES = ["ayla", "yosmart", "enos-dps", "enos-mqtt"]


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_fixture(tmp_path: Path, cloud: dict[str, Any], name: str = "station.yaml") -> Path:
    doc = yaml.safe_load((REPO / "fixtures" / "sim-station.yaml").read_text())
    doc["cloud"] = cloud
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def cloud_of(emu: CloudEmulator, **changes: Any) -> dict[str, Any]:
    """The emulator's account as a fixture's cloud section; ``changes`` are dotted paths: value."""
    info = emu.info()
    for dotted, value in changes.items():
        node = info
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return info


def run_cli(tmp_path: Path, fixture: Path, service: str, units: int = 2) -> tuple[int, float]:
    """``linegate run`` on the example plan of ``service``; (exit code, seconds)."""
    started = time.perf_counter()
    code = main(["run", "--fixture", str(fixture), "--plan", str(REPO / "plans" / f"esp-at-{service}.yaml"),
                 "--units", str(units), "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")])
    return code, time.perf_counter() - started
