"""``linli sim``: run a simulated community, inject faults into it, list its devices,
record the traffic on a broker and replay it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import asyncio

    from device_profiles.catalogue import Catalogue
    from simulators.community import Community, Simulator
    from simulators.recording import ReplayResult
    from simulators.transport import DeviceConnections, SharedConnection

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

Duration = Annotated[
    float, typer.Option("--duration", min=0.001, help="Seconds until it recovers.")
]


class ConnectionMode(StrEnum):
    SHARED = "shared"
    PER_DEVICE = "per-device"


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
    """Run the simulated community until SIGTERM or Ctrl-C."""
    import asyncio
    import logging

    from simulators.community import Simulator, SimulatorConfig
    from simulators.transport import OpenFileLimit, ensure_open_files

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if connection_mode is ConnectionMode.PER_DEVICE and connections is not None:
        raise _fail("--connections applies to --connection-mode shared only")
    catalogue = _catalogue(profiles_dir)
    community = _community(catalogue, seed, gates, lights, buttons, count)
    per_device = connection_mode is ConnectionMode.PER_DEVICE
    shared = connections or 1
    if max_in_flight is None:
        max_in_flight = max(256, 4 * len(community)) if per_device else 64 * shared
    try:
        config = SimulatorConfig(
            speed=speed,
            min_interval_s=min_interval,
            fault_every_s=fault_every,
            first_fault_after_s=first_fault_after,
            max_in_flight=max_in_flight,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        ensure_open_files(len(community) + 1 if per_device else shared)
    except OpenFileLimit as exc:
        raise _fail(str(exc)) from None
    simulator = Simulator(community, config)
    logging.getLogger("simulators").info(
        "simulating %d devices on %s:%d (speed %g, random faults %s, %s)",
        len(community),
        broker_host,
        broker_port,
        speed,
        f"every {fault_every:g}s" if fault_every else "off",
        "one connection per device" if per_device else f"{shared} shared connection(s)",
    )
    asyncio.run(
        _run(
            simulator,
            broker_host,
            broker_port,
            None if per_device else shared,
            connect_concurrency,
        )
    )


@contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` while inside (call from a running event loop).

    Only the main thread receives signals; elsewhere (a command run from a thread, as in
    tests) nothing is installed.
    """
    import asyncio
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run(
    simulator: Simulator, host: str, port: int, shared: int | None, concurrency: int
) -> None:
    """Run ``simulator``; ``shared`` connections, or one per device when None."""
    import asyncio
    import logging

    from simulators.transport import DeviceConnections, SharedConnection

    devices = [device.device_id for device in simulator.community]

    def connect() -> SharedConnection | DeviceConnections:
        if shared is None:
            return DeviceConnections(host, port, devices, connect_concurrency=concurrency)
        return SharedConnection(
            host, port, connections=shared, devices=devices, connect_concurrency=concurrency
        )

    stop = asyncio.Event()
    with _stop_on_signals(stop):
        await simulator.run(connect, stop)
    logging.getLogger("simulators").info(
        "stopped after %d messages (%d not published)", simulator.published, simulator.lost
    )


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
    duration: Duration = 60.0,
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


@app.command("silence")
def silence(
    device_id: Annotated[str, typer.Argument(help="Device that falls silent, e.g. sos-02.")],
    duration: Duration = 60.0,
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
) -> None:
    """Ask the running simulator to make a device fall silent for a while.

    It stops reporting; in per-device connection mode its connection is also cut without a
    DISCONNECT, so the broker publishes its last will.
    """
    from pydantic import ValidationError

    from simulators.faults import SilenceCommand, encode_control

    try:
        command = SilenceCommand(device_id=device_id, duration_s=duration)
    except ValidationError as exc:
        raise _fail(f"bad silence request: {exc.errors()[0]['msg']}") from None
    _send(broker_host, broker_port, encode_control(command))
    typer.echo(f"sent: {device_id} silent for {duration:g}s")


