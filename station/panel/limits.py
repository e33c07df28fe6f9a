"""How much of a request the panel reads: a body of at most ``MAX_BODY`` bytes, whatever its framing.

``BodyLimit`` (ASGI middleware, for every route) answers 413 to a ``Content-Length`` over the limit before
it reads a byte of the body, and to a chunked body as soon as what came passes the limit; either way the
connection is closed, so nothing more of it is read. A body within the limit is read whole, then given to
the route from memory.
"""

from __future__ import annotations

from collections.abc import Callable

from linegate.station.panel.security import refuse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 16 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, too_big: Callable[[], str], limit: int = MAX_BODY) -> None:
        self.app, self.too_big, self.limit = app, too_big, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        if any(not v.strip().isdigit() or int(v) > self.limit for v in declared):  # h11 checked its form
            await refuse(send, 413, self.too_big(), close=True)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await refuse(send, 413, self.too_big(), close=True)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read, then what the server says next (the client's disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
