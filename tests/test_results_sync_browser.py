"""The results sync's lag in the panel's header, as a browser draws it (headless Chromium, Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from linegate.station.events import ResultsSync
from linegate.station.panel import PanelHub, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "out" / "screenshots" / "panel"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
expect = sync_api.expect
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
TARGET = "postgresql+psycopg://station:***@db/line"


@pytest.mark.parametrize(("lang", "behind", "up_to_date", "refused"), [
    ("en", "12 behind (oldest 3 min)", "up to date", "1 refused by it, set aside"),
    ("zh", "落后 12 台（最早 3 分钟）", "已同步", "1 台被其拒收，已搁置")])  # noqa: RUF001
def test_the_header_says_how_far_behind_the_central_store_is(tmp_path, lang, behind, up_to_date, refused):
    hub = PanelHub("line-3", "esp32-provision", "1.4.0", "ab" * 32, ["A", "B"], lang=lang)
    hub.set_status(pool=812, backlog=3, cloud_ok=True)
    with sync_api.sync_playwright() as p, serve(hub) as server:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        results = page.locator("#status-results")
        expect(page.locator("#status-results-item")).to_be_hidden()  # no central store: nothing shown
        hub(ResultsSync("", target=TARGET, behind=12, oldest_s=185.0, reachable=False,
                        error="OperationalError: connection refused"))
        expect(results).to_have_text(behind)
        expect(results).to_have_attribute("data-ok", "false")
        assert "connection refused" in (results.get_attribute("title") or "")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"results-behind-{lang}.png"))
        hub(ResultsSync("", target=TARGET, behind=0, oldest_s=None, reachable=True))
        expect(results).to_have_text(up_to_date)
        expect(results).to_have_attribute("data-ok", "true")
        assert results.get_attribute("title") == TARGET
        hub(ResultsSync("", target=TARGET, behind=0, oldest_s=None, reachable=True, set_aside=1))
        expect(results).to_have_text(refused)  # the others are in: only the refused one is said, in red
        expect(results).to_have_attribute("data-ok", "false")
        chromium.close()
