"""Profiles as people read them: the sections of ``show``, the table of ``list``."""

from __future__ import annotations

from pathlib import Path

from device_profiles import Catalogue, Profile, load_file
from device_profiles.describe import describe, profile_table, summary, table
from tests.device_profiles.profile_texts import EVERY_RULE_KIND, VALID, write


def squeezed(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


def profile_of(tmp_path: Path, text: str) -> Profile:
    return load_file(write(tmp_path, "pump.yaml", text))


def test_table_aligns_columns_two_spaces_apart() -> None:
    assert table([["A", "BB"], ["ccc", "d"]], "  ") == ["  A    BB", "  ccc  d "]


def test_profile_table_has_a_header_and_a_line_per_profile(builtin_catalogue: Catalogue) -> None:
    lines = profile_table([builtin_catalogue["acme_access_gate"]])
    acme = builtin_catalogue["acme_access_gate"]
    assert squeezed(lines) == [
        "ID TYPE VENDOR/MODEL VERSION CATEGORY FAULTS EXAMPLES",
        f"acme_access_gate access_gate Acme Access/AG-200 {acme.version} access "
        f"{len(acme.faults)} {len(acme.examples)}",
    ]


def test_summary_counts_faults_and_examples(tmp_path: Path) -> None:
    assert summary(profile_of(tmp_path, VALID)) == {
        "id": "test_water_pump",
        "name": "Booster pump",
        "type": "water_pump",
        "vendor": "Test Pumps",
        "model": "",
        "version": "1.0.0",
        "category": "water",
        "heartbeat_s": 120.0,
        "faults": 2,
        "examples": 3,
    }


def test_describe_lays_out_every_section_in_order(tmp_path: Path) -> None:
    text = describe(profile_of(tmp_path, VALID))
    assert text[0] == "test_water_pump: Booster pump"
    assert [line for line in text[1:] if line and not line.startswith(" ")] == [
        "topics (pattern, format, MQTT subscription)",
        "metrics",
        "faults",
        "rules",
        "ticket template",
        "examples (name, topic, expected result)",
    ]
    lines = squeezed(text)
    assert "model -" in lines
    assert "event time time of receipt" in lines
    assert "testpump/{device_id}/telemetry json testpump/+/telemetry" in lines
    assert "pressure float bar [0, 20] p, scale 0.1" in lines
    assert "dry_run critical normal (template) yes dry Pump running dry" in lines
    assert "low_pressure when pressure < 1.5" in lines
    assert "dry_run testpump/pump-1/telemetry faulty: dry_run" in lines


def test_an_empty_section_says_none_and_other_sections_follow(tmp_path: Path) -> None:
    without_rules = VALID[: VALID.index("rules:")] + VALID[VALID.index("ticket:") :]
    lines = describe(profile_of(tmp_path, without_rules))
    assert lines[lines.index("rules") + 1] == "  (none)"
    lines = squeezed(describe(profile_of(tmp_path, EVERY_RULE_KIND)))
    assert lines[-2:] == [
        "commands",
        "reset description=Reset the controller, topic=testpump/{device_id}/cmd, "
        "payload={op=reset}",
    ]
