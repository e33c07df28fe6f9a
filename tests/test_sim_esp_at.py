"""The ESP-AT driver against the simulated module on a real pseudo-terminal."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from linegate.drivers.dut import DutCommandError, DutProtocolError, DutTimeout, EspAt, NvsType
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.unit import SimUnit, make_unit, unit_stream


def sim(faults: set[str] = frozenset(), seed: int = 7, **kw) -> SimEspAt:
    return SimEspAt(make_unit(random.Random(seed), frozenset(faults)), **kw).start()


def test_pty_link_and_basic_commands(tmp_path: Path):
    with sim(link=tmp_path / "ttyDUT") as server:
        assert (tmp_path / "ttyDUT").resolve() == Path(server.device)
        dut = EspAt(str(tmp_path / "ttyDUT"))
        dut.sync()
        assert dut.mac() == server.unit.mac
        assert dut.firmware().at_version.startswith("4.1.1.0")
        with pytest.raises(DutCommandError) as info:
            dut.command("AT+NOSUCH")
        assert info.value.err_code == 0x01090000  # unsupported command
        dut.close()


def test_nvs_survives_reset_and_long_values_read_in_pieces():
    with sim() as server:
        dut = EspAt(server.path)
        dut.sync()
        cert = bytes(random.Random(1).randrange(256) for _ in range(3000))
        dut.mfg_write("client_cert", "client_cert.0", NvsType.BINARY, cert)
        dut.mfg_write("factory_param", "uart_baudrate", NvsType.I32, 115200)
        dut.reset()
        assert dut.mfg_read_all("client_cert", "client_cert.0", chunk=1024).value == cert
        assert dut.mfg_read("factory_param", "uart_baudrate").value == 115200
        assert "client_cert" in dut.mfg_namespaces()
        dut.mfg_erase("client_cert", "client_cert.0")
        with pytest.raises(DutCommandError):
            dut.mfg_read("client_cert", "client_cert.0")
        dut.close()


def test_state_file_keeps_nvs_across_simulator_restarts(tmp_path: Path):
    state = tmp_path / "dut.json"
    unit = make_unit(random.Random(3))
    unit.state_file = state
    with SimEspAt(unit).start() as server:
        dut = EspAt(server.path)
        dut.sync()
        dut.mfg_write("ayla", "dsn", NvsType.STRING, "AC000W000000042")
        dut.close()
    with SimEspAt(SimUnit.load(state)).start() as server:
        dut = EspAt(server.path)
        dut.sync()
        assert dut.mfg_read("ayla", "dsn").value == b"AC000W000000042"
        assert dut.mac() == unit.mac
        dut.close()


def test_noise_and_busy_are_ridden_through():
    with sim({"noise", "busy"}) as server:
        dut = EspAt(server.path)
        dut.sync()
        for _ in range(20):
            assert dut.mac() == server.unit.mac
        dut.mfg_write("ayla", "dsn", NvsType.STRING, "AC000W000000001")
        assert dut.mfg_read("ayla", "dsn").value == b"AC000W000000001"
        dut.close()


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ("reboot-mid-write", DutProtocolError, "rebooted during the write"),
        ("drop", DutTimeout, "no answer in time"),
    ],
)
def test_faults_surface_as_typed_errors(fault, error, match):
    with sim({fault}) as server:
        dut = EspAt(server.path, timeout=0.3)
        dut.sync()
        with pytest.raises(error, match=match) as info:
            dut.mac()
            dut.mfg_write("ayla", "public_key", NvsType.BINARY, b"k" * 400)
        assert server.path in str(info.value)
        dut.close()


def test_late_answer_does_not_poison_the_next_command():
    with sim({"late"}) as server:
        dut = EspAt(server.path, timeout=0.3)
        dut.sync()
        with pytest.raises(DutTimeout):
            dut.firmware()
        time.sleep(1.4)  # the late answer arrives now, between commands
        assert dut.firmware().at_version.startswith("4.1.1.0")  # its own answer, not the stale one
        dut.close()


def test_flipped_byte_is_seen_on_read_back():
    with sim({"flip-byte"}) as server:
        dut = EspAt(server.path)
        dut.sync()
        dut.mfg_write("ayla", "dsn", NvsType.STRING, "AC000W000000001")
        assert dut.mfg_read("ayla", "dsn").value != b"AC000W000000001"
        dut.close()


def test_unit_stream_gives_distinct_units_and_a_seeded_share_of_faults():
    units = [u for _, u in zip(range(200), unit_stream(5, fail_share=0.25), strict=False)]
    assert len({u.mac for u in units}) == 200
    failing = [u for u in units if u.faults & {"high-current", "bad-mac", "old-firmware", "flip-byte", "selftest"}]
    assert 30 <= len(failing) <= 70
    again = [u.mac for _, u in zip(range(200), unit_stream(5, fail_share=0.25), strict=False)]
    assert again == [u.mac for u in units]
