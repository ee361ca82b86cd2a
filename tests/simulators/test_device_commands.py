"""Simulated devices react at once, against a real Mosquitto: the commands their profiles
define (published as the platform would, with ``encode_command``), and report by exception
when their own state changes (a street light at dusk) rather than on their next heartbeat.

The simulator runs at speed 1 from a fixed simulated start, 03:00 UTC in January: dark (the
lights are on), hardly any traffic at the gates, no charger in a session. At speed 1 every
heartbeat is a minute or more apart, so a report within :data:`AT_ONCE_S` of a command is
the command's own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.commands import encode_command
from device_profiles.schema import Scalar
from linli.mosquitto import Mosquitto
from simulators import daylight
from simulators.behaviour import behaviour_for
from simulators.community import Community
from simulators.faults import CONTROL_TOPIC, SilenceCommand, encode_control
from simulators.simulator import Simulator, SimulatorConfig, command_filters
from simulators.transport import SharedConnection
from tests.simulators.conftest import Inbox, Received, eventually, running_with, subscribed

START = datetime(2025, 1, 15, 3, 0, tzinfo=UTC).timestamp()
"""03:00 UTC (the simulator's local time without a tz): night, quiet."""
AT_ONCE_S = 1.0
"""A command's report arrives within this (real) time; heartbeats are >= 60 s apart."""
LATITUDE = daylight.DEFAULT_LATITUDE
QUIET_S = 0.5
"""How long a device that does not act on a command is watched for a report."""

Metrics = Mapping[str, Scalar]


def _number(metrics: Metrics, name: str) -> float:
    """Numeric metric ``name`` of a reading."""
    value = metrics[name]
    assert isinstance(value, (int, float)) and not isinstance(value, bool), (name, value)
    return float(value)


@dataclass
class Devices:
    """A running simulator, a client on its broker, and commands sent through it."""

    simulator: Simulator
    inbox: Inbox
    catalogue: Catalogue
    sent: int = 0

    def reading(self, message: Received, device_id: str) -> Metrics | None:
        """The metrics of ``message`` if it is a report of ``device_id``."""
        if message.topic != self.simulator.community.get(device_id).topic:
            return None
        return message.decoded(self.catalogue).metrics

    async def publish(self, device_id: str, command: str, args: Mapping[str, Any]) -> float:
        """Publish ``command`` for ``device_id`` on the broker; when it was sent."""
        device = self.simulator.community.get(device_id)
        topic, payload = encode_command(device.profile, device_id, command, args, device.labels)
        sent_at = asyncio.get_running_loop().time()
        await self.inbox.publish(topic, payload)
        self.sent += 1
        return sent_at

    async def command(
        self,
        device_id: str,
        command: str,
        args: Mapping[str, Any] | None = None,
        *,
        until: Callable[[Metrics], bool] = lambda _: True,
    ) -> Metrics:
        """Send ``command``; the device's report that satisfies ``until``, which must come
        at once."""
        sent_at = await self.publish(device_id, command, args or {})

        def wanted(message: Received) -> bool:
            metrics = self.reading(message, device_id)
            return metrics is not None and until(metrics)

        report = await self.inbox.next(wanted)
        assert report.at - sent_at < AT_ONCE_S, f"{command} reported after {report.at - sent_at}s"
        return report.decoded(self.catalogue).metrics

    async def ignored(self, device_id: str, command: str, args: Mapping[str, Any]) -> None:
        """Send ``command``: the device takes it (it is counted) but does not act, so it
        does not report."""
        before = self.simulator.commands
        await self.publish(device_id, command, args)
        await eventually(lambda: self.simulator.commands == before + 1)
        with pytest.raises(TimeoutError):
            await self.inbox.next(lambda m: self.reading(m, device_id) is not None, within=QUIET_S)


def _connect(simulator: Simulator, broker: Mosquitto) -> Callable[[], SharedConnection]:
    """Shared connection subscribed to the community's command topics."""
    filters = command_filters(simulator.community)
    return lambda: SharedConnection(broker.host, broker.port, command_filters=filters)


@asynccontextmanager
async def _devices(
    catalogue: Catalogue, broker: Mosquitto, counts: Mapping[str, int]
) -> AsyncIterator[Devices]:
    community = Community.generate(catalogue, counts, seed=3)
    simulator = Simulator(community, SimulatorConfig(speed=1, start=START))
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running_with(simulator, _connect(simulator, broker)) as task,
    ):
        devices = Devices(simulator, inbox, catalogue)
        yield devices
        assert not task.done()
        assert simulator.commands == devices.sent


# -- one case per catalogue profile with commands ------------------------------------------


