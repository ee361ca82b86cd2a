"""The edge agent's systemd unit: systemd accepts it, it runs a real `linli` command, sets
only real settings, and gives the agent time to flush before it is killed."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from edge_agent.config import EdgeSettings
from linli.cli import app as linli
from tests.conftest import _missing

UNIT = Path(__file__).resolve().parents[2] / "deploy/systemd/linli-edge.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser["Service"]


def test_the_unit_runs_a_real_command_with_real_settings() -> None:
    unit = service()
    program, *args = shlex.split(unit["ExecStart"])
    assert program.endswith("/linli") and args == ["edge", "run"]
    assert CliRunner().invoke(linli, [*args, "--help"]).exit_code == 0
    name, _, _value = unit["Environment"].partition("=")
    prefix = "LINLI_EDGE_"
    assert (
        name.startswith(prefix) and name.removeprefix(prefix).lower() in EdgeSettings.model_fields
    )
    assert unit["EnvironmentFile"] == "/etc/linli/edge.env"
    assert unit["User"] == "linli" and unit["Restart"] == "always"
    assert int(unit["LimitNOFILE"]) >= 4096
    flush = EdgeSettings.model_fields["shutdown_timeout_s"].default
    assert int(unit["TimeoutStopSec"]) > flush, "the agent flushes its outbox before the kill"
    assert unit["KillSignal"] == "SIGTERM"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        _missing(FileNotFoundError("systemd-analyze is not installed (Debian: systemd)"))
    assert analyze is not None
    # the unit as installed, its program where this checkout's is
    linli_here = Path(sys.executable).with_name("linli")
    text = UNIT.read_text().replace("/opt/linli/.venv/bin/linli", str(linli_here))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        # a container without a running systemd says so; that is not the unit's doing
        if line.strip() and "System has not been booted with systemd" not in line
    ]
    assert done.returncode == 0 and not problems, "\n".join(problems)
