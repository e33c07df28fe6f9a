"""``--ui``: the operator panel of a station run, served by the supervisor's process."""

from __future__ import annotations

import argparse
import threading
from contextlib import ExitStack

from linegate.fixtures.config import FixtureConfig
from linegate.plans import Plan
from linegate.station.engine.controls import StationControls
from linegate.station.engine.scanned import ScannedUnits
from linegate.station.engine.sources import UnitSource
from linegate.station.ledger.journal import Ledger
from linegate.station.panel import PanelError, PanelHub, serve
from linegate.station.panel.i18n import LanguageError
from linegate.station.results.attempts import RetestPolicy, Rework
from linegate.station.run import LineError

DEFAULT_UI = "127.0.0.1:8765"
STATUS_EVERY_S = 1.0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ui", nargs="?", const=DEFAULT_UI, metavar="[HOST:]PORT",
                   help=f"serve the operator panel (default {DEFAULT_UI}; a bind other than loopback needs "
                        "--ui-token or LINEGATE_PANEL_TOKEN)")
    p.add_argument("--ui-token", metavar="TOKEN", help="the panel's access token (else LINEGATE_PANEL_TOKEN)")
    p.add_argument("--lang", help="the panel's language: en or zh (default: the fixture file's, else en)")


def address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    try:
        number = int(port)
    except ValueError:
        raise LineError(f"--ui {text}: the port must be a number") from None
    if not 0 <= number <= 65535:
        raise LineError(f"--ui {text}: the port must be 0 to 65535")
    return host.strip("[]") or "127.0.0.1", number


class Panel:
    """The panel of one run: its hub (an event sink), the controls it drives and, on a real fixture, the
    scanned units it starts."""

    def __init__(self, args: argparse.Namespace, config: FixtureConfig, plan: Plan, stack: ExitStack,
                 ledger: Ledger | None, units: int | None, *, scans: bool,
                 retest: RetestPolicy | None = None) -> None:
        """``scans``: units start by a scan on the panel (a real fixture); else the line loads its own."""
        host, port = address(args.ui)
        self.controls = StationControls(operator=config.operator or None)
        try:
            self.hub = PanelHub(config.station, plan.name, plan.version, plan.sha256, [s.name for s in config.sockets],
                                operator=config.operator, lang=args.lang or config.lang,
                                plan_dir=str(plan.path.parent) if plan.path else None)
        except LanguageError as e:
            raise LineError(f"--lang: {e}") from None
        self.hub.on_answer = self.controls.answer
        self.hub.on_stop = self.controls.stop
        self.hub.on_operator = self.controls.set_operator
        self.units: UnitSource | None = None
        if scans:
            scanned = ScannedUnits(units, plan.serial, retest, rework_text=self.rework_text)
            self.hub.on_serial = scanned.submit
            self.hub.overridable = scanned.overridable
            self.hub.on_override = scanned.override
            self.units = scanned
        else:
            self.hub.on_serial = lambda socket, serial: (False, self.hub.text("refused.simulated"))
        try:
            self.server = stack.enter_context(serve(self.hub, host, port, args.ui_token))
        except PanelError as e:
            raise LineError(str(e)) from None
        if ledger is not None and plan.provisioning is not None:
            self._status(stack, ledger, plan.provisioning.service)

    def rework_text(self, rework: Rework) -> str:
        """A unit refused for rework, in the panel's language."""
        fields = rework.fields()
        text = self.hub.text("refused.rework", **fields)
        return f"{text} · {self.hub.text('rework.local')}" if fields["note"] else text

    @property
    def url(self) -> str:
        return self.server.url

    def _status(self, stack: ExitStack, ledger: Ledger, service: str) -> None:
        done = threading.Event()

        def report() -> None:
            while not done.wait(STATUS_EVERY_S):
                try:
                    self.hub.set_status(ledger.pool_size(service), ledger.backlog(service), self.controls.cloud_ok())
                except Exception:  # the ledger is the station's to report on; the panel shows "?"
                    self.hub.set_status(None, None, None)

        thread = threading.Thread(target=report, name="panel-status", daemon=True)
        thread.start()
        stack.callback(done.set)


__all__ = ["DEFAULT_UI", "Panel", "add_args", "address"]
