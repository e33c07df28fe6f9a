"""Ayla factory log lines: the seed's four examples parse; the writer refuses what the format forbids."""

from __future__ import annotations

import pytest
from linegate.drivers.cloud.ayla_log import FactoryLogEntry, FactoryLogError, format_line, parse_line

# The four example lines of the AFS spec §1.8, re-joined where the PDF wrapped them.
SEED_LINES = [
    "2,1318462302,2011/10/12 23:31:42 UTC,pass,0,AY001MTP2,,222222222222,WD101a,p7,ffffff31-34314132-43025916,",
    "3,1401751270,2014/06/02 16:21:10 UTC,config,0,AY001MTC2,AC000W123456789,123456789abc,Type-YD,p8,"
    "ffffff31-34314132-43025999,comment - no commas,bc 1.9.4 05/29/14 17:53:48 ID c02104d,0dfc7900,ledevb,1,Acme",
    "3,1401751270,2014/06/02 16:21:10 UTC,config,0,AY001RTA,AC000W123456789,123456789abc,linux,p9,,"
    "devd 1.0 2014-05-22,0dfc7900,zbgw,1,Sprockley Sprockets",
    "4,1423526862,2015/02/10 00:07:42 UTC,label,0,AY001MTP1,TEST00W000009310,f064f08863f4,WM-N-BM-14A,"
    "16428876609579218157072732,3cfd9109-39fe1548-b1eb8d4f,ibhbnbsbjsc,oem_id_192635ec4034,oem_model_1664,1,"
    "odm_378,mfg_sw_version_1468,c1a68b737c64a4731d1b052b",
]


def test_the_seed_examples_parse_to_the_right_fields():
    v2, v3, v3_short, v4 = (parse_line(line) for line in SEED_LINES)
    assert (v2.version, v2.status, v2.model, v2.dsn, v2.mac, v2.hwsig) == (
        2, "pass", "AY001MTP2", "", "222222222222", "ffffff31-34314132-43025916")
    assert v2.when.isoformat() == "2011-10-12T23:31:42+00:00"
    assert (v3.extra, v3.mfg_sw_version, v3.oem_id, v3.oem_model, v3.ads_connect_flag, v3.odm) == (
        "comment - no commas", "bc 1.9.4 05/29/14 17:53:48 ID c02104d", "0dfc7900", "ledevb", "1", "Acme")
    assert (v3_short.hwsig, v3_short.extra, v3_short.mfg_sw_version, v3_short.odm) == (
        "", "", "devd 1.0 2014-05-22", "Sprockley Sprockets")
    assert (v4.dsn, v4.oem_id, v4.odm, v4.mfg_sw_version, v4.wifi_setup_key) == (
        "TEST00W000009310", "oem_id_192635ec4034", "odm_378", "mfg_sw_version_1468", "c1a68b737c64a4731d1b052b")


@pytest.mark.parametrize("line", [SEED_LINES[0], SEED_LINES[1], SEED_LINES[3]])
def test_written_lines_read_back_identical(line):
    assert format_line(parse_line(line)) == line


def test_writer_fills_the_timestamp_and_checks_fields():
    entry = FactoryLogEntry(version=4, time=1423526862, status="config", model="AY001MTP1", dsn="AC000W000000001",
                            mac="f064f08863f4", ads_connect_flag="1", wifi_setup_key="00" * 16)
    line = format_line(entry)
    assert line.startswith("4,1423526862,2015/02/10 00:07:42 UTC,config,0,AY001MTP1,AC000W000000001,")
    assert parse_line(line) == FactoryLogEntry(**{**entry.__dict__, "timestamp": "2015/02/10 00:07:42 UTC"})


@pytest.mark.parametrize(("entry", "problem"), [
    (FactoryLogEntry(version=3, time=1, status="pass", model="M", extra="a, b"), "field extra: contains a comma"),
    (FactoryLogEntry(version=3, time=1, status="shipped", model="M"), "field status"),
    (FactoryLogEntry(version=5, time=1, status="pass", model="M"), "field version"),
    (FactoryLogEntry(version=2, time=1, status="pass", model="M", extra="x" * 250), "limit is 255"),
    (FactoryLogEntry(version=3, time=1, status="pass", model="M", ads_connect_flag="yes"), "ads_connect_flag"),
])
def test_writer_refuses(entry, problem):
    with pytest.raises(FactoryLogError, match=problem):
        format_line(entry)


@pytest.mark.parametrize(("line", "problem"), [
    (SEED_LINES[0] + "x" * 200, "limit is 255"),
    (SEED_LINES[0].replace("WD101a", "WD,101a"), "a comma inside a field"),
    (SEED_LINES[1] + ",x", "has 17 or 16 fields, this line has 18"),
    ("x," + SEED_LINES[0][2:], "field version"),
    (SEED_LINES[0].replace("2011/10/12 23:31:42 UTC", "12.10.2011"), "field timestamp"),
    (SEED_LINES[0].replace(",pass,", ",passed,"), "field status"),
])
def test_parser_refuses(line, problem):
    with pytest.raises(FactoryLogError, match=problem):
        parse_line(line)


def test_a_station_run_logs_each_units_firmware_release(emulator, tmp_path):
    """mfg_sw_version is the module's release (Bin version), not the AT core's build line cut short."""
    from linekit import run_service

    result, _ = run_service(emulator, "ayla", tmp_path, units=2, fail_share=0.0)
    assert result.run_dir is not None
    lines = (result.run_dir / "ayla-factory-log.csv").read_text().splitlines()
    entries = [parse_line(line) for line in lines if line.strip()]
    assert entries and {e.mfg_sw_version for e in entries} == {"v4.1.1.0(MINI-1)"}
