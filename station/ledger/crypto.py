"""Secrets at rest in the ledger: AES-256-GCM, key from ``LINEGATE_LEDGER_KEY`` or a 0600 key file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from linegate.errors import BadInput

ENV = "LINEGATE_LEDGER_KEY"
NONCE = 12
FINGERPRINT_LABEL = b"linegate ledger key fingerprint v1"


class LedgerKeyError(BadInput):
    """The ledger key is missing, malformed or not the one the secrets were sealed with."""


def _decode(text: str, where: str) -> bytes:
    text = text.strip()
    for decode in (bytes.fromhex, base64.b64decode):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise LedgerKeyError(f"{where}: expected 32 bytes as 64 hex digits or base64")


def key_from_env() -> bytes | None:
    """The key ``LINEGATE_LEDGER_KEY`` holds, or None when it is not set."""
    text = os.environ.get(ENV)
    return _decode(text, ENV) if text else None


def read_key(key_file: Path) -> bytes:
    try:
        text = key_file.read_text()
    except OSError as e:
        raise LedgerKeyError(f"{key_file}: cannot read the ledger key: {e.strerror or e}") from e
    return _decode(text, str(key_file))


def create_key(key_file: Path) -> bytes:
    """A fresh key in a new 0600 file (never over an existing one)."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return read_key(key_file)


def fingerprint(key: bytes) -> str:
    """What the ledger stores to recognise its key: an HMAC of a fixed label, never the key itself."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """``context`` (service/identity) is authenticated: a sealed secret cannot be moved to another row."""
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], context.encode())
        except InvalidTag:
            raise LedgerKeyError(f"secret of {context} does not open with this ledger key") from None
