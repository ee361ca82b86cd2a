"""``linli sim``: run a simulated community, list its devices; the fault commands are in
:mod:`simulators.cli_control`, record and replay in :mod:`simulators.cli_recording`.

Every option of ``run`` and ``list`` is a setting of :class:`simulators.config.SimSettings`,
also settable as a ``LINLI_SIM_*`` variable (:mod:`simulators.cli_options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from simulators import cli_control, cli_recording
from simulators.cli_options import (
    BrokerHost,
    BrokerPort,
    Buttons,
    CloudHost,
    CloudPort,
    ConnectConcurrency,
    ConnectionCount,
    ConnectionModeOption,
    Counts,
    FaultDuration,
    FaultEvery,
    FirstFaultAfter,
    Gates,
    Lights,
    LogLevel,
    MaxInFlight,
    MinInterval,
    Mtbf,
    ProfilesDirs,
    ReportEvery,
    ScenarioFile,
    Seed,
    Speed,
    UplinkPort,
    app,
    catalogue_from,
    community_from,
    fail,
    options,
    settings_from,
    stop_on_signals,
)
from simulators.config import ConnectionMode, SimSettings
from simulators.site import NewDevices

if TYPE_CHECKING:
    from simulators.scenario import Scenario
    from simulators.simulator import Simulator, SimulatorConfig

__all__ = ["app", "cli_control", "cli_recording"]


@app.command("run")
def run(
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
    seed: Seed = None,
    speed: Speed = None,
    min_interval: MinInterval = None,
    scenario: ScenarioFile = None,
    mtbf: Mtbf = None,
    fault_every: FaultEvery = None,
    first_fault_after: FirstFaultAfter = None,
    fault_duration: FaultDuration = None,
    uplink_port: UplinkPort = None,
    cloud_host: CloudHost = None,
    cloud_port: CloudPort = None,
    report_every: ReportEvery = None,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    counts: Counts = None,
    profiles_dirs: ProfilesDirs = None,
    connection_mode: ConnectionModeOption = None,
    connections: ConnectionCount = None,
    connect_concurrency: ConnectConcurrency = None,
    max_in_flight: MaxInFlight = None,
    log_level: LogLevel = None,
) -> None:
    """Run the simulated community until SIGTERM or Ctrl-C.

    Devices follow the simulated clock (--speed): lights switch at dusk and dawn, gates
    are busiest at commuting hours, pumps follow demand. Faults come from the control topic
    (linli sim fault ...), a --scenario, and at random (--mtbf, --fault-every).
    """
    import asyncio
    import logging

    from simulators.device import SimulatorError
    from simulators.scenario import DEVICE_FAULTS, RandomFaults, load_scenario
    from simulators.simulator import Simulator, SimulatorConfig
    from simulators.transport import OpenFileLimit, ensure_open_files

    settings = settings_from(
        broker_host=broker_host,
        broker_port=broker_port,
        seed=seed,
        speed=speed,
        min_interval=min_interval,
        scenario=scenario,
        mtbf=mtbf,
        fault_every=fault_every,
        first_fault_after=first_fault_after,
        fault_duration=fault_duration,
        uplink_port=uplink_port,
        cloud_host=cloud_host,
        cloud_port=cloud_port,
        report_every=report_every,
        gates=gates,
        lights=lights,
        buttons=buttons,
        counts=counts,
        profiles_dirs=profiles_dirs,
        connection_mode=connection_mode,
        connections=connections,
        connect_concurrency=connect_concurrency,
        max_in_flight=max_in_flight,
        log_level=log_level,
    )
    per_device = settings.connection_mode is ConnectionMode.PER_DEVICE
    if per_device and "connections" in settings.model_fields_set:
        raise fail(
            f"linli sim: {options.describe('connections')}: applies to "
            "--connection-mode shared only"
        )
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    community = community_from(catalogue_from(settings), settings)
    max_in_flight = settings.max_in_flight
    if max_in_flight is None:
        max_in_flight = max(256, 4 * len(community)) if per_device else 64 * settings.connections
    try:
        random_faults = None
        if settings.mtbf is not None:
            random_faults = RandomFaults(settings.mtbf, settings.fault_duration, (DEVICE_FAULTS,))
        config = SimulatorConfig(
            speed=settings.speed,
            min_interval_s=settings.min_interval,
            report_every_s=settings.report_every,
            fault_every_s=settings.fault_every,
            first_fault_after_s=settings.first_fault_after,
            random=random_faults,
            fault_duration_s=settings.fault_duration,
            max_in_flight=max_in_flight,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        ensure_open_files(len(community) + 1 if per_device else settings.connections)
    except OpenFileLimit as exc:
        raise fail(str(exc)) from None
    try:
        script = None if settings.scenario is None else load_scenario(settings.scenario)
        simulator = Simulator(community, config, scenario=script)
    except SimulatorError as exc:
        raise fail(str(exc)) from None
    if script is not None and settings.uplink_port is None:
        gateway_lines = [str(event.line) for event in script.events if event.target.gateway]
        if gateway_lines:
            raise fail(
                f"{settings.scenario}: gateway faults (line {', '.join(gateway_lines)}) need "
                "the gateway's uplink: run with --uplink-port P --cloud-port Q"
            )
    connected = (
        "one connection per device"
        if per_device
        else f"{settings.connections} shared connection(s)"
    )
    logging.getLogger("simulators").info(
        "simulating %d devices on %s:%d (speed %g, %s, %s)",
        len(community),
        settings.broker_host,
        settings.broker_port,
        settings.speed,
        _faults_summary(config, script),
        connected,
    )
    asyncio.run(_run(simulator, settings))


def _faults_summary(config: SimulatorConfig, scenario: Scenario | None) -> str:
    parts = []
    if config.random is not None:
        parts.append(f"random faults: MTBF {config.random.mtbf_s:g}s per device")
    if config.fault_every_s:
        parts.append(f"a random fault every {config.fault_every_s:g}s")
    if scenario is not None:
        parts.append(f"scenario {scenario.source}")
    return ", ".join(parts) or "faults on request only"


async def _run(simulator: Simulator, settings: SimSettings) -> None:
    """Run ``simulator`` as ``settings`` say: shared connections or one per device, owning
    the gateway's uplink when ``uplink_port`` is set."""
    import asyncio
    import logging
    from contextlib import AsyncExitStack

    from simulators.simulator import command_filters
    from simulators.transport import DeviceConnections, SharedConnection
    from simulators.uplink import Uplink

    host, port = settings.broker_host, settings.broker_port
    devices = [device.device_id for device in simulator.community]
    commands = command_filters(simulator.community)
    concurrency = settings.connect_concurrency

    def connect() -> SharedConnection | DeviceConnections:
        if settings.connection_mode is ConnectionMode.PER_DEVICE:
            return DeviceConnections(
                host, port, devices, command_filters=commands, connect_concurrency=concurrency
            )
        return SharedConnection(
            host,
            port,
            connections=settings.connections,
            devices=devices,
            command_filters=commands,
            connect_concurrency=concurrency,
        )

    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        if settings.uplink_port is not None:
            uplink = await stack.enter_async_context(
                Uplink(settings.cloud_host, settings.cloud_port, listen_port=settings.uplink_port)
            )
            logging.getLogger("simulators").info(
                "gateway uplink: 127.0.0.1:%d -> %s:%d",
                uplink.port,
                settings.cloud_host,
                settings.cloud_port,
            )
            simulator.faults.uplink = uplink
        with stop_on_signals(stop):
            await simulator.run(connect, stop)
    logging.getLogger("simulators").info(
        "stopped after %d messages (%d not published)", simulator.published, simulator.lost
    )


