"""The operator panel as a person uses it: real headless Chromium (Debian's) driven by Playwright, a real hub and
server, a scripted station sending real events. Screenshots go to out/screenshots/panel/ (look at them)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from linegate.station.panel import PanelHub, serve
from linegate.station.panel.i18n import catalogue
from panelkit import PLAN, started, step_events, unit_begin, unit_end, whole_unit
from panelstation import ScriptedStation

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "out" / "screenshots" / "panel"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
expect = sync_api.expect
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
TOKEN = "panel-token-0123456789abcdef"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def hub_of(sockets: list[str], lang: str = "en", run: Path | None = None) -> PanelHub:
    hub = PanelHub("line-3 / station 2", "esp32-provision", "1.4.0", "ab12cd34ef56" * 5 + "7890", sockets,
                   operator="Mei", lang=lang, reports_base=str(run) if run else None,
                   plan_dir=str(run) if run else None)
    hub.set_status(pool=812, backlog=3, cloud_ok=True)
    return hub


def test_two_sockets_scanned_run_live_answer_a_prompt_and_end_pass_and_fail(browser, tmp_path):
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (240, 140), "#20262d")
    ImageDraw.Draw(picture).ellipse((90, 40, 150, 100), fill="#2ecc40")
    picture.save(tmp_path / "led.png")
    hub = hub_of(["A", "B"], run=tmp_path)
    station = ScriptedStation(hub, tmp_path, fails={"SN-000002": "rf_power"}, ask={"A": "led_check"},
                              hold={"B": "rf_power"}, image="led.png")
    with serve(hub) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        a, b = page.locator('[data-socket="A"]'), page.locator('[data-socket="B"]')
        expect(a.locator("input[type=text]")).to_be_focused()
        assert a.locator("input[type=text]").count() == 1 and b.locator("input[type=text]").count() == 1

        page.keyboard.type("BAD-1")  # a keyboard-wedge scanner: the characters, then Enter
        page.keyboard.press("Enter")
        expect(a.locator('[data-role="scan-msg"]')).to_have_text("Refused: does not match ^SN-[0-9]{6}$")
        assert station.scans == [("A", "BAD-1")] and station.units == {}
        shot(page, "refused-scan-1280x800")
        page.keyboard.type("SN-000001")  # the refused text is selected: the next scan replaces it
        page.keyboard.press("Enter")
        expect(b.locator("input[type=text]")).to_be_focused()  # the next free socket takes the next scan
        page.keyboard.type("SN-000002")
        page.keyboard.press("Enter")
        expect(b.locator('[data-role="unit-serial"]')).to_have_text("SN-000002")  # its unit started
        assert station.scans[1:] == [("A", "SN-000001"), ("B", "SN-000002")]

        expect(a).to_have_attribute("data-state", "testing")
        expect(b.locator(".steps li").nth(1)).to_be_visible()  # B is held in its third step, rf_power
        expect(b.locator(".meas tr").first).to_contain_text("vbus")
        running = b.locator('.steps li[data-outcome="running"] .dur')
        expect(running).to_have_text(re.compile(r"^\d+\.\d s$"))
        before = running.text_content()
        page.wait_for_timeout(400)
        assert running.text_content() != before  # its duration runs live
        expect(a.locator('[data-role="prompt"]')).to_be_visible()  # A asks in its fourth step
        expect(a.locator('[data-role="current-step"]')).to_have_text("led_check")
        expect(a.locator('[data-role="prompt-text"]')).to_have_text("Is the green LED on?")
        expect(a.locator('[data-role="prompt-image"]')).to_have_js_property("naturalWidth", 240)
        shot(page, "live-prompt-1280x800")
        page.set_viewport_size({"width": 1024, "height": 600})
        shot(page, "live-prompt-1024x600")
        page.set_viewport_size({"width": 1280, "height": 800})
        a.locator("button.yes").click()
        expect(a.locator('[data-role="prompt"]')).to_be_hidden()
        assert station.answers == [("p-A-1", "yes")]

        page.reload()  # mid-unit: B is held in rf_power; what it did is there at once
        expect(b).to_have_attribute("data-state", "testing", timeout=1500)
        expect(b.locator('.steps li[data-outcome="pass"]')).to_have_count(2, timeout=1500)
        expect(b.locator(".meas tr")).to_have_count(3, timeout=1500)
        station.release("B")

        expect(a.locator('[data-role="verdict"]')).to_have_text("PASS", timeout=10_000)
        expect(b.locator('[data-role="verdict"]')).to_have_text("FAIL", timeout=10_000)
        expect(b.locator('[data-role="failure"]')).to_contain_text("rf_power")
        expect(page.locator("#count-tested")).to_have_text("2")
        expect(page.locator("#count-yield")).to_have_text("50.0%")
        report = a.locator('[data-role="report"]')
        expect(report).to_be_visible()
        assert page.request.get(server.url.rstrip("/") + report.get_attribute("href")).ok
        shot(page, "pass-fail-1280x800")
        page.set_viewport_size({"width": 1024, "height": 600})
        shot(page, "pass-fail-1024x600")
        station.join()


def test_every_kind_of_prompt_is_answered_in_the_tile(browser):
    hub = hub_of(["A"])
    answers: list[tuple[str, str]] = []
    hub.on_answer = lambda prompt_id, answer: (answers.append((prompt_id, answer)) or True, "")
    hub(unit_begin("A", 1, "SN-000001"))
    with serve(hub) as server:
        page = browser.new_page(viewport={"width": 1024, "height": 600})
        page.goto(server.url)
        a = page.locator('[data-socket="A"]')
        from linegate.station.events import Prompt

        hub(Prompt("A", index=1, prompt_id="c", text="Which LED is lit?", options=("red", "green", "blue"),
                   ask="choose"))
        a.get_by_role("button", name="green").click()
        expect(a.locator('[data-role="prompt"]')).to_be_hidden()
        hub(Prompt("A", index=1, prompt_id="t", text="Type the label's batch code", ask="text"))
        expect(a.locator('[data-role="answer"]')).to_be_visible()
        a.locator('[data-role="answer"]').fill("B-17")
        a.locator('[data-role="answer"]').press("Enter")
        expect(a.locator('[data-role="prompt"]')).to_be_hidden()
        hub(Prompt("A", index=1, prompt_id="n", text="Supply voltage on TP3?", ask="number", low=3.0, high=3.6,
                   units="V", timeout_s=90))
        expect(a.locator('[data-role="prompt-hint"]')).to_have_text("Between 3 and 3.6 V")
        expect(a.locator('[data-role="prompt-time"]')).to_have_text(re.compile(r"^(89|90) s left to answer$"))
        assert a.locator('[data-role="answer"]').get_attribute("type") == "number"
        a.locator('[data-role="answer"]').fill("3.31")
        a.locator("button.ok").click()
        expect(a.locator('[data-role="prompt"]')).to_be_hidden()
        assert answers == [("c", "green"), ("t", "B-17"), ("n", "3.31")]
        assert a.locator("input[type=text]").count() == 1  # the answer field is not a second text input


def test_the_panel_speaks_chinese(browser):
    hub = hub_of(["A", "B"], lang="zh")
    for event in [started("A"), started("B"), *whole_unit("B", 1, "SN-000001", fail_step="rf_power"),
                  unit_begin("A", 2, "SN-000002"), *step_events("A", 2, PLAN[0], 1)]:
        hub(event)
    with serve(hub) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        b = page.locator('[data-socket="B"]')
        expect(b.locator('[data-role="verdict"]')).to_have_text("FAIL")
        expect(b.locator('[data-role="verdict-word"]')).to_have_text(catalogue("zh")["verdict.FAIL"])
        expect(page.locator('[data-socket="A"] [data-role="state"]')).to_have_text("测试中")
        expect(page.locator('[data-msg="header.station"]')).to_have_text("工位")
        expect(page.locator('[data-socket="A"] input[type=text]')).to_have_attribute("placeholder", "请扫描序列号")
        assert page.title() == "测试工位" and page.locator("html").get_attribute("lang") == "zh"
        shot(page, "zh-1280x800")


def test_eight_sockets_fit_the_screen(browser):
    hub = hub_of([f"S{i}" for i in range(1, 9)])
    for i in range(1, 9):
        name = f"S{i}"
        if i in (1, 2, 3):
            events = whole_unit(name, i, f"SN-00000{i}", fail_step="rf_power" if i == 2 else None)
        elif i == 4:
            events = [unit_begin(name, i, None), *step_events(name, i, PLAN[0], 1), *unit_end(name, i, None, "ERROR",
                      "Step power_on failed: the jig's DMM did not answer.")]
        else:
            events = [unit_begin(name, i, f"SN-00000{i}"), *step_events(name, i, PLAN[0], 1),
                      step_events(name, i, PLAN[1], 2)[0]]
        for event in events:
            hub(event)
    with serve(hub) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        expect(page.locator('[data-socket="S4"] [data-role="verdict"]')).to_have_text("ERROR")
        boxes = [page.locator(f'[data-socket="S{i}"]').bounding_box() for i in range(1, 9)]
        assert all(box and box["y"] + box["height"] <= 800 and box["x"] + box["width"] <= 1280 for box in boxes)
        shot(page, "eight-sockets-1280x800")


def test_on_a_network_bind_the_browser_needs_the_token(browser, tmp_path):
    hub = hub_of(["A"])
    station = ScriptedStation(hub, tmp_path)
    with serve(hub, host="0.0.0.0", token=TOKEN) as server:
        base = f"http://127.0.0.1:{server.port}/"
        page = browser.new_page(viewport={"width": 1024, "height": 600})
        assert page.goto(base).status == 401
        assert page.goto(base + f"?token={TOKEN}").status == 200 and page.url == base  # the token left the URL
        page.locator('[data-socket="A"] input[type=text]').fill("SN-000009")
        page.keyboard.press("Enter")
        expect(page.locator('[data-socket="A"] [data-role="verdict"]')).to_have_text("PASS", timeout=10_000)
        assert station.scans == [("A", "SN-000009")]
        stranger = browser.new_page()
        assert stranger.request.post(base + "api/stop", data="{}", headers={"content-type": "application/json"}
                                     ).status == 401
        station.join()


def test_a_real_two_socket_station_driven_from_the_browser(browser, tmp_path):
    """Real worker processes on simulated modules (ptys): serials scanned in the tiles start the units,
    each station test's question is answered in its tile, PASS and FAIL show, the records say who."""
    import threading

    from linegate.fixtures.config import load_fixture
    from linegate.fixtures.sim.jig import SimulatedLine
    from linegate.plans import load_plan
    from linegate.plans.serial import SerialSpec
    from linegate.station.cli import sockets_like
    from linegate.station.engine.controls import StationControls
    from linegate.station.engine.options import LineOptions, StationServices
    from linegate.station.engine.scanned import ScannedUnits
    from linegate.station.run import run_sockets

    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "browser_steps.py").write_text(
        "def test_look(operator, measure):\n    measure('led', operator.confirm('Is the LED green?'))\n")
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("name: browser\nversion: '1'\nstation_tests: tests\nserial: {regex: 'SN-\\d{3}'}\nsteps:\n"
                         "  - name: look\n    test: browser_steps.py::test_look\n    measurements:\n"
                         "      - {name: led, equals: true}\n")
    plan = load_plan(plan_file)
    config = load_fixture(repo / "fixtures" / "sim-station.yaml")
    two = config.model_copy(update={"sockets": sockets_like(config.sockets[0], 2)})
    hub = PanelHub(two.station, plan.name, plan.version, plan.sha256, ["A", "B"], plan_dir=str(tmp_path))
    units, controls = ScannedUnits(2, SerialSpec(regex=r"SN-\d{3}")), StationControls()
    hub.on_serial, hub.on_answer, hub.on_stop, hub.on_operator = (units.submit, controls.answer, controls.stop,
                                                                  controls.set_operator)
    done: dict = {}
    with SimulatedLine(two, base=tmp_path / "ptys") as line, serve(hub) as server:
        real = line.config.model_copy(update={"simulated": None})
        run = threading.Thread(target=lambda: done.setdefault("result", run_sockets(
            real, plan, units=units, probe=None, options=LineOptions(tmp_path / "out"),
            services=StationServices(events=hub, controls=controls))))
        run.start()
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        a, b = page.locator('[data-socket="A"]'), page.locator('[data-socket="B"]')
        import time

        deadline = time.monotonic() + 30
        while len(units.waiting()) < 2 and time.monotonic() < deadline:  # both workers up, asking for a unit
            time.sleep(0.05)
        for tile, serial in ((a, "XX-1"), (a, "SN-101"), (b, "SN-102")):
            field = tile.locator("input[type=text]")
            expect(field).to_be_enabled(timeout=20_000)
            field.fill(serial)
            field.press("Enter")
            if serial == "XX-1":
                expect(a.locator('[data-role="scan-msg"]')).to_contain_text("does not match the plan's form")
        for tile, button in ((a, "button.yes"), (b, "button.no")):
            expect(tile.locator('[data-role="prompt-text"]')).to_have_text("Is the LED green?", timeout=20_000)
            tile.locator(button).click()
        expect(a.locator('[data-role="verdict"]')).to_have_text("PASS", timeout=20_000)
        expect(b.locator('[data-role="verdict"]')).to_have_text("FAIL", timeout=20_000)
        shot(page, "real-station-1280x800")
        report = browser.new_page()  # pytest-html's script runs under the reports' CSP (its hash), nothing refused
        refused: list[str] = []
        report.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        report.goto(server.url.rstrip("/") + a.locator('[data-role="report"]').get_attribute("href"))
        expect(report.locator("#results-table tbody.results-table-row")).to_have_count(1)
        report.locator("#lg-only-failures").check()  # the report's own event handler
        expect(report.locator("#lg-meas")).to_have_class("lg-meas lg-only-fail")
        assert refused == []
        run.join(30)
    records = {r.unit["serial"]: r for r in done["result"].records}
    assert records["SN-101"].outcome.value == "PASS" and records["SN-102"].outcome.value == "FAIL"
    assert [p.answer for p in records["SN-101"].prompts] == ["yes"]


