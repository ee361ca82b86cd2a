"""``linli site validate``: every problem located; exit code 1 when there is one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cloud.register.cli import app

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "greenwood.site.yaml"


def test_a_good_file_is_summed_up() -> None:
    done = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert done.exit_code == 0, done.output
    assert "community greenwood: 3 zone(s), 4 facilities with 5 device(s)" in done.output


def test_every_problem_of_every_file_is_printed_and_the_exit_code_is_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "schema: linli.site/v1\n"
        "community: {id: oak, name: Oak}\n"
        "facilities:\n"
        "  gate: {name: Gate, zone: south}\n"
    )
    done = CliRunner().invoke(app, ["validate", str(bad), str(EXAMPLE)])
    assert done.exit_code == 1
    assert f"{bad}:4: facilities.gate.zone: no zone 'south' in this file" in done.output
    assert f"{EXAMPLE}: ok" in done.output
