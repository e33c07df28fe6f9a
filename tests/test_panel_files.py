"""What the panel serves from folders a local user may write to, and the headers on every one of its answers
(issue 19), over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket

import httpx
import pytest
from linegate.reports import UnitReportRenderer
from linegate.station.panel import TOKEN_ENV, PanelHub, serve
from linegate.station.panel import security as panel_security
from linegate.station.panel.routes import routes
from test_report import record

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
TOKEN = "s3cret-token-for-the-panel-0123"
JSON = {"content-type": "application/json"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
PLANTED = "<script>fetch('/api/stop', {method: 'POST'})</script>"


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)


def test_plan_serves_regular_image_files_only(tmp_path):
    plan, outside = tmp_path / "plan", tmp_path / "outside"
    plan.mkdir()
    outside.mkdir()
    images = {"led.png": (PNG, "image/png"), "photo.JPG": (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
              "anim.gif": (b"GIF89a" + b"\x00" * 20, "image/gif"),
              "pic.webp": (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp")}
    for name, (data, _) in images.items():
        (plan / name).write_bytes(data)
    (plan / "images").mkdir()
    (plan / "images" / "same.png").symlink_to(plan / "led.png")  # a link within the folder to an image: served
    (plan / "x.png").mkdir()
    (plan / "x.png" / "index.html").write_text(PLANTED)
    (plan / "station_tests.py").write_text("SECRET = 1")
    (plan / "code.png").symlink_to(plan / "station_tests.py")
    (plan / "fake.png").write_text(PLANTED)
    (outside / "out.png").write_bytes(PNG)
    (plan / "out.png").symlink_to(outside / "out.png")
    (plan / "loop.png").symlink_to(plan / "loop.png")
    os.mkfifo(plan / "fifo.png")
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A"], plan_dir=str(plan))
    with serve(hub) as server, httpx.Client(timeout=5) as client:
        for name, (data, media_type) in {**images, "images/same.png": images["led.png"]}.items():
            answer = client.get(server.url + "plan/" + name)
            assert (answer.status_code, answer.headers["content-type"], answer.content) == (200, media_type, data)
        for name in ("x.png", "x.png/", "x.png/index.html", "station_tests.py", "code.png", "fake.png", "out.png",
                     "loop.png", "fifo.png", "a" * 300 + ".png", "%2e%2e/outside/out.png", "nothing.png", ""):
            answer = client.get(server.url + "plan/" + name)
            assert answer.status_code == 404, name
            assert answer.json()["reason"] == "no such image in the plan's folder"


def test_reports_refuse_what_leads_out_or_cannot_be_resolved(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    (outside / "index.html").write_text("ledger key")
    (run / "sub").mkdir()
    (run / "sub" / "index.html").write_text("<h1>sub</h1>")
    (run / "away").mkdir()
    (run / "away" / "index.html").symlink_to(outside / "index.html")  # a folder's index.html leading out
    (run / "loop.html").symlink_to(run / "loop.html")
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A"], reports_base=str(run))
    with serve(hub) as server, httpx.Client(timeout=5) as client:
        assert client.get(server.url + "reports/sub").text == "<h1>sub</h1>"
        for path in ("away", "away/", "away/index.html", "loop.html", "a" * 300, "a" * 300 + "/b"):
            answer = client.get(server.url + "reports/" + path)
            assert answer.status_code == 404 and "ledger key" not in answer.text, path
            assert answer.json()["reason"] == "no such report"


def test_a_report_runs_only_its_own_script(tmp_path):
    """A unit report's one inline script (pytest-html's) is the one its policy allows (and its two event
    handlers): it still runs in the panel (test_panel_browser); a page planted in the run folder runs no
    script of its own, submits no form, is no frame."""
    run = tmp_path / "run"
    run.mkdir()
    html = UnitReportRenderer().render(record())
    (run / "unit-1.html").write_text(html)
    (run / "planted.html").write_text(PLANTED)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A"], reports_base=str(run))
    with serve(hub) as server, httpx.Client(timeout=5) as client:
        for name in ("unit-1.html", "planted.html"):
            policy = client.get(server.url + "reports/" + name).headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
            allowed = directives["script-src"].split()
            assert f"'sha256-{digest}'" in allowed and "'unsafe-inline'" not in allowed
            assert len(allowed) == 4  # the script, 'unsafe-hashes' and the page's two event handlers
            assert directives["default-src"] == directives["connect-src"] == directives["form-action"] == "'none'"
            assert directives["frame-ancestors"] == "'none'"


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got and (chunk := s.recv(4096)):
            got += chunk
        return got


def _headers(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}


def test_every_answer_of_every_route_carries_the_csp(tmp_path, monkeypatch):
    (tmp_path / "led.png").write_bytes(PNG)
    (tmp_path / "u1.html").write_text("<h1>unit 1</h1>")
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A"], plan_dir=str(tmp_path), reports_base=str(tmp_path))
    hub.on_stop = lambda socket: None
    seen: dict[str, set[int]] = {}
    with serve(hub) as server, httpx.Client(timeout=5) as client:
        url = server.url

        def check(template: str, status: int, headers: httpx.Headers | dict[str, str]) -> None:
            expected = CSP if not (template == "/reports/{path:path}" and status == 200) else None
            got = headers.get("content-security-policy")
            assert got is not None and (expected is None or got == expected), (template, status, got)
            assert headers.get("x-content-type-options") == "nosniff", (template, status)
            seen.setdefault(template, set()).add(status)

        def ask(template: str, status: int, method: str, path: str, **kwargs: object) -> None:
            answer = client.request(method, url + path, **kwargs)  # type: ignore[arg-type]
            assert answer.status_code == status, (method, path, answer.text)
            check(template, status, answer.headers)

        ask("/", 200, "GET", "")
        ask("/", 403, "GET", "", headers={"host": "evil.example"})
        ask("/", 405, "POST", "", json={})
        ask("/api/state", 200, "GET", "api/state")
        with client.stream("GET", url + "api/events") as stream:
            check("/api/events", stream.status_code, stream.headers)
        for path, body, good in (("api/sockets/A/serial", {"serial": "SN-1"}, 409),
                                 ("api/sockets/A/override", {"serial": "SN-1", "reason": "r"}, 409),
                                 ("api/prompts/p-1", {"answer": "yes"}, 404), ("api/stop", {}, 200),
                                 ("api/operator", {"name": "Li"}, 409)):
            template = next(r.path for r in routes(hub) if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r.path),
                                                                         "/" + path))
            ask(template, good, "POST", path, json=body)
            ask(template, 400, "POST", path, content=b"[" * 8000 + b"]" * 8000, headers=JSON)
            ask(template, 413, "POST", path, content=b" " * 20000, headers=JSON)
            ask(template, 415, "POST", path, content=b"x", headers={"content-type": "text/plain"})
            ask(template, 403, "POST", path, json=body, headers={"origin": "http://evil.example"})
            ask(template, 405, "GET", path)
        ask("/reports/{path:path}", 200, "GET", "reports/u1.html")
        ask("/reports/{path:path}", 404, "GET", "reports/nothing.html")
        ask("/plan/{path:path}", 200, "GET", "plan/led.png")
        ask("/plan/{path:path}", 404, "GET", "plan/u1.html")
        ask("/static", 200, "GET", "static/panel.js")
        ask("/static", 404, "GET", "static/nothing.js")
        ask("(none)", 404, "GET", "nothing")
        status, headers = _headers(_raw(server.port, b"GARBAGE\r\n\r\n"))  # uvicorn's own 400: not HTTP
        check("(not http)", status, headers)
        body = b"0" * 2000
        status, headers = _headers(_raw(server.port, f"POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                                     f"application/json\r\nContent-Length: {10**9}\r\n\r\n".encode()
                                        + body))
        check("(413 unread)", status, headers)

        def broken(*_: object) -> None:
            raise RuntimeError("a fault of the panel")

        monkeypatch.setattr(hub, "state_message", broken)  # in a route: Starlette's 500
        ask("/api/state", 500, "GET", "api/state")
        monkeypatch.setattr(panel_security, "_loopback_host", broken)  # in the guard: ours
        ask("/", 500, "GET", "")
    with serve(hub, host="127.0.0.1", token=TOKEN) as server, httpx.Client(timeout=5) as client:
        url = server.url
        ask("/", 401, "GET", "")
        ask("/api/state", 401, "GET", "api/state")
        ask("/", 303, "GET", f"?token={TOKEN}")
    every = {r.path for r in routes(hub)} | {"/static"}
    assert every <= set(seen), every - set(seen)
    assert seen["(not http)"] == {400} and seen["(413 unread)"] == {413} and seen["/"] >= {200, 303, 401, 403, 500}
