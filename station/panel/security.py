"""Who may use the panel: loopback by default, a token for any other bind, same-origin for every change.

- Bound to loopback without a token: a request's Host must name loopback (no DNS rebinding); no token.
- With a token (required for any other bind; option or ``LINEGATE_PANEL_TOKEN``): every request carries
  it, as ``Authorization: Bearer <token>`` or the cookie set by opening ``/?token=<token>`` (which
  redirects to ``/`` so the token leaves the address bar). Compared in constant time; never logged.
- A request that changes something (not GET/HEAD) must be same-origin (``Sec-Fetch-Site: same-origin``
  or an ``Origin`` naming the request's own host; a client sending neither is not a browser) and its
  body JSON (or empty).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import socket
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_ENV = "LINEGATE_PANEL_TOKEN"
COOKIE = "linegate_panel"
MIN_TOKEN = 16
SAFE_METHODS = ("GET", "HEAD")


class PanelError(Exception):
    """The panel cannot start as asked: one line naming the address or the option."""


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback one ("" and 0.0.0.0 are every interface)."""
    name = host.strip("[]")
    if not name:
        return False
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def resolve_token(host: str, port: int, token: str | None) -> str | None:
    """The token the panel requires (None: none); refuses a non-loopback bind without one."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise PanelError(f"panel on {host or '*'}:{port}: a bind other than loopback needs an access token "
                         f"(--ui-token or {TOKEN_ENV})")
    if token is not None and (len(token) < MIN_TOKEN or not token.isprintable() or " " in token):
        raise PanelError(f"panel on {host or '*'}:{port}: the access token must be at least {MIN_TOKEN} printable "
                         "characters without spaces")
    return token


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class Guard:
    """ASGI middleware applying the rules above; ``deny(key)`` gives the operator's words for a refusal."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool, deny: Callable[[str], str]) -> None:
        self.app, self.token, self.loopback, self.deny = app, token, loopback, deny
        self.cookie = hmac.new(token.encode(), b"linegate-panel-cookie", hashlib.sha256).hexdigest() if token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.token is None and self.loopback and not _loopback_host(host):
            await refuse(send, 403, self.deny("denied.host"), close=True)
            return
        if self.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if scope["path"] == "/" and "token" in query:
                if _same(query["token"][0], self.token):
                    await _redirect_with_cookie(send, self.cookie)
                else:
                    await refuse(send, 401, self.deny("denied.token"), close=True)
                return
            if not self._carries_token(headers):
                await refuse(send, 401, self.deny("denied.token"), close=True)
                return
        if scope["method"] not in SAFE_METHODS:
            if not _same_origin(headers, host):
                await refuse(send, 403, self.deny("denied.origin"), close=True)
                return
            json_body = headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
            if not json_body and headers.get("content-length") != "0":
                await refuse(send, 415, self.deny("denied.json"), close=True)
                return
        await self.app(scope, receive, send)

    def _carries_token(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return _same(auth[7:].strip(), self.token)
        return any(_same(value, self.cookie) for value in _cookies(headers.get("cookie", ""), COOKIE))


def _cookies(header: str, name: str) -> list[str]:
    """The values of the cookies named ``name`` in a Cookie header, read in one pass (http.cookies takes
    about a second on a 15 KB quoted value of backslashes, CVE-2024-7592: on the server's loop, where every
    stream would stall)."""
    found = []
    for part in header.split(";"):
        key, eq, value = part.partition("=")
        if eq and key.strip() == name:
            value = value.strip()
            found.append(value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value)
    return found


def _loopback_host(host: str) -> bool:
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # "[", "[::1": no address at all
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_origin(headers: dict[str, str], host: str) -> bool:
    site = headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = headers.get("origin")
    if origin is None:
        return site == "same-origin" or site is None  # no Origin, no Sec-Fetch-Site: not a browser
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[": names no origin
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() and bool(host)


async def refuse(send: Send, status: int, reason: str, close: bool = False) -> None:
    """Answer ``{"accepted": false, "reason": ...}`` with ``status``; ``close``: and close the connection (a
    request whose body is left unread)."""
    body = json.dumps({"accepted": False, "reason": reason}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), *([(b"connection", b"close")] if close else [])]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Send, value: str) -> None:
    cookie = f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303, "headers": [
        (b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0"),
        (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")]})
    await send({"type": "http.response.body", "body": b""})