@app.command("record")
def record(
    out: Annotated[
        Path,
        typer.Option("--out", dir_okay=False, help="Recording to write (JSON lines)."),
    ],
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds",
            min=0.001,
            help="Stop after this long (default: at SIGTERM or Ctrl-C).",
            show_default=False,
        ),
    ] = None,
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
    profiles_dir: ProfilesDirs = None,
    topics: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            metavar="FILTER",
            help="Also record this topic filter, e.g. 'linli/sim/lwt/#' (repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Record every device topic of every profile on a broker into a file."""
    import asyncio

    from simulators.recording import RecordingError
    from simulators.transport import TransportError

    catalogue = _catalogue(profiles_dir)
    filters = sorted({*catalogue.subscriptions(), *(topics or [])})
    try:
        count, elapsed = asyncio.run(_record(broker_host, broker_port, filters, out, seconds))
    except TransportError as exc:
        raise _fail(f"{exc} (is the broker running?)") from None
    except RecordingError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"recorded {count} messages in {elapsed:.1f}s to {out}")


async def _record(
    host: str, port: int, filters: list[str], out: Path, seconds: float | None
) -> tuple[int, float]:
    import asyncio
    from contextlib import suppress

    from simulators.recording import RecordingError, RecordingWriter
    from simulators.transport import Subscription

    stop = asyncio.Event()
    failures: list[RecordingError] = []
    with RecordingWriter(out) as writer:

        def on_message(topic: str, payload: bytes) -> None:
            if failures:
                return
            try:
                writer.write(topic, payload)
            except RecordingError as exc:
                failures.append(exc)
                stop.set()

        with _stop_on_signals(stop):
            async with Subscription(host, port, filters, on_message):
                typer.echo(
                    f"recording {len(filters)} topic filters from {host}:{port} to {out}"
                    + (f" for {seconds:g}s" if seconds else " until Ctrl-C"),
                    err=True,
                )
                with suppress(TimeoutError):
                    async with asyncio.timeout(seconds):
                        await stop.wait()
        if failures:
            raise failures[0]
        return writer.count, writer.elapsed


@app.command("replay")
def replay(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A recording from 'linli sim record'."),
    ],
    speed: Annotated[
        float,
        typer.Option("--speed", min=0.001, help="Replay this many times faster than recorded."),
    ] = 1.0,
    broker_host: BrokerHost = "127.0.0.1",
    broker_port: BrokerPort = 1883,
) -> None:
    """Republish a recording (QoS 1) with its recorded timing, then exit.

    Payloads are sent byte for byte, event timestamps included.
    """
    import asyncio

    from simulators.recording import RecordingError, check
    from simulators.transport import TransportError

    try:
        summary = check(file)
    except RecordingError as exc:
        raise _fail(f"bad recording: {exc}") from None
    typer.echo(
        f"replaying {summary.messages} messages ({summary.duration_s:.1f}s recorded, "
        f"about {summary.duration_s / speed:.1f}s at speed {speed:g}) to "
        f"{broker_host}:{broker_port}",
        err=True,
    )
    try:
        result = asyncio.run(_replay(broker_host, broker_port, file, speed))
    except TransportError as exc:
        raise _fail(f"{exc} (is the broker running?)") from None
    except RecordingError as exc:
        raise _fail(f"bad recording: {exc}") from None
    if result.error is not None:
        typer.echo(
            f"replay failed after {result.sent} of {summary.messages} messages: {result.error}",
            err=True,
        )
        raise typer.Exit(1)
    if result.stopped:
        typer.echo(f"stopped after {result.sent} of {summary.messages} messages", err=True)
        raise typer.Exit(1)
    typer.echo(f"sent {result.sent} messages")


async def _replay(host: str, port: int, file: Path, speed: float) -> ReplayResult:
    import asyncio

    from simulators.recording import read
    from simulators.recording import replay as replay_records
    from simulators.transport import Publisher

    stop = asyncio.Event()
    with _stop_on_signals(stop):
        async with Publisher(host, port) as publisher:

            async def publish(topic: str, payload: bytes) -> None:
                await publisher.publish(topic, payload, qos=1)

            return await replay_records(read(file), publish, speed=speed, stop=stop)


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
