"""What the ``linli sim`` commands share: the Typer app, the options made from
:class:`simulators.config.SimSettings`, the catalogue and community they build, and the
control-topic sender.

Each setting's option is declared once here, as ``Annotated[T | None, option] = None``:
its help is the setting's description, variable and default, and a command passes what it
was given to :func:`settings_from`, which fills in the environment and the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plumbing.settings import EXIT_INVALID, SettingsOptions
from simulators.config import ConnectionMode, SimSettings

if TYPE_CHECKING:
    import asyncio

    from device_profiles.catalogue import Catalogue
    from simulators.community import Community

app = typer.Typer(
    help="Simulated devices that speak the vendor dialects of the device profiles.",
    no_args_is_help=True,
    add_completion=False,
)

options = SettingsOptions(SimSettings, program="linli sim")

BrokerHost = Annotated[str | None, options.option("broker_host", "--broker-host", metavar="HOST")]
BrokerPort = Annotated[int | None, options.option("broker_port", "--broker-port", metavar="PORT")]
Seed = Annotated[int | None, options.option("seed", "--seed")]
Speed = Annotated[float | None, options.option("speed", "--speed", metavar="FACTOR")]
MinInterval = Annotated[
    float | None, options.option("min_interval", "--min-interval", metavar="SECONDS")
]
ReportEvery = Annotated[
    float | None, options.option("report_every", "--report-every", metavar="SECONDS")
]
Gates = Annotated[int | None, options.option("gates", "--gates", metavar="N")]
Lights = Annotated[int | None, options.option("lights", "--lights", metavar="N")]
Buttons = Annotated[int | None, options.option("buttons", "--buttons", metavar="N")]
Counts = Annotated[list[str] | None, options.option("counts", "--count", metavar="PROFILE_ID=N")]
ProfilesDirs = Annotated[
    list[Path] | None, options.option("profiles_dirs", "--profiles-dir", metavar="DIR")
]
ScenarioFile = Annotated[Path | None, options.option("scenario", "--scenario", metavar="FILE")]
Mtbf = Annotated[str | None, options.option("mtbf", "--mtbf", metavar="DURATION")]
FaultEvery = Annotated[
    str | None, options.option("fault_every", "--fault-every", metavar="DURATION")
]
FirstFaultAfter = Annotated[
    str | None, options.option("first_fault_after", "--first-fault-after", metavar="DURATION")
]
FaultDuration = Annotated[
    str | None, options.option("fault_duration", "--fault-duration", metavar="MIN:MAX")
]
UplinkPort = Annotated[int | None, options.option("uplink_port", "--uplink-port", metavar="PORT")]
CloudHost = Annotated[str | None, options.option("cloud_host", "--cloud-host", metavar="HOST")]
CloudPort = Annotated[int | None, options.option("cloud_port", "--cloud-port", metavar="PORT")]
ConnectionModeOption = Annotated[
    ConnectionMode | None, options.option("connection_mode", "--connection-mode")
]
ConnectionCount = Annotated[int | None, options.option("connections", "--connections", metavar="N")]
ConnectConcurrency = Annotated[
    int | None, options.option("connect_concurrency", "--connect-concurrency", metavar="N")
]
MaxInFlight = Annotated[int | None, options.option("max_in_flight", "--max-in-flight", metavar="N")]
LogLevel = Annotated[str | None, options.option("log_level", "--log-level", metavar="LEVEL")]

Duration = Annotated[
    str,
    typer.Option(
        "--for",
        "--duration",
        help="How long, in simulated time: seconds or 90s, 5m, 1h30m, 2d.",
    ),
]


def settings_from(**given: Any) -> SimSettings:
    """The settings from the options given (None: not given), the environment and the
    defaults; exit status 2, naming the option and variable, for an invalid one."""
    return options.build(**given)


def fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(EXIT_INVALID)


def catalogue_from(settings: SimSettings) -> Catalogue:
    from device_profiles.catalogue import Catalogue, ProfileError

    try:
        return Catalogue.load(settings.profiles_dirs)
    except ProfileError as exc:
        raise fail(f"invalid device profiles:\n{exc}") from None


def community_from(catalogue: Catalogue, settings: SimSettings) -> Community:
    from simulators.community import Community
    from simulators.device import SimulatorError

    try:
        return Community.generate(catalogue, settings.device_counts(), settings.seed)
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


def send_control(settings: SimSettings, payload: bytes) -> None:
    """Publish ``payload`` on the control topic of the broker ``settings`` name."""
    import asyncio

    from simulators.faults import CONTROL_TOPIC
    from simulators.transport import TransportError, publish_once

    host, port = settings.broker_host, settings.broker_port
    try:
        asyncio.run(publish_once(host, port, CONTROL_TOPIC, payload))
    except TransportError as exc:
        raise fail(f"{exc} (is the broker running?)") from None
