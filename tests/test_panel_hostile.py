"""The panel against a hostile local user (issue 19): oversized bodies, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from linegate.station.panel import TOKEN_ENV, PanelHub, PanelServer, serve

JSON = {"content-type": "application/json"}
LIMIT = 16 * 1024


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
