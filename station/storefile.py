"""Is a station's store file still the one it opened? A results.db or ledger.db removed, emptied or replaced
while the station runs must stop it: SQLite would go on writing into the removed file (its open
connections keep it), and a file made again under the same name would hold none of what was written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoreFile:
    path: Path
    device: int
    inode: int
    what: str  # how messages name it: "the results store", "the ledger"
    remedy: str  # what to do about it, said after the problem

    @classmethod
    def opened(cls, path: Path, what: str, remedy: str) -> StoreFile:
        found = path.stat()
        return cls(path, found.st_dev, found.st_ino, what, remedy)

    def problem(self) -> str | None:
        """What became of the file since it was opened, or None when it is as it was."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return self._said("was removed while the station ran")
        except OSError as e:
            return f"{self.path}: {self.what} cannot be looked at: {e.strerror or e}"
        if (now.st_dev, now.st_ino) != (self.device, self.inode):
            return self._said("was replaced by another file while the station ran")
        if now.st_size == 0:
            return self._said("was emptied while the station ran")
        return None

    def _said(self, what_happened: str) -> str:
        return f"{self.path}: {self.what} {what_happened}; {self.remedy}"


__all__ = ["StoreFile"]
