"""The wheel holds every module: setup.py finds every folder of Python files under the import roots.

CI (.ci/run) also builds the wheel, installs it non-editable and runs the demo from outside the checkout.
"""

from __future__ import annotations

import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_folder_with_python_files_is_a_package_of_the_wheel(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    setup = runpy.run_path(str(REPO / "setup.py"), run_name="linegate_setup")
    packages, roots = set(setup["packages"]()), setup["ROOTS"]
    assert {"linegate.station.gate", "linegate.station.ledger", "linegate.fixtures.sim.cloud"} <= packages
    for name, folder in roots.items():
        for module in (REPO / folder).rglob("*.py"):
            if "__pycache__" in module.parts:
                continue
            package = ".".join((name, *module.parent.relative_to(REPO / folder).parts))
            assert package in packages, f"{module.relative_to(REPO)} would be left out of the wheel"
            assert (module.parent / "__init__.py").is_file(), f"{module.parent.relative_to(REPO)} has no __init__.py"


def test_a_new_folder_is_found_without_listing_it(tmp_path, monkeypatch):
    for folder in ("src/linegate", "drivers/new_kind"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    setup = runpy.run_path(str(REPO / "setup.py"), run_name="linegate_setup")
    assert "linegate.drivers.new_kind" in setup["packages"]()
