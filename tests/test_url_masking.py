"""A password in a URL never shows, even when the password makes the URL unparseable."""

from __future__ import annotations

import pytest
from linegate.drivers.cloud.errors import redact, safe_url
from linegate.fixtures.cloud_account import url_problem


@pytest.mark.parametrize(("url", "shown"), [
    ("http://linefix:s3cret@host:8080/api", "http://linefix:***@host:8080/api"),
    ("http://linefix:Hu#nter2PW@127.0.0.1:9", "http://linefix:***@127.0.0.1:9"),
    ("http://linefix:a/b?c@host/x", "http://linefix:***@host/x"),
    ("http://linefix:p@ss@host", "http://linefix:***@host"),
    ("http://TOKEN123456@host/", "http://***@host/"),
    ("mqtt://gw:pw@broker:1883", "mqtt://gw:***@broker:1883"),
    ("http://host/api?token=abc123&x=1", "http://host/api?token=***&x=1"),
    ("http://host:8080/path", "http://host:8080/path"),
    ("", ""),
])
def test_safe_url_masks_every_kind_of_secret(url, shown):
    assert safe_url(url) == shown


@pytest.mark.parametrize("url", ["http://linefix:Hu#nter2PWzz@127.0.0.1:9", "http://u:pw/with/slash@h:99999"])
def test_a_url_refused_as_invalid_does_not_repeat_its_password(url):
    problem = url_problem(url, ("http", "https"))
    assert problem is not None
    assert "nter2PW" not in problem and "with/slash" not in problem and "***" in problem


def test_redact_masks_urls_inside_free_text():
    text = "ConnectError: cannot reach 'http://linefix:Hu#nter2PW@127.0.0.1:9/x' (refused) from user@host"
    assert "nter2PW" not in redact(text) and "linefix:***@127.0.0.1:9" in redact(text)
