"""``linli cloud``: bad configuration stops start-up cleanly, naming file and field."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from cloud.config import CloudSettings
from linli.demo import linli_command
from linli.ports import free_port


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        linli_command("cloud", *args),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_invalid_site_profile_stops_start_up_with_file_line_and_field(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    broken = profiles / "broken_pump.yaml"
    broken.write_text(
        "schema: linli.profile/v1\n"
        "id: broken_pump\n"
        "type: pump\n"
        "name: Pump\n"
        "category: water\n"
        "vendor: Nobody\n"
        "version: 1.0.0\n"
        "heartbeat_s: often\n"
        "topics: [{pattern: pumps/status}]\n"
        "decode: {}\n"
        "ticket: {skill: plumbing}\n"
        "examples: []\n"
    )
    done = _run(
        "run", "--no-ingest", "--data-dir", str(tmp_path / "data"), "--profiles-dir", str(profiles)
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{broken}:8: heartbeat_s:" in done.stderr
    assert f"{broken}:9: topics[0].pattern:" in done.stderr
    assert "examples" in done.stderr
    assert not (tmp_path / "data" / "linli.db").exists()


def test_invalid_setting_names_the_field(tmp_path: Path) -> None:
    done = _run("run", "--port", "70000", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "port" in done.stderr
    assert "Traceback" not in done.stderr


def _healthz_of_a_running_cloud(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> dict[str, object]:
    """Start ``linli cloud run`` with ``args`` and ``env``; its /healthz, then stop it."""
    http_port = free_port()
    command = linli_command(
        "cloud", "run", "--port", str(http_port), "--data-dir", str(tmp_path), *args
    )
    with subprocess.Popen(
        command, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert process.poll() is None, process.communicate()[1]
                try:
                    health = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                return dict(health.json())
            raise AssertionError("the cloud did not answer /healthz within 60 s")
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_an_environment_variable_turns_ingest_off_and_the_option_back_on(
    tmp_path: Path,
) -> None:
    no_broker = {"LINLI_CLOUD_MQTT_PORT": str(free_port()), "LINLI_CLOUD_INGEST": "false"}
    health = _healthz_of_a_running_cloud(tmp_path / "env", env=no_broker)
    assert health["ingest"] == "off"
    health = _healthz_of_a_running_cloud(tmp_path / "option", "--ingest", env=no_broker)
    assert health["ingest"] == "on"
    assert health["ingest_connected"] is False


def test_an_invalid_variable_exits_2_naming_it_and_its_option(tmp_path: Path) -> None:
    done = subprocess.run(
        linli_command("cloud", "run", "--data-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LINLI_CLOUD_MQTT_PORT": "0"},
    )
    assert done.returncode == 2
    assert "setting mqtt_port (--mqtt-port or LINLI_CLOUD_MQTT_PORT)" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_shows_each_options_variable_and_the_models_default() -> None:
    done = _run("run", "--help")
    assert done.returncode == 0
    help_text = " ".join(done.stdout.split())
    assert "(env LINLI_CLOUD_INGEST; default true)" in help_text
    assert (
        f"(env LINLI_CLOUD_PORT; default {CloudSettings.model_fields['port'].default})" in help_text
    )


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    done = _run("migrate", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "linli.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"tickets", "facilities", "devices", "readings", "alembic_version"} <= tables


def test_an_influxdb_nobody_answers_stops_start_up_saying_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = _run(
        "run", "--no-ingest", "--data-dir", str(tmp_path),
        "--telemetry-store", "influxdb", "--influxdb-url", url,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"telemetry store (influxdb): InfluxDB at {url} unreachable" in done.stderr


def test_retention_must_grow_from_raw_readings_to_hours(tmp_path: Path) -> None:
    done = subprocess.run(
        linli_command("cloud", "run", "--data-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LINLI_CLOUD_RAW_RETENTION_DAYS": "400"},
    )
    assert done.returncode == 2
    assert "raw_retention_days <= minute_rollup_retention_days" in done.stderr
