from __future__ import annotations

import sys
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
