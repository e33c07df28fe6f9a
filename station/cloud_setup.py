"""Where a station's cloud account comes from: the in-process emulators, a running one, or the fixture."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from linegate.drivers.cloud import safe_url
from linegate.drivers.cloud.errors import redact
from linegate.fixtures.cloud_account import HTTP_SCHEMES, CloudAccount, url_problem
from linegate.station.ledger.lock import refuse_if_held
from linegate.station.run import LineError

DEFAULT_STATE_DIR = Path(".linegate") / "demo"


def emulator_account(url: str) -> CloudAccount:
    """The credentials a running ``linegate sim cloud`` accepts (``GET /_sim/credentials``)."""
    if problem := url_problem(url, HTTP_SCHEMES):
        raise LineError(f"--cloud: {problem}")
    try:
        reply = httpx.get(f"{url.rstrip('/')}/_sim/credentials", timeout=5)
        reply.raise_for_status()
        return CloudAccount.from_emulator(reply.json())
    except (httpx.HTTPError, ValueError) as e:
        # httpx names the full URL in its messages, password included
        raise LineError(f"--cloud {safe_url(url)}: not a linegate cloud emulator "
                        f"({type(e).__name__}: {redact(str(e))})") from e


@contextmanager
def demo_cloud(cloud_url: str | None, state_dir: Path, *, rsa_bits: int = 2048) -> Iterator[CloudAccount]:
    """The emulators in-process (state in ``state_dir/cloud.sqlite``), or the one at ``cloud_url``."""
    if cloud_url:
        yield emulator_account(cloud_url)
        return
    from linegate.fixtures.sim.cloud.server import CloudEmulator

    try:
        emulator = CloudEmulator(port=0, mqtt_port=0, state=state_dir / "cloud.sqlite", rsa_bits=rsa_bits).start()
    except (RuntimeError, OSError) as e:
        raise LineError(f"cannot start the cloud emulators: {e}") from e
    try:
        yield CloudAccount.from_emulator(emulator.info())
    finally:
        emulator.stop()


def fresh_demo_state(state_dir: Path) -> None:
    """The default demo state is per run; an explicit ``--state-dir`` is kept and continued."""
    if state_dir.exists():
        refuse_if_held(state_dir / "ledger.db")  # a demo running on it keeps its state
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
