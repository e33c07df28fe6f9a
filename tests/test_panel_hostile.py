"""The panel against a hostile local user (issue 19): oversized bodies, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from linegate.station.events import Prompt
from linegate.station.panel import TOKEN_ENV, PanelHub, PanelServer, serve
from linegate.station.panel.security import COOKIE

JSON = {"content-type": "application/json"}
LIMIT = 16 * 1024
TOKEN = "s3cret-token-for-the-panel-0123"


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)


def make_hub() -> PanelHub:
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A", "B"])
    hub.on_stop = lambda socket: None
    return hub


def raw_exchange(server: PanelServer, head: bytes, body: bytes = b"", timeout: float = 5) -> bytes:
    """What the server answers ``head`` + ``body`` on a fresh connection, until it closes or ``timeout``."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(head + body)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
                if b"\r\n\r\n" in got and b'"reason"' in got:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return got


def post_head(server: PanelServer, path: str, *lines: str) -> bytes:
    return "".join([f"POST {path} HTTP/1.1\r\n", f"Host: 127.0.0.1:{server.port}\r\n",
                    "Content-Type: application/json\r\n", *(line + "\r\n" for line in lines), "\r\n"]).encode()


BODY_ROUTES = ("/api/sockets/A/serial", "/api/sockets/A/override", "/api/prompts/p-1", "/api/stop", "/api/operator")


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_content_length_over_the_limit_is_refused_before_the_body_is_read(path):
    with serve(make_hub()) as server:
        started = time.monotonic()
        answer = raw_exchange(server, post_head(server, path, "Content-Length: 1000000000"), b"{}")
        took = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b'"the request is too large"' in answer and took < 2, took
        with httpx.Client() as client:  # the server goes on
            assert client.get(server.url + "api/state").status_code == 200


@pytest.mark.parametrize(("content_type", "status"), [("application/json", 413), ("text/plain", 415)])
def test_a_chunked_body_is_read_no_further_than_the_limit(content_type, status):
    """Over the limit (413) or refused by the guard before it is read (415): the server stops reading."""
    produced = 0

    def body() -> Iterator[bytes]:
        nonlocal produced
        chunk = b" " * 65536
        for _ in range(2048):  # 128 MiB, if the server read on
            produced += len(chunk)
            yield chunk

    with serve(make_hub()) as server, httpx.Client(timeout=30) as client:
        try:
            answer = client.post(server.url + "api/stop", content=body(), headers={"content-type": content_type})
        except httpx.TransportError:  # the server closed the connection at the limit, before we read its answer
            pass
        else:
            assert answer.status_code == status, answer.text
        assert produced < 16 * 1024 * 1024, f"the server read on to {produced} bytes"
        assert client.get(server.url + "api/state").status_code == 200


def test_a_chunked_body_within_the_limit_is_taken():
    stops: list[str | None] = []
    hub = make_hub()
    hub.on_stop = stops.append
    with serve(hub) as server, httpx.Client() as client:
        parts = iter([b'{"socket"', b': "B"', b" " * (LIMIT - 20), b"}"])
        answer = client.post(server.url + "api/stop", content=parts, headers=JSON)
        assert answer.status_code == 200 and stops == ["B"]
        too_big = client.post(server.url + "api/stop", content=b'{"socket": "B"}' + b" " * LIMIT, headers=JSON)
        assert too_big.status_code == 413 and stops == ["B"]


DEEP = b"[" * 8000 + b"]" * 8000  # 16,000 bytes: within the size limit, far past any sane nesting
BAD_JSON = {"array": DEEP, "in-object": b'{"serial": ' + DEEP[:7990] + b"}",
            "objects": b'{"x": ' + b'{"a":' * 2500 + b"1" + b"}" * 2501,
            "nan": b'{"answer": NaN}', "infinity": b'{"answer": -Infinity}', "overflow": b'{"answer": 1e999}',
            "digits": b'{"answer": 1' + b"0" * 5000 + b"}", "utf8": b"\xff\xfe{}", "cut": b'{"answer": "yes"',
            # a lone surrogate is no character: stored on a tile, it made every later /api/state a 500
            "surrogate": b'{"serial": "\\ud800", "socket": "\\ud800", "answer": "\\udfff", "operator": "\\ud800"}'}


