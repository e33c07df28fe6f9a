"""Issue 11, point 3.2: secrets never need to sit in the fixture file.

``${ENV_VAR}`` references anywhere in the cloud section, or a separate secrets file that only its
owner may open. Through the fixture loader, and end to end (a line against the in-process emulators).
No secret value may appear in any refusal.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from cloudkit import assert_no_secret, secrets_of
from cloudline import SERVICES, cloud_of, run_cli, write_fixture
from linegate.fixtures.cloud_account import CloudAccount
from linegate.fixtures.cloud_secrets import fixture_folder
from linegate.fixtures.config import FixtureError, load_fixture
from test_cloud_startup import one_line

SECRET_FIELDS = {"ayla": ["ayla.token", "ayla.oem_token"], "yosmart": ["yosmart.token"],
                 "enos-dps": ["enos.app_secret"], "enos-mqtt": ["enos.app_secret", "enos.gateway.device_secret"]}
ALL_SECRET_FIELDS = sorted({f for fields in SECRET_FIELDS.values() for f in fields})


def _pop(doc: dict, dotted: str):
    *parents, last = dotted.split(".")
    for key in parents:
        doc = doc[key]
    return doc.pop(last)


def _put(doc: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        doc = doc.setdefault(key, {})
    doc[last] = value


def _secrets_apart(emulator) -> tuple[dict, dict]:
    """The emulator's account split in two: the cloud section without secrets, and the secrets."""
    cloud, secrets = cloud_of(emulator), {}
    for dotted in ALL_SECRET_FIELDS:
        _put(secrets, dotted, _pop(cloud, dotted))
    return cloud, secrets


