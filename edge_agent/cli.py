"""``linli edge``: run the edge agent on a community gateway.

Options override the ``LINLI_EDGE_*`` environment variables, which override the defaults.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent

log = logging.getLogger("edge_agent")

app = typer.Typer(
    help="The edge agent that runs on a community gateway.",
    no_args_is_help=True,
    add_completion=False,
)


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@app.callback()
def edge() -> None:
    """The edge agent that runs on a community gateway.

    It reads device messages from the gateway's local MQTT broker, decodes them with the
    device profiles, forwards them in batches to the cloud broker (alarms first), and
    relays commands from the cloud back to the devices.
    """


@app.command(
    help="Forward device readings to the cloud and relay commands to devices.\n\n"
    "Runs until SIGTERM or Ctrl-C, then sends what is queued, publishes the gateway's "
    "offline status and exits 0. Exit code 2: invalid settings or device profiles."
)
def run(
    gateway_id: Annotated[
        str | None,
        typer.Option(
            "--gateway-id",
            metavar="ID",
            help="This gateway's id in the cloud, e.g. 'maple-court'. "
            "(env LINLI_EDGE_GATEWAY_ID; required)",
            show_default=False,
        ),
    ] = None,
    local_host: Annotated[
        str | None,
        typer.Option(
            "--local-host",
            metavar="HOST",
            help="Host of the gateway's local MQTT broker, where devices publish. "
            "(env LINLI_EDGE_LOCAL_HOST; default 127.0.0.1)",
            show_default=False,
        ),
    ] = None,
    local_port: Annotated[
        int | None,
        typer.Option(
            "--local-port",
            metavar="PORT",
            min=1,
            max=65535,
            help="Port of the local MQTT broker. (env LINLI_EDGE_LOCAL_PORT; default 1883)",
            show_default=False,
        ),
    ] = None,
    cloud_host: Annotated[
        str | None,
        typer.Option(
            "--cloud-host",
            metavar="HOST",
            help="Host of the cloud MQTT broker that batches go to. "
            "(env LINLI_EDGE_CLOUD_HOST; default 127.0.0.1)",
            show_default=False,
        ),
    ] = None,
    cloud_port: Annotated[
        int | None,
        typer.Option(
            "--cloud-port",
            metavar="PORT",
            min=1,
            max=65535,
            help="Port of the cloud MQTT broker. (env LINLI_EDGE_CLOUD_PORT; default 1883)",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            file_okay=False,
            help="Directory for the sequence file and the dead-letter log; created if "
            "missing. (env LINLI_EDGE_DATA_DIR; default ./var/edge)",
            show_default=False,
        ),
    ] = None,
    profiles_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--profiles-dir",
            metavar="DIR",
            file_okay=False,
            help="Directory of site device profiles (*.yaml), used besides the built-in "
            "ones and reloaded when its files change (every LINLI_EDGE_PROFILES_POLL_S "
            "seconds, default 5); repeat for several. Replaces LINLI_EDGE_PROFILES_DIRS "
            "(a JSON list).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", case_sensitive=False, help="Logging detail.")
    ] = LogLevel.INFO,
) -> None:
    """Run the edge agent with the given settings until a signal stops it."""
    logging.basicConfig(
        level=log_level.value.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from pydantic import ValidationError

    from device_profiles import Catalogue, ProfileError
    from edge_agent.agent import EdgeAgent
    from edge_agent.config import EdgeSettings
    from edge_agent.sequence import SequenceError

    given: dict[str, Any] = {
        "gateway_id": gateway_id,
        "local_host": local_host,
        "local_port": local_port,
        "cloud_host": cloud_host,
        "cloud_port": cloud_port,
        "data_dir": data_dir,
        "profiles_dirs": profiles_dir,
    }
    overrides = {name: value for name, value in given.items() if value is not None}
    try:
        settings = EdgeSettings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            typer.echo(f"linli edge: {_setting_name(field)}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    try:
        catalogue = Catalogue.load(settings.profiles_dirs)
    except ProfileError as exc:
        typer.echo(f"linli edge: {len(exc.issues)} problem(s) in device profiles:", err=True)
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(2) from None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"linli edge: cannot use data directory {settings.data_dir}: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(_serve(EdgeAgent(settings, catalogue)))
    except SequenceError as exc:
        typer.echo(f"linli edge: {exc}", err=True)
        raise typer.Exit(1) from None


_OPTIONS = {
    "gateway_id": "--gateway-id",
    "local_host": "--local-host",
    "local_port": "--local-port",
    "cloud_host": "--cloud-host",
    "cloud_port": "--cloud-port",
    "data_dir": "--data-dir",
    "profiles_dirs": "--profiles-dir",
}


def _setting_name(field: str) -> str:
    """How a user sets ``field``: its option (if any) and its environment variable."""
    if not field:
        return "settings"
    option = f"{_OPTIONS[field]} or " if field in _OPTIONS else ""
    return f"setting {field} ({option}LINLI_EDGE_{field.upper()})"


async def _serve(agent: EdgeAgent) -> None:
    """Run ``agent``; SIGTERM and SIGINT stop it gracefully."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, agent, signum)
    try:
        await agent.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _on_signal(agent: EdgeAgent, signum: int) -> None:
    log.info("%s received: shutting down", signal.Signals(signum).name)
    agent.stop()
