"""Is the station's store file still the one it opened? A results.db removed, emptied or replaced while
the station runs must stop it: SQLite would go on writing into the removed file, and a new file made under
the same name would hold none of the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REBUILD = "the units' JSON records are in the run folders: 'linegate results rebuild --state-dir DIR' makes it again"


@dataclass(frozen=True)
class StoreFile:
    path: Path
    device: int
    inode: int

    @classmethod
    def opened(cls, path: Path) -> StoreFile:
        found = path.stat()
        return cls(path, found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """What became of the file since it was opened, or None when it is as it was."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return f"{self.path}: the results store was removed while the station ran; {REBUILD}"
        except OSError as e:
            return f"{self.path}: the results store cannot be looked at: {e.strerror or e}"
        if (now.st_dev, now.st_ino) != (self.device, self.inode):
            return f"{self.path}: the results store was replaced by another file while the station ran; {REBUILD}"
        if now.st_size == 0:
            return f"{self.path}: the results store was emptied while the station ran; {REBUILD}"
        return None


__all__ = ["REBUILD", "StoreFile"]
