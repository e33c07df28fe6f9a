from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from linegate.fixtures.sim.cloud.faults import FaultOptions
from linegate.fixtures.sim.cloud.server import CloudEmulator

sys.path.insert(0, str(Path(__file__).parent))

@pytest.fixture
def emulator(request: pytest.FixtureRequest):
    """A fresh cloud emulator (HTTP + embedded MQTT broker) on loopback; ``@pytest.mark.emulator(...)``
    passes keyword arguments (e.g. ``faults=FaultOptions(hang_s=1)``)."""
    marker = request.node.get_closest_marker("emulator")
    kwargs = {"rsa_bits": 1024, "faults": FaultOptions(hang_s=1.0, retry_after_s=0.2)}
    if marker:
        kwargs |= marker.kwargs
    with CloudEmulator(**kwargs) as emu:
        yield emu


@pytest.fixture(params=["sqlite", "postgresql"])
def central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A central store's URL: another SQLite file, or a fresh schema of the shared PostgreSQL (when it answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
        return
    from pgkit import pg_schema, postgres_up

    if not postgres_up():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 (or psycopg missing)")
    with pg_schema() as url:
        yield url
