"""What the three HTTP clients share: one ``httpx.Client``, one retry policy, one boundary.

Each call is built afresh for every attempt (EnOS needs a new timestamp and
signature each time), sent, and its answer turned into data or a typed error.
Retries use stamina: exponential backoff with jitter on ``Unavailable`` and
``RateLimited`` (``Retry-After`` honoured), never on anything else.
"""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import stamina
from linegate.drivers.cloud.errors import (
    BadResponse,
    CloudError,
    RateLimited,
    Unavailable,
    UnknownOutcome,
    Unreachable,
    redact,
)

T = TypeVar("T")

# Transport failures that prove the request never reached the service.
_NO_CONNECTION = (httpx.ConnectError, httpx.ConnectTimeout)
_NOT_SENT = (httpx.PoolTimeout, httpx.UnsupportedProtocol)
# A start-up check waits this long for a connection (not for the answer: a slow service is not a dead one).
CHECK_CONNECT_S = 3.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_jitter: float = 0.1
    total_timeout: float = 60.0
    max_retry_after: float = 30.0


@dataclass(frozen=True)
class CallInfo:
    """How the last call of this thread went, for the unit record."""

    service: str
    operation: str
    attempts: int
    seconds: float
    ok: bool
    code: str | None = None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:  # delay-seconds (some services send fractions)
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpService:
    """Base of a JSON-over-HTTP provisioning client."""

    service = "cloud"

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
    ) -> None:
        # ``user:password@`` leaves the URL for an explicit basic auth: httpx logs every request's URL
        # (and puts it in its errors), so the URL it holds must not carry the password.
        self.base_url, auth = split_userinfo(base_url.rstrip("/"))
        self.retry = retry or RetryPolicy()
        self._own_client = client is None
        self._client = client or httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=timeout,
            verify=_ssl_context(verify, cert) if cert or isinstance(verify, str) else verify,
            headers={"Accept": "application/json", "User-Agent": "linegate"},
        )
        self._local = threading.local()

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def last_call(self) -> CallInfo | None:
        return getattr(self._local, "last_call", None)

    @contextmanager
    def checking(self, connect_s: float = CHECK_CONNECT_S) -> Iterator[None]:
        """Calls in this block (this thread only) are tried once, with a ``connect_s`` connect timeout:
        a station's start-up check fails in seconds instead of retrying for a minute."""
        self._local.check_connect_s = connect_s
        try:
            yield
        finally:
            self._local.check_connect_s = None

    # -- the one call path -----------------------------------------------
    def _call(
        self,
        operation: str,
        build: Callable[[], httpx.Request],
        parse: Callable[[httpx.Response], T],
        *,
        idempotent: bool,
        auth: httpx.Auth | None = None,
    ) -> T:
        """``auth`` replaces the client's for a request to another host than ``base_url`` (whose basic
        auth it must not get); ``httpx.Auth()`` sends none."""
        attempts = 0
        started = time.perf_counter()
        policy = self.retry
        checking = getattr(self._local, "check_connect_s", None) is not None
        try:
            for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=1 if checking else policy.attempts,
                timeout=policy.total_timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempts += 1
                    request = build()
                    response = self._send(operation, request, idempotent, auth)
                    result = parse(response)
        except CloudError as e:
            self._local.last_call = CallInfo(self.service, operation, attempts,
                                             time.perf_counter() - started, False, e.code)
            raise
        self._local.last_call = CallInfo(self.service, operation, attempts, time.perf_counter() - started, True)
        return result

    def _backoff(self, exc: BaseException) -> bool | float:
        if getattr(exc, "retry_now", False):
            return 0.0
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_retry_after)
        return isinstance(exc, CloudError) and exc.retryable

    def _send(self, operation: str, request: httpx.Request, idempotent: bool,
              auth: httpx.Auth | None = None) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        connect_s = getattr(self._local, "check_connect_s", None)
        if connect_s is not None:
            request.extensions["timeout"] = {**request.extensions.get("timeout", {}), "connect": connect_s}
        try:
            return self._client.send(request, auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth)
        except _NO_CONNECTION as e:
            raise Unreachable(self.service, operation,
                              f"cannot reach the service ({type(e).__name__}: {redact(str(e), 80) or 'no detail'})",
                              url=url) from e
        except _NOT_SENT as e:
            raise Unavailable(self.service, operation, f"cannot reach the service: {type(e).__name__}",
                              url=url) from e
        except httpx.TransportError as e:
            problem = f"no answer ({type(e).__name__}: {redact(str(e), 80)})"
            if idempotent:
                raise Unavailable(self.service, operation, problem, url=url) from e
            raise UnknownOutcome(self.service, operation, problem + "; the service may have acted",
                                 url=url) from e

    # -- parsing helpers ---------------------------------------------------
    def _url(self, response: httpx.Response) -> str:
        return str(response.request.url.copy_with(query=None))

    def _check_transport_status(self, operation: str, response: httpx.Response) -> None:
        """Status codes every service means the same way: 429 and 5xx."""
        status = response.status_code
        if status == 429:
            raise RateLimited(self.service, operation, "HTTP 429 Too Many Requests", code=429,
                              url=self._url(response),
                              retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise Unavailable(self.service, operation, f"HTTP {status} {response.reason_phrase}",
                              code=status, url=self._url(response))

    def _json(self, operation: str, response: httpx.Response) -> Any:
        ctype = response.headers.get("content-type", "")
        url = self._url(response)
        if "json" not in ctype.lower():
            shown = redact(response.text[:80], 80) if response.content else "empty body"
            raise BadResponse(self.service, operation,
                              f"HTTP {response.status_code} with {ctype or 'no content type'}, not JSON: {shown!r}",
                              url=url)
        try:
            return response.json()
        except ValueError as e:
            raise BadResponse(self.service, operation,
                              f"HTTP {response.status_code}: body is not valid JSON "
                              f"({len(response.content)} bytes, truncated?)", url=url) from e

    def _bad(self, operation: str, what: str, response: httpx.Response | None = None, path: str = "") -> BadResponse:
        """An answer that is not the documented envelope (named by the response, or by ``path``)."""
        if response is None:
            return BadResponse(self.service, operation, f"unexpected envelope: {what}", url=self.base_url + path)
        return BadResponse(self.service, operation, f"HTTP {response.status_code}: unexpected envelope: {what}",
                           url=self._url(response))


def split_userinfo(url: str) -> tuple[str, httpx.BasicAuth | None]:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))


def _ssl_context(verify: bool | str, cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    """CA bundle (``verify`` as a path) and optional client certificate for mutual TLS."""
    ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if isinstance(cert, tuple):
        ctx.load_cert_chain(cert[0], cert[1])
    elif cert:
        ctx.load_cert_chain(cert)
    return ctx
