"""``linli edge run``: settings and profile errors exit 2; SIGTERM flushes and exits 0."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device_profiles import Catalogue
from device_profiles.protocol import status_topic
from edge_agent.cli import app
from edge_agent.config import EdgeSettings
from linli.mosquitto import Mosquitto
from tests.edge_agent.helpers import TIMEOUT_S, example, payload_of, publish, watch

REPO = Path(__file__).resolve().parents[2]

BROKEN_PROFILE = """\
schema: linli.profile/v1
id: broken_gate
type: access_gate
name: Broken gate
category: access
vendor: Nobody
version: one
heartbeat_s: -5
topics:
  - pattern: nobody/{device_id}/state
decode: {}
ticket: {skill: access-control}
examples: []
"""


def test_invalid_profile_prints_every_issue_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN_PROFILE)
    result = CliRunner().invoke(
        app,
        ["run", "--gateway-id", "gw-cli", "--profiles-dir", str(tmp_path)],
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    path = str(tmp_path / "broken.yaml")
    assert f"{path}:7: version: " in result.stderr
    assert f"{path}:8: heartbeat_s: " in result.stderr
    assert sum(line.startswith(f"{path}:") for line in lines) >= 3  # examples too
    assert "Traceback" not in result.output + result.stderr


def test_missing_gateway_id_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "gateway_id" in result.stderr
    assert "--gateway-id" in result.stderr


def test_a_corrupt_outbox_exits_1_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "outbox.db").write_text("garbage that is not a database")
    result = CliRunner().invoke(
        app, ["run", "--gateway-id", "gw-cli", "--data-dir", str(tmp_path), "--local-port", "1"]
    )
    assert result.exit_code == 1
    assert "not a database" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_each_option_with_its_variable_and_the_models_default() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for option, field in (
        ("--gateway-id", "gateway_id"), ("--local-host", "local_host"),
        ("--local-port", "local_port"), ("--cloud-host", "cloud_host"),
        ("--cloud-port", "cloud_port"), ("--data-dir", "data_dir"),
        ("--profiles-dir", "profiles_dirs"), ("--log-level", "log_level"),
    ):  # fmt: skip
        assert option in help_text
        assert f"env LINLI_EDGE_{field.upper()}" in help_text
    defaults = EdgeSettings(gateway_id="gw")
    assert f"LINLI_EDGE_LOCAL_PORT; default {defaults.local_port})" in help_text
    assert f"LINLI_EDGE_DATA_DIR; default ./{defaults.data_dir})" in help_text
    assert "LINLI_EDGE_GATEWAY_ID; required)" in help_text


def test_an_environment_variable_sets_an_option_and_the_option_overrides_it(
    tmp_path: Path,
) -> None:
    """Both reach the settings the agent runs with: a corrupt outbox in the data
    directory named by the variable, then by the option, stops it with exit 1."""
    from_env, from_option = tmp_path / "env", tmp_path / "option"
    for directory in (from_env, from_option):
        directory.mkdir()
        (directory / "outbox.db").write_text(f"garbage in {directory.name}")
    env = {"LINLI_EDGE_GATEWAY_ID": "gw-env", "LINLI_EDGE_DATA_DIR": str(from_env)}
    result = CliRunner().invoke(app, ["run", "--local-port", "1"], env=env)
    assert result.exit_code == 1, result.output
    assert str(from_env / "outbox.db") in result.stderr
    result = CliRunner().invoke(
        app, ["run", "--local-port", "1", "--data-dir", str(from_option)], env=env
    )
    assert result.exit_code == 1, result.output
    assert str(from_option / "outbox.db") in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "option"),
    [
        ("LINLI_EDGE_CLOUD_PORT", "70000", "--cloud-port"),
        ("LINLI_EDGE_PROFILES_DIRS", "not-json", "--profiles-dir"),
        ("LINLI_EDGE_LOG_LEVEL", "loud", "--log-level"),
    ],
)
def test_an_invalid_variable_exits_2_naming_it_and_its_option(
    variable: str, value: str, option: str
) -> None:
    result = CliRunner().invoke(app, ["run", "--gateway-id", "gw"], env={variable: value})
    assert result.exit_code == 2
    assert f"({option} or {variable})" in result.stderr
    assert "Traceback" not in result.stderr


async def test_sigterm_flushes_publishes_offline_and_exits_0(
    tmp_path: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    catalogue: Catalogue,
) -> None:
    gateway_id = "gw-cli"
    # retained, so the agent gets it whenever its subscription is in place
    case = example(catalogue, "acme_access_gate", "normal")
    await publish(gateway_broker, [(case.topic, payload_of(case))], retain=True)
    async with watch(cloud_broker, "linli/v1/gw/#") as cloud:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edge_agent", "run",
            "--gateway-id", gateway_id,
            "--local-port", str(gateway_broker.port),
            "--cloud-port", str(cloud_broker.port),
            "--data-dir", str(tmp_path / "edge"),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            # a fresh interpreter imports pydantic, paho and the profiles first: allow for a
            # slow (loaded) machine
            status, _ = await cloud.status_where(lambda s, _: s.online, seconds=3 * TIMEOUT_S)
            assert status.gateway_id == gateway_id
            batch = await cloud.batch()
            assert [item.device_id for item in batch.items] == ["gate-01"]
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
        assert b"SIGTERM received" in stderr
        status, _ = await cloud.status_where(lambda s, _: not s.online)
        assert status.counters["items_forwarded"] == 1
    async with watch(cloud_broker, status_topic(gateway_id)) as later:
        status, retained = await later.status()
        assert retained
        assert status.online is False
