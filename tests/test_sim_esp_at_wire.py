"""The simulated module through a real pty (and RFC 2217): firmware formats, prompts, MAC faults,
wire speed, AT+UART_CUR and hard resets."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from linegate.drivers.dut import DutPortError, DutProtocolError, DutTimeout, EspAt, NvsType, ResetLines
from linegate.fixtures.config import load_fixture
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import SimUnit, make_unit
from linegate.fixtures.sim.wire import BITS_PER_BYTE
from linegate.plans import load_plan
from linegate.station.compose import run_fixture

REPO = Path(__file__).resolve().parent.parent
# pyserial's rfc2217 client still calls Thread.setDaemon/setName.
pytestmark = pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")


def sim(faults: set[str] = frozenset(), *, seed: int = 7, **unit_kw: str) -> SimUnit:
    unit = make_unit(random.Random(seed), frozenset(faults))
    for name, value in unit_kw.items():
        setattr(unit, name, value)
    return unit


@pytest.mark.parametrize(
    ("firmware", "faults", "bin_version", "version"),
    [
        ("v4", set(), "v4.1.1.0(MINI-1)", (4, 1, 1, 0)),
        ("v3", set(), "v3.3.0.0(MINI-1)", (3, 3, 0, 0)),
        ("v2", set(), "2.2.0(MINI-1)", (2, 2, 0)),
        ("v1", set(), "1.7.4", (1, 7, 4)),
        ("v4", {"old-firmware"}, "2.2.0(MINI-1)", (2, 2, 0)),
    ],
)
def test_gmr_formats_from_the_simulated_module(firmware, faults, bin_version, version):
    with SimEspAt(sim(faults, firmware=firmware)).start() as server:
        dut = EspAt(server.path)
        fw = dut.firmware()
        assert (fw.bin_version, fw.version) == (bin_version, version)
        assert fw.module == ("Wroom 02" if firmware == "v1" and not faults else "MINI-1")
        dut.close()


def test_firmware_format_survives_the_state_file(tmp_path: Path):
    unit = sim(firmware="v3", write_prompt="bare")
    unit.state_file = tmp_path / "dut.json"
    unit.save()
    again = SimUnit.load(unit.state_file)
    assert (again.firmware, again.write_prompt) == ("v3", "bare")
    with pytest.raises(ValueError, match="unknown firmware 'v9'"):
        SimUnit(mac=unit.mac, chip_id="0", firmware="v9")


@pytest.mark.parametrize("write_prompt", ["ok", "bare"])
def test_binary_write_with_either_prompt_on_a_pty(write_prompt):
    with SimEspAt(sim(write_prompt=write_prompt)).start() as server:
        dut = EspAt(server.path)
        for echo in (True, False):
            dut.set_echo(echo)
            key = bytes(range(256)) * 2
            dut.mfg_write("client_key", "client_key.0", NvsType.BINARY, key)
            assert dut.mfg_read_all("client_key", "client_key.0").value == key
        dut.close()


def test_garbled_mac_is_a_protocol_error_on_the_pty():
    with SimEspAt(sim({"garbled-mac"})).start() as server:
        dut = EspAt(server.path)
        dut.sync()
        with pytest.raises(DutProtocolError, match="malformed station MAC") as info:
            dut.mac()
        assert info.value.received == '+CIPSTAMAC:"' + ":" * 17 + '"'
        dut.close()


def test_garbled_mac_unit_is_fail_naming_what_came_back(tmp_path: Path):
    config = load_fixture(REPO / "fixtures" / "sim-station.yaml")
    sim_cfg = config.simulated.model_copy(update={"fail_share": 0.0, "faults": ("garbled-mac",)})
    config = config.model_copy(update={"simulated": sim_cfg})
    result = run_fixture(config, load_plan(REPO / "plans" / "esp-at-module.yaml"), out=tmp_path / "out", units=1)
    record = result.records[0]
    assert record.outcome.value == "FAIL"
    step = next(s for s in record.steps if s.name == "mac")
    assert step.outcome.value == "fail"
    assert "malformed station MAC" in step.message and ":" * 17 in step.message
    assert "ValueError" not in step.message and "Traceback" not in step.message


def test_wire_speed_makes_a_2k_write_take_its_time_at_115200():
    with SimEspAt(sim(), wire_speed=True).start() as server:
        dut = EspAt(server.path)
        dut.sync()
        key = random.Random(2).randbytes(2048)
        t0 = time.perf_counter()
        dut.mfg_write("client_key", "client_key.0", NvsType.BINARY, key)
        took = time.perf_counter() - t0
        floor = len(key) * BITS_PER_BYTE / 115200
        assert floor <= took < floor * 1.5
        dut.close()


def test_baud_switch_on_a_pty_the_module_follows_the_host():
    with SimEspAt(sim(), wire_speed=True).start() as server:
        dut = EspAt(server.path)
        dut.sync()
        assert dut.switch_baudrate(921600) is True
        assert server.wire.module_baud == 921600 and dut.command("AT+UART_CUR?") == ["+UART_CUR:921600,8,1,0,0"]
        key = random.Random(3).randbytes(2048)
        t0 = time.perf_counter()
        dut.mfg_write("client_key", "client_key.0", NvsType.BINARY, key)
        assert time.perf_counter() - t0 < 2048 * BITS_PER_BYTE / 115200  # faster than 115200 could be
        assert dut.switch_baudrate(115200) is True
        assert dut.mfg_read_all("client_key", "client_key.0").value == key
        dut.close()


def test_host_and_module_at_different_rates_read_garbage():
    with SimEspAt(sim()).start() as server:
        dut = EspAt(server.path, timeout=0.3)
        dut.sync()
        dut.link.baudrate = 230400  # the host moves alone
        with pytest.raises(DutTimeout):
            dut.ping()
        dut.link.baudrate = 115200
        # The garbage still sits in the module's line buffer: the first AT may meet ERROR, sync rides it.
        dut.sync()
        dut.ping()
        dut.close()


@pytest.mark.parametrize("fault", ["baud-refuse", "baud-garble"])
def test_failed_baud_switch_leaves_the_link_working_at_the_old_rate(fault):
    with SimEspAt(sim({fault})).start() as server:
        dut = EspAt(server.path, timeout=0.3)
        dut.sync()
        assert dut.switch_baudrate(921600) is False
        assert dut.link.baudrate == 115200 and server.wire.module_baud == 115200
        assert dut.mac() == server.unit.mac
        dut.mfg_write("ayla", "dsn", NvsType.STRING, "AC000W000000007")
        assert dut.mfg_read("ayla", "dsn").value == b"AC000W000000007"
        dut.close()


def test_module_at_a_wrong_rate_without_reset_lines_is_a_lost_link():
    with SimEspAt(sim({"baud-wrong"})).start() as server:
        dut = EspAt(server.path, timeout=0.3)
        dut.sync()
        with pytest.raises(DutPortError, match="no reset lines are wired"):
            dut.switch_baudrate(921600)
        dut.close()


def test_hard_reset_over_rfc2217_reboots_the_module_and_keeps_its_nvs():
    with SimEspAt(sim()).start() as server:
        dut = EspAt(server.rfc2217(), timeout=0.5, reset_lines=ResetLines(en="rts", boot="dtr"))
        dut.sync()
        dut.mfg_write("ayla", "dsn", NvsType.STRING, "AC000W000000009")
        assert server.resets == 0
        dut.reset()
        assert server.resets == 1 and not server.held_in_reset
        assert dut.mfg_read("ayla", "dsn").value == b"AC000W000000009"
        dut.close()


def test_hard_reset_recovers_a_module_lost_at_a_wrong_rate():
    with SimEspAt(sim({"baud-wrong"})).start() as server:
        dut = EspAt(server.rfc2217(), timeout=0.3, reset_lines=ResetLines(en="rts", boot="dtr"))
        dut.sync()
        assert dut.switch_baudrate(921600) is False
        assert server.resets == 1 and server.wire.module_baud == 115200 and dut.link.baudrate == 115200
        assert dut.mac() == server.unit.mac
        dut.close()


def test_io0_held_low_at_release_enters_download_mode_and_a_hard_reset_leaves_it():
    with SimEspAt(sim()).start() as server:
        dut = EspAt(server.rfc2217(), timeout=0.3, reset_lines=ResetLines(en="rts", boot="dtr"))
        dut.sync()
        # esptool's ClassicReset, with the lines microseconds apart as on a local USB-UART (over
        # RFC 2217 each change takes a round trip, longer than EN's RC: esptool resets remotely
        # with esp_rfc2217_server for that reason), so the module's side is driven directly.
        server.set_line("dtr", False)
        server.set_line("rts", True)
        time.sleep(0.05)
        server.set_line("dtr", True)
        server.set_line("rts", False)
        time.sleep(0.05)
        deadline = time.monotonic() + 1
        while not server.download_mode and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.download_mode
        with pytest.raises(DutTimeout):
            dut.ping()
        dut.reset()
        assert not server.download_mode
        dut.ping()
        dut.close()


def test_fixture_file_reset_wiring_reaches_the_driver(tmp_path: Path):
    """`dut.reset: {en: rts, boot: dtr}` in a fixture file: the jig's driver resets through the lines."""
    from linegate.fixtures.jig import Jig

    with SimEspAt(sim()) as server:
        fixture = tmp_path / "station.yaml"
        fixture.write_text(f"station: s\nsockets:\n  - name: A\n    dut: {{port: '{server.rfc2217()}', timeout_s: 0.5, "
                           "reset: {en: rts, boot: dtr}}\n")
        jig = Jig.open(load_fixture(fixture))
        try:
            before = server.resets
            jig.duts["A"].reset()
            assert server.resets == before + 1
            jig.duts["A"].ping()
        finally:
            jig.close()


def test_reset_wiring_on_one_line_twice_is_refused(tmp_path: Path):
    from linegate.fixtures.config import FixtureError

    fixture = tmp_path / "station.yaml"
    fixture.write_text("station: s\nsockets:\n  - name: A\n"
                       "    dut: {port: /dev/ttyUSB0, reset: {en: rts, boot: rts}}\n")
    with pytest.raises(FixtureError, match=r"sockets\[0\].*reset.*both wired to rts"):
        load_fixture(fixture)
