"""Faults on the simulated clock, against real Mosquitto brokers: scripted scenario events,
flapping, zone power loss, the gateway's faults (through a cuttable uplink to a second
broker standing in for the cloud), garbage bursts, random faults by MTBF, and control
messages of action "event" that are refused.

Most tests run at speed 600: ten simulated minutes a real second, so ``at: 10m`` is about
a second into the run. Timing windows are generous; lower bounds come from the simulated
clock (an event never fires early), upper bounds allow for a loaded machine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client, Will
from simulators.community import Community
from simulators.device import SimulatedDevice
from simulators.faults import CONTROL_TOPIC, EventCommand, FaultCommand, encode_control
from simulators.scenario import RandomFaults, Scenario, scenario_from
from simulators.simulator import Connect, Simulator, SimulatorConfig
from simulators.transport import WILL_PAYLOAD, WILL_TOPIC, DeviceConnections, SharedConnection
from simulators.uplink import Uplink
from tests.sample_profiles import pump
from tests.simulators.conftest import (
    TIMEOUT_S,
    Inbox,
    Received,
    eventually,
    running,
    running_with,
    subscribed,
)

SPEED = 600.0
"""Simulated seconds per real second: ``10m`` of simulated time is 1 s."""
START = datetime(2025, 1, 15, 3, 0, tzinfo=UTC).timestamp()
"""03:00 UTC: street lights on, gates quiet."""
FAST = SimulatorConfig(speed=SPEED, min_interval_s=0.2, start=START)
WILLS = WILL_TOPIC.format(device_id="+")
EDGE_WILL = "linli/test/edge/lwt"
EDGE_UP = "linli/test/edge/up"


def _community(catalogue: Catalogue, counts: Mapping[str, int]) -> Community:
    return Community.generate(catalogue, counts, seed=3)


def _scenario(*events: Mapping[str, Any], random: Mapping[str, Any] | None = None) -> Scenario:
    document: dict[str, Any] = {"events": list(events)} if events else {}
    if random is not None:
        document["random"] = dict(random)
    return scenario_from(document, source="test")


def _event(**fields: Any) -> bytes:
    """A control message of action "event" (``for_`` stands for ``for``)."""
    if "for_" in fields:
        fields["for"] = fields.pop("for_")
    return encode_control(EventCommand(event=fields))


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the simulator logged: its loop, and the faults it carried out."""
    return [r for r in caplog.records if r.name in ("simulators.simulator", "simulators.injection")]


def _now() -> float:
    return asyncio.get_running_loop().time()


class Reports:
    """Decoded device reports, keyed by device id, for one community."""

    def __init__(self, catalogue: Catalogue, community: Community) -> None:
        self.catalogue = catalogue
        self._topics = {device.topic: device.device_id for device in community}

    def device(self, message: Received) -> str | None:
        """The device a (decodable) report is from; None for anything else."""
        device_id = self._topics.get(message.topic)
        if device_id is None or not message.decodes(self.catalogue):
            return None
        return device_id

    def faults(self, message: Received) -> tuple[str, ...]:
        return message.decoded(self.catalogue).faults

    def of(self, device_id: str, faulty: bool | None = None) -> Callable[[Received], bool]:
        """Matches a report of ``device_id`` (showing a fault or not, if ``faulty`` is given)."""

        def matches(message: Received) -> bool:
            if self.device(message) != device_id:
                return False
            return faulty is None or bool(self.faults(message)) == faulty

        return matches


async def _collect(inbox: Inbox, until: float) -> list[Received]:
    """Every message that arrives until loop time ``until``."""
    found = []
    while (left := until - _now()) > 0:
        try:
            found.append(await inbox.next(within=left))
        except TimeoutError:
            break
    return found


@asynccontextmanager
async def _watching(
    broker: Mosquitto, simulator: Simulator, *, extra: tuple[str, ...] = (), connect: Connect
) -> AsyncIterator[Inbox]:
    filters = [device.topic for device in simulator.community] + list(extra)
    async with subscribed(broker, filters) as inbox, running_with(simulator, connect):
        yield inbox


def _shared(broker: Mosquitto) -> Connect:
    return lambda: SharedConnection(broker.host, broker.port)


# -- scenarios on the simulated clock --------------------------------------------------------


