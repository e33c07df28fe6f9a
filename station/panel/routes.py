"""The panel's HTTP routes (docs/panel.md): the page, the state, the stream, the operator's actions, reports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from linegate.reports.unit_html import script_hashes
from linegate.station.panel import i18n
from linegate.station.panel.fanout import FLUSH_S, Signal
from linegate.station.panel.files import plan_image, report_file
from linegate.station.panel.headers import report_csp
from linegate.station.panel.hub import PanelHub, Reply
from linegate.station.panel.limits import MAX_BODY, json_object
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KEEP_ALIVE_S = 15.0
NO_STORE = {"cache-control": "no-store"}


def static_dir() -> Path:
    return Path(str(resources.files("linegate.station.panel") / "static"))


@cache
def _page_template() -> str:
    return (static_dir() / "index.html").read_text(encoding="utf-8")


def page(lang: str) -> str:
    messages = json.dumps(i18n.catalogue(lang), ensure_ascii=False).replace("</", "<\\/")
    return _page_template().replace("{{lang}}", lang).replace("{{messages}}", messages)


def routes(hub: PanelHub) -> list[Route]:
    async def index(request: Request) -> Response:
        return HTMLResponse(page(hub.lang), headers=NO_STORE)  # its CSP and others: headers.SecureHeaders

    async def state(request: Request) -> Response:
        return Response(await run_in_threadpool(hub.state_message), media_type="application/json",
                        headers=NO_STORE)

    async def events(request: Request) -> Response:
        sub = hub.fanout.subscribe(asyncio.get_running_loop())
        if sub is None:
            return JSONResponse({"accepted": False, "reason": hub.text("refused.too_many")}, 503)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n" + _frame(hub.state_message())
                while True:
                    got = await sub.get(KEEP_ALIVE_S)
                    if got is Signal.CLOSED:
                        yield _frame('{"type":"bye"}')
                        return
                    if got is Signal.RESYNC:
                        yield _frame(hub.state_message())
                    elif got is Signal.IDLE:
                        yield ": keep-alive\n\n"
                    else:
                        yield "".join(_frame(m) for m in got)
                        await asyncio.sleep(FLUSH_S)
            finally:
                hub.fanout.unsubscribe(sub)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers=NO_STORE | {"x-accel-buffering": "no"})

    async def serial(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        value = body.get("serial")
        if not isinstance(value, str):
            return _reply(Reply(False, hub.text("refused.bad_serial", max=128), 422))
        return _reply(await run_in_threadpool(hub.submit_serial, request.path_params["name"], value))

    async def override(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        value, reason = body.get("serial"), body.get("reason")
        if not isinstance(value, str):
            return _reply(Reply(False, hub.text("refused.bad_serial", max=128), 422))
        return _reply(await run_in_threadpool(hub.override_retest, request.path_params["name"], value,
                                              reason if isinstance(reason, str) else ""))

    async def prompt(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        value = body.get("answer")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return _reply(Reply(False, hub.text("refused.bad_answer", max=1000), 422))
        return _reply(await run_in_threadpool(hub.answer, request.path_params["id"], str(value)))

    async def stop(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        socket = body.get("socket")
        if socket is not None and not isinstance(socket, str):
            return _reply(Reply(False, hub.text("refused.unknown_socket", socket=socket), 404))
        return _reply(await run_in_threadpool(hub.stop, socket))

    async def operator(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        name = body.get("name")
        return _reply(await run_in_threadpool(hub.set_operator, name if isinstance(name, str) else ""))

    async def report(request: Request) -> Response:
        found = await run_in_threadpool(report_file, hub.reports_base, request.path_params["path"])
        if found is None:
            return JSONResponse({"accepted": False, "reason": hub.text("refused.no_report")}, 404, headers=NO_STORE)
        return FileResponse(found, headers=NO_STORE | {"content-security-policy": report_csp(script_hashes())})

    async def image(request: Request) -> Response:
        found = await run_in_threadpool(plan_image, hub.plan_dir, request.path_params["path"])
        if found is None:
            return JSONResponse({"accepted": False, "reason": hub.text("refused.no_image")}, 404, headers=NO_STORE)
        data, media_type = found
        return Response(data, media_type=media_type)

    async def _body(request: Request) -> dict[str, Any] | Response:
        raw = await request.body()  # BodyLimit read it, at most MAX_BODY bytes
        if len(raw) > MAX_BODY:
            return _reply(Reply(False, hub.text("refused.too_big"), 413))
        if not raw.strip():
            return {}
        doc = json_object(raw)
        if doc is None:
            return _reply(Reply(False, hub.text("refused.not_json"), 400))
        return doc

    return [
        Route("/", index, methods=["GET"]),
        Route("/api/state", state, methods=["GET"]),
        Route("/api/events", events, methods=["GET"]),
        Route("/api/sockets/{name}/serial", serial, methods=["POST"]),
        Route("/api/sockets/{name}/override", override, methods=["POST"]),
        Route("/api/prompts/{id}", prompt, methods=["POST"]),
        Route("/api/stop", stop, methods=["POST"]),
        Route("/api/operator", operator, methods=["POST"]),
        Route("/reports/{path:path}", report, methods=["GET"]),
        Route("/plan/{path:path}", image, methods=["GET"]),
    ]


def _frame(message: str) -> str:
    return f"data: {message}\n\n"


def _reply(reply: Reply) -> Response:
    return JSONResponse({"accepted": reply.accepted, "reason": reply.reason}, reply.code, headers=NO_STORE)
