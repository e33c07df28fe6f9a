"""``linegate sim cloud``: the cloud emulators in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import threading
from pathlib import Path

from linegate.drivers.cloud import safe_url
from linegate.drivers.cloud.errors import redact
from linegate.station.cli_args import MAX_UNITS, PORT, Commands, real, whole
from linegate.station.output import OutputError, check_file
from linegate.station.run import LineError

MAX_LATENCY_MS = 60_000


def add_parser(sim_sub: Commands) -> None:
    cloud = sim_sub.add_parser("cloud", help="the four provisioning services' emulators on 127.0.0.1")
    cloud.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    cloud.add_argument("--port", type=whole(*PORT), default=8080, help="HTTP port, 0 picks a free one (default 8080)")
    cloud.add_argument("--mqtt-port", type=whole(*PORT), default=1883,
                       help="embedded MQTT broker port; 0 picks a free one (default 1883)")
    cloud.add_argument("--no-mqtt", action="store_true", help="no embedded broker and no responder")
    cloud.add_argument("--mqtt-url", help="attach the responder to this external broker instead (mqtt://host:port)")
    cloud.add_argument("--state", type=Path, help="SQLite file keeping every reservation across restarts")
    cloud.add_argument("--latency-ms", type=real(0, MAX_LATENCY_MS), default=0.0,
                       help=f"added latency per call (0 to {MAX_LATENCY_MS} ms)")
    cloud.add_argument("--fault-rate", type=real(0, 1), default=0.0, help="share of calls answered with a 5xx page")
    cloud.add_argument("--timeout-rate", type=real(0, 1), default=0.0, help="share of calls that never answer")
    cloud.add_argument("--drop-rate", type=real(0, 1), default=0.0, help="share of connections cut mid-answer")
    cloud.add_argument("--lost-answer-rate", type=real(0, 1), default=0.0,
                       help="share of calls where the service acts and the answer is lost")
    cloud.add_argument("--rate-limit-rate", type=real(0, 1), default=0.0, help="share of calls rate-limited")
    cloud.add_argument("--token-expiry-after", type=whole(1, MAX_UNITS),
                       help="calls each token serves before it expires")
    cloud.add_argument("--rsa-bits", type=int, default=2048, choices=(1024, 2048, 3072),
                       help="size of the key pair generated per Ayla DSN")


def run(args: argparse.Namespace) -> int:
    from linegate.fixtures.sim.cloud.faults import FaultOptions
    from linegate.fixtures.sim.cloud.server import CloudEmulator

    if args.state is not None:  # its folder is not made for it
        try:
            check_file(args.state, "--state")
        except OutputError as e:
            raise LineError(str(e)) from e
    rates = {"--fault-rate": args.fault_rate, "--timeout-rate": args.timeout_rate, "--drop-rate": args.drop_rate,
             "--lost-answer-rate": args.lost_answer_rate, "--rate-limit-rate": args.rate_limit_rate}
    if sum(rates.values()) > 1.0:
        raise LineError("the fault rates add up to more than 1")
    options = FaultOptions(latency_ms=args.latency_ms, fault_rate=args.fault_rate, timeout_rate=args.timeout_rate,
                           drop_rate=args.drop_rate, lost_answer_rate=args.lost_answer_rate,
                           rate_limit_rate=args.rate_limit_rate, token_expiry_after=args.token_expiry_after)
    mqtt_port = None if args.no_mqtt else args.mqtt_port
    try:
        emulator = CloudEmulator(host=args.host, port=args.port, mqtt_port=mqtt_port, mqtt_url=args.mqtt_url,
                                 state=args.state, faults=options, rsa_bits=args.rsa_bits)
    except sqlite3.DatabaseError as e:
        raise LineError(f"{args.state}: not an emulator state file: {e}") from e
    try:
        emulator.start()
    except (RuntimeError, OSError, ConnectionError) as e:
        raise LineError(f"cannot start the cloud emulators: {redact(str(e))}") from e  # may hold --mqtt-url
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:  # a print that fails (its reader has gone) stops the emulators too
        print(json.dumps(emulator.info()), flush=True)  # the credentials handout, for the stations (by design)
        print(f"serving on {emulator.base_url}" + (f" and {safe_url(emulator.mqtt_url)}" if emulator.mqtt_url
                                                   else "") + "; Ctrl-C or SIGTERM stops", flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
