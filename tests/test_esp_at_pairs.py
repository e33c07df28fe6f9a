"""ESP-AT driver: exact command/response pairs, every pair used."""

from __future__ import annotations

import pytest
from linegate.drivers.dut import (
    DutBusy,
    DutCommandError,
    DutProtocolError,
    DutTimeout,
    EspAt,
    NvsType,
)
from scripted import ScriptedPort


def driver(pairs: list[tuple[bytes, bytes]], **kw: float) -> tuple[EspAt, ScriptedPort]:
    port = ScriptedPort(pairs)
    return EspAt(port, timeout=kw.pop("timeout", 0.2), busy_delay=0.0, **kw), port


def test_sync_turns_echo_off_and_error_codes_on_with_echo_present():
    dut, port = driver([
        (b"AT\r\n", b"AT\r\n\r\nOK\r\n"),
        (b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n"),
        (b"AT+SYSLOG=1\r\n", b"\r\nOK\r\n"),
    ])
    dut.sync()
    assert (dut.echo_on, dut.syslog_on) == (False, True)
    port.assert_all_used()


def test_gmr_is_parsed_into_fields():
    dut, port = driver([(
        b"AT+GMR\r\n",
        b"AT version:4.1.1.0(7c1f11c - ESP32C3 - Jul 23 2025 06:50:21)\r\n"
        b"SDK version:v5.0.9-dirty\r\ncompile time(8f3b2e1):Jul 23 2025 07:12:44\r\n"
        b"Bin version:4.1.1(MINI-1)\r\n\r\nOK\r\n",
    )])
    fw = dut.firmware()
    assert fw.at_version.startswith("4.1.1.0(") and fw.sdk_version == "v5.0.9-dirty"
    assert fw.bin_version == "4.1.1(MINI-1)" and "Jul 23 2025" in fw.compile_time
    port.assert_all_used()


def test_mac_tolerates_leading_line_noise():
    dut, port = driver([(b"AT+CIPSTAMAC?\r\n", b'\x93\xfe+CIPSTAMAC:"24:0A:C4:01:02:03"\r\n\r\nOK\r\n')])
    assert dut.mac() == "24:0a:c4:01:02:03"
    port.assert_all_used()


def test_garbled_mac_is_a_protocol_error_naming_port_and_command():
    dut, port = driver([(b"AT+CIPSTAMAC?\r\n", b'+CIPSTAMAC:"24:0a:c4"\r\n\r\nOK\r\n')])
    with pytest.raises(DutProtocolError) as info:
        dut.mac()
    assert "scripted://dut" in str(info.value) and "AT+CIPSTAMAC?" in str(info.value)
    port.assert_all_used()


def test_error_with_err_code_is_typed_and_explained():
    dut, port = driver([(b'AT+SYSMFG=1,"nope","k"\r\n', b"ERR CODE:0x01070000\r\nERROR\r\n")])
    with pytest.raises(DutCommandError) as info:
        dut.mfg_read("nope", "k")
    assert info.value.err_code == 0x01070000
    assert "invalid parameter" in str(info.value)
    port.assert_all_used()


def test_busy_is_retried_then_succeeds():
    dut, port = driver([(b"AT\r\n", b"busy p...\r\n"), (b"AT\r\n", b"OK\r\n")])
    dut.ping()
    port.assert_all_used()


def test_busy_beyond_retries_raises():
    dut, port = driver([(b"AT\r\n", b"busy p...\r\n")] * 2, busy_retries=1)
    with pytest.raises(DutBusy):
        dut.ping()
    port.assert_all_used()


def test_no_answer_is_a_timeout_naming_port_and_command():
    dut, port = driver([(b"AT+GMR\r\n", b"AT version:4.1")], timeout=0.05)
    with pytest.raises(DutTimeout) as info:
        dut.firmware()
    assert "scripted://dut: AT+GMR: no answer in time" in str(info.value)
    assert "AT version:4.1" in str(info.value)
    port.assert_all_used()


def test_read_string_binary_and_numeric_values():
    blob = b"\x00\r\n,\xff\x01" * 2  # 12 bytes holding CR LF and commas
    dut, port = driver([
        (b'AT+SYSMFG=1,"ayla","dsn"\r\n', b'+SYSMFG:"ayla","dsn",7,15,AC000W000123456\r\n\r\nOK\r\n'),
        (b'AT+SYSMFG=1,"ayla","public_key"\r\n',
         b'+SYSMFG:"ayla","public_key",8,12,' + blob + b"\r\n\r\nOK\r\n"),
        (b'AT+SYSMFG=1,"factory_param","tx_power"\r\n',
         b'+SYSMFG:"factory_param","tx_power",2,2,-5\r\n\r\nOK\r\n'),
        (b'AT+SYSMFG=1,"ayla","public_key",4,4\r\n', b'+SYSMFG:"ayla","public_key",8,4,' + blob[4:8] + b"\r\nOK\r\n"),
    ])
    assert dut.mfg_read("ayla", "dsn").value == b"AC000W000123456"
    value = dut.mfg_read("ayla", "public_key")
    assert value.value == blob and value.type is NvsType.BINARY
    assert dut.mfg_read("factory_param", "tx_power").value == -5
    assert dut.mfg_read("ayla", "public_key", 4, 4).value == blob[4:8]
    port.assert_all_used()


def test_value_longer_than_declared_is_rejected():
    dut, port = driver([(b'AT+SYSMFG=1,"a","k"\r\n', b'+SYSMFG:"a","k",7,2,abc\r\n\r\nOK\r\n')])
    with pytest.raises(DutProtocolError, match="longer than its declared 2 bytes"):
        dut.mfg_read("a", "k")
    port.assert_all_used()


def test_write_string_waits_for_prompt_and_hides_secrets_in_transcript():
    dut, port = driver([
        (b'AT+SYSMFG=2,"enos","device_secret",7,9\r\n', b"OK\r\n\r\n>"),
        (b"s3cr3t!!x", b"OK\r\n"),
        (b'AT+SYSMFG=2,"factory_param","channel",1,6\r\n', b"OK\r\n"),
    ])
    dut.mfg_write("enos", "device_secret", NvsType.STRING, "s3cr3t!!x", secret=True)
    dut.mfg_write("factory_param", "channel", NvsType.U8, 6)
    port.assert_all_used()
    transcript = " ".join(e.text for e in dut.link.transcript)
    assert "s3cr3t" not in transcript and "<redacted 9 bytes>" in transcript


def test_numeric_write_out_of_range_never_reaches_the_wire():
    dut, port = driver([])
    with pytest.raises(ValueError, match="outside U8"):
        dut.mfg_write("factory_param", "channel", NvsType.U8, 300)
    port.assert_all_used()


def test_reset_waits_for_ready_through_boot_noise_and_restores_settings():
    dut, port = driver([
        (b"AT+RST\r\n", b"OK\r\n\x00\xe4\x8f\r\nets Jun  8 2016\x13\x97\r\n\r\nready\r\n"),
        (b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n"),
        (b"AT+SYSLOG=1\r\n", b"OK\r\n"),
    ])
    dut.reset(timeout=0.5)
    port.assert_all_used()


def test_erase_and_namespace_list():
    dut, port = driver([
        (b'AT+SYSMFG=0,"ayla","dsn"\r\n', b"OK\r\n"),
        (b"AT+SYSMFG?\r\n", b'+SYSMFG:"factory_param"\r\n+SYSMFG:"ayla"\r\n\r\nOK\r\n'),
    ])
    dut.mfg_erase("ayla", "dsn")
    assert dut.mfg_namespaces() == ["factory_param", "ayla"]
    port.assert_all_used()


GMR_HEAD = (b"AT version:4.1.1.0(7c1f11c - ESP32C3 - Jul 23 2025 06:50:21)\r\n"
            b"SDK version:v5.0.9-dirty\r\ncompile time(8f3b2e1):Jul 23 2025 07:12:44\r\n")


@pytest.mark.parametrize(
    ("bin_line", "version", "suffix", "module"),
    [
        (b"Bin version:v4.1.1.0(MINI-1)", (4, 1, 1, 0), "", "MINI-1"),  # released v3.x-v5.x
        (b"Bin version:v3.4.0.0-dev(MINI)", (3, 4, 0, 0), "-dev", "MINI"),  # a development build
        (b"Bin version:2.2.0(WROOM-32)", (2, 2, 0), "", "WROOM-32"),  # released 2.x
        (b"Bin version:3.0.0(ESP32C2-4MB)", (3, 0, 0), "", "ESP32C2-4MB"),  # esp-at issue template
        (b"Bin version(Wroom 02):1.7.4", (1, 7, 4), "", "Wroom 02"),  # ESP8266 NonOS 1.x
        (b"Bin version:my-custom-build(MINI-1)", (), "", ""),  # a custom string: the plan decides
    ],
)
def test_every_bin_version_format_is_parsed_into_fields(bin_line, version, suffix, module):
    dut, port = driver([(b"AT+GMR\r\n", GMR_HEAD + bin_line + b"\r\n\r\nOK\r\n")])
    fw = dut.firmware()
    assert (fw.version, fw.suffix, fw.module) == (version, suffix, module)
    assert fw.bin_version == bin_line.decode().split(":", 1)[1]
    assert fw.at_core == (4, 1, 1, 0) and fw.chip == "ESP32C3" and fw.compile_time == "Jul 23 2025 07:12:44"
    assert fw.raw.endswith(bin_line.decode())
    port.assert_all_used()


def test_nonos_gmr_without_chip_or_commit_is_parsed():
    dut, port = driver([(b"AT+GMR\r\n", b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n"
                         b"compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\nOK\r\n")])
    fw = dut.firmware()
    assert (fw.at_core, fw.chip, fw.version_text, fw.module) == ((1, 7, 4, 0), "", "1.7.4", "Wroom 02")
    assert fw.compile_time == "May 27 2020 10:12:17"
    port.assert_all_used()


def test_gmr_without_at_version_is_a_protocol_error():
    dut, port = driver([(b"AT+GMR\r\n", b"Bin version:v4.1.1.0(MINI-1)\r\nOK\r\n")])
    with pytest.raises(DutProtocolError, match="lacks the 'AT version:' line"):
        dut.firmware()
    port.assert_all_used()


@pytest.mark.parametrize("mac", [":" * 17, "24:0a:c4:01:02", "24:0a:c4:01:02:0g", "24-0a-c4-01-02-03",
                                 "24:0a:c4:01:02:03:04", "240a:c4:01:02:03:"])
def test_mac_that_is_not_six_hex_octets_is_a_protocol_error_naming_what_came_back(mac):
    answer = f'+CIPSTAMAC:"{mac}"'
    dut, port = driver([(b"AT+CIPSTAMAC?\r\n", answer.encode() + b"\r\n\r\nOK\r\n")])
    with pytest.raises(DutProtocolError, match="malformed station MAC") as info:
        dut.mac()
    assert info.value.received == answer and answer in str(info.value)
    port.assert_all_used()


@pytest.mark.parametrize("prompt", [b">", b"\r\n>", b"OK\r\n\r\n>", b"OK\r\n>"])
def test_binary_write_takes_either_prompt_framing(prompt):
    dut, port = driver([
        (b'AT+SYSMFG=2,"ayla","public_key",8,4\r\n', prompt),
        (b"\x00\r\n>", b"\r\nOK\r\n"),
        (b'AT+SYSMFG=2,"ayla","dsn",7,3\r\n', prompt),
        (b"abc", b"OK\r\n"),
    ])
    dut.mfg_write("ayla", "public_key", NvsType.BINARY, b"\x00\r\n>")
    dut.mfg_write("ayla", "dsn", NvsType.STRING, "abc")
    port.assert_all_used()


def test_bare_prompt_with_echo_on():
    dut, port = driver([
        (b'AT+SYSMFG=2,"ayla","dsn",7,3\r\n', b'AT+SYSMFG=2,"ayla","dsn",7,3\r\n>'),
        (b"abc", b"OK\r\n"),
    ])
    dut.mfg_write("ayla", "dsn", NvsType.STRING, "abc")
    port.assert_all_used()


@pytest.mark.parametrize(
    ("at_line", "at_core", "chip"),
    [
        (b"AT version:2.1.0.0-dev(4f6b92c - Jun 10 2020 10:36:54)", (2, 1, 0, 0), ""),  # 2.1 dev: no chip
        (b"AT version:3.2.0.0(s-ec2dec2 - ESP32 - Jul 28 2023 07:05:28)", (3, 2, 0, 0), "ESP32"),
        (b"AT version:5.0.0.0(f6b0e89 - ESP32C61 - Oct 17 2025 08:55:06)", (5, 0, 0, 0), "ESP32C61"),
    ],
)
def test_at_version_line_variants(at_line, at_core, chip):
    rest = b"\r\nSDK version:v5.0.2\r\nBin version:v3.2.0.0(WROOM-32)\r\nOK\r\n"
    dut, port = driver([(b"AT+GMR\r\n", at_line + rest)])
    fw = dut.firmware()
    assert (fw.at_core, fw.chip, fw.version, fw.module) == (at_core, chip, (3, 2, 0, 0), "WROOM-32")
    port.assert_all_used()
