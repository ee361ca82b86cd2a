"""``linli demo``: the whole system on one machine, in the production topology.

Two Mosquitto brokers (gateway and cloud), then the cloud, the edge agent and the device
simulator, each a separate ``python -m linli ...`` process in its own process group with
its output in ``<data-dir>/logs/``. Ctrl-C or SIGTERM stops everything; a child that dies
on its own stops everything too, with its log tail shown.

Every option is a setting of :class:`DemoSettings`: an option given overrides its
``LINLI_DEMO_*`` environment variable, which overrides the default.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from ruamel.yaml import YAML

from cloud.access.desk import PASSWORD_FILE
from linli.mosquitto import BrokerError, Mosquitto
from linli.ports import free_port, port_is_free
from linli.processes import (
    Child,
    ProcessGroup,
    StopRequest,
    describe_status,
    linli_command,
    log_tail,
)
from plumbing.settings import Port, SettingsOptions

__all__ = ["DemoSettings", "demo", "linli_command"]


class DemoSettings(BaseSettings):
    """What ``linli demo`` runs; env prefix ``LINLI_DEMO_``."""

    model_config = SettingsConfigDict(env_prefix="LINLI_DEMO_", extra="forbid")

    gateway_port: Port | None = Field(
        default=None, description="MQTT port of the gateway broker (default: a free port)"
    )
    cloud_port: Port | None = Field(
        default=None, description="MQTT port of the cloud broker (default: a free port)"
    )
    http_port: Port = Field(
        default=8080, description="port of the web UI and API (a free one if it is busy)"
    )
    data_dir: Path = Field(default=Path("var"), description="where data and logs go")
    seed: int = Field(default=1, description="simulator seed: same seed, same community")
    fault_every_s: float = Field(
        default=120.0, ge=0, description="a random device fault this often (real seconds); 0: none"
    )
    speed: float = Field(
        default=60.0,
        ge=0.001,
        description="simulated seconds per real second (60: a day in 24 minutes)",
    )
    scenario: Path | None = Field(
        default=None, description="also run this fault scenario (YAML, see docs/simulator.md)"
    )


OPTIONS = SettingsOptions(DemoSettings, program="linli demo")


HEALTH_TIMEOUT_S = 60.0
WATCH_S = 0.5
GATEWAY_ID = "demo-gw"
DEMO_COMMUNITY = "demo"
"""The simulated community's id (its slug in the register; `linli sim site`)."""
DEMO_FAULT_DURATION = "1h:4h"
"""Random faults last 1 to 4 simulated hours: 1 to 4 minutes at the default speed, long enough for
rules that need a fault to hold (a lamp out for two minutes)."""
FIRST_FAULT_AFTER_S = 20.0  # a newcomer sees the repair loop start within the first minute


def choose_http_port(wanted: int) -> tuple[int, bool]:
    """``wanted`` if it is free, else a free port; and whether it had to change."""
    if port_is_free(wanted):
        return wanted, False
    return free_port(), True


class DemoFailed(Exception):
    """A part of the demo failed to start or died; the message says which and why."""


def _failure(child: Child, status: int) -> DemoFailed:
    return DemoFailed(
        f"{child.name} exited unexpectedly ({describe_status(status)}); "
        f"last lines of {child.log_path}:\n{log_tail(child.log_path)}"
    )


def _wait_healthy(url: str, child: Child, stop: StopRequest, timeout: float) -> bool:
    """True once ``url`` answers 200; False if stopped first; DemoFailed if the child dies."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = child.exit_status()
        if status is not None:
            raise _failure(child, status)
        if stop.is_set():
            return False
        try:
            answered = httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.TransportError:  # not listening yet
            answered = False
        if answered:
            return True
        stop.wait(0.25)
    raise DemoFailed(
        f"{child.name} did not answer {url} within {timeout:.0f}s; last lines of "
        f"{child.log_path}:\n{log_tail(child.log_path)}"
    )


def _watch(group: ProcessGroup, brokers: Sequence[Mosquitto], stop: StopRequest) -> None:
    """Return when stop is requested; DemoFailed as soon as a child or broker dies."""
    while not stop.wait(WATCH_S):
        exited = group.first_exited()
        if exited is not None:
            raise _failure(*exited)
        for broker in brokers:
            if broker.process is None or broker.process.poll() is not None:
                log_path = group.log_dir / f"mosquitto-{broker.name}.log"
                raise DemoFailed(
                    f"{broker.name} broker (port {broker.port}) exited unexpectedly; "
                    f"last lines of {log_path}:\n{log_tail(log_path)}"
                )


def apply_simulated_site(
    data: Path,
    cloud_data: Path,
    gateway_id: str,
    community_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> str:
    """The simulated community (``linli sim site`` with ``community_args``: seed, device
    counts, profile directories) as ``site.yaml`` in ``data``, applied to the register of the
    cloud whose data directory is ``cloud_data``: its zones, buildings, facilities, gateway
    (provisioned) and people. ``edit`` changes the file first, as an operator would write the
    sections ``linli sim site`` has no options for. What ``linli site apply`` said."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / "site.yaml"
    text = _linli(env, "sim", "site", "--gateway-id", gateway_id, *community_args)
    if edit is not None:
        yaml = YAML(typ="safe")
        site: dict[str, Any] = yaml.load(text)
        edit(site)
        with path.open("w", encoding="utf-8") as file:
            yaml.dump(site, file)
    else:
        path.write_text(text)
    return _linli(env, "site", "apply", str(path), "--data-dir", str(cloud_data)).strip()


