"""What the ``linli sim`` commands share: the Typer app, common options, the catalogue and
community they build, and the control-topic sender."""

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
    from simulators.community import Community

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
    typer.Option(
        "--speed",
        min=0.001,
        help="Simulated seconds per real second: 60 runs an hour of the community in a minute.",
    ),
]
MinInterval = Annotated[
    float,
    typer.Option("--min-interval", min=0.0, help="Never report more often than this (s)."),
]

Duration = Annotated[
    str,
    typer.Option(
        "--for",
        "--duration",
        help="How long, in simulated time: seconds or 90s, 5m, 1h30m, 2d.",
    ),
]


class ConnectionMode(StrEnum):
    SHARED = "shared"
    PER_DEVICE = "per-device"


GATE_PROFILE = "acme_access_gate"
LIGHT_PROFILE = "brightway_street_light"
BUTTON_PROFILE = "safecall_alarm_button"


def fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def catalogue_from(profiles_dirs: list[Path] | None) -> Catalogue:
    from device_profiles.catalogue import Catalogue, ProfileError

    try:
        return Catalogue.load(profiles_dirs or [])
    except ProfileError as exc:
        raise fail(f"invalid device profiles:\n{exc}") from None


def community_from(
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
            raise fail(f"--count expects PROFILE_ID=N, got {item!r}")
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
        raise fail(str(exc)) from None


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
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


def send_control(host: str, port: int, payload: bytes) -> None:
    import asyncio

    from simulators.faults import CONTROL_TOPIC
    from simulators.transport import TransportError, publish_once

    try:
        asyncio.run(publish_once(host, port, CONTROL_TOPIC, payload))
    except TransportError as exc:
        raise fail(f"{exc} (is the broker running?)") from None


def seconds(text: str, option: str) -> float:
    """Seconds from a duration option (``90``, ``90s``, ``5m``, ``1h30m``, ``2d``)."""
    from simulators.scenario import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None
