"""Checking profile files as ``validate`` does, through :func:`check_files` itself (the
command's output is pinned in test_cli.py)."""

from __future__ import annotations

from pathlib import Path

from device_profiles.catalogue import builtin_dir
from device_profiles.file_checks import check_files
from tests.device_profiles.profile_texts import BROKEN, VALID, line_of, write


def test_a_good_file_has_its_profile_and_no_issues(site: Path) -> None:
    checks = check_files([site])
    (file,) = checks.files
    assert file.path == site / "pump.yaml"
    assert file.profile is not None and file.profile.id == "test_water_pump"
    assert file.issues == []
    assert checks.path_issues == []
    assert checks.errors == 0


def test_loading_example_and_id_problems_of_a_file_are_in_line_order(tmp_path: Path) -> None:
    text = VALID.replace("metrics: {pressure: 3.2}", "metrics: {pressure: 3.3}")
    path = write(tmp_path, "pump.yaml", text)
    broken = write(tmp_path, "zz_broken.yaml", BROKEN)
    again = write(tmp_path / "other", "pump.yaml", text)
    checks = check_files([tmp_path, again])
    assert [file.path for file in checks.files] == [path, broken, again]
    first, second, third = checks.files
    assert [(issue.line, issue.field) for issue in first.issues] == [
        (line_of(text, "{pressure: 3.3}"), "examples[0].expect.metrics.pressure")
    ]
    assert second.profile is None
    lines = [issue.line or 0 for issue in second.issues]
    assert len(lines) == 4 and lines == sorted(lines)
    assert [(issue.line, issue.field, issue.message) for issue in third.issues] == [
        (
            line_of(text, "id: test_water_pump"),
            "id",
            f"'test_water_pump' is also defined in {path}",
        ),
        (
            line_of(text, "{pressure: 3.3}"),
            "examples[0].expect.metrics.pressure",
            "example 'normal': pressure decodes to 3.2, expected 3.3",
        ),
    ]
    assert checks.errors == 1 + 4 + 2


def test_a_builtin_file_may_be_checked_but_not_copied(tmp_path: Path) -> None:
    builtin = builtin_dir() / "acme_access_gate.yaml"
    assert check_files([builtin]).errors == 0
    copy = write(tmp_path, "gate.yaml", builtin.read_text(encoding="utf-8"))
    (file,) = check_files([copy]).files
    assert [issue.message for issue in file.issues] == [
        f"'acme_access_gate' is the id of the built-in profile {builtin}"
    ]


def test_paths_that_hold_no_profile_are_issues_of_their_own(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    checks = check_files([tmp_path / "nowhere", empty, empty / ".." / "empty"])
    assert checks.files == []
    assert [(issue.file, issue.message) for issue in checks.path_issues] == [
        (tmp_path / "nowhere", "no such file or directory"),
        (empty, "no *.yaml profile files"),
        (empty / ".." / "empty", "no *.yaml profile files"),
    ]
    assert checks.errors == 3
