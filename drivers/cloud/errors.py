"""Exceptions raised by the cloud clients, and every service code they map.

Library errors (httpx, paho) are converted at the boundary with
``raise ... from e``. Messages name the service, the operation, the URL and
the code; they never contain a token, a secret or a key (see ``redact``).

    CloudError
    ├── AuthError            token/credentials refused (refresh, never retry blindly)
    │   └── Forbidden        valid token, wrong role or scope
    ├── RateLimited          429 / "slow down" codes; ``retry_after`` in seconds
    ├── Unavailable          5xx, transport failure before the request was sent,
    │   │                    and the services' "retry later" codes
    │   └── Unreachable      no connection at all (refused, timed out, no CONNACK)
    ├── UnknownOutcome       the request was sent but no answer came back: the
    │                        service may have acted (look before you retry)
    ├── BadResponse          not the documented envelope: HTML, truncated, not JSON
    └── Rejected             the service refused the request with a code
        ├── InvalidRequest   malformed or missing fields, bad format
        ├── NotFound         unknown identity / group
        ├── AlreadyDone      the identity was already committed (AFS-606, 702, 020100)
        ├── Conflict         the value belongs to another device (AFS-600 MAC/hwsig)
        └── LimitExceeded    licences, product size or reservable maximum exhausted
"""

from __future__ import annotations

import re


class CloudError(Exception):
    """Base of every cloud client error."""

    retryable = False

    def __init__(self, service: str, operation: str, problem: str, *, code: str | int | None = None,
                 url: str = "") -> None:
        self.service = service
        self.operation = operation
        self.code = None if code is None else str(code)
        self.problem = problem
        self.url = safe_url(url)
        where = f"{service} {operation}"
        if self.url:
            where += f" ({self.url})"
        text = f"{where}: {problem}"
        if code is not None:
            text = f"{where}: code {code}: {problem}"
        super().__init__(text)


class AuthError(CloudError):
    """The service refused the credentials (missing, wrong or expired token)."""


class Forbidden(AuthError):
    """The token is valid but lacks the role or scope for this operation."""


class RateLimited(CloudError):
    retryable = True

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(CloudError):
    retryable = True


class Unreachable(Unavailable):
    """No connection to the service at all: refused, connect timeout, no broker answer."""


class UnknownOutcome(CloudError):
    """The request left the station but the answer was lost; the service may have acted."""


class BadResponse(CloudError):
    """The answer is not the service's documented envelope."""


class Rejected(CloudError):
    """The service answered with a refusal code."""


class InvalidRequest(Rejected):
    pass


class NotFound(Rejected):
    pass


class AlreadyDone(Rejected):
    pass


class Conflict(Rejected):
    pass


class LimitExceeded(Rejected):
    pass


class ServiceFailure(Rejected):
    """The service reports an internal failure it does not ask us to retry."""


class RetryLater(Unavailable):
    """A service code that says "try again later" (YoSmart 010000, AFS-605...)."""


# Every code of ../shared/specs/cloud-apis.md, per service: (exception, meaning).
YOSMART_CODES: dict[str, tuple[type[CloudError], str]] = {
    "000103": (AuthError, "token invalid"),
    "010000": (RetryLater, "service unavailable, retry later"),
    "010001": (RetryLater, "service unavailable, retry later"),
    "010101": (AuthError, "bad CSID"),
    "010102": (AuthError, "bad SecKey"),
    "010103": (AuthError, "bad Authorization"),
    "010104": (AuthError, "token expired"),
    "010200": (InvalidRequest, "malformed request"),
    "010201": (InvalidRequest, "malformed request"),
    "010202": (InvalidRequest, "malformed request"),
    "010203": (InvalidRequest, "malformed request"),
    "010204": (InvalidRequest, "malformed request"),
    "010300": (LimitExceeded, "interface restricted (quota or licences exhausted)"),
    "010301": (RateLimited, "rate limited"),
    "020100": (AlreadyDone, "device bound by another user"),
    "020101": (NotFound, "device does not exist"),
    "020104": (RetryLater, "device busy, retry later"),
    "999999": (ServiceFailure, "unknown error"),
}

