"""``linli sim record`` and ``linli sim replay``: device traffic to a file and back.

The file format and replay timing live in :mod:`simulators.recording`; the MQTT connections
in :mod:`simulators.transport`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simulators.cli_options import (
    BrokerHost,
    BrokerPort,
    ProfilesDirs,
    app,
    catalogue_from,
    fail,
    settings_from,
    stop_on_signals,
)

if TYPE_CHECKING:
    from simulators.recording import ReplayResult


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
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
    profiles_dirs: ProfilesDirs = None,
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

    settings = settings_from(
        broker_host=broker_host, broker_port=broker_port, profiles_dirs=profiles_dirs
    )
    catalogue = catalogue_from(settings)
    filters = sorted({*catalogue.subscriptions(), *(topics or [])})
    host, port = settings.broker_host, settings.broker_port
    try:
        count, elapsed = asyncio.run(_record(host, port, filters, out, seconds))
    except TransportError as exc:
        raise fail(f"{exc} (is the broker running?)") from None
    except RecordingError as exc:
        raise fail(str(exc)) from None
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

        with stop_on_signals(stop):
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
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
) -> None:
    """Republish a recording (QoS 1) with its recorded timing, then exit.

    Payloads are sent byte for byte, event timestamps included.
    """
    import asyncio

    from simulators.recording import RecordingError, check
    from simulators.transport import TransportError

    settings = settings_from(broker_host=broker_host, broker_port=broker_port)
    host, port = settings.broker_host, settings.broker_port
    try:
        summary = check(file)
    except RecordingError as exc:
        raise fail(f"bad recording: {exc}") from None
    typer.echo(
        f"replaying {summary.messages} messages ({summary.duration_s:.1f}s recorded, "
        f"about {summary.duration_s / speed:.1f}s at speed {speed:g}) to {host}:{port}",
        err=True,
    )
    try:
        result = asyncio.run(_replay(host, port, file, speed))
    except TransportError as exc:
        raise fail(f"{exc} (is the broker running?)") from None
    except RecordingError as exc:
        raise fail(f"bad recording: {exc}") from None
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
    with stop_on_signals(stop):
        async with Publisher(host, port) as publisher:

            async def publish(topic: str, payload: bytes) -> None:
                await publisher.publish(topic, payload, qos=1)

            return await replay_records(read(file), publish, speed=speed, stop=stop)
