"""The headers every answer of the panel carries: its Content-Security-Policy, ``nosniff``, no referrer.

``SecureHeaders`` (ASGI middleware, outside every other) puts them on each response the app sends (a
route may set its own CSP: the reports' one); an exception before the response started is answered 500 with
them (then re-raised, for uvicorn to log: a fault of the panel, not of the request). ``Protocol`` is
uvicorn's HTTP/1.1 with them on the one answer uvicorn writes itself, a 400 to a request that is not HTTP.
"""

from __future__ import annotations

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURE = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


def report_csp(script_hashes: tuple[str, ...]) -> str:
    """A unit report's policy: its own inline styles and pictures, and only the scripts and event handlers
    whose hashes are given (the report's own), so a page planted in the run folder runs nothing of its own
    and submits nothing."""
    scripts = " ".join(["'unsafe-hashes'", *(f"'{h}'" for h in script_hashes)]) if script_hashes else "'none'"
    return (f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data:; "
            "font-src data:; connect-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class SecureHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": with_secure(list(message.get("headers", [])))}
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except Exception:
            if not started:
                await _failed(secured)
            raise


def with_secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    extra = [(b"content-security-policy", CSP.encode())] if b"content-security-policy" not in names else []
    return headers + extra + [(name, value) for name, value in SECURE if name not in names]


async def _failed(send: Send) -> None:
    body = b'{"accepted":false,"reason":"Internal Server Error"}'
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        headers = with_secure([(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")])
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=msg.encode("ascii")), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
