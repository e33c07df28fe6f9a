"""The panel on a running station: units started by scans over its HTTP API, a station test's question
answered there, the verdicts and the operator's name in the records. Real worker processes, real ptys,
real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from linegate.fixtures.config import load_fixture
from linegate.fixtures.sim.jig import SimulatedLine
from linegate.plans import load_plan
from linegate.plans.serial import SerialSpec
from linegate.station.cli import sockets_like
from linegate.station.engine.controls import StationControls
from linegate.station.engine.options import LineOptions, StationServices
from linegate.station.engine.scanned import ScannedUnits
from linegate.station.panel import PanelHub, serve
from linegate.station.run import run_sockets
from panelkit import wait_state

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"

CODE = '''
def test_look(operator, measure):
    measure("led", operator.confirm("Is the LED green?"))
'''


def _plan(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "panel_steps.py").write_text(CODE)
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: panel\nversion: '2'\nstation_tests: tests\nserial: {regex: 'SN-\\d{3}'}\nsteps:\n"
                    "  - name: look\n    test: panel_steps.py::test_look\n    measurements:\n"
                    "      - {name: led, equals: true}\n")
    return plan


def test_scans_start_units_a_question_is_answered_and_the_records_say_who(tmp_path):
    plan = load_plan(_plan(tmp_path))
    config = load_fixture(FIXTURE)
    two = config.model_copy(update={"sockets": sockets_like(config.sockets[0], 2)})
    hub = PanelHub(two.station, plan.name, plan.version, plan.sha256, ["A", "B"])
    units = ScannedUnits(2, SerialSpec(regex=r"SN-\d{3}"))
    controls = StationControls()
    hub.on_serial, hub.on_answer = units.submit, controls.answer
    hub.on_stop, hub.on_operator = controls.stop, controls.set_operator
    done: dict = {}
    with SimulatedLine(two, base=tmp_path / "ptys") as line, serve(hub) as server, httpx.Client() as client:
        real = line.config.model_copy(update={"simulated": None})  # modules on ptys, as a real jig's ports
        run = threading.Thread(target=lambda: done.setdefault("result", run_sockets(
            real, plan, units=units, probe=None, options=LineOptions(tmp_path / "out"),
            services=StationServices(events=hub, controls=controls))))
        run.start()
        url = server.url
        assert client.post(url + "api/operator", json={"name": "Li Wei"}).json()["accepted"] is True
        wait_state(client, url,
                   lambda s: all(t["state"] == "waiting" for t in s["sockets"]) and len(units.waiting()) == 2)
        refused = client.post(url + "api/sockets/A/serial", json={"serial": "XX-1"}).json()
        assert refused == {"accepted": False,
                           "reason": "the serial 'XX-1' does not match the plan's form SN-\\d{3}; nothing tested"}
        assert client.post(url + "api/sockets/A/serial", json={"serial": "SN-001"}).json()["accepted"] is True
        assert client.post(url + "api/sockets/B/serial", json={"serial": "SN-002"}).json()["accepted"] is True
        for name, answer in (("A", "yes"), ("B", "no")):
            state = wait_state(client, url, lambda s, n=name: next(t for t in s["sockets"] if t["name"] == n)["prompt"])
            prompt = next(t for t in state["sockets"] if t["name"] == name)["prompt"]
            assert prompt["text"] == "Is the LED green?"
            assert client.post(url + f"api/prompts/{prompt['id']}", json={"answer": "maybe"}).status_code == 409
            assert client.post(url + f"api/prompts/{prompt['id']}", json={"answer": answer}).json()["accepted"]
        state = wait_state(client, url, lambda s: all(t["unit"] and t["unit"]["verdict"] for t in s["sockets"]))
        verdicts = {t["name"]: t["unit"]["verdict"] for t in state["sockets"]}
        assert verdicts == {"A": "PASS", "B": "FAIL"}
        report = next(t for t in state["sockets"] if t["name"] == "A")["unit"]["report"]
        assert client.get(url + report.lstrip("/")).status_code == 200
        run.join(30)
    result = done["result"]
    by_serial = {r.unit["serial"]: r for r in result.records}
    assert by_serial["SN-001"].outcome.value == "PASS" and by_serial["SN-002"].outcome.value == "FAIL"
    assert {r.station.operator for r in result.records} == {"Li Wei"}
    assert [(p.answer, p.who) for p in by_serial["SN-001"].prompts] == [("yes", "Li Wei")]


def test_linegate_demo_ui_prints_the_panels_url_and_serves_it(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--service", "none", "--units", "40",
                             "--sockets", "2", "--ui", "127.0.0.1:0", "--out", str(tmp_path / "o")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if line.startswith("operator panel: "):
            url = line.split(": ", 1)[1].strip()
            break
    assert url.startswith("http://127.0.0.1:")
    with httpx.Client() as client:
        state = client.get(url + "api/state").json()
        page = client.get(url)
    assert [t["name"] for t in state["sockets"]] == ["A", "B"]
    assert page.status_code == 200 and "<html" in page.text.lower()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_the_panel_header_shows_the_pool_the_backlog_and_that_the_cloud_answers(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "demo", "--service", "ayla", "--units", "60",
                             "--sockets", "2", "--ui", "127.0.0.1:0", "--out", str(tmp_path / "o"), "--state-dir",
                             str(tmp_path / "state"), "--lang", "zh"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = next(line.split(": ", 1)[1].strip() for line in proc.stdout if line.startswith("operator panel: "))
    status: dict = {}
    with httpx.Client() as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            status = client.get(url + "api/state").json()["status"]
            if status["pool"] is not None and status["cloud_ok"] is not None:
                break
            time.sleep(0.1)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert isinstance(status["pool"], int) and status["backlog"] == 0 and status["cloud_ok"] is True
