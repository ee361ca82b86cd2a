"""``linli sim``: run a simulated community, inject faults into it, list its devices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from device_profiles.catalogue import Catalogue
    from simulators.community import Community, Simulator

app = typer.Typer(
    help="Simulated devices that speak the vendor dialects of the device profiles.",
    no_args_is_help=True,
    add_completion=False,
)

BrokerHost = Annotated[str, typer.Option("--broker-host", help="MQTT broker the devices use.")]
BrokerPort = Annotated[int, typer.Option("--broker-port", min=1, max=65535, help="Its port.")]
Seed = Annotated[int, typer.Option("--seed", help="Same seed, same community and faults.")]
Gates = Annotated[
    int | None,
    typer.Option("--gates", min=0, help="Access gates (default 12).", show_default=False),
]
Lights = Annotated[
    int | None,
    typer.Option("--lights", min=0, help="Street lights (default 16).", show_default=False),
]
Buttons = Annotated[
    int | None,
    typer.Option("--buttons", min=0, help="Repair-alarm buttons (default 8).", show_default=False),
]
Counts = Annotated[
    list[str] | None,
    typer.Option(
        "--count",
        metavar="PROFILE_ID=N",
        help="Devices for any profile, e.g. acme_access_gate=3 (repeatable).",
        show_default=False,
    ),
]
ProfilesDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--profiles-dir",
        exists=True,
        file_okay=False,
        help="Extra directory of profile YAML files (repeatable).",
        show_default=False,
    ),
]
Speed = Annotated[
    float,
    typer.Option("--speed", min=0.001, help="Divide every profile's heartbeat by this."),
]
MinInterval = Annotated[
    float,
    typer.Option("--min-interval", min=0.0, help="Never report more often than this (s)."),
]

GATE_PROFILE = "acme_access_gate"
LIGHT_PROFILE = "brightway_street_light"
BUTTON_PROFILE = "safecall_alarm_button"


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _catalogue(profiles_dirs: list[Path] | None) -> Catalogue:
    from device_profiles.catalogue import Catalogue, ProfileError

    try:
        return Catalogue.load(profiles_dirs or [])
    except ProfileError as exc:
        raise _fail(f"invalid device profiles:\n{exc}") from None


def _community(
    catalogue: Catalogue,
    seed: int,
    gates: int | None,
    lights: int | None,
    buttons: int | None,
    counts: list[str] | None,
) -> Community:
    from simulators.community import Community
    from simulators.device import SimulatorError

    wanted: dict[str, int] = {}
    for item in counts or []:
        profile_id, sep, number = item.partition("=")
        if not sep or not number.strip().isdigit():
            raise _fail(f"--count expects PROFILE_ID=N, got {item!r}")
        wanted[profile_id.strip()] = int(number)
    for profile_id, count in (
        (GATE_PROFILE, gates),
        (LIGHT_PROFILE, lights),
        (BUTTON_PROFILE, buttons),
    ):
        if count is not None:
            wanted[profile_id] = count
    try:
        return Community.generate(catalogue, wanted, seed)
    except (SimulatorError, ValueError) as exc:
        raise _fail(str(exc)) from None


@app.command("run")
def run(
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
    seed: Seed = 0,
    speed: Speed = 1.0,
    min_interval: MinInterval = 5.0,
    fault_every: Annotated[
        float,
        typer.Option(
            "--fault-every",
            min=0.0,
            metavar="SECONDS",
            help="Start a random fault this often; 0 disables random faults.",
        ),
    ] = 0.0,
    first_fault_after: Annotated[
        float | None,
        typer.Option(
            "--first-fault-after",
            min=0.0,
            metavar="SECONDS",
            help="When the first random fault starts (default: one --fault-every period).",
            show_default=False,
        ),
    ] = None,
    gates: Gates = None,
    lights: Lights = None,
    buttons: Buttons = None,
    count: Counts = None,
    profiles_dir: ProfilesDirs = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Run the simulated community until SIGTERM or Ctrl-C."""
    import asyncio
    import logging

    from simulators.community import Simulator, SimulatorConfig

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    catalogue = _catalogue(profiles_dir)
    community = _community(catalogue, seed, gates, lights, buttons, count)
    try:
        config = SimulatorConfig(
            speed=speed,
            min_interval_s=min_interval,
            fault_every_s=fault_every,
            first_fault_after_s=first_fault_after,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    simulator = Simulator(community, config)
    logging.getLogger("simulators").info(
        "simulating %d devices on %s:%d (speed %g, random faults %s)",
        len(community),
        broker_host,
        broker_port,
        speed,
        f"every {fault_every:g}s" if fault_every else "off",
    )
    asyncio.run(_run(simulator, broker_host, broker_port))


async def _run(simulator: Simulator, host: str, port: int) -> None:
    import asyncio
    import logging
    import signal

    from simulators.transport import SharedConnection

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await simulator.run(lambda: SharedConnection(host, port), stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    logging.getLogger("simulators").info("stopped after %d messages", simulator.published)


def _send(host: str, port: int, payload: bytes) -> None:
    import asyncio

    from simulators.faults import CONTROL_TOPIC
    from simulators.transport import TransportError, publish_once

    try:
        asyncio.run(publish_once(host, port, CONTROL_TOPIC, payload))
    except TransportError as exc:
        raise _fail(f"{exc} (is the broker running?)") from None


@app.command("fault")
def fault(
    device_id: Annotated[str, typer.Argument(help="Device to break, e.g. gate-01.")],
    fault_name: Annotated[
        str, typer.Argument(metavar="FAULT", help="A fault of its profile, e.g. motor_jammed.")
    ],
    duration: Annotated[
        float, typer.Option("--duration", min=0.001, help="Seconds until it recovers.")
    ] = 60.0,
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
) -> None:
    """Ask the running simulator to put a device into a fault for a while."""
    from pydantic import ValidationError

    from simulators.faults import FaultCommand, encode_control

    try:
        command = FaultCommand(device_id=device_id, fault=fault_name, duration_s=duration)
    except ValidationError as exc:
        raise _fail(f"bad fault request: {exc.errors()[0]['msg']}") from None
    _send(broker_host, broker_port, encode_control(command))
    typer.echo(
        f"sent: {device_id} {fault_name} for {duration:g}s "
        f"(the simulator logs it, or why it refused)"
    )


@app.command("garbage")
def garbage(
    device_id: Annotated[str, typer.Argument(help="Device that sends a malformed payload.")],
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
) -> None:
    """Ask the running simulator to make a device publish one malformed payload."""
    from simulators.faults import GarbageCommand, encode_control

    _send(broker_host, broker_port, encode_control(GarbageCommand(device_id=device_id)))
    typer.echo(f"sent: malformed payload from {device_id}")


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
    """Print the devices a seed and counts generate: id, profile, topic, report interval."""
    catalogue = _catalogue(profiles_dir)
    community = _community(catalogue, seed, gates, lights, buttons, count)
    for device in community:
        interval = device.report_interval(speed, min_interval)
        faults = ",".join(device.faults) or "-"
        typer.echo(
            f"{device.device_id:<16} {device.profile_id:<24} {device.topic:<44} "
            f"every {interval:g}s  faults: {faults}"
        )
    typer.echo(f"{len(community)} devices")
