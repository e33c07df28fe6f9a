"""The operator panel's API over real HTTP: a hub fed with real events, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from linegate.station.events import Prompt, PromptAnswered, UnitWanted, WorkerDied
from linegate.station.panel import TOKEN_ENV, PanelError, PanelHub, Refused, serve
from panelkit import PLAN, outside_ip, started, step_events, unit_begin, unit_end, whole_unit

TOKEN = "s3cret-token-for-the-panel-0123"
JSON = {"content-type": "application/json"}


def make_hub(run: Path | None = None, lang: str = "en") -> PanelHub:
    return PanelHub("line-3", "esp32-provision", "1.4.0", "ab12cd34" * 8, ["A", "B"], operator="Mei", lang=lang,
                    reports_base=str(run) if run else None)


def stream(client: httpx.Client, url: str) -> Iterator[dict]:
    """The stream's messages, decoded, as they come (SSE ``data:`` lines)."""
    with client.stream("GET", url + "api/events", timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)


def test_state_counts_steps_measurements_and_report_link(tmp_path):
    hub = make_hub()
    for event in [started("A"), started("B"), *whole_unit("A", 1, "SN-000001", record=tmp_path / "u1.json"),
                  *whole_unit("B", 2, "SN-000002", fail_step="rf_power", record=tmp_path / "u2.json")]:
        hub(event)
    (tmp_path / "u1.html").write_text("<h1>unit 1</h1>")
    with serve(hub) as server, httpx.Client() as client:
        doc = client.get(server.url + "api/state").json()
        assert doc["v"] == 1 and doc["type"] == "state" and doc["seq"] == hub.seq
        assert doc["station"] == {"name": "line-3", "operator": "Mei", "stopping": False}
        assert doc["plan"]["short"] == "ab12cd34" and doc["plan"]["version"] == "1.4.0"
        assert doc["counts"] == {"tested": 2, "pass": 1, "fail": 1, "error": 0, "aborted": 0, "yield": 0.5}
        a, b = doc["sockets"]
        assert (a["name"], a["state"], b["state"]) == ("A", "PASS", "FAIL")
        assert [s["name"] for s in a["unit"]["steps"]] == [s.name for s in PLAN]
        assert a["unit"]["measurements"][0] == {"step": "power_on", "name": "vbus", "value": 5.02, "units": "V",
                                                "limit": "4.75 ≤ x ≤ 5.25 V", "status": "pass"}
        assert b["unit"]["failure"].startswith("Step rf_power failed")
        assert [s["outcome"] for s in b["unit"]["steps"]] == ["pass", "pass", "fail", "skipped", "skipped"]
        assert a["unit"]["report"] == "/reports/u1.html"
        page = client.get(server.url + "reports/u1.html")
        assert page.status_code == 200 and "unit 1" in page.text


def test_the_stream_starts_with_the_state_then_tells_each_event_live():
    hub = make_hub()
    hub(started("A"))
    with serve(hub) as server, httpx.Client() as client:
        messages = stream(client, server.url)
        first = next(messages)
        assert first["type"] == "state" and first["sockets"][0]["state"] == "starting"  # no scan taken yet
        hub(unit_begin("A", 7, "SN-000007"))
        hub(step_events("A", 7, PLAN[0], 1)[0])
        one, two = next(messages), next(messages)
        assert one["type"] == "event" and one["event"]["kind"] == "unit_started" and one["event"]["v"] == 1
        assert one["tile"]["state"] == "testing" and one["tile"]["unit"]["serial"] == "SN-000007"
        assert two["seq"] == one["seq"] + 1 and two["event"]["step"] == "power_on"
        assert two["tile"]["unit"]["step"] == "power_on" and "steps" not in two["tile"]["unit"]
        hub.set_status(pool=90, backlog=2, cloud_ok=False)
        header = next(messages)
        assert header["type"] == "header" and header["status"] == {"pool": 90, "backlog": 2, "cloud_ok": False,
                                                                  "results": None}


