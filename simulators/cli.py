"""``linli sim``: run a simulated community, list its devices; the fault commands are in
:mod:`simulators.cli_control`, record and replay in :mod:`simulators.cli_recording`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simulators import cli_control, cli_recording
from simulators.cli_options import (
    BrokerHost,
    BrokerPort,
    Buttons,
    ConnectionMode,
    Counts,
    Gates,
    Lights,
    MinInterval,
    ProfilesDirs,
    Seed,
    Speed,
    app,
    catalogue_from,
    community_from,
    fail,
    seconds,
    stop_on_signals,
)

if TYPE_CHECKING:
    from simulators.simulator import Simulator, SimulatorConfig
    from simulators.uplink import Uplink

__all__ = ["app", "cli_control", "cli_recording"]


@app.command("run")
def run(
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
    seed: Seed = 0,
    speed: Speed = 1.0,
    min_interval: MinInterval = 5.0,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            exists=True,
            dir_okay=False,
            help="Scripted faults (YAML; see docs/simulator.md), timed in simulated time.",
            show_default=False,
        ),
    ] = None,
    mtbf: Annotated[
        str | None,
        typer.Option(
            "--mtbf",
            metavar="DURATION",
            help="Random faults: each device's mean time between failures, e.g. 30d.",
            show_default=False,
        ),
    ] = None,
    fault_every: Annotated[
        str,
        typer.Option(
            "--fault-every",
            metavar="DURATION",
            help="A random fault on a random device this often (simulated time); 0: never.",
        ),
    ] = "0",
    first_fault_after: Annotated[
        str | None,
        typer.Option(
            "--first-fault-after",
            metavar="DURATION",
            help="When the first random fault comes (default: one period in).",
            show_default=False,
        ),
    ] = None,
    fault_duration: Annotated[
        str,
        typer.Option(
            "--fault-duration",
            metavar="MIN:MAX",
            help="Range of a random fault's duration (simulated time).",
        ),
    ] = "30m:2h",
    uplink_port: Annotated[
        int | None,
        typer.Option(
            "--uplink-port",
            min=0,
            max=65535,
            help="Own the gateway's uplink: relay 127.0.0.1:PORT to the cloud broker "
            "(--cloud-host/--cloud-port); point the edge agent's cloud port here. "
            "Needed for uplink_loss and gateway_power_loss.",
            show_default=False,
        ),
    ] = None,
    cloud_host: Annotated[
        str, typer.Option("--cloud-host", help="Cloud broker behind the uplink.")
    ] = "127.0.0.1",
    cloud_port: Annotated[
        int, typer.Option("--cloud-port", min=1, max=65535, help="Its port.")
    ] = 1884,
    report_every: Annotated[
        float | None,
        typer.Option(
            "--report-every",
            min=0.001,
            metavar="SECONDS",
            help="Load tests: every device reports this often (real seconds), whatever "
            "its heartbeat.",
            show_default=False,
        ),
    ] = None,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    count: Counts = None,
    profiles_dir: ProfilesDirs = None,
    connection_mode: Annotated[
        ConnectionMode,
        typer.Option(
            "--connection-mode",
            help="shared: devices multiplexed over --connections MQTT connections; "
            "per-device: one connection per device (client id = device id) with a last will.",
        ),
    ] = ConnectionMode.SHARED,
    connections: Annotated[
        int | None,
        typer.Option(
            "--connections",
            min=1,
            help="Shared mode: MQTT connections to spread the devices over (default 1).",
            show_default=False,
        ),
    ] = None,
    connect_concurrency: Annotated[
        int,
        typer.Option("--connect-concurrency", min=1, help="Connections set up at the same time."),
    ] = 50,
    max_in_flight: Annotated[
        int | None,
        typer.Option(
            "--max-in-flight",
            min=1,
            help="Messages awaiting their acknowledgement at once (default: 64 per shared "
            "connection; in per-device mode 4 per device, at least 256).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Run the simulated community until SIGTERM or Ctrl-C.

    Devices follow the simulated clock (--speed): lights switch at dusk and dawn, gates
    are busiest at commuting hours, pumps follow demand. Faults come from the control topic
    (linli sim fault ...), a --scenario, and at random (--mtbf, --fault-every).
    """
    import asyncio
    import logging

    from simulators.device import SimulatorError
    from simulators.scenario import RandomFaults, Scenario
    from simulators.simulator import Simulator, SimulatorConfig
    from simulators.transport import OpenFileLimit, ensure_open_files

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if connection_mode is ConnectionMode.PER_DEVICE and connections is not None:
        raise fail("--connections applies to --connection-mode shared only")
    catalogue = catalogue_from(profiles_dir)
    community = community_from(catalogue, seed, gates, lights, buttons, count)
    per_device = connection_mode is ConnectionMode.PER_DEVICE
    shared = connections or 1
    if max_in_flight is None:
        max_in_flight = max(256, 4 * len(community)) if per_device else 64 * shared
    low, sep, high = fault_duration.partition(":")
    if not sep:
        raise fail(f"--fault-duration expects MIN:MAX, e.g. 30m:2h, got {fault_duration!r}")
    durations = (seconds(low, "--fault-duration"), seconds(high, "--fault-duration"))
    try:
        config = SimulatorConfig(
            speed=speed,
            min_interval_s=min_interval,
            report_every_s=report_every,
            fault_every_s=seconds(fault_every, "--fault-every"),
            first_fault_after_s=(
                None
                if first_fault_after is None
                else seconds(first_fault_after, "--first-fault-after")
            ),
            random=(
                None
                if mtbf is None
                else RandomFaults(seconds(mtbf, "--mtbf"), durations, ("device_faults",))
            ),
            fault_duration_s=durations,
            max_in_flight=max_in_flight,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        ensure_open_files(len(community) + 1 if per_device else shared)
    except OpenFileLimit as exc:
        raise fail(str(exc)) from None
    try:
        script = None if scenario is None else Scenario.load(scenario)
        simulator = Simulator(community, config, scenario=script)
    except SimulatorError as exc:
        raise fail(str(exc)) from None
    if script is not None and uplink_port is None:
        gateway_lines = [str(event.line) for event in script.events if event.target.gateway]
        if gateway_lines:
            raise fail(
                f"{scenario}: gateway faults (line {', '.join(gateway_lines)}) need the "
                "gateway's uplink: run with --uplink-port P --cloud-port Q"
            )
    logging.getLogger("simulators").info(
        "simulating %d devices on %s:%d (speed %g, %s, %s)",
        len(community),
        broker_host,
        broker_port,
        speed,
        _faults_summary(config, scenario),
        "one connection per device" if per_device else f"{shared} shared connection(s)",
    )
    uplink_to = None if uplink_port is None else (uplink_port, cloud_host, cloud_port)
    shared_connections = None if per_device else shared
    asyncio.run(
        _run(
            simulator, broker_host, broker_port, shared_connections, connect_concurrency, uplink_to
        )
    )


def _faults_summary(config: SimulatorConfig, scenario: Path | None) -> str:
    parts = []
    if config.random is not None:
        parts.append(f"random faults: MTBF {config.random.mtbf_s:g}s per device")
    if config.fault_every_s:
        parts.append(f"a random fault every {config.fault_every_s:g}s")
    if scenario is not None:
        parts.append(f"scenario {scenario}")
    return ", ".join(parts) or "faults on request only"


async def _run(
    simulator: Simulator,
    host: str,
    port: int,
    shared: int | None,
    concurrency: int,
    uplink_to: tuple[int, str, int] | None,
) -> None:
    """Run ``simulator``; ``shared`` connections, or one per device when None; owning the
    gateway's uplink when ``uplink_to`` = (listen port, cloud host, cloud port)."""
    import asyncio
    import logging
    from contextlib import AsyncExitStack

    from simulators.simulator import command_filters
    from simulators.transport import DeviceConnections, SharedConnection
    from simulators.uplink import Uplink

    devices = [device.device_id for device in simulator.community]
    commands = command_filters(simulator.community)

    def connect() -> SharedConnection | DeviceConnections:
        if shared is None:
            return DeviceConnections(
                host, port, devices, command_filters=commands, connect_concurrency=concurrency
            )
        return SharedConnection(
            host,
            port,
            connections=shared,
            devices=devices,
            command_filters=commands,
            connect_concurrency=concurrency,
        )

    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        uplink: Uplink | None = None
        if uplink_to is not None:
            listen_port, cloud_host, cloud_port = uplink_to
            uplink = await stack.enter_async_context(
                Uplink(cloud_host, cloud_port, listen_port=listen_port)
            )
            logging.getLogger("simulators").info(
                "gateway uplink: 127.0.0.1:%d -> %s:%d", uplink.port, cloud_host, cloud_port
            )
        simulator.uplink = uplink
        with stop_on_signals(stop):
            await simulator.run(connect, stop)
    logging.getLogger("simulators").info(
        "stopped after %d messages (%d not published)", simulator.published, simulator.lost
    )


@app.command("list")
def list_devices(
    seed: Seed = 0,
    speed: Speed = 1.0,
    min_interval: MinInterval = 5.0,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    count: Counts = None,
    profiles_dir: ProfilesDirs = None,
) -> None:
    """Print the devices a seed and counts generate: id, zone, profile, topic, report
    interval and the faults it can show."""
    catalogue = catalogue_from(profiles_dir)
    community = community_from(catalogue, seed, gates, lights, buttons, count)
    for device in community:
        interval = device.report_interval(speed, min_interval)
        faults = ",".join(device.faults) or "-"
        typer.echo(
            f"{device.device_id:<16} {device.zone or '-':<8} {device.profile_id:<30} "
            f"{device.topic:<48} every {interval:g}s  faults: {faults}"
        )
    typer.echo(f"{len(community)} devices")
