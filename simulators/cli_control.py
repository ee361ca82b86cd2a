"""``linli sim fault | garbage | silence``: ask a running simulator for a fault, now.

Each command publishes one control message on the simulator's control topic (see
:mod:`simulators.faults`); the simulator logs what it did, or why it refused.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from simulators.cli_options import (
    BrokerHost,
    BrokerPort,
    Duration,
    app,
    fail,
    send_control,
    settings_from,
)

TARGET_HELP = (
    "A device id (gate-01), or zone:NAME, type:NAME, profile:ID, or 'gateway'. "
    "'linli sim list' shows ids and zones."
)


def _target(text: str) -> dict[str, Any]:
    """Scenario target fields from the command line's TARGET."""
    if text == "gateway":
        return {"gateway": True}
    kind, sep, name = text.partition(":")
    if sep:
        if kind not in ("zone", "type", "profile") or not name:
            raise fail(
                "TARGET must be a device id, zone:NAME, type:NAME, profile:ID or gateway; "
                f"got {text!r}"
            )
        return {kind: name}
    return {"device": text}


def _send_event(host: str | None, port: int | None, event: dict[str, Any]) -> None:
    """Check the event's form here (the simulator checks it against its devices), then send
    it to the broker the options (or the environment) name."""
    from simulators.faults import EventCommand, encode_control
    from simulators.scenario import ScenarioError, event_from

    settings = settings_from(broker_host=host, broker_port=port)
    try:
        event_from(event, source="request")
    except ScenarioError as exc:
        raise fail(f"bad request: {exc}") from None
    send_control(settings, encode_control(EventCommand(event=event)))


@app.command("fault")
def fault(
    target: Annotated[str, typer.Argument(metavar="TARGET", help=TARGET_HELP)],
    fault_name: Annotated[
        str,
        typer.Argument(
            metavar="FAULT",
            help="A fault of the devices' profile (motor_jammed), or silent, power_loss, "
            "flapping, garbage; for the gateway uplink_loss or gateway_power_loss.",
        ),
    ],
    duration: Duration = "1m",
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Only devices of this category (lighting, access, ...).",
            show_default=False,
        ),
    ] = None,
    flap: Annotated[
        str | None,
        typer.Option("--flap", help="flapping: the fault that comes and goes.", show_default=False),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="flapping: time in the fault, then as long normal (20s).",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count", min=1, help="garbage: payloads in the burst (10).", show_default=False
        ),
    ] = None,
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
) -> None:
    """Ask the running simulator for a fault, now, for a while (simulated time).

    \b
    linli sim fault gate-01 motor_jammed --for 10m
    linli sim fault zone:zone-a power_loss --category lighting --for 15m
    linli sim fault pump-01 flapping --flap low_pressure --period 30s --for 10m
    linli sim fault light-a-01 garbage --count 20
    linli sim fault gateway uplink_loss --for 5m
    """
    event: dict[str, Any] = {**_target(target), "fault": fault_name}
    if fault_name != "garbage" or duration != "1m":
        event["for"] = duration
    for key, value in (("category", category), ("flap", flap), ("period", period)):
        if value is not None:
            event[key] = value
    if count is not None:
        event["count"] = count
    _send_event(broker_host, broker_port, event)
    typer.echo(f"sent: {fault_name} on {target} (the simulator logs it, or why it refused)")


@app.command("garbage")
def garbage(
    device_id: Annotated[str, typer.Argument(help="Device that sends malformed payloads.")],
    count: Annotated[int, typer.Option("--count", min=1, help="How many.")] = 1,
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
) -> None:
    """Ask the running simulator to make a device publish malformed payloads at once."""
    _send_event(broker_host, broker_port, {"device": device_id, "fault": "garbage", "count": count})
    typer.echo(f"sent: {count} malformed payload(s) from {device_id}")


@app.command("silence")
def silence(
    device_id: Annotated[str, typer.Argument(help="Device that falls silent, e.g. sos-02.")],
    duration: Duration = "1m",
    broker_host: BrokerHost = None,
    broker_port: BrokerPort = None,
) -> None:
    """Ask the running simulator to make a device fall silent for a while.

    It stops reporting; in per-device connection mode its connection is also cut without a
    DISCONNECT, so the broker publishes its last will.
    """
    _send_event(broker_host, broker_port, {"device": device_id, "fault": "silent", "for": duration})
    typer.echo(f"sent: {device_id} silent for {duration}")