def _write_secrets(folder: Path, secrets: dict, mode: int = 0o600, name: str = "line3-secrets.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(secrets))
    path.chmod(mode)
    return path


def _refusal(fixture: Path) -> str:
    with pytest.raises(FixtureError) as e:
        load_fixture(fixture)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{fixture}: ")
    return message


# -- ${ENV_VAR} references -------------------------------------------------------------------------------------
def test_env_references_are_replaced_anywhere_in_the_cloud_section(tmp_path, monkeypatch):
    monkeypatch.setenv("LG_YS_TOKEN", "ys-token-from-env")
    monkeypatch.setenv("LG_HOST", "ys.example")
    monkeypatch.setenv("LG_TIMEOUT", "7.5")
    fixture = write_fixture(tmp_path, {"timeout_s": "${LG_TIMEOUT}", "yosmart": {
        "token": "${LG_YS_TOKEN}", "base_url": "https://${LG_HOST}:8443/api-$${literal}"}})
    account = load_fixture(fixture).cloud
    assert account.yosmart.token.get_secret_value() == "ys-token-from-env"
    assert account.yosmart.base_url == "https://ys.example:8443/api-${literal}"
    assert account.timeout_s == 7.5
    assert "ys-token-from-env" not in repr(account) and "ys-token-from-env" not in str(load_fixture(fixture))


@pytest.mark.parametrize(("token", "env", "problem"), [
    ("${LG_UNSET_TOKEN}", {}, "environment variable LG_UNSET_TOKEN is not set"),
    ("tok-${LG_UNSET_TOKEN}-en", {}, "environment variable LG_UNSET_TOKEN is not set"),
    ("${LG_EMPTY_TOKEN}", {"LG_EMPTY_TOKEN": ""}, "environment variable LG_EMPTY_TOKEN is empty"),
    ("s3cret-${unterminated", {}, "'${' without a closing '}' (write '$${' for a literal '${')"),
    ("s3cret-${not a-name}", {}, "holds a '${...}' that is not an environment variable reference ${NAME}"),
])
def test_an_unusable_env_reference_is_refused_naming_field_and_variable(tmp_path, monkeypatch, token, env, problem):
    monkeypatch.delenv("LG_UNSET_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fixture = write_fixture(tmp_path, {"yosmart": {"token": token}})
    message = _refusal(fixture)
    assert message.startswith(f"{fixture}: cloud.yosmart.token: {problem}")
    assert "s3cret" not in message and "tok-" not in message


# -- the secrets file -------------------------------------------------------------------------------------------
def test_a_0600_secrets_file_is_merged_into_the_cloud_section(emulator, tmp_path):
    cloud, secrets = _secrets_apart(emulator)
    path = _write_secrets(tmp_path, secrets)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": str(path)})
    for value in secrets_of(emulator):
        assert value not in fixture.read_text()
    account = load_fixture(fixture).cloud
    assert account == CloudAccount.from_emulator(emulator.info()).model_copy(update={"secrets_file": str(path)})
    text = repr(account)
    for value in secrets_of(emulator):
        assert value not in text


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_relative_secrets_file_is_next_to_the_fixture_file(emulator, tmp_path, monkeypatch, mode):
    cloud, secrets = _secrets_apart(emulator)
    folder = tmp_path / "station"
    folder.mkdir()
    _write_secrets(folder, secrets, mode)
    monkeypatch.chdir(tmp_path)  # not the fixture's folder
    doc = {**cloud, "secrets_file": "line3-secrets.yaml"}
    for account in (CloudAccount.model_validate(doc, context={"fixture_dir": folder}),
                    _validate_in(folder, doc)):
        assert account.yosmart.token.get_secret_value() == emulator.credentials.yosmart_token
        assert account.secrets_file == str(folder / "line3-secrets.yaml")


def _validate_in(folder: Path, doc: dict) -> CloudAccount:
    with fixture_folder(folder):
        return CloudAccount.model_validate(doc)


def test_load_fixture_takes_a_relative_secrets_file_from_the_fixtures_folder(emulator, tmp_path, monkeypatch):
    cloud, secrets = _secrets_apart(emulator)
    _write_secrets(tmp_path, secrets)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": "line3-secrets.yaml"})
    monkeypatch.chdir(fixture.anchor)
    assert load_fixture(fixture).cloud.yosmart.token.get_secret_value() == emulator.credentials.yosmart_token


@pytest.mark.parametrize(("mode", "how"), [(0o644, "readable"), (0o640, "readable"), (0o604, "readable"),
                                           (0o620, "writable"), (0o601, "usable")])
def test_a_secrets_file_others_can_open_is_refused_like_ssh_does(emulator, tmp_path, mode, how):
    cloud, secrets = _secrets_apart(emulator)
    path = _write_secrets(tmp_path, secrets, mode)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": str(path)})
    message = _refusal(fixture)
    assert message == (f"{fixture}: cloud.secrets_file: {path}: holds secrets but is {how} by group/others "
                       f"(mode {mode:04o}); chmod 600 it")


@pytest.mark.parametrize(("content", "problem"), [
    ({"yosmart": {"tokn": "s3cret-value"}}, "{path}: yosmart.tokn: not a field of the cloud section"),
    ({"secrets_file": "other.yaml"}, "{path}: secrets_file: not a field of the cloud section"),
    ({"ayla": {"token": "s3cret-value"}}, "{path}: ayla.token: also given in the fixture file; give it in one place"),
    (["s3cret-value"], "{path}: a secrets file is a mapping of cloud-section fields, not a list"),
    ("yosmart: {token: s3cret-value}\nyosmart: {token: s3cret-value}\n", "{path}: line 2: duplicate key 'yosmart'"),
    (None, "{path}: cannot read the secrets file: No such file or directory"),
])
def test_a_secrets_file_that_cannot_be_used_is_refused_with_one_line(tmp_path, content, problem):
    path = tmp_path / "line3-secrets.yaml"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_text(yaml.safe_dump(content))
    if path.exists():
        path.chmod(0o600)
    fixture = write_fixture(tmp_path, {"secrets_file": str(path), "ayla": {"token": "fixture-token"}})
    message = _refusal(fixture)
    assert message.startswith(f"{fixture}: cloud.secrets_file: {problem.format(path=path)}")
    assert "s3cret-value" not in message and "fixture-token" not in message


def test_the_secrets_file_may_use_env_references_and_its_name_too(emulator, tmp_path, monkeypatch):
    cloud, secrets = _secrets_apart(emulator)
    monkeypatch.setenv("LG_YS_TOKEN", secrets["yosmart"]["token"])
    monkeypatch.setenv("LG_SECRETS_DIR", str(tmp_path))
    secrets["yosmart"]["token"] = "${LG_YS_TOKEN}"
    _write_secrets(tmp_path, secrets)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": "${LG_SECRETS_DIR}/line3-secrets.yaml"})
    assert load_fixture(fixture).cloud.yosmart.token.get_secret_value() == emulator.credentials.yosmart_token
    monkeypatch.delenv("LG_SECRETS_DIR")
    assert _refusal(fixture) == f"{fixture}: cloud.secrets_file: environment variable LG_SECRETS_DIR is not set"


# -- end to end: a line against the emulators ------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_a_line_runs_with_its_secrets_from_the_environment(emulator, tmp_path, capsys, monkeypatch, service):
    cloud = cloud_of(emulator)
    for i, dotted in enumerate(SECRET_FIELDS[service]):
        monkeypatch.setenv(f"LG_SECRET_{i}", _pop(cloud, dotted))
        _put(cloud, dotted, f"${{LG_SECRET_{i}}}")
    fixture = write_fixture(tmp_path, cloud)
    code, _ = run_cli(tmp_path, fixture, service, units=2)
    assert code == 0, capsys.readouterr().err
    for value in (os.environ[f"LG_SECRET_{i}"] for i in range(len(SECRET_FIELDS[service]))):
        assert value not in fixture.read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_a_line_runs_with_its_secrets_from_a_0600_file(emulator, tmp_path, capsys, service):
    cloud, secrets = _secrets_apart(emulator)
    path = _write_secrets(tmp_path, secrets)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": str(path)})
    code, _ = run_cli(tmp_path, fixture, service, units=2)
    assert code == 0, capsys.readouterr().err
    assert list((tmp_path / "out").rglob("*.json"))


def test_a_line_with_a_0644_secrets_file_exits_2_before_anything_runs(emulator, tmp_path, capsys):
    cloud, secrets = _secrets_apart(emulator)
    path = _write_secrets(tmp_path, secrets, 0o644)
    fixture = write_fixture(tmp_path, {**cloud, "secrets_file": str(path)})
    code, _ = run_cli(tmp_path, fixture, "yosmart")
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f"linegate: error: {fixture}: cloud.secrets_file: {path}: holds secrets but is readable by "
                    "group/others (mode 0644); chmod 600 it")
    assert_no_secret(line, emulator)
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_a_line_with_an_unset_variable_exits_2_before_anything_runs(emulator, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LG_UNSET_SECRET", raising=False)
    fixture = write_fixture(tmp_path, cloud_of(emulator, **{"enos.app_secret": "${LG_UNSET_SECRET}"}))
    code, _ = run_cli(tmp_path, fixture, "enos-dps")
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f"linegate: error: {fixture}: cloud.enos.app_secret: environment variable LG_UNSET_SECRET "
                    "is not set")
    assert_no_secret(line, emulator)
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()