async def _acme_gate(devices: Devices) -> None:
    opened = await devices.command(
        "gate-01", "open", {"hold_s": 30}, until=lambda m: m["door_open"] is True
    )
    tested = await devices.command("gate-01", "self_test")
    assert tested["door_open"] is True
    # the self-test cycles the door once more
    assert _number(tested, "cycles") == _number(opened, "cycles") + 1


async def _aquaboost_pump(devices: Devices) -> None:
    before = await devices.command("pump-01", "reset_alarm")  # acknowledged: reports at once
    assert abs(_number(before, "outlet_pressure") - 3.52) < 0.5  # around the healthy 352 kPa
    after = await devices.command("pump-01", "set_pressure", {"kpa": 600})
    assert after["running"] is True
    assert abs(_number(after, "outlet_pressure") - 6.0) < 0.3


async def _hydropro_pump(devices: Devices) -> None:
    before = await devices.command("booster-01", "acknowledge")
    assert abs(_number(before, "outlet_pressure") - 3.8) < 0.6
    after = await devices.command("booster-01", "set_pressure", {"mpa": 0.6})
    assert after["running"] is True
    assert abs(_number(after, "outlet_pressure") - 6.0) < 0.3


async def _brightway_light(devices: Devices) -> None:
    assert daylight.is_dark(START)  # the light is on by itself
    off = await devices.command(
        "light-a-01", "switch", {"on": False}, until=lambda m: m["on"] is False
    )
    assert off["current"] == 0.0
    on = await devices.command("light-a-01", "switch", {"on": True})
    assert on["on"] is True


async def _parkline_barrier(devices: Devices) -> None:
    up = await devices.command("barrier-01", "open", until=lambda m: m["arm_up"] is True)
    assert up["vehicle_present"] is False
    down = await devices.command("barrier-01", "close")
    assert down["arm_up"] is False
    assert down["opens"] == up["opens"]


async def _safecall_button(devices: Devices) -> None:
    report = await devices.command("sos-01", "reset")
    assert abs(_number(report, "battery") - 87.0) < 5.0
    tested = await devices.command("sos-02", "self_test")
    assert abs(_number(tested, "battery") - 87.0) < 5.0


async def _guardian_detector(devices: Devices) -> None:
    tested = await devices.command("smoke-01", "self_test")
    assert 0.0 <= _number(tested, "smoke_density") < 1.0


async def _turnix_gate(devices: Devices) -> None:
    opened = await devices.command(
        "turnstile-01",
        "open",
        {"direction": "out", "hold_s": 10},
        until=lambda m: m["door_open"] is True,
    )
    assert opened["emergency_release"] is False
    free = await devices.command(
        "turnstile-02", "set_mode", {"mode": "free"}, until=lambda m: m["door_open"] is True
    )
    normal = await devices.command("turnstile-02", "set_mode", {"mode": "normal"})
    assert normal["door_open"] is False
    assert _number(normal, "cycles") == _number(free, "cycles")


async def _vistacam_camera(devices: Devices) -> None:
    # the generic model takes a reboot but does not act on it: no report until the heartbeat
    await devices.ignored("cam-01", "reboot", {})


async def _voltgo_charger(devices: Devices) -> None:
    out = await devices.command(
        "charger-01",
        "set_available",
        {"available": False},
        until=lambda m: m["state"] == "unavailable",
    )
    assert out["power"] == 0.0
    reset = await devices.command("charger-01", "reset", {"kind": "Soft"})
    assert reset["state"] == "unavailable"
    await devices.ignored("charger-01", "unlock_connector", {})  # no session to end
    back = await devices.command("charger-01", "set_available", {"available": True})
    assert back["state"] == "available"


CASES: dict[str, Callable[[Devices], Awaitable[None]]] = {
    "acme_access_gate": _acme_gate,
    "aquaboost_water_pump": _aquaboost_pump,
    "brightway_street_light": _brightway_light,
    "guardian_smoke_detector": _guardian_detector,
    "hydropro_water_pump": _hydropro_pump,
    "parkline_vehicle_barrier": _parkline_barrier,
    "safecall_alarm_button": _safecall_button,
    "turnix_access_gate": _turnix_gate,
    "vistacam_camera": _vistacam_camera,
    "voltgo_ev_charger": _voltgo_charger,
}


def test_every_profile_with_commands_has_a_case(catalogue: Catalogue) -> None:
    assert set(CASES) == {profile.id for profile in catalogue if profile.commands}


@pytest.mark.parametrize("profile_id", sorted(CASES))
async def test_device_acts_on_its_commands_and_reports_at_once(
    catalogue: Catalogue, broker: Mosquitto, profile_id: str
) -> None:
    async with _devices(catalogue, broker, {profile_id: 2}) as devices:
        await CASES[profile_id](devices)


