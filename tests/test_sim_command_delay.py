"""A slow simulated module: ``simulated: {command_delay_s: S}`` makes every command's answer take S seconds.

Measured on real ptys with pyserial, through the fixture file, the simulated line and ``linegate sim dut``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from linegate.drivers.dut import EspAt
from linegate.fixtures.config import FixtureError, load_fixture
from linegate.fixtures.sim.esp_at import SimEspAt
from linegate.fixtures.sim.jig import SimulatedLine
from linegate.fixtures.sim.unit import make_unit

DELAY_S = 0.2


def round_trip(path: str, command: bytes = b"AT") -> tuple[float, bytes]:
    """Seconds from writing ``command`` to reading its final ``OK``, and what came back."""
    with serial.Serial(path, 115200, timeout=3) as port:
        port.reset_input_buffer()
        t0 = time.monotonic()
        port.write(command + b"\r\n")
        answer = port.read_until(b"OK\r\n")
        return time.monotonic() - t0, answer


def fixture_file(folder: Path, simulated: str) -> Path:
    path = folder / "fixture.yaml"
    path.write_text("station: slow\nsockets:\n  - name: A\n    dut: {port: .sim/socket-A}\n"
                    f"simulated: {simulated}\n")
    return path


def test_each_command_answer_waits_the_delay_echo_does_not():
    with SimEspAt(make_unit(random.Random(2)), command_delay_s=DELAY_S).start() as server:
        with serial.Serial(server.path, 115200, timeout=3) as port:
            t0 = time.monotonic()
            port.write(b"AT+GMR\r\n")
            echo = port.read_until(b"\r\n")
            echoed_s = time.monotonic() - t0
            answer = port.read_until(b"OK\r\n")
            answered_s = time.monotonic() - t0
        assert echo == b"AT+GMR\r\n" and echoed_s < DELAY_S  # the module echoes as it reads
        assert answer.endswith(b"OK\r\n") and b"AT version:" in answer
        assert answered_s >= DELAY_S
        for _ in range(2):  # every command, not only the first
            took, answer = round_trip(server.path, b"AT+CIPSTAMAC?")
            assert took >= DELAY_S and server.unit.mac.encode() in answer


def test_a_module_without_delay_answers_at_once_and_a_negative_delay_is_refused():
    with SimEspAt(make_unit(random.Random(2))).start() as server:
        took, answer = round_trip(server.path)
        assert answer.endswith(b"OK\r\n") and took < DELAY_S / 2
    with pytest.raises(ValueError, match=r"command_delay_s: -0\.1 s is negative"):
        SimEspAt(make_unit(random.Random(2)), command_delay_s=-0.1)


def test_a_slow_module_stops_at_once():
    server = SimEspAt(make_unit(random.Random(2)), command_delay_s=30).start()
    with serial.Serial(server.path, 115200, timeout=0.2) as port:
        port.write(b"AT\r\n")
        port.read_until(b"AT\r\n")  # echoed: the module is now thinking for 30 s
        t0 = time.monotonic()
        server.stop()
    assert time.monotonic() - t0 < 2


def test_the_fixture_files_delay_reaches_every_socket_of_the_simulated_line(tmp_path):
    config = load_fixture(fixture_file(tmp_path, f"{{seed: 3, command_delay_s: {DELAY_S}}}"))
    assert config.simulated is not None and config.simulated.command_delay_s == DELAY_S
    with SimulatedLine(config, tmp_path) as line:
        server = line.servers["A"]
        assert server.command_delay_s == DELAY_S
        dut = EspAt(line.config.sockets[0].dut.port)
        try:
            t0 = time.monotonic()
            assert dut.mac() == server.unit.mac
            assert time.monotonic() - t0 >= DELAY_S
        finally:
            dut.close()


def test_the_delay_defaults_to_none_and_a_negative_one_is_one_line_naming_it(tmp_path):
    assert load_fixture(fixture_file(tmp_path, "{seed: 3}")).simulated.command_delay_s == 0  # type: ignore[union-attr]
    with pytest.raises(FixtureError) as info:
        load_fixture(fixture_file(tmp_path, "{command_delay_s: -0.5}"))
    message = str(info.value)
    assert "\n" not in message and "command_delay_s" in message and "fixture.yaml" in message


def test_sim_dut_takes_a_command_delay(tmp_path):
    link = tmp_path / "ttyDUT"
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "sim", "dut", "--link", str(link),
                             "--command-delay", str(DELAY_S)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        took, answer = round_trip(str(link))
        assert answer.endswith(b"OK\r\n") and took >= DELAY_S
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    bad = subprocess.run([sys.executable, "-m", "linegate", "sim", "dut", "--command-delay", "-1"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "argument --command-delay: -1 s is outside 0..60 s" in bad.stderr
