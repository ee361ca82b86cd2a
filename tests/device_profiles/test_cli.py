"""``linli profiles``: list, show, validate, decode and schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device_profiles import Catalogue, Profile
from device_profiles.catalogue import builtin_dir
from device_profiles.cli import app, schema_text
from tests.device_profiles.profile_texts import (
    BROKEN,
    EVERY_RULE_KIND,
    EVERY_RULE_KIND_EXAMPLES,
    VALID,
    line_of,
    write,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "docs" / "profile.schema.json"
CATALOGUE = Catalogue.load()
BUILTINS = list(CATALOGUE)

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    """Exit code and everything printed (stdout and stderr); never a traceback."""
    result = runner.invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def stdout_json(*args: str, stdin: str | None = None) -> object:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- list ---------------------------------------------------------------------------------


def test_list_shows_every_builtin_profile() -> None:
    code, out = invoke("list")
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "ID", "TYPE", "VENDOR/MODEL", "VERSION", "CATEGORY", "FAULTS", "EXAMPLES",
    ]  # fmt: skip
    assert lines[-1] == f"{len(BUILTINS)} profiles"
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert set(rows) == {profile.id for profile in BUILTINS}
    acme = CATALOGUE["acme_access_gate"]
    assert rows["acme_access_gate"] == [
        "acme_access_gate", "access_gate", "Acme", "Access/AG-200", acme.version, "access",
        str(len(acme.faults)), str(len(acme.examples)),
    ]  # fmt: skip
    column = lines[0].index("VERSION")
    for line in lines[1:-1]:
        assert re.match(r"\d+\.\d+\.\d+ ", line[column:]), f"columns are aligned: {line!r}"


def test_list_json() -> None:
    listed = stdout_json("list", "--json")
    assert isinstance(listed, list)
    by_id = {item["id"]: item for item in listed}
    assert set(by_id) == {profile.id for profile in BUILTINS}
    button = CATALOGUE["safecall_alarm_button"]
    assert by_id["safecall_alarm_button"] == {
        "id": "safecall_alarm_button",
        "name": "Repair-alarm button",
        "type": "alarm_button",
        "vendor": "SafeCall",
        "model": "B1",
        "version": button.version,
        "category": "alarm",
        "heartbeat_s": 600.0,
        "faults": len(button.faults),
        "examples": len(button.examples),
    }


def test_list_includes_a_site_directory(site: Path) -> None:
    code, out = invoke("list", "--profiles-dir", str(site))
    assert code == 0, out
    assert "test_water_pump" in out
    assert out.strip().splitlines()[-1] == f"{len(BUILTINS) + 1} profiles"


def test_list_with_an_invalid_site_profile_exits_2_naming_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "pump.yaml", BROKEN)
    code, out = invoke("list", "--profiles-dir", str(tmp_path))
    assert code == 2
    assert f"{path}:{line_of(BROKEN, 'heartbeat_s: often')}: heartbeat_s: " in out
    assert f"{path}:{line_of(BROKEN, 'colour: red')}: colour: " in out


# --- show ---------------------------------------------------------------------------------


def test_show_prints_identity_topics_metrics_faults_rules_ticket_examples() -> None:
    code, out = invoke("show", "acme_access_gate")
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[0] == "acme_access_gate: Pedestrian access gate"
    for expected in [
        "vendor Acme Access",
        "model AG-200",
        f"version {CATALOGUE['acme_access_gate'].version}",
        "heartbeat every 60 s",
        "acme/gate/{device_id}/state json acme/gate/+/state",
        "motor_current float A [0, 20] motor_ma, scale 0.001",
        "motor_jammed critical high yes err=11 Gate motor jammed",
        "door_forced minor normal (template) yes err=12 Gate forced open",
        "motor_overcurrent major normal (template) yes rule Gate motor drawing too much current",
        "motor_overcurrent when motor_current > 8",
        "skill access-control",
        "sla standard",
        "motor_jammed acme/gate/gate-01/state faulty: motor_jammed",
        "normal acme/gate/gate-01/state ok",
    ]:
        assert expected in lines, f"{expected!r} not in:\n{out}"


def test_show_prints_rule_conditions_and_csv_topics() -> None:
    code, out = invoke("show", "brightway_street_light")
    assert code == 0, out
    assert "lamp_out  when current < 0.05; while on == true; for_s 120" in out
    assert "relay, map ON=true, OFF=false" in out
    code, out = invoke("show", "safecall_alarm_button")
    assert code == 0, out
    assert "safecall/{device_id}/evt  csv: ts,battery,pressed,tamper  safecall/+/evt" in out
    assert "help_requested  critical  urgent" in out


def test_show_prints_every_rule_kind_and_the_commands(tmp_path: Path) -> None:
    write(tmp_path, "pump.yaml", EVERY_RULE_KIND)
    code, out = invoke("show", "test_water_pump", "--profiles-dir", str(tmp_path))
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "offline silence heartbeats=3" in lines
    assert "dry_often rate fault=dry_run, count=3, window_s=3600" in lines
    assert "low_pressure when pressure < 1.5" in lines
    assert "dry_often major normal (template) no rule Runs dry often" in lines
    assert "commands" in lines
    assert (
        "reset description=Reset the controller, topic=testpump/{device_id}/cmd, "
        "payload={op=reset}" in lines
    )


def test_show_json_is_the_profile() -> None:
    shown = stdout_json("show", "brightway_street_light", "--json")
    assert Profile.model_validate(shown) == CATALOGUE["brightway_street_light"]


def test_show_of_an_unknown_id_exits_2_suggesting_close_matches() -> None:
    code, out = invoke("show", "acme_gate")
    assert code == 2
    assert "no profile 'acme_gate'; did you mean acme_access_gate" in out
    code, out = invoke("show", "light")
    assert code == 2
    assert "did you mean brightway_street_light?" in out


def test_show_of_an_unrelated_id_lists_the_known_ones() -> None:
    code, out = invoke("show", "teapot")
    assert code == 2
    assert "no profile 'teapot'; known: " in out
    for profile in BUILTINS:
        assert profile.id in out


# --- validate -----------------------------------------------------------------------------


def test_validate_a_good_file(site: Path) -> None:
    path = site / "pump.yaml"
    code, out = invoke("validate", str(path))
    assert code == 0, out
    assert out.splitlines() == [f"ok  {path}  (test_water_pump 1.0.0)", "1 file, 0 errors"]


def test_validate_prints_every_error_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "pump.yaml", BROKEN)
    code, out = invoke("validate", str(path))
    assert code == 1
    expected = [  # in file order
        f"{path}:{line_of(BROKEN, 'colour: red')}: colour: Extra inputs are not permitted",
        f"{path}:{line_of(BROKEN, 'heartbeat_s: often')}: heartbeat_s: ",
        f"{path}:{line_of(BROKEN, 'pattern: testpump/telemetry')}: topics[0].pattern: ",
        f"{path}:{line_of(BROKEN, 'fault: exploded')}: rules[0].fault: ",
    ]
    lines = out.splitlines()
    assert len(lines) == len(expected) + 1, out
    for start, line in zip(expected, lines, strict=False):
        assert line.startswith(start), f"{line!r} does not start with {start!r}"
    assert lines[-1] == "1 file, 4 errors"
    assert "ok  " not in out


def test_validate_a_directory(tmp_path: Path) -> None:
    good = write(tmp_path, "a_pump.yaml", VALID.replace("test_water_pump", "test_good_pump"))
    bad = write(tmp_path, "b_pump.yaml", BROKEN)
    write(tmp_path, "notes.txt", "not a profile")
    code, out = invoke("validate", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"ok  {good}  (test_good_pump 1.0.0)"
    assert sum(line.startswith(f"{bad}:") for line in lines) == 4
    assert "notes.txt" not in out
    assert lines[-1] == "2 files, 4 errors"


def test_validate_the_builtin_catalogue() -> None:
    code, out = invoke("validate", str(builtin_dir()))
    assert code == 0, out
    for profile in BUILTINS:
        assert f"{builtin_dir() / profile.id}.yaml  ({profile.id} {profile.version})" in out
    assert out.splitlines()[-1] == f"{len(BUILTINS)} files, 0 errors"


def test_validate_a_missing_path_or_an_empty_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    empty = tmp_path / "empty"
    empty.mkdir()
    stray = tmp_path / "stray"
    write(stray, "pump.yml", VALID)
    code, out = invoke("validate", str(missing), str(empty), str(stray))
    assert code == 1
    assert out.splitlines() == [
        f"{missing}: no such file or directory",
        f"{empty}: no *.yaml profile files",
        f"{stray}: no *.yaml profile files; rename pump.yml to *.yaml",
        "0 files, 3 errors",
    ]


def test_validate_reports_an_id_that_clashes_with_a_builtin(tmp_path: Path) -> None:
    text = (builtin_dir() / "acme_access_gate.yaml").read_text(encoding="utf-8")
    path = write(tmp_path, "my_gate.yaml", text)
    code, out = invoke("validate", str(path))
    assert code == 1
    line = line_of(text, "id: acme_access_gate")
    assert out.splitlines() == [
        f"{path}:{line}: id: 'acme_access_gate' is the id of the built-in profile "
        f"{builtin_dir() / 'acme_access_gate.yaml'}",
        "1 file, 1 error",
    ]


def test_validate_reports_an_id_two_given_files_share(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "pump.yaml", VALID)
    second = write(tmp_path / "two", "pump.yaml", VALID)
    code, out = invoke("validate", str(first), str(second), str(first))  # the same file twice
    assert code == 1
    line = line_of(VALID, "id: test_water_pump")
    assert out.splitlines() == [
        f"ok  {first}  (test_water_pump 1.0.0)",
        f"{second}:{line}: id: 'test_water_pump' is also defined in {first}",
        "2 files, 1 error",
    ]


def test_validate_runs_the_examples(tmp_path: Path) -> None:
    text = (
        VALID.replace("metrics: {pressure: 3.2}", "metrics: {pressure: 3.3}")
        .replace("  low_pressure:\n", "  leaking:\n    title: Leak\n  low_pressure:\n")
        .replace("      faults: [dry_run]\n      health: faulty", "      faults: [dry_run]")
    )
    path = write(tmp_path, "pump.yaml", text)
    code, out = invoke("validate", str(path))
    assert code == 1
    expect_line = line_of(text, "name: dry_run") + 3  # health is not written: its mapping
    assert text.splitlines()[expect_line - 1].strip() == "expect:"
    assert out.splitlines() == [
        f"{path}:{line_of(text, '  leaking:')}: faults.leaking: "
        "no example produces fault 'leaking'",
        f"{path}:{line_of(text, '{pressure: 3.3}')}: examples[0].expect.metrics.pressure: "
        "example 'normal': pressure decodes to 3.2, expected 3.3",
        f"{path}:{expect_line}: examples[1].expect.health: "
        "example 'dry_run': health is faulty, expected ok",
        "1 file, 3 errors",
    ]


def test_validate_reports_an_example_that_does_not_decode(tmp_path: Path) -> None:
    text = VALID.replace("payload: {p: 10, dry: false}", "payload: {p: 10}")
    path = write(tmp_path, "pump.yaml", text)
    code, out = invoke("validate", str(path))
    assert code == 1
    line = line_of(text, "payload: {p: 10}")
    assert out.splitlines() == [
        f"{path}:{line}: examples[2].payload: example 'low_pressure' does not decode: "
        "missing fault field 'dry'",
        "1 file, 1 error",  # and no consequential "no example produces fault 'low_pressure'"
    ]


def test_validate_reports_an_example_on_a_foreign_topic(tmp_path: Path) -> None:
    text = VALID.replace("topic: testpump/pump-1/telemetry", "topic: pump/pump-1/telemetry", 1)
    path = write(tmp_path, "pump.yaml", text)
    code, out = invoke("validate", str(path))
    assert code == 1
    line = line_of(text, "topic: pump/pump-1/telemetry")
    assert out.splitlines() == [
        f"{path}:{line}: examples[0].topic: "
        "example 'normal': topic matches none of the profile's topic patterns",
        "1 file, 1 error",  # and no consequential "no example decodes to health ok"
    ]


def test_validate_runs_examples_with_history_and_silence(tmp_path: Path) -> None:
    path = write(tmp_path, "pump.yaml", EVERY_RULE_KIND_EXAMPLES)
    code, out = invoke("validate", str(path))
    assert code == 0, out
    broken = EVERY_RULE_KIND_EXAMPLES.replace("silent_for_s: 360", "silent_for_s: 300")
    path = write(tmp_path, "pump.yaml", broken)
    code, out = invoke("validate", str(path))
    assert code == 1
    assert (
        f"{path}:{line_of(broken, 'faults: [offline]')}: examples[3].expect.faults: "
        "example 'offline': active faults are none, expected offline"
    ) in out.splitlines()


def test_validate_reports_a_repeated_example_name(tmp_path: Path) -> None:
    text = VALID.replace("- name: dry_run", "- name: normal")
    path = write(tmp_path, "pump.yaml", text)
    code, out = invoke("validate", str(path))
    assert code == 1
    line = line_of(VALID, "name: dry_run")  # the second "normal"
    assert out.splitlines() == [
        f"{path}:{line}: examples[1].name: example 'normal': another example has this name",
        "1 file, 1 error",
    ]


def test_validate_needs_a_path() -> None:
    code, out = invoke("validate")
    assert code == 2
    assert "Missing argument" in out


# --- decode -------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", BUILTINS, ids=lambda p: p.id)
def test_decode_the_first_example_of_each_builtin(profile: Profile) -> None:
    example = profile.examples[0]
    payload = example.payload if isinstance(example.payload, str) else json.dumps(example.payload)
    decoded = stdout_json("decode", profile.id, payload)
    assert isinstance(decoded, dict)
    assert decoded["topic"] == example.topic
    reading = decoded["reading"]
    assert reading["device_id"] == example.expect.device_id
    assert reading["profile"] == profile.id
    assert reading["profile_version"] == profile.version
    assert reading["metrics"] == pytest.approx(example.expect.metrics)
    assert decoded["verdict"] == {
        "faults": sorted(example.expect.faults),
        "health": example.expect.health.value,
    }


def test_decode_prints_device_faults_rule_faults_and_the_event_time() -> None:
    decoded = stdout_json(
        "decode",
        "acme_access_gate",
        '{"ts": 1764201660, "door": 1, "cycles": 3, "motor_ma": 9500, "err": 11}',
        "--topic",
        "acme/gate/gate-09/state",
    )
    assert decoded == {
        "topic": "acme/gate/gate-09/state",
        "reading": {
            "device_id": "gate-09",
            "device_type": "access_gate",
            "profile": "acme_access_gate",
            "profile_version": CATALOGUE["acme_access_gate"].version,
            "ts": "2025-11-27T00:01:00Z",
            "metrics": {"door_open": True, "cycles": 3, "motor_current": 9.5},
            "faults": ["motor_jammed"],
        },
        "verdict": {"faults": ["motor_jammed", "motor_overcurrent"], "health": "faulty"},
    }


def test_decode_garbage_exits_1_with_the_reason() -> None:
    code, out = invoke("decode", "acme_access_gate", "this is not json")
    assert code == 1
    assert "cannot decode: payload is not JSON" in out


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["brightway_street_light", '{"relay": "DIM", "current_mA": 1, "voltage": 230}'],
         "on: unknown value 'DIM' at 'relay'"),
        (["safecall_alarm_button", "1764201600,87,0"], "expected 4 csv columns, got 3"),
        (["acme_access_gate", "{}", "--topic", "acme/door/x/state"],
         "topic 'acme/door/x/state' does not match profile acme_access_gate"),
    ],
    ids=["unknown_enum", "short_csv", "foreign_topic"],
)  # fmt: skip
def test_decode_errors_exit_1_with_the_reason(args: list[str], reason: str) -> None:
    code, out = invoke("decode", *args)
    assert code == 1
    assert reason in out


def test_decode_from_stdin() -> None:
    decoded = stdout_json("decode", "safecall_alarm_button", "-", stdin="1764201600,9,0,0\n")
    assert isinstance(decoded, dict)
    assert decoded["reading"]["device_id"] == "sos-01"
    assert decoded["reading"]["metrics"] == {"battery": 9.0}
    assert decoded["verdict"] == {"faults": ["battery_low"], "health": "degraded"}


def test_decode_from_a_file(tmp_path: Path) -> None:
    payload = tmp_path / "lamp.json"
    payload.write_text('{"relay": "ON", "current_mA": 0, "voltage": 230, "alarms": ["LAMP_FAIL"]}')
    decoded = stdout_json("decode", "brightway_street_light", f"@{payload}")
    assert isinstance(decoded, dict)
    assert decoded["reading"]["metrics"] == {"on": True, "current": 0.0, "voltage": 230.0}
    # one reading cannot show lamp_out: it must hold for 120 s
    assert decoded["verdict"] == {"faults": ["lamp_failure"], "health": "faulty"}


def test_decode_from_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, out = invoke("decode", "acme_access_gate", f"@{tmp_path / 'none.json'}")
    assert code == 2
    assert "cannot read" in out and "none.json" in out


def test_decode_with_an_unknown_profile_exits_2() -> None:
    code, out = invoke("decode", "acme_gates", "{}")
    assert code == 2
    assert "did you mean acme_access_gate" in out


def test_decode_with_a_site_profile(site: Path) -> None:
    decoded = stdout_json(
        "decode", "test_water_pump", '{"p": 10, "dry": true}', "--profiles-dir", str(site)
    )
    assert isinstance(decoded, dict)
    assert decoded["topic"] == "testpump/pump-1/telemetry"
    assert decoded["verdict"] == {"faults": ["dry_run", "low_pressure"], "health": "faulty"}


# --- schema -------------------------------------------------------------------------------


def test_schema_is_json_schema_of_the_profile() -> None:
    exported = stdout_json("schema")
    assert isinstance(exported, dict)
    assert exported["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert exported["$id"] == "urn:linli:profile:v1"
    assert exported["title"] == "linli.profile/v1"
    required = {
        field.alias or name for name, field in Profile.model_fields.items() if field.is_required()
    }
    assert set(exported["required"]) == required
    assert {"schema", "id", "version", "topics", "decode", "ticket", "examples"} <= required
    assert exported["additionalProperties"] is False
    assert "while" in exported["$defs"]["Rule"]["properties"]


def test_schema_output_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "profile.schema.json"
    code, out = invoke("schema", "--output", str(target))
    assert code == 0, out
    assert out == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == schema_text()


def test_schema_to_an_unwritable_place_exits_1(tmp_path: Path) -> None:
    code, out = invoke("schema", "--output", str(tmp_path / "no" / "such" / "dir.json"))
    assert code == 1
    assert "cannot write" in out


def test_the_committed_schema_is_current() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    assert committed == schema_text(), (
        "docs/profile.schema.json is stale: regenerate it with `make schema` "
        "(.venv/bin/linli profiles schema --output docs/profile.schema.json)"
    )


# --- site directories: --profiles-dir or LINLI_PROFILES_DIRS -----------------------------

ENV_DIRS = "LINLI_PROFILES_DIRS"


def test_the_environment_names_site_directories(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIRS, json.dumps([str(site)]))
    code, out = invoke("list")
    assert code == 0, out
    assert "test_water_pump" in out
    assert out.strip().splitlines()[-1] == f"{len(BUILTINS) + 1} profiles"
    decoded = stdout_json("decode", "test_water_pump", '{"p": 32, "dry": false}')
    assert isinstance(decoded, dict)
    assert decoded["reading"]["profile"] == "test_water_pump"


def test_the_option_overrides_the_environment(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    write(broken, "pump.yaml", BROKEN)
    monkeypatch.setenv(ENV_DIRS, json.dumps([str(broken)]))
    assert invoke("list")[0] == 2  # the environment's directory is read ...
    code, out = invoke("list", "--profiles-dir", str(site))  # ... unless the option is given
    assert code == 0, out
    assert "test_water_pump" in out


@pytest.mark.parametrize(
    ("value", "problem"),
    [("not json", "not valid JSON for its type"), ('{"a": 1}', "valid list")],
    ids=["not_json", "not_a_list"],
)
def test_a_bad_environment_value_exits_2_naming_option_and_variable(
    value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIRS, value)
    code, out = invoke("list")
    assert code == 2
    assert f"linli profiles: setting dirs (--profiles-dir or {ENV_DIRS}): " in out
    assert problem in out


@pytest.mark.parametrize("command", ["list", "show", "decode"])
def test_the_help_names_the_environment_variable(command: str) -> None:
    code, out = invoke(command, "--help")
    assert code == 0, out
    assert "--profiles-dir" in out
    words = " ".join(out.replace("│", " ").split())  # the help as one line, without its box
    assert f"(env {ENV_DIRS}, a JSON list)" in words


# --- help and the front door -------------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "show", "validate", "decode", "schema"])
def test_every_command_has_help(command: str) -> None:
    code, out = invoke(command, "--help")
    assert code == 0, out
    assert "Usage:" in out


def test_the_front_door_mounts_linli_profiles() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "linli", "profiles", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    for profile in BUILTINS:
        assert profile.id in listed.stdout
