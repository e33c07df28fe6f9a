"""``linegate ledger status|recover|audit``: what the ledger holds, finishing a crash, the invariants."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from linegate.drivers.cloud.errors import redact, safe_url
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.config import load_fixture, missing_folder, sqlite_file
from linegate.plans.provisioning import ProvisioningSpec
from linegate.station.cli_args import Commands
from linegate.station.cloud_setup import DEFAULT_STATE_DIR, demo_cloud, emulator_account
from linegate.station.compose import simulated_cloud_state, simulated_duts
from linegate.station.gate.provisioning import Provisioning
from linegate.station.gate.recovery import recover
from linegate.station.ledger.audit import audit, status
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.probe import DutProbe
from linegate.station.run import LineError
from rich.console import Console
from rich.table import Table


def add_parser(sub: Commands) -> None:
    ledger = sub.add_parser("ledger", help="the station's journal of identities")
    cmds = ledger.add_subparsers(dest="ledger_command", required=True)
    for name, text in (("status", "counts per state and service, pools, backlog, what needs attention"),
                       ("recover", "finish or roll back what a stop interrupted"),
                       ("audit", "cross-check ledger, cloud and DUTs; print the invariant counts")):
        cmd = cmds.add_parser(name, help=text)
        cmd.add_argument("--ledger", help=f"SQLAlchemy URL or SQLite path (default {DEFAULT_STATE_DIR}/ledger.db)")
        cmd.add_argument("--cloud", metavar="URL", help="a running 'linegate sim cloud'")
        if name != "status":
            cmd.add_argument("--fixture", type=Path, help="fixture file with the station's cloud account")
            cmd.add_argument("--state-dir", type=Path, help="simulated DUT state files (default: next to the ledger)")
        if name != "recover":
            cmd.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    target = args.ledger or str(DEFAULT_STATE_DIR / "ledger.db")
    file = sqlite_file(target)  # a path or a sqlite:/// URL: looking at a ledger never makes one (nor its folder)
    if file is not None and not file.is_file():
        why = f"{missing}; " if (missing := missing_folder(file)) else ""
        raise LineError(f"{target}: no ledger here ({why}run 'linegate demo' or pass --ledger)")
    ledger = Ledger(target)
    try:
        if args.ledger_command != "status":  # status only reads; recover and audit need the station stopped
            ledger.hold(f"ledger {args.ledger_command}")
        if args.ledger_command == "status":
            if args.json:
                print(json.dumps(status(ledger), indent=1))
            else:
                print_status(ledger, console)
            return 0
        state_dir = args.state_dir or (Path(target).parent if "://" not in target else None)
        if args.ledger_command == "recover":
            for line in recover_all(ledger, args.cloud, args.fixture, state_dir, simulated_duts(state_dir)):
                console.print(line)
            return 0
        cloud = _cloud_state(args.cloud, state_dir)
        result = audit(ledger, cloud, simulated_duts(state_dir))
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            for key in ("lost", "duplicated", "double_committed", "wasted", "needs_attention", "committed"):
                console.print(f"{key:17} {result[key]}")
            for reason, n in result["wasted_reasons"].items():
                console.print(f"  wasted {n}: {reason}")
            for line in result["details"]:
                console.print(f"  ! {line}")
            if cloud is None:
                console.print("  (no --cloud: the cloud side was not checked)")
        return 0
    finally:
        ledger.close()


@contextmanager
def _account(cloud_url: str | None, fixture: Path | None, state_dir: Path | None) -> Iterator[CloudAccount | None]:
    """The fixture's account, a running emulator's, or the demo's emulator brought back on its state file."""
    if fixture is not None:
        yield load_fixture(fixture).cloud
    elif cloud_url:
        yield emulator_account(cloud_url)
    elif state_dir is not None and (state_dir / "cloud.sqlite").exists():
        with demo_cloud(None, state_dir) as account:
            yield account
    else:
        yield None


def recover_all(ledger: Ledger, cloud_url: str | None, fixture: Path | None, state_dir: Path | None,
                duts: DutProbe | None) -> list[str]:
    with _account(cloud_url, fixture, state_dir) as account:
        return _recover(ledger, account, duts)


def _recover(ledger: Ledger, account: CloudAccount | None, duts: DutProbe | None) -> list[str]:
    lines = []
    for service in ("ayla", "yosmart", "enos-dps", "enos-mqtt"):
        spec = ledger.get_meta(f"spec:{service}")
        if spec is None:
            continue
        prov = Provisioning(ProvisioningSpec.model_validate(spec), account, ledger,
                            probe=duts)
        try:
            report = recover(prov.gate, prov.probe)
            prov.drain.drain_once()
        finally:
            prov.service.close()
        lines.append(f"{service}: {report.summary()}")
    return lines or ["nothing to recover: the ledger names no service"]


def _cloud_state(url: str | None, state_dir: Path | None) -> dict[str, Any] | None:
    """The emulator's whole state: over HTTP, or read from the demo's state file."""
    if not url:
        return simulated_cloud_state(state_dir)
    try:
        state: dict[str, Any] = httpx.get(f"{url.rstrip('/')}/_sim/state", timeout=30).json()
        return state
    except (httpx.HTTPError, ValueError) as e:
        raise LineError(f"--cloud {safe_url(url)}: cannot read the emulator's state: {redact(str(e))}") from e


def print_status(ledger: Ledger, console: Console) -> None:
    data = status(ledger)
    table = Table(title=f"ledger {data['ledger']}")
    for col in ("service", "states", "pool", "commit backlog", "attention"):
        table.add_column(col)
    for service, info in data["services"].items():
        states = ", ".join(f"{k} {v}" for k, v in info["states"].items())
        table.add_row(service, states, str(info["pool"]), str(info["commit_backlog"]), str(len(info["attention"])))
    console.print(table)
    for service, info in data["services"].items():
        for item in info["attention"]:
            console.print(f"  {service} {item['identity']} {item['state']} (unit {item['unit'] or '-'}): "
                          f"{item['reason']}")
