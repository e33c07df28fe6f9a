"""The files the panel serves: a report from the run folder, a prompt's image from the plan's folder.

Both folders may hold what a local user put there, so a request names a file under the folder and is
answered 404 (None here) for anything else: ``..``, an absolute path, a link leading out (a folder's
``index.html`` too), a link loop, a name the system refuses (too long). ``/plan/`` serves a regular file
whose name and content are an image's (PNG, JPEG, GIF, WebP), read whole through one descriptor, so what
was checked is what is sent: not a folder named ``x.png``, not a script named ``x.png``, not a FIFO.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

IMAGE_NAMES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_IMAGE = 16 * 1024 * 1024
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _inside(base: Path, relative: str) -> Path | None:
    """``relative`` under ``base``, every link followed; None when it leads out or cannot be resolved."""
    if "\x00" in relative:
        return None
    try:
        root = base.resolve()
        target = (root / relative).resolve()
    except (OSError, RuntimeError):  # a loop of links is a RuntimeError up to Python 3.12
        return None
    return target if target == root or root in target.parents else None


def report_file(base: Path | None, relative: str) -> Path | None:
    """The regular file ``relative`` names under ``base`` (a folder: its ``index.html``), or None."""
    if base is None:
        return None
    target = _inside(base, relative)
    try:
        if target is not None and target.is_dir():
            target = _inside(base, str(target / "index.html"))  # which may be a link too
        return target if target is not None and target.is_file() else None
    except OSError:
        return None


def plan_image(base: Path | None, relative: str) -> tuple[bytes, str] | None:
    """The image ``relative`` names under ``base`` and its media type (from its content), or None."""
    if base is None or not relative.lower().endswith(IMAGE_NAMES):
        return None
    target = _inside(base, relative)
    if target is None or not target.name.lower().endswith(IMAGE_NAMES):  # a link to a script
        return None
    try:
        fd = os.open(target, _OPEN)  # no link (swapped in since), no wait on a FIFO
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_IMAGE:  # a folder, a FIFO, a device
            return None
        data = _read(fd, MAX_IMAGE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    kind = image_type(data)
    return (data, kind) if kind is not None and len(data) <= MAX_IMAGE else None


def _read(fd: int, most: int) -> bytes:
    chunks, size = [], 0
    while size < most and (chunk := os.read(fd, min(1 << 20, most - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def image_type(data: bytes) -> str | None:
    """The media type of an image by its first bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
