"""``linli edge``: run the edge agent on a community gateway, and see how it is doing.

Every option is a setting of :class:`~edge_agent.config.EdgeSettings`: an option given
overrides its ``LINLI_EDGE_*`` environment variable, which overrides the default.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edge_agent.config import EdgeDataSettings, EdgeSettings
from plumbing.settings import LogFormat, LogLevel, SettingsOptions, configure_logging

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent

log = logging.getLogger("edge_agent")

app = typer.Typer(
    help="The edge agent that runs on a community gateway.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def edge() -> None:
    """The edge agent that runs on a community gateway.

    It reads device messages from the gateway's local MQTT broker, decodes them with the
    device profiles, forwards them in batches to the cloud broker (alarms first), and
    relays commands from the cloud back to the devices.
    """


OPTIONS = SettingsOptions(EdgeSettings, program="linli edge")
STATUS_OPTIONS = SettingsOptions(EdgeDataSettings, program="linli edge status")


@app.command(
    help="Forward device readings to the cloud and relay commands to devices.\n\n"
    "Every device message is committed to the outbox (DATA_DIR/outbox.db) before it is "
    "acknowledged, and stays there until the cloud has stored it. Runs until SIGTERM or "
    "Ctrl-C, then sends what waits (for up to LINLI_EDGE_SHUTDOWN_TIMEOUT_S), publishes the "
    "gateway's offline status and exits 0. Exit code 1: the outbox cannot be used; 2: "
    "invalid settings or device profiles. "
    "Every option can also be set in the environment, as its help says.",
)
def run(
    gateway_id: Annotated[
        str | None,
        OPTIONS.option(
            "gateway_id",
            "--gateway-id",
            metavar="ID",
            help="this gateway's id in the cloud, e.g. 'maple-court'",
        ),
    ] = None,
    local_host: Annotated[
        str | None, OPTIONS.option("local_host", "--local-host", metavar="HOST")
    ] = None,
    local_port: Annotated[
        int | None, OPTIONS.option("local_port", "--local-port", metavar="PORT")
    ] = None,
    cloud_host: Annotated[
        str | None, OPTIONS.option("cloud_host", "--cloud-host", metavar="HOST")
    ] = None,
    cloud_port: Annotated[
        int | None, OPTIONS.option("cloud_port", "--cloud-port", metavar="PORT")
    ] = None,
    data_dir: Annotated[
        Path | None,
        OPTIONS.option("data_dir", "--data-dir", metavar="DIR", file_okay=False),
    ] = None,
    profiles_dir: Annotated[
        list[Path] | None,
        OPTIONS.option(
            "profiles_dirs",
            "--profiles-dir",
            metavar="DIR",
            file_okay=False,
            help="directory of site device profiles (*.yaml), used besides the built-in "
            "ones and reloaded when its files change (every LINLI_EDGE_PROFILES_POLL_S "
            "seconds); repeat for several",
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        OPTIONS.option("log_level", "--log-level", case_sensitive=False),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        OPTIONS.option("log_format", "--log-format", case_sensitive=False),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="FILE",
            dir_okay=False,
            help="settings as LINLI_EDGE_NAME=value lines, as `linli gateway add` writes them; "
            "options and the environment override them",
        ),
    ] = None,
) -> None:
    """Run the edge agent with the given settings until a signal stops it."""
    from device_profiles import Catalogue, ProfileError
    from edge_agent.agent import EdgeAgent
    from edge_agent.outbox import OutboxError

    settings = OPTIONS.build(
        env_file=env_file,
        gateway_id=gateway_id,
        local_host=local_host,
        local_port=local_port,
        cloud_host=cloud_host,
        cloud_port=cloud_port,
        data_dir=data_dir,
        profiles_dirs=profiles_dir,
        log_level=log_level,
        log_format=log_format,
    )
    configure_logging(settings.log_level, settings.log_format)
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
    except OutboxError as exc:
        typer.echo(f"linli edge: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command(
    help="Show how the gateway is doing: backlog per priority (alarms, telemetry, in "
    "flight, data gaps), the age of the oldest item, the disk used against the budget, what "
    "was ever dropped, the uplink, and the devices heard from recently.\n\n"
    "Reads the outbox (DATA_DIR/outbox.db, read-only) and the status file the agent writes "
    "every few seconds (DATA_DIR/status.json), so it works while the agent runs and after "
    "it stopped. Exit code 0: the agent runs; 3: it does not; 1: nothing to read in DATA_DIR.",
)
def status(
    data_dir: Annotated[
        Path | None,
        STATUS_OPTIONS.option("data_dir", "--data-dir", metavar="DIR", file_okay=False),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every figure as one JSON object.")
    ] = False,
) -> None:
    """Print the gateway's status from its data directory."""
    from edge_agent.report import read_report, render

    settings = STATUS_OPTIONS.build(data_dir=data_dir)
    try:
        report = read_report(settings.data_dir)
    except sqlite3.Error as exc:
        typer.echo(f"linli edge status: cannot read the outbox: {exc}", err=True)
        raise typer.Exit(1) from None
    if report.backlog is None and report.status is None:
        typer.echo(f"linli edge status: nothing to read in {settings.data_dir}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(report.figures(), indent=1) if as_json else render(report))
    raise typer.Exit(0 if report.running else 3)


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