async def test_bad_commands_are_logged_and_ignored(
    catalogue: Catalogue, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators.simulator")
    counts = {"acme_access_gate": 2, "aquaboost_water_pump": 1}
    async with _devices(catalogue, broker, counts) as devices:
        gate = catalogue["acme_access_gate"]
        unknown_topic, unknown_payload = encode_command(gate, "gate-99", "open", {})
        bad = [
            ("acme/gate/gate-01/cmd", b"not json"),
            ("acme/gate/gate-01/cmd", b'{"action":"dance"}'),
            ("acme/gate/gate-01/cmd", b'{"action":"open","hold":500}'),  # above 60 s
            ("aquaboost/pump/pump-01/cmd", b'{"cmd":"setpoint","p_out":"high"}'),
            (unknown_topic, unknown_payload),
        ]
        for topic, payload in bad:
            await devices.inbox.publish(topic, payload)
        # a silent device misses its commands
        silence = SilenceCommand(device_id="gate-02", duration_s=600)
        await devices.inbox.publish(CONTROL_TOPIC, encode_control(silence))
        await eventually(lambda: devices.simulator.faults.is_silent("gate-02"))
        await devices.inbox.publish(*encode_command(gate, "gate-02", "open", {}))
        # the simulator carries on: a good command after them all is acted on at once
        after = await devices.command("pump-01", "set_pressure", {"kpa": 500})
        assert abs(_number(after, "outlet_pressure") - 5.0) < 0.3
    logged = [r for r in caplog.records if r.name == "simulators.simulator"]
    ignored = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert len(ignored) == len(bad), ignored
    assert all(message.startswith("ignored command on ") for message in ignored)
    assert "no simulated acme_access_gate device 'gate-99'" in ignored[-1]
    assert "above the maximum" in ignored[2]
    assert any("gate-02 is silent; command open lost" in r.getMessage() for r in logged)


# -- report by exception -------------------------------------------------------------------


def _dusk(community: Community, device_id: str, day_start: float, latitude: float) -> float:
    """When the street light ``device_id`` switches on by itself on the day starting at
    ``day_start``, to half a second.

    Each photocell switches at its own sun altitude (within a degree of
    ``daylight.LIGHTS_ON_ALTITUDE``), drawn from the device's seeded behaviour: a twin of
    that behaviour (seeded as the simulator seeds it) is asked, between the earliest and
    the latest dusk any photocell can have.
    """
    device = community.get(device_id)
    day = datetime.fromtimestamp(day_start, UTC).timetuple().tm_yday
    altitude = daylight.LIGHTS_ON_ALTITUDE

    def on_at(moment: float) -> bool:
        twin = behaviour_for(
            device.profile, random.Random(f"{community.seed}-{device_id}"), latitude=latitude
        )
        return twin.step(moment)["on"] is True

    low = day_start + daylight.dawn_and_dusk(day, latitude, altitude + 1.5)[1] * 3600
    high = day_start + daylight.dawn_and_dusk(day, latitude, altitude - 1.5)[1] * 3600
    assert not on_at(low) and on_at(high)
    while high - low > 0.5:
        middle = (low + high) / 2
        low, high = (low, middle) if on_at(middle) else (middle, high)
    return high


async def test_street_light_reports_at_dusk_without_waiting_for_its_heartbeat(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    speed = 60.0  # heartbeat 300 s: 5 s real; the light is looked at every simulated minute
    community = Community.generate(catalogue, {"brightway_street_light": 4}, seed=2)
    light = min(community, key=lambda device: device.phase)  # reports first
    heartbeat = light.profile.heartbeat_s / speed
    dusk = _dusk(
        community, light.device_id, datetime(2025, 3, 20, tzinfo=UTC).timestamp(), LATITUDE
    )
    # its first report (a fraction `phase` of a heartbeat in) is due 45 simulated s before dusk
    lead = light.phase * light.profile.heartbeat_s + 45.0
    config = SimulatorConfig(speed=speed, min_interval_s=0, start=dusk - lead, latitude=LATITUDE)
    origin = asyncio.get_running_loop().time()
    simulator = Simulator(community, config)
    async with (
        subscribed(broker, [light.topic]) as inbox,
        running_with(simulator, _connect(simulator, broker)),
    ):
        first = await inbox.next()
        assert first.decoded(catalogue).metrics["on"] is False
        switched = await inbox.next()
    assert switched.decoded(catalogue).metrics["on"] is True
    # not before dusk, and well before the heartbeat that would otherwise have said it
    assert switched.at - origin >= lead / speed
    assert switched.at - first.at < 0.6 * heartbeat