async def test_scenario_event_fires_and_ends_on_the_simulated_clock(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = _community(catalogue, {"acme_access_gate": 2})
    scenario = _scenario({"at": "10m", "device": "gate-01", "fault": "motor_jammed", "for": "10m"})
    reports = Reports(catalogue, community)
    origin = _now()
    simulator = Simulator(community, FAST, scenario=scenario)
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        broken = await inbox.next(
            lambda m: reports.device(m) is not None and bool(reports.faults(m))
        )
        assert reports.device(broken) == "gate-01"
        assert reports.faults(broken) == ("motor_jammed",)
        assert 1.0 <= broken.at - origin < 2.5  # 10 simulated minutes at 600x: 1 s
        recovered = await inbox.next(reports.of("gate-01", faulty=False))
        assert 0.8 <= recovered.at - broken.at < 2.5  # `for: 10m`: 1 s later
        assert simulator.faults.fault_of("gate-01") is None


async def test_events_at_the_same_time_affect_exactly_their_targets(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    counts = {"acme_access_gate": 2, "brightway_street_light": 4, "safecall_alarm_button": 2}
    community = _community(catalogue, counts)
    zones = {"zone-a": ["gate-01", "light-a-01", "light-a-02", "sos-01"]}
    zones["zone-b"] = ["gate-02", "light-b-01", "light-b-02", "sos-02"]
    assert {zone: [d.device_id for d in community if d.zone == zone] for zone in zones} == zones
    scenario = _scenario(
        {"at": "5m", "zone": "zone-a", "category": "lighting", "fault": "lamp_failure"},
        {"at": "5m", "zone": "zone-b", "category": "access", "fault": "garbage", "count": 2},
        {"at": "5m", "device": "sos-02", "fault": "help_requested"},
    )  # the faults for the default 1m: 0.1 s
    broken_ones = {"light-a-01", "light-a-02", "sos-02"}
    reports = Reports(catalogue, community)
    origin = _now()
    simulator = Simulator(community, FAST, scenario=scenario)
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        first = await inbox.next(lambda m: reports.device(m) is None or bool(reports.faults(m)))
        messages = [first, *await _collect(inbox, first.at + 1.0)]
    assert 0.5 <= first.at - origin < 2.0  # 5 simulated minutes: 0.5 s
    broken: dict[str, Received] = {}
    recovered: set[str] = set()
    garbage: list[Received] = []
    for message in messages:
        device_id = reports.device(message)
        if device_id is None:
            garbage.append(message)
        elif reports.faults(message):
            assert device_id in broken_ones and device_id not in recovered, device_id
            broken.setdefault(device_id, message)
        elif device_id in broken:
            recovered.add(device_id)
    assert set(broken) == recovered == broken_ones
    assert [m.topic for m in garbage] == [community.get("gate-02").topic] * 2
    # all at the same moment
    times = [message.at for message in [*broken.values(), *garbage]]
    assert max(times) - min(times) < 0.3
    assert reports.faults(broken["light-a-01"]) == ("lamp_failure",)
    assert reports.faults(broken["sos-02"]) == ("help_requested",)


async def test_flapping_alternates_with_its_period_until_it_ends(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = _community(catalogue, {"acme_access_gate": 1})
    # 0.5 s in the fault, 0.5 s normal, ..., for 2.5 s: faulty at 0, 1 and 2 s in
    flapping = {"fault": "flapping", "flap": "motor_jammed", "period": "5m", "for": "25m"}
    scenario = _scenario({"at": "1m", "device": "gate-01", **flapping})
    reports = Reports(catalogue, community)
    simulator = Simulator(community, FAST, scenario=scenario)
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        first = await inbox.next(reports.of("gate-01", faulty=True))
        messages = [first, *await _collect(inbox, first.at + 3.5)]
    changes: list[tuple[float, bool]] = []
    for message in messages:
        if reports.device(message) is None:
            continue
        faulty = bool(reports.faults(message))
        assert not faulty or reports.faults(message) == ("motor_jammed",)
        if not changes or changes[-1][1] != faulty:
            changes.append((message.at - first.at, faulty))
    assert [faulty for _, faulty in changes] == [True, False, True, False, True, False]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(changes)]
    assert all(0.35 < gap < 1.5 for gap in gaps[:-1]), gaps  # the period: 0.5 s
    assert 2.3 < changes[-1][0] < 3.5, changes  # ends after `for`, 2.5 s; then stays normal
    assert simulator.faults.fault_of("gate-01") is None


# -- power loss ----------------------------------------------------------------------------


async def test_zone_power_loss_silences_its_lights_with_their_last_wills(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    counts = {"acme_access_gate": 1, "brightway_street_light": 4}
    community = _community(catalogue, counts)
    ids = [device.device_id for device in community]
    dark = {"light-a-01", "light-a-02"}
    made: list[DeviceConnections] = []

    def connect() -> DeviceConnections:
        made.append(DeviceConnections(broker.host, broker.port, ids))
        return made[-1]

    reports = Reports(catalogue, community)
    simulator = Simulator(community, FAST)
    async with _watching(broker, simulator, extra=(WILLS,), connect=connect) as inbox:
        await asyncio.wait_for(made[0].all_up.wait(), TIMEOUT_S)
        sent = _now()
        power_loss = _event(zone="zone-a", category="lighting", fault="power_loss", for_="15m")
        await inbox.publish(CONTROL_TOPIC, power_loss)
        await eventually(lambda: all(simulator.faults.is_silent(d) == (d in dark) for d in ids))
        wills: dict[str, Received] = {}
        heard: dict[str, list[float]] = {}
        while True:
            message = await inbox.next()
            device_id = reports.device(message)
            if message.topic.startswith("linli/sim/lwt/"):
                assert message.payload == WILL_PAYLOAD
                wills[message.topic.rsplit("/", 1)[1]] = message
            elif device_id is not None:
                heard.setdefault(device_id, []).append(message.at)
                if device_id in dark and set(wills) == dark:
                    break
        back = message.at
    assert 1.2 < back - sent < 4.0  # `for: 15m`: 1.5 s
    went_dark = max(will.at for will in wills.values())
    # nothing from the dark lights meanwhile; the rest of the community went on reporting
    for device_id in ids:
        meanwhile = [at for at in heard.get(device_id, []) if went_dark < at < back]
        if device_id in dark:
            assert meanwhile == [], device_id
        else:
            assert meanwhile, f"{device_id} was not heard during the power loss"
    assert all(made[0].connects(d) == (2 if d in dark else 1) for d in ids)
    assert not any(simulator.faults.is_silent(d) for d in ids)


# -- the gateway ---------------------------------------------------------------------------


@asynccontextmanager
async def _edge_agent(uplink: Uplink) -> AsyncIterator[Client]:
    """An MQTT client with a last will, connected to the cloud broker through the gateway's
    uplink: it stands in for the edge agent."""
    will = Will(EDGE_WILL, b"edge offline", retain=False)
    async with Client("127.0.0.1", uplink.port, client_id="edge-agent", will=will) as client:
        yield client


async def _cut_off(edge: Client) -> None:
    """Returns once the edge client notices its connection is gone."""
    async with asyncio.timeout(TIMEOUT_S):
        await edge.wait_lost()


async def _cloud_reachable(uplink: Uplink, cloud: Inbox) -> None:
    """A new edge connection through the uplink reaches the cloud broker."""
    async with _edge_agent(uplink) as edge:
        await edge.publish(EDGE_UP, b"back", qos=1)
        assert (await cloud.next(lambda m: m.topic == EDGE_UP)).payload == b"back"


async def test_uplink_loss_cuts_the_edge_off_the_cloud_until_it_is_restored(
    catalogue: Catalogue, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    community = _community(catalogue, {"acme_access_gate": 2})
    reports = Reports(catalogue, community)
    async with (
        Uplink(cloud_broker.host, cloud_broker.port) as uplink,
        subscribed(cloud_broker, [EDGE_WILL, EDGE_UP]) as cloud,
    ):
        simulator = Simulator(community, FAST, uplink=uplink)
        async with (
            _watching(gateway_broker, simulator, connect=_shared(gateway_broker)) as inbox,
            _edge_agent(uplink) as edge,
        ):
            assert uplink.connections == 1
            loss = _event(gateway=True, fault="uplink_loss", for_="10m")
            await inbox.publish(CONTROL_TOPIC, loss)
            will = await cloud.next(lambda m: m.topic == EDGE_WILL)
            assert will.payload == b"edge offline"
            assert uplink.is_cut and uplink.connections == 0
            await _cut_off(edge)
            # the devices go on reporting to the gateway meanwhile
            for device_id in ("gate-01", "gate-02"):
                await inbox.next(reports.of(device_id))
            assert uplink.is_cut
            await eventually(lambda: not uplink.is_cut)
            assert 0.7 < _now() - will.at < 3.0  # `for: 10m`: 1 s
            await _cloud_reachable(uplink, cloud)
            assert not any(simulator.faults.is_silent(d.device_id) for d in community)


async def test_gateway_power_loss_also_silences_every_device(
    catalogue: Catalogue, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    community = _community(catalogue, {"acme_access_gate": 2, "brightway_street_light": 2})
    ids = [device.device_id for device in community]
    reports = Reports(catalogue, community)
    async with (
        Uplink(cloud_broker.host, cloud_broker.port) as uplink,
        subscribed(cloud_broker, [EDGE_WILL, EDGE_UP]) as cloud,
    ):
        simulator = Simulator(community, FAST, uplink=uplink)
        async with (
            _watching(gateway_broker, simulator, connect=_shared(gateway_broker)) as inbox,
            _edge_agent(uplink) as edge,
        ):
            for device_id in ids:  # everyone is heard before
                await inbox.next(reports.of(device_id))
            loss = _event(gateway=True, fault="gateway_power_loss", for_="10m")
            await inbox.publish(CONTROL_TOPIC, loss)
            will = await cloud.next(lambda m: m.topic == EDGE_WILL)
            assert all(simulator.faults.is_silent(device_id) for device_id in ids)
            silent_at = _now()
            await _cut_off(edge)
            await eventually(lambda: not uplink.is_cut)
            restored = _now()
            assert 0.7 < restored - will.at < 3.0  # `for: 10m`: 1 s
            back: set[str] = set()
            while back != set(ids):
                message = await inbox.next(lambda m: reports.device(m) is not None)
                # nothing while the gateway was down (but what was on its way already)
                assert not silent_at + 0.2 < message.at < restored - 0.1, reports.device(message)
                if message.at > restored - 0.1:
                    back.add(str(reports.device(message)))
            await _cloud_reachable(uplink, cloud)
            assert not any(simulator.faults.is_silent(device_id) for device_id in ids)


async def test_gateway_faults_without_an_uplink_are_refused(
    catalogue: Catalogue, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators")
    community = _community(catalogue, {"acme_access_gate": 2})
    ids = [device.device_id for device in community]
    reports = Reports(catalogue, community)
    scenario = _scenario({"at": "1m", "gateway": True, "fault": "uplink_loss", "for": "5m"})
    simulator = Simulator(community, FAST, scenario=scenario)  # and no uplink

    def refused() -> list[str]:
        return [
            r.getMessage()
            for r in _logged(caplog)
            if "needs the gateway's uplink" in r.getMessage()
        ]

    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        for fault in ("uplink_loss", "gateway_power_loss"):
            await inbox.publish(CONTROL_TOPIC, _event(gateway=True, fault=fault, for_="5m"))
        good = FaultCommand(device_id="gate-01", fault="motor_jammed", duration_s=600)
        await inbox.publish(CONTROL_TOPIC, encode_control(good))
        await inbox.next(reports.of("gate-01", faulty=True))
        await eventually(lambda: len(refused()) == 3)  # the scenario's event at 0.1 s too
        assert not any(simulator.faults.is_silent(device_id) for device_id in ids)
        await inbox.next(reports.of("gate-02"))  # still reporting
    messages = refused()
    assert sum(m.startswith("ignored control message") for m in messages) == 2
    assert sum("gateway_power_loss needs" in m for m in messages) == 1


# -- garbage -------------------------------------------------------------------------------


async def test_garbage_bursts_all_at_once_or_spread_over_their_duration(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = _community(catalogue, {"acme_access_gate": 1, "brightway_street_light": 2})
    reports = Reports(catalogue, community)
    simulator = Simulator(community, FAST)
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        sent = _now()
        spread = _event(device="light-a-01", fault="garbage", count=5, for_="10m")
        await inbox.publish(CONTROL_TOPIC, spread)
        await inbox.publish(CONTROL_TOPIC, _event(device="gate-01", fault="garbage", count=3))
        messages = await _collect(inbox, sent + 2.0)
    garbage: dict[str, list[float]] = {}
    for message in messages:
        if reports.device(message) is None:  # on a device's topic, but undecodable
            garbage.setdefault(message.topic, []).append(message.at)
    light, gate = community.get("light-a-01"), community.get("gate-01")
    assert set(garbage) == {light.topic, gate.topic}
    assert len(garbage[light.topic]) == 5
    assert len(garbage[gate.topic]) == 3
    # 5 over 10m: one every 2 simulated minutes (0.2 s), the last 0.8 s after the first
    spread_over = garbage[light.topic][-1] - garbage[light.topic][0]
    assert 0.6 < spread_over < 2.0, garbage[light.topic]
    assert garbage[gate.topic][-1] - garbage[gate.topic][0] < 0.3


# -- random faults -------------------------------------------------------------------------

INJECTED = re.compile(r"^fault \w+ on \S+ for ")


async def test_random_faults_come_at_about_the_rate_of_their_mtbf(
    catalogue: Catalogue, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators")
    devices, mtbf_s = 6, 240.0
    rate = devices * SPEED / mtbf_s  # 15 faults a real second across the community
    random_faults = RandomFaults(mtbf_s=mtbf_s, duration_s=(30.0, 30.0))  # 0.05 s each
    config = SimulatorConfig(speed=SPEED, min_interval_s=0.2, start=START, random=random_faults)
    community = _community(catalogue, {"acme_access_gate": devices})
    reports = Reports(catalogue, community)
    simulator = Simulator(community, config)
    begun = _now()
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        messages = await _collect(inbox, begun + 2.0)
        elapsed = _now() - begun
        logged = [r.getMessage() for r in _logged(caplog)]
    injected = [m for m in logged if INJECTED.match(m)]
    skipped = [m for m in logged if m.startswith("random fault skipped")]
    expected = rate * elapsed  # about 30
    # a loose bound: Poisson with mean ~30 is within it but for about 1 run in 200
    assert 0.5 * expected < len(injected) + len(skipped) < 1.6 * expected, (len(injected), elapsed)
    assert len(skipped) < len(injected)
    # and the faults show: the devices report them
    faulty = {reports.device(m) for m in messages if reports.device(m) and reports.faults(m)}
    assert len(faulty) >= 3


async def test_no_random_fault_when_no_device_can_fail(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="simulators")
    profile = pump()  # its only example is a healthy one: it can show no fault
    devices = tuple(
        SimulatedDevice(f"p{i}", profile, f"test/pump/p{i}", MappingProxyType({}), i / 4, "zone-a")
        for i in range(4)
    )
    community = Community(devices)
    assert all(device.faults == () for device in community)
    random_faults = {"mtbf": "4m", "duration": ["30s", "30s"], "kinds": ["device_faults", "silent"]}
    scenario = _scenario(random=random_faults)  # a fault every 0.1 s if one could
    simulator = Simulator(community, FAST, scenario=scenario)
    async with (
        subscribed(broker, ["test/pump/+"]) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        await eventually(
            lambda: sum(r.msg.startswith("random fault skipped") for r in _logged(caplog)) >= 5
        )
        await inbox.next()
        assert not any(simulator.faults.fault_of(d.device_id) for d in community)
        assert not any(simulator.faults.is_silent(d.device_id) for d in community)
    assert not [r for r in _logged(caplog) if INJECTED.match(r.getMessage())]
    assert not [r for r in _logged(caplog) if r.levelno >= logging.WARNING]


# -- control messages of action "event" ----------------------------------------------------


async def test_bad_event_control_messages_are_refused_and_the_simulator_runs_on(
    catalogue: Catalogue, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="simulators")
    community = _community(catalogue, {"acme_access_gate": 2, "brightway_street_light": 2})
    reports = Reports(catalogue, community)
    bad_events: list[dict[str, Any]] = [
        {"device": "gate-99", "fault": "motor_jammed"},
        {"device": "gate-01", "fault": "lamp_out"},
        {"devices": ["gate-01", "light-a-01"], "fault": "motor_jammed"},
        {"zone": "zone-z", "fault": "power_loss"},
        {"zone": "zone-a", "category": "water", "fault": "power_loss"},
        {"device": "gate-01", "fault": "uplink_loss"},
        {"gateway": True, "fault": "motor_jammed"},
        {"device": "gate-01", "fault": "motor_jammed", "for": "8d"},
        {"device": "gate-01", "fault": "flapping"},
        {"device": "gate-01", "falt": "motor_jammed"},
        {"fault": "motor_jammed"},
    ]
    bad = [encode_control(EventCommand(event=event)) for event in bad_events]
    bad.append(b'{"action":"event","event":"gate-01"}')
    simulator = Simulator(community, FAST)
    async with _watching(broker, simulator, connect=_shared(broker)) as inbox:
        for payload in bad:
            await inbox.publish(CONTROL_TOPIC, payload)
        await inbox.publish(CONTROL_TOPIC, _event(device="gate-02", fault="motor_jammed"))
        await inbox.next(reports.of("gate-02", faulty=True))
        assert [d.device_id for d in community if simulator.faults.fault_of(d.device_id)] == [
            "gate-02"
        ]
        assert not any(simulator.faults.is_silent(d.device_id) for d in community)
    refused = [r.getMessage() for r in _logged(caplog)]
    assert len(refused) == len(bad), refused
    assert all(message.startswith("ignored control message") for message in refused)
    assert "no simulated device 'gate-99'" in refused[0]
    assert "lamp_out" in refused[1] and "light-a-01" in refused[2]
