"""Bad plan and fixture files: each refused with one line naming the file and the field or line.

The loaders are exercised on real files in ``tmp_path``; ``test_bad_input_cli.py`` takes
the same files through ``linegate run``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
from linegate.fixtures.config import FixtureError, load_fixture
from linegate.fixtures.faults import FAULTS
from linegate.plans import Limits, PlanError, load_plan
from linegate.plans.plan import MAX_STEPS_FROM_DEPTH
from linegate.plans.yamlfile import MAX_BYTES, MAX_VALUES, YamlFileError, read_capped

REPO = Path(__file__).resolve().parent.parent

PLAN = """name: p
version: "1"
steps:
  - name: s1
    test: t.py::test_a
    measurements:
      - {name: m1, low: 1, high: 2, marginal_low: 1.1, marginal_high: 1.9}
      - {name: m2, equals: 3}
"""

FIXTURE = """station: s
sockets:
  - name: A
    dut: {port: /dev/ttyX, timeout_s: 1.0}
simulated:
  seed: 1
  fail_share: 0.25
"""


def write(tmp_path: Path, text: str | bytes, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def plan_error(path: Path) -> str:
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


def fixture_error(path: Path) -> str:
    with pytest.raises(FixtureError) as info:
        load_fixture(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


# -- NaN and infinite numbers ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("low: 1,", "low: .nan,", "steps[0](s1).measurements[0](m1).low: nan"),
        ("high: 2,", "high: .inf,", "steps[0](s1).measurements[0](m1).high: inf"),
        ("marginal_low: 1.1", "marginal_low: -.inf", "steps[0](s1).measurements[0](m1).marginal_low: -inf"),
        ("marginal_high: 1.9", "marginal_high: .NaN", "steps[0](s1).measurements[0](m1).marginal_high: nan"),
        ("equals: 3", "equals: .nan", "steps[0](s1).measurements[1](m2).equals: nan"),
    ],
)
def test_nan_and_infinite_limits_name_the_measurement_and_field(tmp_path, old, new, field):
    message = plan_error(write(tmp_path, PLAN.replace(old, new)))
    assert f"{field} is not a finite number" in message


@pytest.mark.parametrize("field", ["low", "high", "marginal_low", "equals"])
def test_limits_built_in_code_refuse_nan_too(field):
    with pytest.raises(ValueError, match="finite number"):
        Limits(**{field: math.nan})


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("fail_share: 0.25", "fail_share: .nan", "simulated.fail_share: nan"),
        ("timeout_s: 1.0", "timeout_s: .inf", "sockets[0](A).dut.timeout_s: inf"),
        ("station: s", "station: s\ncloud: {base_url: 'http://127.0.0.1:1', timeout_s: .inf}",
         "cloud.timeout_s: inf"),
    ],
)
def test_nan_and_infinity_in_a_fixture_file_name_the_field(tmp_path, old, new, field):
    message = fixture_error(write(tmp_path, FIXTURE.replace(old, new), "fixture.yaml"))
    assert f"{field} is not a finite number" in message


# -- duplicate keys ----------------------------------------------------------------------------------

def test_a_duplicate_top_level_key_names_key_and_both_lines(tmp_path):
    message = plan_error(write(tmp_path, PLAN + 'version: "2"\n'))
    assert "line 9: duplicate key 'version' (first given on line 2)" in message


def test_a_duplicate_key_inside_a_flow_mapping_is_refused(tmp_path):
    message = plan_error(write(tmp_path, PLAN.replace("low: 1, high: 2", "low: 1, high: 2, low: 0")))
    assert "line 7: duplicate key 'low'" in message


def test_a_duplicate_key_in_a_fixture_file_is_refused(tmp_path):
    text = FIXTURE.replace("dut: {port: /dev/ttyX, timeout_s: 1.0}", "dut:\n      port: /dev/a\n      port: /dev/b")
    message = fixture_error(write(tmp_path, text, "fixture.yaml"))
    assert "line 6: duplicate key 'port' (first given on line 5)" in message


def test_a_merge_key_may_still_be_overridden(tmp_path):
    text = PLAN.replace("      - {name: m2, equals: 3}\n",
                        "      - &m2 {name: m2, equals: 3}\n      - {<<: *m2, name: m3, equals: 4}\n")
    step = load_plan(write(tmp_path, text)).steps[0]
    assert [(m.name, m.equals) for m in step.measurements[1:]] == [("m2", 3), ("m3", 4)]


# -- steps_from -------------------------------------------------------------------------------------

def chained(tmp_path: Path, names: list[str], last: str | None) -> None:
    """Plan ``names[i]`` takes its steps from ``names[i + 1]``; the last from ``last`` (or has steps)."""
    for name, base in zip(names, [*names[1:], last], strict=True):
        body = f"steps_from: {base}.yaml\n" if base else PLAN.split('version: "1"\n', 1)[1]
        write(tmp_path, f'name: {name}\nversion: "1"\n{body}', f"{name}.yaml")


def test_a_steps_from_cycle_names_the_chain_of_files(tmp_path):
    chained(tmp_path, ["a", "b", "c"], "a")
    message = plan_error(tmp_path / "a.yaml")
    chain = " -> ".join(str(tmp_path / f"{n}.yaml") for n in ("a", "b", "c", "a"))
    assert message == f"{tmp_path / 'a.yaml'}: steps_from: plans take their steps from each other in a cycle: {chain}"


def test_a_plan_that_takes_steps_from_itself_is_a_cycle(tmp_path):
    chained(tmp_path, ["a"], "a")
    assert "in a cycle" in plan_error(tmp_path / "a.yaml")


def test_a_deep_acyclic_steps_from_chain_loads(tmp_path):
    names = [f"p{i}" for i in range(MAX_STEPS_FROM_DEPTH)]
    chained(tmp_path, names, None)
    plan = load_plan(tmp_path / "p0.yaml")
    assert plan.name == "p0" and plan.steps[0].name == "s1"
    assert plan.sha256 != load_plan(tmp_path / "p1.yaml").sha256


def test_a_steps_from_chain_past_the_limit_is_refused(tmp_path):
    names = [f"p{i}" for i in range(MAX_STEPS_FROM_DEPTH + 1)]
    chained(tmp_path, names, None)
    message = plan_error(tmp_path / "p0.yaml")
    assert f"more than {MAX_STEPS_FROM_DEPTH} plans deep" in message


def test_a_broken_base_plan_is_named_behind_the_plan_given(tmp_path):
    chained(tmp_path, ["top", "mid", "base"], None)
    write(tmp_path, (tmp_path / "base.yaml").read_text().replace("low: 1,", "low: .inf,"), "base.yaml")
    message = plan_error(tmp_path / "top.yaml")
    assert f"steps_from: {tmp_path / 'base.yaml'}: steps[0](s1).measurements[0](m1).low: inf" in message


# -- size, encoding, shape, syntax ---------------------------------------------------------------------

def sparse(path: Path, size: int, head: bytes) -> Path:
    with path.open("wb") as f:
        f.write(head)
        f.seek(size - 1)
        f.write(b"\n")
    return path


def test_a_file_over_the_cap_is_refused_by_its_size_before_parsing(tmp_path):
    # Not UTF-8 and not YAML: had it been read and parsed, the error would say so.
    path = sparse(tmp_path / "plan.yaml", 38 * 1024 * 1024, b"\xff\xfe[[[")
    started = time.monotonic()
    message = plan_error(path)
    assert time.monotonic() - started < 1
    assert message == f"{path}: plan is 38.0 MiB, over the 1.0 MiB limit"


def test_a_fixture_one_byte_over_the_cap_is_refused(tmp_path):
    path = sparse(tmp_path / "fixture.yaml", MAX_BYTES + 1, b"\xff")
    assert "fixture file is 1.0 MiB, over the 1.0 MiB limit" in fixture_error(path)


def test_a_plan_exactly_at_the_cap_loads(tmp_path):
    text = PLAN.encode()
    path = write(tmp_path, text + b"#" * (MAX_BYTES - len(text) - 1) + b"\n")
    assert path.stat().st_size == MAX_BYTES and load_plan(path).name == "p"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_stream_without_a_size_is_cut_off_at_the_cap():
    with pytest.raises(YamlFileError, match=r"over the 1\.0 MiB limit"):
        read_capped(Path("/dev/zero"), "plan")


def test_text_that_is_not_utf8_names_its_line(tmp_path):
    path = write(tmp_path, PLAN.replace("version", 'description: "caf\u00e9"\nversion').encode("latin-1"))
    assert plan_error(path) == f"{path}: line 2: not UTF-8 text (byte 0xe9)"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    assert load_plan(write(tmp_path, b"\xef\xbb\xbf" + PLAN.encode())).name == "p"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "a plan is a mapping with name, version and steps, not a list"),
        ("just words\n", "a plan is a mapping with name, version and steps, not a single string"),
        ("", "a plan is a mapping with name, version and steps, not an empty file"),
        ("# only a comment\n", "not an empty file"),
        (PLAN.replace("test: t.py::test_a", "test: [t.py::test_a"), "line 6: malformed YAML: while parsing a flow"),
        (PLAN + "---\nname: q\n", "line 9: malformed YAML: expected a single document"),
        (PLAN.replace("name: p", "name: \"p\x07\""), "line 1: malformed YAML: character 0x07 is not allowed"),
        ("a: " + "[" * 20_000, "malformed YAML: nested too deeply"),
        ("a: !!python/object:os.system x\n", "line 1: malformed YAML: could not determine a constructor"),
    ],
)
def test_malformed_plans_are_one_line(tmp_path, text, message):
    assert message in plan_error(write(tmp_path, text))


def test_an_alias_bomb_is_refused_before_validation(tmp_path):
    levels = ["l0: &l0 [" + ", ".join(["x"] * 10) + "]"]
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
    started = time.monotonic()
    message = plan_error(write(tmp_path, "\n".join(levels) + "\n"))
    assert f"more than {MAX_VALUES} values (each alias counted" in message
    assert time.monotonic() - started < 5


def test_a_fixture_that_is_not_a_mapping(tmp_path):
    assert "a fixture file is a mapping with station and sockets, not a list" in fixture_error(
        write(tmp_path, "- A\n", "fixture.yaml"))


# -- simulated faults ----------------------------------------------------------------------------------

def test_unknown_simulated_faults_name_the_field_and_the_known_faults(tmp_path):
    path = write(tmp_path, FIXTURE + "  faults: [noise, smoke, fire]\n", "fixture.yaml")
    message = fixture_error(path)
    assert f"simulated.faults: unknown faults 'fire', 'smoke'; known: {', '.join(sorted(FAULTS))}" in message


def test_known_simulated_faults_load(tmp_path):
    config = load_fixture(write(tmp_path, FIXTURE + "  faults: [noise, busy]\n", "fixture.yaml"))
    assert config.simulated is not None and config.simulated.faults == ("noise", "busy")


def test_steps_from_together_with_steps_is_refused(tmp_path):
    (tmp_path / "base.yaml").write_text((REPO / "plans" / "esp-at-module.yaml").read_text()
                                        .replace("station_tests: ../station_tests",
                                                 f"station_tests: {REPO / 'station_tests'}"))
    plan = tmp_path / "both.yaml"
    plan.write_text("name: both\nversion: '1'\nsteps_from: base.yaml\nsteps:\n"
                    "  - {name: link, test: test_esp_at_module.py::test_link}\n")
    with pytest.raises(PlanError, match=r"both\.yaml: steps_from: .*not both"):
        load_plan(plan)
