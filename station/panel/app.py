"""The panel's web server: a Starlette app served by uvicorn on a background thread.

``serve(hub, host, port)`` binds first (port 0: any free port, see ``.url``), then serves until
``stop()``; a bind that fails or a non-loopback bind without a token raises ``PanelError`` (one line).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from linegate.station.panel.headers import Protocol, SecureHeaders
from linegate.station.panel.hub import PanelHub
from linegate.station.panel.limits import BodyLimit
from linegate.station.panel.routes import routes, static_dir
from linegate.station.panel.security import Guard, PanelError, is_loopback, resolve_token
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

START_TIMEOUT_S = 10.0


def build_app(hub: PanelHub, token: str | None, loopback: bool) -> SecureHeaders:
    """The panel's routes behind: its headers on every answer, the guard (host, token, origin), the body limit."""
    app = Starlette(routes=[*routes(hub), Mount("/static", StaticFiles(directory=static_dir()), name="static")])
    return SecureHeaders(Guard(BodyLimit(app, lambda: hub.text("refused.too_big")), token, loopback, hub.text))


class PanelServer:
    """The running panel: ``.url`` (what to open), ``.stop()``; a context manager."""

    def __init__(self, hub: PanelHub, sock: socket.socket, token: str | None, loopback: bool) -> None:
        self.hub = hub
        self.host, self.port = sock.getsockname()[:2]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}/"
        self.token_required = token is not None
        config = uvicorn.Config(build_app(hub, token, loopback), http=Protocol, ws="none", lifespan="off",
                                access_log=False, log_level="warning", timeout_graceful_shutdown=2,
                                server_header=False)
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name=f"panel:{self.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as e:  # reported by start()
            self._error = e

    def start(self) -> PanelServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._sock.close()
                why = self._error or "did not start in time"
                raise PanelError(f"panel on {self.url}: {why}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Every open stream is told "bye", then the server stops (within ~2 s)."""
        self.hub.fanout.close()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> PanelServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve(hub: PanelHub, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> PanelServer:
    """Start the panel for ``hub`` on ``host:port``. ``token`` (or ``LINEGATE_PANEL_TOKEN``) is required for
    a bind other than loopback."""
    token = resolve_token(host, port, token)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise PanelError(f"panel on {host}:{port}: cannot listen there: {e.strerror or e}") from None
    sock.setblocking(False)
    return PanelServer(hub, sock, token, is_loopback(host)).start()
