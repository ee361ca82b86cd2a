"""docker-compose.yml, checked without a container engine: the Compose tool accepts it (and
refuses it while a secret is unset), every Linli container runs a real `linli` command with
options that exist and sets only real settings, every file it mounts is in the repository,
the site file it applies is what `linli sim site` makes, Prometheus scrapes what the
services serve, and an API-only process is healthy without ingest."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
from ruamel.yaml import YAML
from typer.testing import CliRunner

from cloud.config import CloudSettings
from edge_agent.config import EdgeSettings
from linli.cli import app as linli
from linli.ports import free_port
from simulators.config import SimSettings
from tests.conftest import _missing

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
IMAGE = "linli:latest"
SETTINGS: dict[str, type[Any]] = {
    "LINLI_CLOUD_": CloudSettings,
    "LINLI_EDGE_": EdgeSettings,
    "LINLI_SIM_": SimSettings,
}
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "LINLI_CLOUD_MQTT_PASSWORD": "mqtt-secret",
    "LINLI_ADMIN_PASSWORD": "admin-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return data


def linli_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == IMAGE
    }


def env_file(tmp_path: Path, **values: str) -> Path:
    """``.env.example`` with its secrets given ``values``."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, equals, _ = line.partition("=")
        lines.append(f"{name}={values[name]}" if equals and name in values else line)
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_compose(env: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        _missing(FileNotFoundError("docker-compose is not installed (make test installs it)"))
    assert tool is not None
    return subprocess.run(
        [tool, "-f", str(COMPOSE), "--env-file", str(env), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_the_compose_tool_accepts_the_file_and_demands_every_secret(tmp_path: Path) -> None:
    done = run_compose(env_file(tmp_path, **SECRETS))
    assert done.returncode == 0, done.stderr
    for secret in SECRETS:
        left_out = {name: value for name, value in SECRETS.items() if name != secret}
        refused = run_compose(env_file(tmp_path, **left_out))
        assert refused.returncode != 0 and f"set {secret} in .env" in refused.stderr, secret


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")  # Typer's click is its own: duck-typed


def _split(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """The (sub)command ``args`` name, its names, and what follows them."""
    names: list[str] = []
    command: Any = typer.main.get_command(linli)
    rest = list(args)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        found = command.commands.get(name)
        assert found is not None, f"no command linli {' '.join([*names, name])}"
        names.append(name)
        command = found
    return command, names, rest


@pytest.mark.parametrize("service", sorted(linli_services()))
def test_each_container_runs_a_real_linli_command(service: str) -> None:
    command, names, rest = _split(linli_services()[service]["command"])
    assert not _is_group(command), f"{service}: linli {' '.join(names)} is a group"
    options = {
        opt: param for param in command.params for opt in [*param.opts, *param.secondary_opts]
    }
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    positional = 0
    tokens = iter(rest)
    for token in tokens:
        if token.startswith("--"):
            assert token in options, f"{service}: linli {' '.join(names)} has no {token}"
            if not options[token].is_flag:
                next(tokens)
        else:
            positional += 1
    assert positional == len(arguments), f"{service}: arguments {rest}"


@pytest.mark.parametrize("service", sorted(linli_services()))
def test_each_container_sets_only_real_settings(service: str) -> None:
    environment: dict[str, str] = linli_services()[service].get("environment", {})
    for name in environment:
        prefix = next((p for p in SETTINGS if name.startswith(p)), None)
        if name == "LINLI_ADMIN_PASSWORD":
            continue  # CloudSettings.admin_password's own name
        assert prefix is not None, f"{service}: {name} is no Linli setting"
        field = name.removeprefix(prefix).lower()
        assert field in SETTINGS[prefix].model_fields, f"{service}: {name} is no setting"


def test_every_file_it_mounts_is_in_the_repository() -> None:
    mounted = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                mounted.append((name, source))
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
    assert ("mosquitto", "./deploy/compose/mosquitto.conf") in mounted


def test_the_site_it_applies_is_the_simulated_community_it_runs() -> None:
    made = CliRunner().invoke(linli, ["sim", "site", "--gateway-id", "compose-gw"])
    assert made.exit_code == 0, made.output
    committed = (ROOT / "deploy/compose/site.yaml").read_text()
    assert committed == made.stdout, (
        "run: linli sim site --gateway-id compose-gw > deploy/compose/site.yaml"
    )
    gateway = linli_services()["gateway"]["command"]
    assert gateway[2] == "compose-gw" and "demo" in gateway


def test_prometheus_scrapes_what_the_services_serve() -> None:
    services = compose()["services"]
    text = (ROOT / "deploy/compose/prometheus.yml").read_text()
    assert "cloud:8080" in text and "port: 9100" in text and "edge:9464" in text
    assert services["ingest"]["command"][-2:] == ["--port", "9100"]
    assert services["cloud"]["command"][-2:] == ["--port", "8080"]
    assert services["edge"]["environment"]["LINLI_EDGE_METRICS_PORT"] == "9464"


def test_an_api_only_container_is_healthy_without_ingest(tmp_path: Path) -> None:
    """``linli cloud run --no-ingest``, as the cloud service runs, with no broker to reach:
    the compose health check passes."""
    service = compose()["services"]["cloud"]
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("linli")),
        *service["command"][:3],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "cloud"),
        "--mqtt-port",
        str(free_port()),  # nobody listens there
    ]
    env = {"PATH": "/usr/bin:/bin", "LINLI_ADMIN_PASSWORD": "an-admin-password-for-tests"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        check = service["healthcheck"]["test"][1:]
        check = [part.replace("8080", str(port)) for part in check]
        check[0] = sys.executable
        deadline = time.monotonic() + 60
        while subprocess.run(check, capture_output=True, timeout=10).returncode != 0:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "not healthy within 60 s"
            time.sleep(0.2)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5, trust_env=False)
        assert health.json()["ingest"] == "off"
    finally:
        process.terminate()
        process.wait(timeout=20)
