"""Credential flash at wire speed: a 2 KiB key through AT+SYSMFG, against the baud-rate limit.

The simulated module (on a real pty) makes every byte take 10 bits' time at the line's rate, as a
real UART does, so the figures are what a real module allows: the effective rate of the write
(payload bytes per second, command and answers included) against the line's limit (baud / 10),
then the same write after ``AT+UART_CUR`` moves module and host to a faster rate and back, with
the time that saves per unit. A switch the module refuses or garbles falls back to the old rate.

    python bench/flash.py [--key-bytes 2048] [--baud 115200] [--fast 921600] [--repeat 5]
                          [--fault baud-refuse]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from linegate.drivers.dut import DutError, EspAt, NvsType
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import FAULTS, make_unit
from linegate.fixtures.sim.wire import BITS_PER_BYTE

TARGET = 0.90


def write_once(dut: EspAt, key: bytes) -> float:
    t0 = time.perf_counter()
    dut.mfg_write("client_key", "client_key.0", NvsType.BINARY, key, secret=True)
    return time.perf_counter() - t0


def switched_once(dut: EspAt, key: bytes, fast: int, slow: int) -> tuple[float, float, bool]:
    """(whole time, write alone, switched): switch up, write, switch back."""
    t0 = time.perf_counter()
    switched = dut.switch_baudrate(fast)
    write = write_once(dut, key)
    if switched and not dut.switch_baudrate(slow):
        raise SystemExit(f"flash.py: the module did not come back to {slow} baud")
    return time.perf_counter() - t0, write, switched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key-bytes", type=int, default=2048)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--fast", type=int, default=921600, help="rate for the write; 0: no switch")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                        help="a simulated fault on the module (e.g. baud-refuse, baud-garble)")
    args = parser.parse_args()
    key = random.Random(1).randbytes(args.key_bytes)
    unit = make_unit(random.Random(11), frozenset(args.fault))
    with SimEspAt(unit, wire_speed=True).start() as server:
        dut = EspAt(server.path, baudrate=args.baud, timeout=1.0 + 2 * args.key_bytes * BITS_PER_BYTE / args.baud)
        try:
            if args.baud != server.wire.module_baud:
                server.wire.module_baud = args.baud  # the module's configured rate (AT+UART_DEF on a real one)
            dut.sync()
            slow = statistics.median(write_once(dut, key) for _ in range(args.repeat))
            limit = args.baud / BITS_PER_BYTE
            rate = args.key_bytes / slow
            verdict = "met" if rate / limit >= TARGET else "NOT met"
            print(f"key write, {args.key_bytes} B at {args.baud} baud: {slow * 1000:.1f} ms, "
                  f"{rate:,.0f} B/s = {rate / limit:.1%} of the {limit:,.0f} B/s limit "
                  f"(target >= {TARGET:.0%}: {verdict})")
            if not args.fast:
                return 0
            runs = [switched_once(dut, key, args.fast, args.baud) for _ in range(args.repeat)]
            whole = statistics.median(r[0] for r in runs)
            write = statistics.median(r[1] for r in runs)
            if not all(r[2] for r in runs):
                print(f"switch to {args.fast} baud failed; fell back to {args.baud} baud: "
                      f"{whole * 1000:.1f} ms per unit, link still answers: {dut.mac() == unit.mac}")
                return 0
            fast_limit = args.fast / BITS_PER_BYTE
            print(f"key write, {args.key_bytes} B at {args.fast} baud: {write * 1000:.1f} ms, "
                  f"{args.key_bytes / write:,.0f} B/s = {args.key_bytes / write / fast_limit:.1%} "
                  f"of the {fast_limit:,.0f} B/s limit")
            print(f"with AT+UART_CUR to {args.fast} and back: {whole * 1000:.1f} ms per unit "
                  f"(switching {(whole - write) * 1000:.1f} ms), saves {(slow - whole) * 1000:.1f} ms per unit "
                  f"({slow / whole:.1f}x)")
        except DutError as e:
            print(f"flash.py: {e}", file=sys.stderr)
            return 1
        finally:
            dut.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