def test_a_reconnecting_browser_sees_the_unit_in_flight_at_once():
    hub = make_hub()
    for event in [unit_begin("B", 3, "SN-000003"), *step_events("B", 3, PLAN[0], 1), *step_events("B", 3, PLAN[1], 2)]:
        hub(event)
    with serve(hub) as server, httpx.Client() as client:
        first = next(stream(client, server.url))
        b = first["sockets"][1]
        assert b["state"] == "testing" and len(b["unit"]["steps"]) == 2 and len(b["unit"]["measurements"]) == 3


def test_a_scan_goes_to_the_station_and_a_refusal_comes_back_with_its_reason():
    hub = make_hub()
    calls = []

    def on_serial(socket: str, serial: str) -> tuple[bool, str]:
        calls.append((socket, serial))
        return (True, "") if serial.startswith("SN-") else (False, "does not match ^SN-[0-9]{6}$")

    hub.on_serial = on_serial
    with serve(hub) as server, httpx.Client() as client:
        refused = client.post(server.url + "api/sockets/A/serial", json={"serial": "  XX-1 "})
        assert refused.status_code == 409
        assert refused.json() == {"accepted": False, "reason": "does not match ^SN-[0-9]{6}$"}
        ok = client.post(server.url + "api/sockets/B/serial", json={"serial": "SN-000002"})
        assert ok.status_code == 200 and ok.json()["accepted"] is True
        assert calls == [("A", "XX-1"), ("B", "SN-000002")]
        a, b = client.get(server.url + "api/state").json()["sockets"]
        assert a["scan"]["accepted"] is False and a["scan"]["reason"].startswith("does not match")
        assert b["scan"]["serial"] == "SN-000002" and b["scan"]["accepted"] is True
        assert client.post(server.url + "api/sockets/Z/serial", json={"serial": "SN-1"}).status_code == 404
        assert client.post(server.url + "api/sockets/A/serial", json={"serial": ""}).status_code == 422
        assert client.post(server.url + "api/sockets/A/serial", json={"serial": 12}).status_code == 422
        assert len(calls) == 2  # the station saw neither


def test_until_the_station_connects_every_action_is_refused_not_connected():
    hub = make_hub()
    with serve(hub) as server, httpx.Client() as client:
        for path, body in (("api/sockets/A/serial", {"serial": "SN-1"}), ("api/stop", {}),
                           ("api/operator", {"name": "Li"})):
            answer = client.post(server.url + path, json=body)
            assert (answer.status_code, answer.json()) == (409, {"accepted": False, "reason": "not connected"})


