"""The operator panel's model of the station: an event sink, thread-safe, pushing to every browser.

The supervisor calls the hub with each event on its main thread; the web server reads ``state()`` and
subscribes (fanout.py) from its own thread. What the operator does goes out through callbacks the
station sets (``on_serial``, ``on_answer``, ``on_stop``, ``on_operator``, ``on_override``); until then they refuse,
"not connected". A callback is never called with the hub's lock held: it may send events back.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from linegate.station.events import Event, RecordWritten, ResultsSync, Verdict, to_wire
from linegate.station.panel import i18n
from linegate.station.panel.fanout import FanOut
from linegate.station.panel.states import IllegalTransition, SocketState
from linegate.station.panel.tiles import Tile, iso

STATE_VERSION = 1
MAX_SERIAL = 128
MAX_NAME = 64
MAX_ANSWER = 1000
from linegate.station.results.attempts import MAX_REASON, reason_problem  # noqa: E402  (one rule for a reason)

log = logging.getLogger("linegate.panel")


class Refused(Exception):
    """Raised by a callback to refuse, with the reason the operator reads (``on_stop``/``on_operator`` may
    also return ``(False, reason)``, as ``on_serial``/``on_answer`` do; None is accepted)."""


@dataclass(frozen=True)
class Reply:
    """What the panel answers an operator's action: ``code`` is its HTTP status."""

    accepted: bool
    reason: str = ""
    code: int = 200


def _printable(value: str) -> bool:
    return value.isprintable()


