"""``linegate sim dut``: a simulated ESP-AT module on a pseudo-terminal, in the foreground."""

from __future__ import annotations

import argparse
import os
import random
import signal
import time
from pathlib import Path

from linegate.fixtures.faults import FAULTS
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import SimUnit, make_unit
from linegate.station.cli_args import MAX_SEED, Commands, whole
from linegate.station.output import OutputError, check_file
from linegate.station.run import LineError


def add_parser(sim_sub: Commands) -> None:
    dut = sim_sub.add_parser("dut", help="a simulated ESP-AT module on a pseudo-terminal")
    dut.add_argument("--link", type=Path, help="also create a symlink to the device at PATH")
    dut.add_argument("--rfc2217", action="store_true",
                     help="also serve the module over RFC 2217 (modem lines for reset wiring); prints its URL second")
    dut.add_argument("--state", type=Path, help="keep the module's NVS in this file across restarts")
    dut.add_argument("--seed", type=whole(0, MAX_SEED), default=1, help="seed of the unit's MAC and behaviour")
    dut.add_argument("--fail", nargs="+", default=[], metavar="MODE", choices=sorted(FAULTS),
                     help="faults: " + ", ".join(sorted(FAULTS)))
    dut.add_argument("--command-delay", type=_seconds, default=0.0, metavar="S",
                     help="seconds the module takes before answering each command (a slow module; default 0)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{text} s is outside 0..60 s")
    return value


def _check_link(link: Path) -> None:
    """A link another simulated module serves is not taken over; a stale one (its pty gone) is."""
    if link.is_symlink() and Path(os.readlink(link)).exists():
        raise LineError(f"--link {link}: already the link of a running simulated module ({os.readlink(link)})")
    if link.exists() and not link.is_symlink():
        raise LineError(f"--link {link}: a file is there; give a new path")
    if not link.parent.is_dir():
        raise LineError(f"--link {link}: {link.parent} is not a folder")


def run(args: argparse.Namespace) -> int:
    if args.state is not None:  # its folder is not made for it
        try:
            check_file(args.state, "--state")
        except OutputError as e:
            raise LineError(str(e)) from e
    if args.state is not None and args.state.exists():
        try:
            unit = SimUnit.load(args.state)
        except (OSError, ValueError, KeyError) as e:
            raise LineError(f"{args.state}: not a simulated DUT state file: {e}") from e
        unit.faults = frozenset(args.fail) or unit.faults
    else:
        unit = make_unit(random.Random(args.seed), frozenset(args.fail))
        unit.serial = f"SIM{args.seed:06d}"
        if args.state is not None:
            unit.state_file = args.state
            unit.save()
    if args.link is not None:
        _check_link(args.link)
    server = SimEspAt(unit, link=args.link, seed=args.seed, command_delay_s=args.command_delay).start()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:  # a print that fails (its reader has gone) stops the module too: its link goes
        print(server.path, flush=True)
        if args.rfc2217:
            print(server.rfc2217(), flush=True)
        while not stop:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