@app.command("site")
def site(
    gateway_id: Annotated[
        str, typer.Option("--gateway-id", metavar="ID", help="the gateway the devices are behind")
    ] = "demo-gw",
    seed: Seed = None,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    counts: Counts = None,
    profiles_dirs: ProfilesDirs = None,
    new_devices: Annotated[
        NewDevices,
        typer.Option(
            "--new-devices",
            help="what a device of the gateway that no facility lists becomes when first "
            "heard from: unassigned (until bound) or a facility of its own",
        ),
    ] = NewDevices.UNASSIGNED,
) -> None:
    """Print the simulated community as a site file (docs/sites.md): its zones and
    buildings, a facility for each device, the gateway, people, office hours and SLA classes
    — for `linli site apply`, so that the cloud's register knows what the simulator runs."""
    from device_profiles.site import site_text
    from simulators.community import DEFAULT_ZONES
    from simulators.site import community_site

    settings = settings_from(
        seed=seed, gates=gates, lights=lights, buttons=buttons, counts=counts,
        profiles_dirs=profiles_dirs,
    )  # fmt: skip
    community = community_from(catalogue_from(settings), settings)
    made = community_site(community, gateway_id, DEFAULT_ZONES, new_devices)
    typer.echo(site_text(made, heading="the simulated community (linli sim site)"), nl=False)


@app.command("list")
def list_devices(
    seed: Seed = None,
    speed: Speed = None,
    min_interval: MinInterval = None,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    counts: Counts = None,
    profiles_dirs: ProfilesDirs = None,
) -> None:
    """Print the devices a seed and counts generate: id, zone, profile, topic, report
    interval and the faults it can show."""
    settings = settings_from(
        seed=seed,
        speed=speed,
        min_interval=min_interval,
        gates=gates,
        lights=lights,
        buttons=buttons,
        counts=counts,
        profiles_dirs=profiles_dirs,
    )
    community = community_from(catalogue_from(settings), settings)
    for device in community:
        interval = device.report_interval(settings.speed, settings.min_interval)
        faults = ",".join(device.faults) or "-"
        typer.echo(
            f"{device.device_id:<16} {device.zone or '-':<8} {device.profile_id:<30} "
            f"{device.topic:<48} every {interval:g}s  faults: {faults}"
        )
    typer.echo(f"{len(community)} devices")
