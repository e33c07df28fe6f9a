"""Package discovery for the one import root ``linegate``.

Each top-level folder is a sub-package (``drivers`` -> ``linegate.drivers``); every folder under
it that holds Python files is found here, so a new folder cannot be left out of the wheel.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {"linegate": "src/linegate", **{f"linegate.{d}": d for d in
         ("drivers", "fixtures", "plans", "reports", "station", "station_tests")}}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        for init in sorted(Path(folder).rglob("*.py")):
            parts = init.parent.relative_to(folder).parts
            if "__pycache__" not in parts:
                found.append(".".join((name, *parts)))
    return sorted(set(found))


if __name__ == "__main__":
    setup(packages=packages(), package_dir=ROOTS)
