"""``linli cloud``: bad configuration stops start-up cleanly, naming file and field."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from linli.demo import linli_command


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(linli_command("cloud", *args), capture_output=True, text=True, timeout=60)


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


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    done = _run("migrate", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "linli.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"tickets", "facilities", "devices", "readings", "alembic_version"} <= tables
