"""How much of a request the panel reads: a body of at most ``MAX_BODY`` bytes, whatever its framing, and
JSON of at most ``MAX_DEPTH`` levels.

``BodyLimit`` (ASGI middleware, for every route) answers 413 to a ``Content-Length`` over the limit before
it reads a byte of the body, and to a chunked body as soon as what came passes the limit; either way the
connection is closed, so nothing more of it is read. A body within the limit is read whole, then given to
the route from memory. ``json_object`` reads it: a JSON object nested at most ``MAX_DEPTH`` deep, its numbers
finite, or None (the route answers 400); it is checked for depth before it is parsed, so a body of 16 KiB
of brackets costs a scan, not a RecursionError.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from linegate.station.panel.security import refuse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 16 * 1024
MAX_DEPTH = 16  # the panel's bodies are flat objects; a few levels spare
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)  # a string cut short: to the end
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


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


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as a JSON object (RFC 8259: no NaN or Infinity, no number beyond a float, text of characters
    only), or None."""
    if _depth(raw) > MAX_DEPTH:
        return None
    try:
        doc = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\ud800") is no character
    except (ValueError, RecursionError):  # UnicodeDecodeError and UnicodeEncodeError are ValueErrors
        return None
    return doc if isinstance(doc, dict) else None


def _depth(raw: bytes) -> int:
    """How deep ``raw``'s brackets nest outside its strings (a string cut short ends the scan: json refuses it)."""
    depth = deepest = 0
    for bracket in _STRING.sub(b"", raw).translate(None, _NOT_BRACKET):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a float")
    return value