def _broker_accounts(data: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The cloud broker's accounts, as an operator makes them: a password for the cloud,
    and the demo's gateway added with ``linli gateway add`` (the broker's password file and
    ACL written in ``data/broker``). The cloud's and the edge agent's environments."""
    cloud_env = {
        "LINLI_CLOUD_MQTT_USERNAME": "cloud@linli",
        "LINLI_CLOUD_MQTT_PASSWORD": secrets.token_urlsafe(24),
    }
    edge_file = data / "edge.env"
    _linli(
        {**os.environ, **cloud_env},
        "gateway", "add", GATEWAY_ID,
        "--community", DEMO_COMMUNITY,
        "--out", str(edge_file),
        "--data-dir", str(data / "cloud"),
        "--broker-dir", str(data / "broker"),
    )  # fmt: skip
    edge_env = {}
    for line in edge_file.read_text(encoding="utf-8").splitlines():
        key, equals, value = line.partition("=")
        if equals and key.startswith("LINLI_EDGE_CLOUD_"):
            edge_env[key] = value
    # the edge agent reaches the broker through the simulator's uplink: its host and port
    # are the demo's to say
    edge_env.pop("LINLI_EDGE_CLOUD_HOST", None)
    edge_env.pop("LINLI_EDGE_CLOUD_PORT", None)
    return cloud_env, edge_env


def _linli(env: Mapping[str, str] | None, *args: str) -> str:
    """What ``linli ARGS`` printed; :class:`DemoFailed` with its errors if it failed."""
    done = subprocess.run(
        linli_command(*args), capture_output=True, text=True, timeout=300, env=env
    )
    if done.returncode != 0:
        raise DemoFailed(f"linli {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout


def _login_hint(cloud_data: Path) -> str:
    """How to log in to the demo's cloud: its operator admin's password, where it is."""
    if os.environ.get("LINLI_ADMIN_PASSWORD"):
        return "admin, with the password in LINLI_ADMIN_PASSWORD"
    written = cloud_data / PASSWORD_FILE
    try:
        password = written.read_text(encoding="utf-8").strip()
    except OSError:
        return "admin, with the password set before (`linli cloud admin reset-password`)"
    return f"admin / {password}  (kept in {written})"


def _banner(http_port: int, gateway: Mosquitto, cloud: Mosquitto, log_dir: Path, login: str) -> str:
    base = f"http://127.0.0.1:{http_port}"
    return "\n".join(
        [
            "",
            "Linli demo is running.",
            f"  dashboard       {base}/",
            f"  log in as       {login}",
            f"  API docs        {base}/docs",
            f"  gateway broker  mqtt://127.0.0.1:{gateway.port}  (devices, edge agent)",
            f"  cloud broker    mqtt://127.0.0.1:{cloud.port}  (edge agent, cloud; logins only: "
            f"{cloud.access_dir})",
            f"  logs            {log_dir}",
            f"  inject a fault  linli sim fault gate-01 motor_jammed --broker-port {gateway.port}",
            "Ctrl-C to stop.",
            "",
        ]
    )


def demo(
    gateway_port: Annotated[
        int | None, OPTIONS.option("gateway_port", "--gateway-port", metavar="PORT")
    ] = None,
    cloud_port: Annotated[
        int | None, OPTIONS.option("cloud_port", "--cloud-port", metavar="PORT")
    ] = None,
    http_port: Annotated[
        int | None, OPTIONS.option("http_port", "--http-port", metavar="PORT")
    ] = None,
    data_dir: Annotated[
        Path | None, OPTIONS.option("data_dir", "--data-dir", metavar="DIR", file_okay=False)
    ] = None,
    seed: Annotated[int | None, OPTIONS.option("seed", "--seed", metavar="N")] = None,
    fault_every: Annotated[
        float | None, OPTIONS.option("fault_every_s", "--fault-every", metavar="SECONDS")
    ] = None,
    speed: Annotated[float | None, OPTIONS.option("speed", "--speed", metavar="X")] = None,
    scenario: Annotated[
        Path | None,
        OPTIONS.option("scenario", "--scenario", metavar="FILE", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Run brokers, cloud, edge agent and simulator on this machine until Ctrl-C."""
    settings = OPTIONS.build(
        gateway_port=gateway_port,
        cloud_port=cloud_port,
        http_port=http_port,
        data_dir=data_dir,
        seed=seed,
        fault_every_s=fault_every,
        speed=speed,
        scenario=scenario,
    )
    data = settings.data_dir.resolve()
    log_dir = data / "logs"
    try:
        for directory in (log_dir, data / "cloud", data / "edge"):
            directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"demo failed: cannot create {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    port, changed = choose_http_port(settings.http_port)
    if changed:
        typer.echo(f"port {settings.http_port} is busy; the web UI uses port {port} instead")
    stop = StopRequest()
    gateway = Mosquitto(settings.gateway_port, name="gateway", log_dir=log_dir)
    cloud = Mosquitto(settings.cloud_port, name="cloud", log_dir=log_dir, access=data / "broker")
    group = ProcessGroup(log_dir)
    code = 0
    with stop.installed():
        try:
            _run(settings, data, port, gateway, cloud, group, stop)
        except (DemoFailed, BrokerError) as exc:
            typer.echo(f"demo failed: {exc}", err=True)
            code = 1
        except OSError as exc:  # a child could not be started
            typer.echo(f"demo failed: {exc}", err=True)
            code = 1
        finally:
            typer.echo("stopping ...")
            group.stop()
            cloud.stop()
            gateway.stop()
    if code == 0:
        typer.echo(f"stopped ({stop.signal_name or 'done'}); logs are in {log_dir}")
    raise typer.Exit(code)