def test_a_scan_made_the_moment_a_tile_says_ready_is_taken_at_start_and_between_units(browser, tmp_path):
    """The operator acts as soon as the screen says they can: a tile reads "Ready: scan a unit" only once
    the station takes a scan for that socket (its worker asked for a unit), so that scan is never refused
    (a tile once said so ~1.5 s before its worker was up, and the scan was lost)."""
    import threading

    from linegate.fixtures.config import load_fixture
    from linegate.fixtures.sim.jig import SimulatedLine
    from linegate.plans import load_plan
    from linegate.station.engine.options import LineOptions, StationServices
    from linegate.station.engine.scanned import ScannedUnits
    from linegate.station.run import run_sockets

    repo = Path(__file__).resolve().parent.parent
    plan = load_plan(repo / "plans" / "esp-at-module.yaml")
    config = load_fixture(repo / "fixtures" / "sim-station.yaml")
    hub = PanelHub(config.station, plan.name, plan.version, plan.sha256, [s.name for s in config.sockets])
    units = ScannedUnits(2)
    hub.on_serial = units.submit
    done: dict = {}
    with SimulatedLine(config, base=tmp_path / "ptys") as line, serve(hub) as server:
        real = line.config.model_copy(update={"simulated": None})
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url)
        tile = page.locator('[data-socket="A"]')
        expect(tile).to_have_attribute("data-state", "starting")
        run = threading.Thread(target=lambda: done.setdefault("result", run_sockets(
            real, plan, units=units, probe=None, options=LineOptions(tmp_path / "out"),
            services=StationServices(events=hub))))
        run.start()
        field = tile.locator("input[type=text]")
        for serial in ("SN-1", "SN-2"):
            expect(tile.locator('[data-role="state"]')).to_have_text("Ready: scan a unit", timeout=30_000)
            field.fill(serial)  # at once: no wait after the screen says ready
            field.press("Enter")
            # taken: its unit starts (a refused scan shows its reason and starts nothing)
            expect(tile.locator('[data-role="unit-serial"]')).to_have_text(serial, timeout=30_000)
            expect(tile.locator('[data-role="scan-msg"]')).not_to_have_attribute("data-accepted", "false")
            expect(tile.locator('[data-role="verdict"]')).to_have_text(re.compile("PASS|FAIL"), timeout=30_000)
        run.join(30)
    assert [r.unit["serial"] for r in done["result"].records] == ["SN-1", "SN-2"]
