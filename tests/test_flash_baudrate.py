"""The plan's flash_baudrate: the identity is written at a faster UART rate and the link comes back."""

from __future__ import annotations

import pytest
from linegate.plans import Outcome, load_plan
from linekit import REPO, run_service


def _fast_plan(service: str):
    plan = load_plan(REPO / "plans" / f"esp-at-{service}.yaml")
    assert plan.provisioning is not None
    return plan.model_copy(update={"provisioning": plan.provisioning.model_copy(update={"flash_baudrate": 921600})})


def _transcript(record) -> str:
    return next(a for a in record.attachments if a.name == "serial-transcript.txt").content


@pytest.mark.parametrize("service", ["ayla", "enos-mqtt"])
def test_identity_is_written_at_the_fast_rate_and_the_link_comes_back(emulator, tmp_path, service, monkeypatch):
    monkeypatch.setattr("linekit.load_plan", lambda _: _fast_plan(service))
    result, _ = run_service(emulator, service, tmp_path, units=3, fail_share=0.0)
    assert [r.outcome for r in result.records] == [Outcome.PASS] * 3
    for record in result.records:
        transcript = _transcript(record)
        assert "AT+UART_CUR=921600" in transcript and "AT+UART_CUR=115200" in transcript
        assert record.provisioning is not None and record.provisioning.readback_ok


def test_a_module_that_refuses_the_switch_is_provisioned_at_the_links_rate(emulator, tmp_path, monkeypatch):
    monkeypatch.setattr("linekit.load_plan", lambda _: _fast_plan("ayla"))
    result, _ = run_service(emulator, "ayla", tmp_path, units=2, fail_share=0.0, faults=("baud-refuse",))
    assert [r.outcome for r in result.records] == [Outcome.PASS] * 2
    for record in result.records:
        transcript = _transcript(record)
        assert "AT+UART_CUR=921600" in transcript and "AT+UART_CUR=115200" not in transcript