def test_a_prompt_is_shown_answered_and_closed(tmp_path):
    (tmp_path / "led.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "station_tests.py").write_text("SECRET = 1")
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A", "B"], plan_dir=str(tmp_path))
    answers = []
    hub.on_answer = lambda prompt_id, answer: (answers.append((prompt_id, answer)) or True, "")
    hub(unit_begin("A", 1, "SN-000001"))
    hub(Prompt("A", index=1, prompt_id="p-1", text="Is the LED green?", options=("yes", "no"), image="led.png",
               timeout_s=60))
    hub(Prompt("B", index=9, prompt_id="p-9", text="not B's unit", ask="text"))  # B has no unit 9: not shown
    with serve(hub) as server, httpx.Client() as client:
        a, b = client.get(server.url + "api/state").json()["sockets"]
        assert a["prompt"]["ask"] == "confirm" and a["prompt"]["text"] == "Is the LED green?"
        assert a["prompt"]["image"] == "/plan/led.png" and a["prompt"]["timeout_s"] == 60
        assert client.get(server.url + "plan/led.png").status_code == 200
        for path in ("plan/station_tests.py", "plan/%2e%2e/x.png", "plan/nothing.png"):
            assert client.get(server.url + path).status_code == 404, path
        assert b["prompt"] is None
        assert client.post(server.url + "api/prompts/p-1", json={"answer": "yes"}).status_code == 200
        assert answers == [("p-1", "yes")]
        assert client.get(server.url + "api/state").json()["sockets"][0]["prompt"] is None
        gone = client.post(server.url + "api/prompts/p-1", json={"answer": "no"})
        assert gone.status_code == 404 and gone.json()["reason"] == "this question is no longer open"
        hub(Prompt("A", index=1, prompt_id="p-2", text="Supply voltage?", ask="number", low=3.0, high=3.6, units="V"))
        shown = client.get(server.url + "api/state").json()["sockets"][0]["prompt"]
        assert (shown["ask"], shown["low"], shown["high"], shown["units"]) == ("number", 3.0, 3.6, "V")
        hub(PromptAnswered("A", index=1, prompt_id="p-2", answer="3.31", who="terminal"))  # answered elsewhere
        assert client.get(server.url + "api/state").json()["sockets"][0]["prompt"] is None


def test_stop_and_operator_go_to_the_station():
    hub = make_hub()
    stops, names = [], []
    hub.on_stop = stops.append
    hub.on_operator = names.append
    with serve(hub) as server, httpx.Client() as client:
        assert client.post(server.url + "api/stop", json={"socket": "B"}).status_code == 200
        assert client.post(server.url + "api/stop", headers={"content-length": "0"}).status_code == 200
        assert client.post(server.url + "api/operator", json={"name": "  Li   Wei "}).status_code == 200
        doc = client.get(server.url + "api/state").json()
        assert stops == ["B", None] and names == ["Li Wei"]
        assert doc["station"]["operator"] == "Li Wei" and doc["station"]["stopping"] is True
        assert doc["sockets"][1]["stopping"] is True

        def busy(name: str) -> None:
            raise Refused("a unit is being recorded: try again in a moment")

        hub.on_operator = busy
        refused = client.post(server.url + "api/operator", json={"name": "Zhang"})
        assert refused.status_code == 409 and refused.json()["reason"].startswith("a unit is being recorded")
        hub.on_stop = lambda socket: (False, "the station is not running")  # StationControls.stop's answer
        refused = client.post(server.url + "api/stop", json={"socket": "A"})
        assert (refused.status_code, refused.json()["reason"]) == (409, "the station is not running")


def test_a_dead_worker_puts_its_socket_out_of_service_until_it_starts_again():
    hub = make_hub()
    with serve(hub) as server, httpx.Client() as client:
        why = "socket A's worker died (SIGKILL)"
        for event in [unit_begin("A", 1, "SN-000001"), *step_events("A", 1, PLAN[0], 1),
                      *unit_end("A", 1, "SN-000001", "ERROR", why)]:
            hub(event)
        hub(WorkerDied("A", reason=why, pid=77, index=1))
        a = client.get(server.url + "api/state").json()["sockets"][0]
        assert (a["state"], a["reason"]) == ("out_of_service", "socket A's worker died (SIGKILL)")
        refused = client.post(server.url + "api/sockets/A/serial", json={"serial": "SN-2"})
        assert refused.status_code == 409 and "out of service" in refused.json()["reason"]
        hub(started("A", pid=78))
        a = client.get(server.url + "api/state").json()["sockets"][0]
        assert (a["state"], a["reason"]) == ("starting", "")  # up, but it has not asked for a unit yet
        hub(UnitWanted("A"))
        assert client.get(server.url + "api/state").json()["sockets"][0]["state"] == "waiting"
        assert (a["unit"]["verdict"], a["unit"]["failure"]) == ("ERROR", why)  # shown until the next unit starts
        assert client.get(server.url + "api/state").json()["counts"]["error"] == 1


def test_a_bind_other_than_loopback_needs_a_token():
    hub = make_hub()
    hosts = ["0.0.0.0", *([ip] if (ip := outside_ip()) else [])]
    for host in hosts:
        with pytest.raises(PanelError) as refused:
            serve(hub, host=host)
        assert str(refused.value) == (f"panel on {host}:0: a bind other than loopback needs an access token "
                                      f"(--ui-token or {TOKEN_ENV})")
    with pytest.raises(PanelError, match="at least 16"):
        serve(hub, host="0.0.0.0", token="short")


def test_with_a_token_every_request_carries_it_and_changes_are_same_origin(monkeypatch):
    hub = make_hub()
    hub.on_stop = lambda socket: None
    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # the environment's token
    with serve(hub, host="0.0.0.0") as server, httpx.Client() as client:
        base = f"http://127.0.0.1:{server.port}/"
        assert server.token_required
        assert client.get(base + "api/state").status_code == 401
        assert client.get(base).status_code == 401
        assert client.post(base + "api/stop", json={}).status_code == 401
        bearer = {"authorization": f"Bearer {TOKEN}"}
        assert client.get(base + "api/state", headers=bearer).status_code == 200
        assert client.post(base + "api/stop", json={}, headers={"authorization": "Bearer wrong-token-xxxxxxxxx"}
                           ).status_code == 401
        cross = client.post(base + "api/stop", json={}, headers=bearer | {"origin": "http://evil.example"})
        assert cross.status_code == 403
        assert client.post(base + "api/stop", json={}, headers=bearer | {"sec-fetch-site": "cross-site"}
                           ).status_code == 403
        same = {"origin": f"http://127.0.0.1:{server.port}", "sec-fetch-site": "same-origin"}
        assert client.post(base + "api/stop", json={}, headers=bearer | same).status_code == 200
        opened = client.get(base + f"?token={TOKEN}")
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        assert TOKEN not in opened.headers["set-cookie"] and "HttpOnly" in opened.headers["set-cookie"]
        assert client.get(base).status_code == 200  # the cookie now
        assert client.post(base + "api/stop", json={}, headers=same).status_code == 200
        assert client.get(base + "?token=wrong-token-xxxxxxxxx").status_code == 401


def test_on_loopback_changes_must_be_same_origin_and_json():
    hub = make_hub()
    hub.on_stop = lambda socket: None
    with serve(hub) as server, httpx.Client() as client:
        url = server.url + "api/stop"
        assert client.post(url, json={}, headers={"origin": "http://evil.example"}).status_code == 403
        assert client.post(url, json={}, headers={"origin": "null"}).status_code == 403
        assert client.get(server.url + "api/state", headers={"host": "evil.example"}).status_code == 403
        assert client.post(url, content=b"socket=A", headers={"content-type": "text/plain"}).status_code == 415
        assert client.post(url, json={}, headers={"origin": server.url.rstrip("/")}).status_code == 200
        assert client.post(url, content=b"[1]", headers=JSON).status_code == 400


def test_reports_are_served_from_the_run_folder_only(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "u1.html").write_text("<h1>unit 1</h1>")
    (tmp_path / "secret.txt").write_text("ledger key")
    (run / "out.html").symlink_to(tmp_path / "secret.txt")
    hub = make_hub(run)
    with serve(hub) as server, httpx.Client() as client:
        assert client.get(server.url + "reports/u1.html").status_code == 200
        for path in ("reports/%2e%2e/secret.txt", "reports/..%2fsecret.txt", "reports/%2e%2e%2fsecret.txt",
                     "reports/out.html", "reports/" + str(tmp_path / "secret.txt"), "reports/nothing.html"):
            answer = client.get(server.url + path)
            assert answer.status_code == 404 and "ledger key" not in answer.text, path


def test_the_token_is_never_logged(capfd, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    hub = make_hub()
    hub.on_stop = lambda socket: (_ for _ in ()).throw(RuntimeError("jammed"))  # a failing callback is logged
    with serve(hub, host="0.0.0.0", token=TOKEN) as server, httpx.Client() as client:
        base = f"http://127.0.0.1:{server.port}/"
        client.get(base + f"?token={TOKEN}")
        client.get(base + "?token=" + TOKEN[::-1])
        client.post(base + "api/stop", json={}, headers={"authorization": f"Bearer {TOKEN}"})
    out, err = capfd.readouterr()
    ours = "\n".join(logging.Formatter().format(r) for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))  # the test's client logs its own URLs
    assert "jammed" in ours  # the failure is logged, the token nowhere
    assert TOKEN not in out + err + ours and TOKEN[::-1] not in out + err + ours


def test_many_threads_feed_and_read_the_hub_at_once():
    hub = make_hub()
    with serve(hub) as server, httpx.Client() as client:
        def feed(socket: str) -> None:
            for index in range(1, 21):
                for event in whole_unit(socket, index, f"SN-{index:06d}"):
                    hub(event)

        threads = [threading.Thread(target=feed, args=(s,)) for s in ("A", "B")]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            assert client.get(server.url + "api/state").status_code == 200
        for t in threads:
            t.join()
        assert client.get(server.url + "api/state").json()["counts"]["tested"] == 40