def _run(
    settings: DemoSettings,
    data: Path,
    http_port: int,
    gateway: Mosquitto,
    cloud: Mosquitto,
    group: ProcessGroup,
    stop: StopRequest,
) -> None:
    speed, fault_every, scenario = settings.speed, settings.fault_every_s, settings.scenario
    typer.echo(
        apply_simulated_site(data, data / "cloud", GATEWAY_ID, ["--seed", str(settings.seed)])
    )
    cloud_env, edge_env = _broker_accounts(data)
    gateway.start()
    cloud.start()
    typer.echo(f"brokers up: gateway :{gateway.port}, cloud :{cloud.port}")
    if stop.is_set():
        return
    cloud_app = group.start(
        "cloud",
        linli_command(
            "cloud", "run",
            "--host", "127.0.0.1",
            "--port", str(http_port),
            "--mqtt-host", "127.0.0.1",
            "--mqtt-port", str(cloud.port),
            "--data-dir", str(data / "cloud"),
        ),
        env=cloud_env,
    )  # fmt: skip
    typer.echo(f"cloud starting on http://127.0.0.1:{http_port} ...")
    url = f"http://127.0.0.1:{http_port}/healthz"
    if not _wait_healthy(url, cloud_app, stop, HEALTH_TIMEOUT_S):
        return
    # The edge agent reaches the cloud through the simulator's uplink, so that the simulator
    # can cut it (uplink_loss, gateway_power_loss).
    uplink_port = free_port()
    script = ["--scenario", str(scenario)] if scenario else []
    group.start(
        "sim",
        linli_command(
            "sim", "run",
            "--broker-port", str(gateway.port),
            "--uplink-port", str(uplink_port),
            "--cloud-port", str(cloud.port),
            "--seed", str(settings.seed),
            "--speed", str(speed),
            # times below are simulated ones
            "--fault-every", str(fault_every * speed),
            "--first-fault-after", str(min(FIRST_FAULT_AFTER_S, fault_every) * speed),
            "--fault-duration", DEMO_FAULT_DURATION,
            *script,
        ),
    )  # fmt: skip
    group.start(
        "edge",
        linli_command(
            "edge", "run",
            "--gateway-id", GATEWAY_ID,
            "--local-port", str(gateway.port),
            "--cloud-port", str(uplink_port),
            "--data-dir", str(data / "edge"),
        ),
        env=edge_env,
    )  # fmt: skip
    typer.echo(_banner(http_port, gateway, cloud, group.log_dir, _login_hint(data / "cloud")))
    _watch(group, (gateway, cloud), stop)