def _ours(capfd, caplog) -> str:
    """What the station's console got: its stderr and stdout and every log record but the test client's."""
    out, err = capfd.readouterr()
    records = [logging.Formatter().format(r) for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    return "\n".join([out, err, *records]).strip()


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_json_that_is_no_sane_object_is_a_400_and_nothing_on_the_console(path, body, capfd, caplog):
    caplog.set_level(logging.INFO)
    hub = make_hub()
    hub(Prompt("A", index=1, prompt_id="p-1", text="Is the LED green?", options=("yes", "no")))
    with serve(hub) as server, httpx.Client() as client:
        capfd.readouterr()
        answer = client.post(server.url + path.lstrip("/"), content=body, headers=JSON)
        assert (answer.status_code, answer.json()) == (400, {"accepted": False,
                                                             "reason": "the request is not a JSON object"})
        assert client.get(server.url + "api/state").status_code == 200
    assert _ours(capfd, caplog) == ""


def test_json_a_few_levels_deep_is_still_read():
    hub = make_hub()
    with serve(hub) as server, httpx.Client() as client:
        answer = client.post(server.url + "api/stop", json={"socket": "B", "note": [[[[{"a": [1, "]]]"]}]]]]})
        assert answer.status_code == 200


@pytest.mark.parametrize(("header", "value"), [("host", "["), ("host", "[::1"), ("host", "[zz]:80"),
                                               ("origin", "http://["), ("origin", "http://[::1")])
def test_a_host_or_origin_that_is_no_address_is_refused_403_not_a_500(header, value, capfd, caplog):
    caplog.set_level(logging.INFO)
    with serve(make_hub()) as server:
        capfd.readouterr()
        lines = {"host": f"Host: {value}", "origin": f"Origin: {value}"}
        head = (f"POST /api/stop HTTP/1.1\r\n{lines[header]}\r\n"
                + (f"Host: 127.0.0.1:{server.port}\r\n" if header != "host" else "")
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n").encode()
        answer = raw_exchange(server, head, b"{}")
        assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    assert _ours(capfd, caplog) == ""


def test_a_cookie_header_is_read_in_linear_time():
    """http.cookies of Python 3.11.7 takes about a second on a 15 KB quoted cookie (CVE-2024-7592), on the
    server's loop: every browser's stream stalls. The panel reads its one cookie itself."""
    with serve(make_hub(), host="127.0.0.1", token=TOKEN) as server:
        head = (f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f'Cookie: {COOKIE}="' + "\\" * 15000 + '"\r\n\r\n').encode()
        started = time.monotonic()
        for _ in range(10):
            assert raw_exchange(server, head).startswith(b"HTTP/1.1 401 ")
        assert time.monotonic() - started < 2


def test_the_cookie_still_opens_the_panel_among_others():
    with serve(make_hub(), host="127.0.0.1", token=TOKEN) as server, httpx.Client() as client:
        base = server.url
        assert client.get(base + f"?token={TOKEN}").status_code == 303
        value = client.cookies[COOKIE]
        assert client.get(base + "api/state").status_code == 200
        for cookie in (f"a=1; {COOKIE}={value}; b=2", f'{COOKIE}="{value}"', f"{COOKIE}=wrong; {COOKIE}={value}"):
            answer = httpx.get(base + "api/state", headers={"cookie": cookie})
            assert answer.status_code == 200, cookie
        for cookie in (f"{COOKIE}=", f"{COOKIE}={value[:-1]}", f"x{COOKIE}={value}", "", ";;;", f"{COOKIE}"):
            assert httpx.get(base + "api/state", headers={"cookie": cookie}).status_code == 401, cookie
