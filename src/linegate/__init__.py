"""linegate: hardware-in-the-loop factory test stations."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linegate")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