class PanelHub:
    def __init__(self, station: str, plan_name: str, plan_version: str, plan_sha256: str, sockets: list[str],
                 operator: str = "", lang: str = "en", reports_base: str | None = None,
                 plan_dir: str | None = None) -> None:
        i18n.catalogue(lang)  # an unknown language is refused here, before anything runs
        self.station, self.lang, self.operator = station, lang, operator
        self.plan = {"name": plan_name, "version": plan_version, "sha256": plan_sha256, "short": plan_sha256[:8]}
        self.reports_base = Path(reports_base) if reports_base else None
        self.plan_dir = Path(plan_dir) if plan_dir else None  # a prompt's image is served from there
        self._lock = threading.RLock()
        self._tiles = {name: Tile(name) for name in sockets}
        self._counts = {"tested": 0, "pass": 0, "fail": 0, "error": 0, "aborted": 0}
        self._status: dict[str, Any] = {"pool": None, "backlog": None, "cloud_ok": None, "results": None}
        self._stopping = False
        self._seq = 0
        self.fanout = FanOut()
        self.on_serial: Callable[[str, str], tuple[bool, str]] = lambda socket, serial: (False, self._nc())
        self.on_answer: Callable[[str, str], tuple[bool, str]] = lambda prompt_id, answer: (False, self._nc())
        self.on_stop: Callable[[str | None], tuple[bool, str] | None] = self._refuse
        self.on_operator: Callable[[str], tuple[bool, str] | None] = self._refuse
        # A unit refused for rework: may the operator override (socket, serial), and the override itself
        # (socket, serial, operator, reason).
        self.overridable: Callable[[str, str], bool] = lambda socket, serial: False
        self.on_override: Callable[[str, str, str, str], tuple[bool, str]] = lambda *_: (False, self._nc())

    def _nc(self) -> str:
        return self.text("refused.not_connected")

    def _refuse(self, _: object) -> None:
        raise Refused(self._nc())

    def text(self, key: str, **fields: object) -> str:
        """A message of the hub's catalogue (e.g. for a refusal reason the station gives)."""
        return i18n.text(self.lang, key, **fields)

    @property
    def seq(self) -> int:
        """The number of the last change pushed (every message carries its own)."""
        return self._seq

    # -- the event sink (the supervisor's thread) ----------------------------------------
    def __call__(self, event: Event) -> None:
        if isinstance(event, ResultsSync):  # the station's, not a socket's: the header shows it
            self._results(event)
            return
        with self._lock:
            tile = self._tiles.get(event.socket)
            if tile is None:
                tile = self._tiles[event.socket] = Tile(event.socket)
            try:
                tile.apply(event, self.image_link)
            except IllegalTransition as e:  # a view follows the station: log it, never stop the line
                log.warning("%s", e)
            if isinstance(event, Verdict):
                self._count(event.outcome)
            elif isinstance(event, RecordWritten) and tile.unit is not None and tile.unit.index == event.index:
                tile.unit.record_id, tile.unit.report = event.record_id, self.report_link(event.path)
            self._seq += 1
            self.fanout.publish(f'{{"type":"event","seq":{self._seq},"event":{to_wire(event)},'
                                f'"tile":{_json(tile.light())},"counts":{_json(self._counts_doc())}}}')

    def _count(self, outcome: str) -> None:
        key = outcome.lower() if outcome in ("PASS", "FAIL", "ERROR", "ABORTED") else "error"
        self._counts[key] += 1
        if key != "aborted":
            self._counts["tested"] += 1

    def _counts_doc(self) -> dict[str, Any]:
        c = self._counts
        return c | {"yield": round(c["pass"] / c["tested"], 4) if c["tested"] else None}

    def report_link(self, record_path: str) -> str | None:
        """The unit's HTML report under /reports/, from its JSON record's path; the first record's folder
        is the reports' base unless one was given."""
        html = Path(record_path).with_suffix(".html")
        if self.reports_base is None:
            self.reports_base = html.parent
        try:
            rel = html.relative_to(self.reports_base)
        except ValueError:
            return None
        return "/reports/" + quote(rel.as_posix())

    def image_link(self, relative: str) -> str | None:
        """A prompt image's URL under /plan/ (None without a plan folder)."""
        return "/plan/" + quote(Path(relative).as_posix()) if self.plan_dir is not None else None

    # -- the station's periodic status ---------------------------------------------------
    def set_status(self, pool: int | None, backlog: int | None, cloud_ok: bool | None) -> None:
        with self._lock:
            status = {"pool": pool, "backlog": backlog, "cloud_ok": cloud_ok, "results": self._status["results"]}
            if status != self._status:
                self._status = status
                self._push_header()

    def _results(self, event: ResultsSync) -> None:
        """The central results store's lag (no results sync: ``null``)."""
        results = {"target": event.target, "behind": event.behind, "oldest_s": event.oldest_s,
                   "reachable": event.reachable, "error": event.error, "set_aside": event.set_aside}
        with self._lock:
            self._status = self._status | {"results": results}
            self._push_header()

    # -- what is shown -------------------------------------------------------------------
    def _header(self) -> dict[str, Any]:
        return {"station": {"name": self.station, "operator": self.operator, "stopping": self._stopping},
                "plan": self.plan, "counts": self._counts_doc(), "status": self._status}

    def state(self) -> dict[str, Any]:
        """The document of GET /api/state (docs/panel.md)."""
        with self._lock:
            return {"v": STATE_VERSION, "seq": self._seq, "now": iso(datetime.now(UTC)), "lang": self.lang,
                    **self._header(), "sockets": [t.full() for t in self._tiles.values()]}

    def state_message(self) -> str:
        """The stream's first message (and after a resync): the state, with ``"type": "state"``."""
        return _json({"type": "state", **self.state()})

    def sockets(self) -> list[str]:
        with self._lock:
            return list(self._tiles)

    def _push_header(self) -> None:
        self._seq += 1
        self.fanout.publish(_json({"type": "header", "seq": self._seq, **self._header()}))

    def _push_tile(self, tile: Tile) -> None:
        self._seq += 1
        self.fanout.publish(_json({"type": "tile", "seq": self._seq, "tile": tile.light()}))

    # -- the operator (the web server's threads) -----------------------------------------
    def submit_serial(self, socket: str, serial: str) -> Reply:
        serial = serial.strip()
        with self._lock:
            tile = self._tiles.get(socket)
            if tile is None:
                return Reply(False, self.text("refused.unknown_socket", socket=socket), 404)
            out_of_service = tile.state is SocketState.OUT_OF_SERVICE
        if not serial or len(serial) > MAX_SERIAL or not _printable(serial):
            reply = Reply(False, self.text("refused.bad_serial", max=MAX_SERIAL), 422)
        elif out_of_service:
            reply = Reply(False, self.text("refused.out_of_service", socket=socket), 409)
        else:
            accepted, reason = self._call(self.on_serial, socket, serial)
            reply = Reply(accepted, reason, 200 if accepted else 409)
        self._scanned(tile, serial, reply)
        return reply

    def _scanned(self, tile: Tile, serial: str, reply: Reply) -> None:
        override = not reply.accepted and reply.code == 409 and self._may_override(tile.name, serial)
        with self._lock:
            tile.scan = {"serial": serial, "accepted": reply.accepted, "reason": reply.reason,
                         "at": iso(datetime.now(UTC))} | ({"override": True} if override else {})
            self._push_tile(tile)

    def _may_override(self, socket: str, serial: str) -> bool:
        try:
            return bool(self.overridable(socket, serial))
        except Exception:
            log.exception("panel: overridable failed")
            return False

    def override_retest(self, socket: str, serial: str, reason: str) -> Reply:
        """Start ``serial``, refused for rework in ``socket``, past the retest limit: the panel's operator
        gives ``reason``; both go into the unit's record."""
        serial, reason = serial.strip(), " ".join(reason.split())
        with self._lock:
            tile = self._tiles.get(socket)
            operator = self.operator
        if tile is None:
            return Reply(False, self.text("refused.unknown_socket", socket=socket), 404)
        if reason_problem(reason) is not None:
            return Reply(False, self.text("refused.override_reason", max=MAX_REASON), 422)
        if not operator:
            return Reply(False, self.text("refused.override_name"), 409)
        accepted, why = self._call(self.on_override, socket, serial, operator, reason)
        reply = Reply(accepted, self.text("scan.overridden", who=operator) if accepted else why,
                      200 if accepted else 409)
        self._scanned(tile, serial, reply)
        return reply

    def answer(self, prompt_id: str, answer: str) -> Reply:
        with self._lock:
            tile = next((t for t in self._tiles.values() if t.prompt and t.prompt["id"] == prompt_id), None)
        if tile is None:
            return Reply(False, self.text("refused.no_prompt"), 404)
        if len(answer) > MAX_ANSWER or not _printable(answer):
            return Reply(False, self.text("refused.bad_answer", max=MAX_ANSWER), 422)
        accepted, reason = self._call(self.on_answer, prompt_id, answer)
        with self._lock:
            if tile.prompt is not None and tile.prompt["id"] == prompt_id:
                tile.prompt = None if accepted else tile.prompt | {"error": reason}
                self._push_tile(tile)
        return Reply(accepted, reason, 200 if accepted else 409)

    def stop(self, socket: str | None) -> Reply:
        if socket is not None and socket not in self.sockets():
            return Reply(False, self.text("refused.unknown_socket", socket=socket), 404)
        accepted, reason = self._call(self._stopped, socket)
        if accepted:
            with self._lock:
                if socket is None:
                    self._stopping = True
                    self._push_header()
                else:
                    self._tiles[socket].stopping = True
                    self._push_tile(self._tiles[socket])
        return Reply(accepted, reason, 200 if accepted else 409)

    def set_operator(self, name: str) -> Reply:
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME or not _printable(name):
            return Reply(False, self.text("refused.bad_name", max=MAX_NAME), 422)
        accepted, reason = self._call(self._named, name)
        if accepted:
            with self._lock:
                self.operator = name
                self._push_header()
        return Reply(accepted, reason, 200 if accepted else 409)

    def _stopped(self, socket: str | None) -> tuple[bool, str]:
        return self.on_stop(socket) or (True, "")

    def _named(self, name: str) -> tuple[bool, str]:
        return self.on_operator(name) or (True, "")

    def _call(self, callback: Callable[..., tuple[bool, str]], *args: str | None) -> tuple[bool, str]:
        try:
            accepted, reason = callback(*args)
        except Refused as e:
            return False, str(e)
        except Exception as e:  # the station's callback failed: refused, and said so in one line
            log.exception("panel: %s failed", getattr(callback, "__name__", "a callback"))
            return False, self.text("refused.station_error", error=f"{type(e).__name__}: {e}")
        return bool(accepted), str(reason)


def _json(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
