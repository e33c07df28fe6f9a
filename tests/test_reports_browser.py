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
    dom = chromium(page, "--dump-dom", "--window-size=1280,1600")
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


PROBE = """<script>window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
  const table = document.getElementById("sockets"), style = getComputedStyle(table);
  document.body.setAttribute("data-probe", JSON.stringify({table: box(table), display: style.display,
    visibility: style.visibility, flagged: box(document.querySelector("tr.socket-flagged")),
    rows: document.querySelectorAll("#sockets tbody tr").length}));
});</script>"""


def test_yield_per_socket_on_screen(tmp_path):
    """Four sockets, D failing a third of its units: the table is on the first screen, D's row pink, its flag red."""
    import json
    import re

    from PIL import Image

    records = [make_record(i, socket="ABCD"[i % 4], fail=(i % 4 == 3 and i % 3 == 0) or i == 10)
               for i in range(1, 121)]
    lot = summarize(records, title="lot-4up")
    assert [s.socket for s in lot.sockets.flagged] == ["D"]
    page = tmp_path / "lot.html"
    page.write_text(LotRenderer().render(lot).replace("</body>", PROBE + "</body>"))
    dom, shot = rendered(page, "lot-yield-per-socket")
    probe = json.loads(re.search(r'data-probe="([^"]+)"', dom).group(1).replace("&quot;", '"'))
    _, y, w, h = probe["table"]
    assert probe["display"] == "table" and probe["visibility"] == "visible" and probe["rows"] == 4
    assert w > 400 and h > 60 and 0 <= y and y + h < 1600  # laid out, on the first screen of the screenshot
    assert 'data-socket="D"' in dom and "BELOW THE OTHERS" in dom and 'id="socket-alert"' in dom
    pixels = Image.open(shot).convert("RGB")
    fx, fy, fw, fh = probe["flagged"]
    inside = [(int(fx + dx), int(fy + dy)) for dx in range(2, int(fw) - 2, 3) for dy in range(2, int(fh) - 2, 2)]
    assert sum(_near(pixels.getpixel(xy), (255, 235, 233)) for xy in inside) > 100, "D's row is pink on screen"
    assert sum(_near(pixels.getpixel(xy), (207, 34, 46)) for xy in inside) > 10, "its red flag is on screen"


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True))
