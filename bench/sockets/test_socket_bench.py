"""Station tests of the socket benchmark (bench/sockets.py).

Ten AT commands a unit across three steps, so a unit spends about ten times the simulated module's
``command_delay_s`` waiting on its DUT; and one step that holds the station's shared DMM for
``LINEGATE_BENCH_DMM_HOLD_S`` seconds (default 0.1), the serial part of the shared-DMM scenario.
"""

from __future__ import annotations

import os
import statistics
import time

HOLD_ENV = "LINEGATE_BENCH_DMM_HOLD_S"
DMM_READS = 3


def test_link(dut, measure):
    dut.sync()  # AT, ATE0, AT+SYSLOG=1
    dut.ping()  # AT
    measure("at_ok", True)


def test_identity(dut, unit, measure):
    fw = dut.firmware()  # AT+GMR
    unit.identity["mac"] = dut.mac()  # AT+CIPSTAMAC?
    measure("at_version", fw.at_version.split("(")[0])
    measure("mac", unit.identity["mac"])


def test_settings(dut, measure):
    uart = dut.command("AT+UART_CUR?")  # +UART_CUR:<baud>,8,1,0,0
    syslog = dut.command("AT+SYSLOG?")
    namespaces = dut.mfg_namespaces()  # AT+SYSMFG?
    dut.ping()  # AT
    measure("uart_baud", int(uart[0].removeprefix("+UART_CUR:").split(",")[0]))
    measure("syslog_on", syslog == ["+SYSLOG:1"])
    measure("factory_param_present", "factory_param" in namespaces)


def test_shared_dmm(dmm, measure):
    hold_s = float(os.environ.get(HOLD_ENV, "0.1"))
    t0 = time.monotonic()
    readings = [dmm.measure_dc_voltage() for _ in range(DMM_READS)]
    time.sleep(max(0.0, hold_s - (time.monotonic() - t0)))  # a settling DMM: the step holds it hold_s in all
    measure("dut_voltage", statistics.fmean(readings), "V")
