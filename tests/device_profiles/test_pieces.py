"""Pieces: parts many profiles share, included by name with parameters, merged in when a
profile is loaded; a site's own beside the built-in ones; every mistake reported at the line
that includes the piece."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device_profiles import Catalogue, ProfileError
from device_profiles.cli import app as profiles_cli
from device_profiles.pieces import PieceLibrary, builtin_pieces_dir, expand
from tests.device_profiles.profile_texts import VALID, line_of

OFFLINE = "pieces:\n  offline: {what: Booster pump, what_zh: 增压泵}\n"
SITE_PIECE = textwrap.dedent(
    """\
    schema: linli.piece/v1
    id: pressure_sensor_fault
    description: the pressure transducer reads nothing sensible
    params:
      metric: {description: the pressure metric}
      below: {default: 0.1}
    adds:
      faults:
        sensor_fault: {title: "Pressure sensor fault ({metric})", severity: minor}
      rules:
        - fault: sensor_fault
          when: {metric: "{metric}", op: "<", value: "{below}"}
    """
)


def site(tmp_path: Path, profile: str, *pieces: str) -> Path:
    """A site directory with ``profile`` (pump.yaml) and ``pieces`` in its pieces folder."""
    directory = tmp_path / "site"
    (directory / "pieces").mkdir(parents=True)
    (directory / "pump.yaml").write_text(profile)
    for n, text in enumerate(pieces):
        (directory / "pieces" / f"piece{n}.yaml").write_text(text)
    return directory


def load(directory: Path) -> Catalogue:
    return Catalogue.load([directory], builtin=False)


def problems(directory: Path) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ProfileError) as raised:
        load(directory)
    return [(issue.line, issue.field, issue.message) for issue in raised.value.issues]


def test_a_built_in_piece_adds_its_fault_rule_and_words(tmp_path: Path) -> None:
    profile = load(site(tmp_path, VALID + OFFLINE))["test_water_pump"]
    assert profile.faults["offline"].title == "Booster pump not reporting"
    [silence] = [rule for rule in profile.rules if rule.silence is not None]
    assert (silence.fault, silence.silence.heartbeats) == ("offline", 3)  # type: ignore[union-attr]
    assert profile.translations["zh-Hans"].faults == {"offline": "增压泵未上报"}
    assert profile.pieces == {"offline": {"what": "Booster pump", "what_zh": "增压泵"}}


def test_a_parameter_alone_keeps_its_type_and_a_sites_piece_is_found_beside_it(
    tmp_path: Path,
) -> None:
    text = VALID + OFFLINE + "  pressure_sensor_fault: {metric: pressure, below: 0.05}\n"
    text = text.replace("  offline: {what", "  offline: {heartbeats: 5, what")
    profile = load(site(tmp_path, text, SITE_PIECE))["test_water_pump"]
    [silence] = [rule for rule in profile.rules if rule.silence is not None]
    assert silence.silence.heartbeats == 5  # type: ignore[union-attr]
    sensor = next(rule for rule in profile.rules if rule.fault == "sensor_fault")
    assert sensor.when is not None and sensor.when.value == 0.05
    assert profile.faults["sensor_fault"].title == "Pressure sensor fault (pressure)"


def test_an_unknown_piece_or_parameter_is_reported_where_it_is_named(tmp_path: Path) -> None:
    text = VALID + "pieces:\n  offlne: {what: x}\n  offline: {what: x, what_zh: y, beats: 2}\n"
    found = problems(site(tmp_path, text))
    assert found[0][:2] == (line_of(text, "  offlne:"), "pieces.offlne")
    assert (
        found[0][2]
        == "no piece 'offlne' (the pieces: battery_low, maintenance_due, offline, self_test)"
    )
    assert found[1] == (
        line_of(text, "  offline:"),
        "pieces.offline.beats",
        "piece offline has no parameter 'beats'",
    )
    missing = VALID + "pieces:\n  offline: {what: x}\n"
    assert problems(site(tmp_path / "m", missing)) == [
        (line_of(missing, "  offline:"), "pieces.offline", "piece offline needs what_zh")
    ]


def test_a_piece_does_not_override_what_the_profile_says_itself(tmp_path: Path) -> None:
    text = (
        VALID.replace(
            "  low_pressure:\n    title: Pressure low",
            "  offline:\n    title: Gone\n  low_pressure:\n    title: Pressure low",
        )
        + OFFLINE
    )
    [(line, field, message)] = problems(site(tmp_path, text))
    assert (line, field) == (line_of(text, "  offline: {what"), "pieces.offline")
    assert message == "piece offline adds faults.offline, the profile's own"


def test_a_mistake_in_what_a_piece_added_is_reported_at_the_line_that_includes_it(
    tmp_path: Path,
) -> None:
    text = VALID + "pieces:\n  offline: {what: x, what_zh: y, heartbeats: 0}\n"
    [(line, field, message)] = problems(site(tmp_path, text))
    assert line == line_of(text, "  offline: {what")
    assert field.startswith("rules[") and field.endswith("silence.heartbeats")
    assert message.startswith("from piece offline: ")


def test_a_broken_piece_file_is_reported_once_with_its_line(tmp_path: Path) -> None:
    broken = SITE_PIECE.replace("description: the pressure transducer", "descripton: the pr")
    issues = problems(site(tmp_path, VALID, broken))
    assert len(issues) == 2  # the unknown key, and the missing description
    assert {issue[1] for issue in issues} == {"descripton", "description"}


def test_every_built_in_piece_is_used_by_the_catalogue() -> None:
    library = PieceLibrary.load([builtin_pieces_dir()])
    used = {name for profile in Catalogue.load() for name in profile.pieces}
    assert set(library.pieces) == used
    assert expand({"pieces": {}}, library).problems == []


def test_show_prints_a_profile_with_its_pieces_expanded() -> None:
    done = CliRunner().invoke(profiles_cli, ["show", "brightway_street_light", "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.output)
    assert shown["pieces"] == {"offline": {"what": "Lighting controller", "what_zh": "照明控制器"}}
    assert shown["faults"]["offline"]["title"] == "Lighting controller not reporting"
    assert {"fault": "offline", "silence": {"heartbeats": 3.0}}.items() <= next(
        rule for rule in shown["rules"] if rule["fault"] == "offline"
    ).items()


def test_the_committed_piece_schema_is_current() -> None:
    committed = (Path(__file__).resolve().parents[2] / "docs/piece.schema.json").read_text()
    done = CliRunner().invoke(profiles_cli, ["schema", "--of", "piece"])
    assert done.exit_code == 0 and done.output == committed, "run: make schema"
    assert json.loads(committed)["title"] == "linli.piece/v1"
