"""Reports as a person sees them: rendered by headless Chromium (Debian's package), DOM read after the
scripts ran, and a screenshot kept under out/screenshots/ whose pixels show the verdict's colour."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from linegate.reports import UnitReportRenderer
from linegate.reports.lot import LotRenderer, summarize
from synthetic import make_record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "out" / "screenshots"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=3000", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def rendered(page: Path, name: str) -> tuple[str, Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}.png"
    taken = chromium(page, f"--screenshot={shot}", "--window-size=1280,1600")
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-1000:]
    dom = chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-1000:]
    return dom.stdout, shot


def test_unit_report_on_screen(tmp_path):
    from PIL import Image

    page = tmp_path / "unit.html"
    page.write_text(UnitReportRenderer().render(make_record(7, fail=True)))
    dom, shot = rendered(page, "unit-report-fail")
    assert 'id="lg-verdict">FAIL<' in dom
    assert "First failure in step step_1" in dom
    assert 'class="lg-row-fail" data-measurement="current_1_0"' in dom
    assert dom.count('class="lg-gauge"') >= 20
    assert "step_1" in dom and 'class="col-result">Failed<' in dom  # pytest-html's table, built by its script
    pixels = Image.open(shot).convert("RGB")
    grid = [(x, y) for x in range(0, 400, 4) for y in range(0, 400, 4)]
    banner = [xy for xy in grid if _near(pixels.getpixel(xy), (207, 34, 46))]
    assert len(banner) > 50, "the FAIL banner's red is on the first screen"


def test_lot_summary_on_screen(tmp_path):
    records = [make_record(i, fail=i % 7 == 0) for i in range(1, 60)]
    page = tmp_path / "lot.html"
    page.write_text(LotRenderer().render(summarize(records, title="lot-42")))
    dom, shot = rendered(page, "lot-summary")
    assert 'id="kpi-yield"' in dom and "86.4%" in dom
    assert dom.count('class="lg-hist"') == 20 and 'class="lg-limit"' in dom
    assert 'id="pareto"' in dom and "step_1: current_1_0" in dom
    assert shot.exists()


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True))
