"""A broken profile file is reported with file, line and field for every problem in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from device_profiles import Catalogue, Profile, ProfileError, ProfileIssue, load_file
from device_profiles.catalogue import builtin_dir, load_document
from tests.device_profiles.profile_texts import BROKEN, VALID, line_of, write
from tests.device_profiles.profiles_under_test import ENV


def issues_of(path: Path) -> list[ProfileIssue]:
    with pytest.raises(ProfileError) as caught:
        load_file(path)
    return caught.value.issues


def by_field(issues: list[ProfileIssue]) -> dict[str, ProfileIssue]:
    return {issue.field: issue for issue in issues}


def test_valid_profile_loads(tmp_path: Path) -> None:
    profile = load_file(write(tmp_path, "pump.yaml", VALID))
    assert profile.id == "test_water_pump"
    assert profile.rules[0].fault == "low_pressure"


def test_load_document_keeps_the_yaml_to_locate_later_problems(tmp_path: Path) -> None:
    profile, document = load_document(write(tmp_path, "pump.yaml", VALID))
    assert profile == load_file(document.file)
    assert document.line_of(("ticket", "skill")) == line_of(VALID, "skill: plumbing")


def test_every_error_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "pump.yaml", BROKEN)
    issues = by_field(issues_of(path))

    expected = {
        "heartbeat_s": line_of(BROKEN, "heartbeat_s: often"),
        "colour": line_of(BROKEN, "colour: red"),
        "topics[0].pattern": line_of(BROKEN, "pattern: testpump/telemetry"),
        "rules[0].fault": line_of(BROKEN, "fault: exploded"),
    }
    assert set(issues) == set(expected), [str(i) for i in issues.values()]
    for field, line in expected.items():
        issue = issues[field]
        assert issue.file == path
        assert issue.line == line, f"{field}: reported line {issue.line}, expected {line}"
    assert "number" in issues["heartbeat_s"].message
    assert "Extra inputs" in issues["colour"].message
    assert "{device_id}" in issues["topics[0].pattern"].message
    assert "exploded" in issues["rules[0].fault"].message


def test_error_text_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "pump.yaml", BROKEN)
    with pytest.raises(ProfileError) as caught:
        load_file(path)
    line = line_of(BROKEN, "heartbeat_s: often")
    assert f"{path}:{line}: heartbeat_s: " in str(caught.value)


def test_reference_errors_alone_are_located(tmp_path: Path) -> None:
    """Unresolved names are reported where they are written, one issue each."""
    text = (
        VALID.replace("flag: dry_run}", "flag: dry_running}")
        .replace("when: {metric: pressure,", "when: {metric: presure,")
        .replace("faults: [low_pressure]", "faults: [low_presure]")
        .replace("  dry_run:\n", "  Dry-Run:\n")
    )
    path = write(tmp_path, "pump.yaml", text)
    issues = by_field(issues_of(path))
    assert issues["decode.faults[0].flag"].line == line_of(text, "flag: dry_running")
    assert issues["rules[0].when.metric"].line == line_of(text, "metric: presure")
    assert issues["examples[2].expect.faults[0]"].line == line_of(text, "[low_presure]")
    assert issues["faults.Dry-Run"].line == line_of(text, "Dry-Run:")
    assert "lower_snake_case" in issues["faults.Dry-Run"].message
    assert all(issue.field for issue in issues.values()), "no summary issue without a field"


def test_rule_while_condition_with_unknown_metric(tmp_path: Path) -> None:
    text = VALID.replace(
        'when: {metric: pressure, op: "<", value: 1.5}',
        'when: {metric: pressure, op: "<", value: 1.5}\n'
        "    while:\n"
        "      - {metric: running, op: ==, value: true}",
    )
    path = write(tmp_path, "pump.yaml", text)
    issue = by_field(issues_of(path))["rules[0].while[0].metric"]
    assert issue.line == line_of(text, "metric: running")
    assert "running" in issue.message


def test_nested_field_errors_point_at_their_line(tmp_path: Path) -> None:
    text = VALID.replace("severity: critical", "severity: catastrophic").replace(
        "source: {path: p, scale: 0.1}", "source: {path: p, scale: 0.1, kind: x}"
    )
    issues = by_field(issues_of(write(tmp_path, "pump.yaml", text)))
    assert issues["faults.dry_run.severity"].line == line_of(text, "catastrophic")
    assert issues["decode.metrics.pressure.source.kind"].line == line_of(text, "kind: x")


def test_missing_required_field_points_at_the_enclosing_mapping(tmp_path: Path) -> None:
    text = VALID.replace("ticket:\n  skill: plumbing\n", "")
    issues = by_field(issues_of(write(tmp_path, "pump.yaml", text)))
    assert issues["ticket"].message == "Field required"
    assert issues["ticket"].line == 1


def test_a_bad_list_item_is_not_also_reported_as_a_short_list(tmp_path: Path) -> None:
    text = VALID.replace("pattern: testpump/{device_id}/telemetry", "pattern: a/+/{device_id}")
    issues = issues_of(write(tmp_path, "pump.yaml", text))
    assert [issue.field for issue in issues] == ["topics[0].pattern"]
    assert "wildcards" in issues[0].message


def test_issues_are_in_file_order(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, "pump.yaml", BROKEN))
    lines = [issue.line or 0 for issue in issues]
    assert lines == sorted(lines)


def test_catalogue_reports_every_issue_in_every_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "a_pump.yaml", BROKEN)
    write(site, "b_pump.yaml", VALID.replace("heartbeat_s: 120", "heartbeat_s: -5"))
    with pytest.raises(ProfileError) as caught:
        Catalogue.load([site])
    found = {(Path(issue.file).name, issue.field) for issue in caught.value.issues}
    assert found == {
        ("a_pump.yaml", "heartbeat_s"),
        ("a_pump.yaml", "colour"),
        ("a_pump.yaml", "topics[0].pattern"),
        ("a_pump.yaml", "rules[0].fault"),
        ("b_pump.yaml", "heartbeat_s"),
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("schema: linli.profile/v1\nid: [unclosed\nname: x\n", 3),
        ("schema: linli.profile/v1\nid: a\n  bad: indent\n", 3),
        ("schema: linli.profile/v1\nid: a\nid: b\n", 3),  # duplicate key
        ("schema: linli.profile/v1\nname: 'unterminated\n", 3),
    ],
    ids=["unclosed_flow", "bad_indent", "duplicate_key", "unterminated_quote"],
)
def test_yaml_syntax_errors_report_a_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, "broken.yaml", text)
    issues = issues_of(path)
    assert len(issues) == 1
    assert issues[0].file == path
    assert issues[0].line == line
    assert issues[0].message.startswith("YAML: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file: a profile must be a YAML mapping"),
        ("- just\n- a list\n", "a profile must be a YAML mapping"),
        ("just text\n", "a profile must be a YAML mapping"),
    ],
)
def test_a_profile_must_be_a_mapping(tmp_path: Path, text: str, message: str) -> None:
    issues = issues_of(write(tmp_path, "broken.yaml", text))
    assert [(issue.line, issue.message) for issue in issues] == [(1, message)]


def test_non_utf8_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Test Pumps", "Pompes Générales").encode("latin-1"))
    issues = issues_of(path)
    assert len(issues) == 1
    assert issues[0].line == line_of(VALID, "vendor:")
    assert "UTF-8" in issues[0].message


def test_unreadable_file_is_an_issue(tmp_path: Path) -> None:
    issues = issues_of(tmp_path / "missing.yaml")
    assert issues[0].line is None
    assert "cannot read" in issues[0].message


def test_duplicate_profile_ids_across_directories(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "pump.yaml", VALID)
    second = write(tmp_path / "two", "pump_copy.yaml", VALID)
    with pytest.raises(ProfileError) as caught:
        Catalogue.load([tmp_path / "one", tmp_path / "two"])
    (issue,) = caught.value.issues
    assert issue.file == second
    assert issue.field == "id"
    assert str(first) in issue.message


def test_site_profile_may_not_reuse_a_builtin_id(tmp_path: Path) -> None:
    builtin = (builtin_dir() / "acme_access_gate.yaml").read_text(encoding="utf-8")
    write(tmp_path, "my_gate.yaml", builtin)
    with pytest.raises(ProfileError) as caught:
        Catalogue.load([tmp_path])
    assert [(Path(i.file).name, i.field) for i in caught.value.issues] == [("my_gate.yaml", "id")]


def test_site_directory_adds_profiles_beside_the_builtins(
    site: Path, builtin_catalogue: Catalogue
) -> None:
    write(site, "notes.txt", "not a profile")  # only *.yaml files are profiles
    catalogue = Catalogue.load([site])
    assert len(catalogue) == len(builtin_catalogue) + 1
    assert catalogue["test_water_pump"].vendor == "Test Pumps"
    assert {p.id for p in builtin_catalogue} <= {p.id for p in catalogue}
    profile = catalogue.profile_for_topic("testpump/pump-9/telemetry")
    assert profile is not None and profile.id == "test_water_pump"
    assert "testpump/+/telemetry" in catalogue.subscriptions()


def test_site_directory_alone(site: Path) -> None:
    catalogue = Catalogue.load([site], builtin=False)
    assert [p.id for p in catalogue] == ["test_water_pump"]


def test_missing_site_directory_is_an_issue(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        Catalogue.load([tmp_path / "nowhere"])
    assert [issue.message for issue in caught.value.issues] == ["not a directory"]


# Each case: replace ``old`` by ``new`` in VALID; expect an issue for ``field`` whose message
# contains ``words``, on the line containing ``at``.
SINGLE_MISTAKES = [
    pytest.param(
        "{device_id}/telemetry", "{device_id}/{device_id}",
        "topics[0].pattern", "more than once", "{device_id}/{device_id}",
        id="placeholder_twice",
    ),
    pytest.param(
        "testpump/{device_id}/", "testpump/dev-{device_id}/",
        "topics[0].pattern", "whole topic level", "dev-{device_id}",
        id="placeholder_in_part_of_level",
    ),
    pytest.param(
        "{device_id}/telemetry", "{device_id}/telemetry\n    columns: [a, b]",
        "topics[0]", "csv topics only", "- pattern:",
        id="columns_on_json_topic",
    ),
    pytest.param(
        "{device_id}/telemetry", "{device_id}/telemetry\n    format: csv",
        "topics[0]", "list its columns", "- pattern:",
        id="csv_without_columns",
    ),
    pytest.param(
        "range: [0, 20]", "range: [20, 0]",
        "decode.metrics.pressure", "above its maximum", "    pressure:",
        id="range_reversed",
    ),
    pytest.param(
        "{path: dry, flag: dry_run}", "{path: dry, flag: dry_run, codes: {'1': dry_run}}",
        "decode.faults[0]", "exactly one", "codes:",
        id="flag_and_codes",
    ),
    pytest.param(
        "version: 1.0.0", "version: '1.0'", "version", "pattern", "version:",
        id="version_not_semver",
    ),
    pytest.param(
        "id: test_water_pump", "id: Test-Pump", "id", "pattern", "id: Test-Pump",
        id="id_not_snake_case",
    ),
    pytest.param(
        "schema: linli.profile/v1", "schema: linli.profile/v2",
        "schema", "linli.profile/v1", "schema:",
        id="unknown_schema",
    ),
    pytest.param(
        'op: "<"', 'op: "=<"', "rules[0].when.op", "Input should be", "=<",
        id="unknown_operator",
    ),
    pytest.param(
        "heartbeat_s: 120", "heartbeat_s: 0", "heartbeat_s", "greater than 0", "heartbeat_s:",
        id="heartbeat_zero",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "field", "words", "at"), SINGLE_MISTAKES)
def test_single_mistakes(
    tmp_path: Path, old: str, new: str, field: str, words: str, at: str
) -> None:
    assert VALID.count(old) == 1
    text = VALID.replace(old, new)
    issues = by_field(issues_of(write(tmp_path, "pump.yaml", text)))
    assert field in issues, [str(i) for i in issues.values()]
    assert words in issues[field].message
    assert issues[field].line == line_of(text, at)


def test_profile_model_rejects_unresolved_names_without_the_loader() -> None:
    """Profiles built in code (not from a file) get the same checks, as one summary."""
    document = YAML(typ="safe").load(
        VALID.replace("  - fault: low_pressure", "  - fault: exploded")
    )
    with pytest.raises(ValidationError, match="rule names undeclared fault 'exploded'"):
        Profile.model_validate(document)
    del document["rules"]
    assert Profile.model_validate(document).id == "test_water_pump"


# --- a new YAML file brings its own tests ----------------------------------------------------


def run_catalogue_tests(site: Path) -> subprocess.CompletedProcess[str]:
    """test_catalogue.py in a fresh pytest, with ``site`` as an extra profile directory."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
         str(Path(__file__).with_name("test_catalogue.py"))],
        env={**os.environ, ENV: str(site)},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One run over a site with two new profiles; the second has a fault no example shows."""
    site = tmp_path_factory.mktemp("site")
    write(site, "pump.yaml", VALID)
    leaky = (
        VALID.replace("id: test_water_pump", "id: test_leaky_pump")
        .replace("testpump/", "leakypump/")
        .replace("    severity: minor\n", "    severity: minor\n  leaking:\n    title: Leak\n")
    )
    write(site, "leaky_pump.yaml", leaky)
    return run_catalogue_tests(site)


PASSED = "PASSED tests/device_profiles/test_catalogue.py::"
FAILED = "FAILED tests/device_profiles/test_catalogue.py::"


def test_a_new_profile_file_adds_its_tests(site_run: subprocess.CompletedProcess[str]) -> None:
    out = site_run.stdout
    for name in ("normal", "dry_run", "low_pressure"):
        assert f"{PASSED}test_example[test_water_pump/{name}]" in out, out + site_run.stderr
    assert f"{PASSED}test_every_fault_has_an_example[test_water_pump]" in out
    assert f"{PASSED}test_example[acme_access_gate/motor_jammed]" in out  # built-ins still run


def test_a_fault_without_an_example_fails_the_catalogue_tests(
    site_run: subprocess.CompletedProcess[str],
) -> None:
    out = site_run.stdout
    assert site_run.returncode == 1
    assert f"{FAILED}test_every_fault_has_an_example[test_leaky_pump]" in out
    assert "no example produces ['leaking']" in out
    assert out.count("FAILED ") == 1, out


def test_yaml_merge_keys_are_located_where_they_are_merged(tmp_path: Path) -> None:
    """A value merged in from an anchor (<<: *x) is reported at the mapping that merges it."""
    faults = (
        "faults:\n"
        "  dry_run: &fault\n"
        "    title: Pump running dry\n"
        "    severity: critical\n"
        "    ticket: maybe\n"
        "  low_pressure:\n"
        "    <<: *fault\n"
        "    title: Pressure low\n"
        "    severity: minor\n"
    )
    start, end = VALID.index("faults:\n  dry_run"), VALID.index("rules:")
    text = VALID[:start] + faults + VALID[end:]
    issues = by_field(issues_of(write(tmp_path, "pump.yaml", text)))
    assert set(issues) == {"faults.dry_run.ticket", "faults.low_pressure.ticket"}
    assert issues["faults.dry_run.ticket"].line == line_of(text, "ticket: maybe")
    assert issues["faults.low_pressure.ticket"].line == line_of(text, "  low_pressure:")
    fixed = load_file(write(tmp_path, "pump.yaml", text.replace("    ticket: maybe\n", "")))
    assert fixed.faults["low_pressure"].title == "Pressure low"
    assert fixed.faults["low_pressure"].severity == "minor"