AYLA_CODES: dict[str, tuple[type[CloudError], str]] = {
    "AFS-600": (Conflict, "failures while processing"),
    "AFS-601": (InvalidRequest, "invalid model"),
    "AFS-602": (InvalidRequest, "count is not an integer in 1..1000"),
    "AFS-603": (InvalidRequest, "count too low"),
    "AFS-604": (LimitExceeded, "over the reservable maximum"),
    "AFS-605": (RetryLater, "not enough reservable devices, retry later"),
    "AFS-606": (AlreadyDone, "device already manufactured"),
    "AFS-607": (InvalidRequest, "missing required attributes"),
    "AFS-608": (InvalidRequest, "bad dom_at format"),
}

ENOS_DPS_CODES: dict[str, tuple[type[CloudError], str]] = {
    "35400": (InvalidRequest, "orgId/sn is required"),
    "35404": (NotFound, "group or device group not found"),
    "35601": (NotFound, "sn not found, invalid or duplicated"),
    "35603": (Forbidden, "service account lacks the DPS role"),
    "99400": (InvalidRequest, "invalid argument"),
}

# API gateway (apim) codes. 1002 is the emulator's answer to a bad signature:
# the public docs list no code for it, so it is an AuthError like 1203.
ENOS_GATEWAY_CODES: dict[str, tuple[type[CloudError], str]] = {
    "1001": (Unavailable, "replayed request (stale timestamp or reused signature)"),
    "1002": (AuthError, "signature verification failed"),
    "1203": (AuthError, "access token expired"),
}

ENOS_MQTT_CODES: dict[str, tuple[type[CloudError], str]] = {
    "702": (AlreadyDone, "deviceKey exists"),
    "714": (ServiceFailure, "deviceKey generation failed"),
    "739": (LimitExceeded, "product device limit exceeded"),
    "1220": (InvalidRequest, "bad JSON"),
    "1251": (InvalidRequest, "empty payload"),
    "1260": (InvalidRequest, "method does not match topic"),
}

AYLA_HTTP_STATUS: dict[int, tuple[type[CloudError], str]] = {
    401: (AuthError, "unrecognised or expired auth_token"),
    403: (Forbidden, "the token's role may not call this operation"),
    404: (NotFound, "unknown DSN"),
}


def from_code(table: dict[str, tuple[type[CloudError], str]], service: str, operation: str, code: str | int,
              message: str, url: str = "") -> CloudError:
    """The typed error for a service code; unknown codes are a plain ``Rejected``."""
    cls, meaning = table.get(str(code), (Rejected, "unlisted code"))
    detail = redact(message) if message else meaning
    if message and meaning not in detail:
        detail = f"{meaning}: {detail}"
    return cls(service, operation, detail, code=code, url=url)


# Everything between "scheme://" and the last "@" of a run of non-space characters is user information:
# a password may hold "#", "/", "?" or ":", which end a URL's authority for a parser but not for a leak.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>\S*)@")
_QUERY_SECRET = re.compile(r"([?&;](?:token|access_token|key|secret|password|signature|sig)=)[^&#\s]*", re.I)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["info"].partition(":")
    plain = colon and user and not any(c in user for c in "/?#")
    return f"{match['scheme']}{user}:***@" if plain else f"{match['scheme']}***@"


def safe_url(url: str) -> str:
    """``url`` with its password (or user information that may be a token, or a secret query value)
    replaced by ``***``. The user name of ``user:password@`` stays: it says which account. Works on
    text that does not parse as a URL too: that is where a mistyped password is printed."""
    if not url:
        return url
    return _QUERY_SECRET.sub(r"\1***", _USERINFO.sub(_mask_userinfo, url))


_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.S)
_HEXISH = re.compile(r"\b[0-9A-Fa-f]{32,}\b")
_SECRET_FIELD = re.compile(
    r'("?(?:token|accessToken|access_token|auth_token|deviceSecret|device_secret|secret|password|'
    r'private_key|privateKey|appSecret|encryption|signature)"?\s*[:=]\s*"?)([^",}\s]+)',
    re.I,
)


def redact(text: str, limit: int = 200) -> str:
    """Text from a service made safe for a message: keys, tokens and long hex cut out."""
    text = safe_url(text)
    text = _PEM.sub("<redacted key>", text)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + "<redacted>", text)
    text = _HEXISH.sub("<redacted>", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def redact_value(value: str | None, keep: int = 4) -> str:
    """The form a secret or identity may take in a report: its length and last characters."""
    if not value:
        return "<none>"
    if len(value) <= keep * 2:
        return f"<redacted {len(value)} chars>"
    return f"…{value[-keep:]} ({len(value)} chars)"
