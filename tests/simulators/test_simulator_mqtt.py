"""The simulator: its configuration, and against a real Mosquitto: heartbeats, injected
faults, control robustness, reconnecting, the ``sim run`` process."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.rules import evaluate
from linli.mosquitto import Mosquitto
from simulators.community import Community
from simulators.faults import CONTROL_TOPIC, FaultCommand, GarbageCommand, encode_control
from simulators.simulator import Simulator, SimulatorConfig
from tests.simulators.conftest import (
    FAST,
    TIMEOUT_S,
    Received,
    running,
    sim_run_process,
    subscribed,
)

SLOW = SimulatorConfig(speed=1, min_interval_s=0)  # heartbeats a minute or more apart


def _community(
    catalogue: Catalogue, gates: int = 1, lights: int = 1, buttons: int = 1
) -> Community:
    counts = {
        "acme_access_gate": gates,
        "brightway_street_light": lights,
        "safecall_alarm_button": buttons,
    }
    return Community.generate(catalogue, counts, seed=11)


def _from(
    device_id: str, catalogue: Catalogue, faults: tuple[str, ...] | None = None
) -> Callable[[Received], bool]:
    """Matches a decodable message from ``device_id`` (with exactly ``faults``, if given)."""

    def matches(message: Received) -> bool:
        if not message.decodes(catalogue):
            return False
        reading = message.decoded(catalogue)
        if reading.device_id != device_id:
            return False
        verdict = evaluate(catalogue[reading.profile], reading)
        return faults is None or verdict.faults == faults

    return matches


def _faults(message: Received, catalogue: Catalogue) -> tuple[str, ...]:
    reading = message.decoded(catalogue)
    return evaluate(catalogue[reading.profile], reading).faults


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatorConfig(speed=0)
    with pytest.raises(ValueError, match="fault_duration_s"):
        SimulatorConfig(fault_duration_s=(5, 1))


def test_config_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        SimulatorConfig(max_in_flight=0)


async def test_devices_report_on_their_heartbeat(catalogue: Catalogue, broker: Mosquitto) -> None:
    community = _community(catalogue, gates=2, lights=2, buttons=2)
    simulator = Simulator(community, FAST)
    seen: dict[str, int] = {}
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        while len(seen) < len(community) or min(seen.values()) < 2:
            message = await inbox.next()
            reading = message.decoded(catalogue)
            assert evaluate(catalogue[reading.profile], reading).faults == ()
            assert message.topic == community.get(reading.device_id).topic
            seen[reading.device_id] = seen.get(reading.device_id, 0) + 1
    assert set(seen) == {d.device_id for d in community}


async def test_control_fault_reports_at_once_and_recovers(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    simulator = Simulator(_community(catalogue), SLOW)
    duration = 1.0
    filters = [*catalogue.subscriptions(), CONTROL_TOPIC]
    async with subscribed(broker, filters) as inbox, running(simulator, broker.host, broker.port):
        command = FaultCommand(device_id="gate-01", fault="motor_jammed", duration_s=duration)
        await inbox.publish(CONTROL_TOPIC, encode_control(command))
        sent = await inbox.next(lambda m: m.topic == CONTROL_TOPIC)
        broken = await inbox.next(_from("gate-01", catalogue, ("motor_jammed",)))
        assert broken.at - sent.at < 2.0
        assert broken.decoded(catalogue).faults == ("motor_jammed",)
        recovered = await inbox.next(_from("gate-01", catalogue, ()))
        assert duration * 0.9 <= recovered.at - broken.at < duration + 2.0
        assert simulator.faults.fault_of("gate-01") is None


async def test_bad_control_messages_do_not_stop_the_simulator(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    simulator = Simulator(_community(catalogue), SLOW)
    bad = [
        b"not json at all",
        b'{"action":"explode"}',
        b'{"action":"fault","device_id":"gate-99","fault":"motor_jammed","duration_s":5}',
        b'{"action":"fault","device_id":"gate-01","fault":"lamp_out","duration_s":5}',
        b'{"action":"fault","device_id":"gate-01","fault":"motor_jammed","duration_s":0}',
        b'{"action":"garbage","device_id":"nobody"}',
    ]
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port) as task,
    ):
        for payload in bad:
            await inbox.publish(CONTROL_TOPIC, payload)
        good = FaultCommand(device_id="sos-01", fault="help_requested", duration_s=30)
        await inbox.publish(CONTROL_TOPIC, encode_control(good))
        await inbox.next(_from("sos-01", catalogue, ("help_requested",)))
        assert not task.done()
        assert simulator.faults.fault_of("gate-01") is None


async def test_garbage_action_publishes_a_malformed_payload(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    simulator = Simulator(_community(catalogue), SLOW)
    light = next(d for d in simulator.community if d.profile_id == "brightway_street_light")
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        command = GarbageCommand(device_id=light.device_id)
        await inbox.publish(CONTROL_TOPIC, encode_control(command))
        message = await inbox.next(lambda m: not m.decodes(catalogue))
        assert message.topic == light.topic


async def test_random_faults(catalogue: Catalogue, broker: Mosquitto) -> None:
    config = SimulatorConfig(
        speed=1, min_interval_s=0, fault_every_s=0.3, fault_duration_s=(0.2, 0.4)
    )
    simulator = Simulator(_community(catalogue, gates=3, lights=0, buttons=0), config)
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        broken = await inbox.next(lambda m: _faults(m, catalogue) != ())
        device_id = broken.decoded(catalogue).device_id
        await inbox.next(_from(device_id, catalogue, ()))


async def test_first_random_fault_comes_after_its_own_delay(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    """The demo shows a fault early, then one per period: a 1-hour period still starts one."""
    config = SimulatorConfig(
        speed=1,
        min_interval_s=0,
        fault_every_s=3600,
        first_fault_after_s=0.2,
        fault_duration_s=(5, 5),
    )
    simulator = Simulator(_community(catalogue, gates=2, lights=0, buttons=0), config)
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        await inbox.next(lambda m: _faults(m, catalogue) != ())


async def test_reconnects_after_the_broker_restarts(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path
) -> None:
    simulator = Simulator(_community(catalogue, gates=1, lights=0, buttons=0), FAST)
    port = broker.port
    async with running(simulator, broker.host, port):
        broker.stop()
        with Mosquitto(port, name="restarted", log_dir=tmp_path) as restarted:
            async with subscribed(restarted, catalogue.subscriptions()) as inbox:
                message = await inbox.next()
                assert message.decoded(catalogue).device_id == "gate-01"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_sim_run_process_stops_cleanly_on_signal(
    catalogue: Catalogue, broker: Mosquitto, signum: int
) -> None:
    argv = [
        "--broker-port", str(broker.port),
        "--speed", "600", "--min-interval", "0.2",
        "--gates", "1", "--lights", "0", "--buttons", "0",
    ]  # fmt: skip
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        sim_run_process(*argv) as process,
    ):
        message = await inbox.next(within=15)
        assert message.decoded(catalogue).device_id == "gate-01"
        process.send_signal(signum)
        output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    assert process.returncode == 0, output.decode()
    assert b"simulating 1 devices" in output


async def test_a_busy_simulator_keeps_every_devices_heartbeat(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    # 300 gates, each due every 2 s (60 s heartbeat at 30x): ticks run a little late when
    # the loop is busy, and a late tick must not cost the device its next heartbeat
    community = Community.generate(catalogue, {"acme_access_gate": 300}, seed=5)
    night = 1_800_000_000.0 - 1_800_000_000.0 % 86_400 + 3 * 3600  # 03:00 UTC: quiet gates
    config = SimulatorConfig(speed=30, min_interval_s=0, start=night)
    simulator = Simulator(community, config, tz=UTC)
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        await asyncio.sleep(3.0)  # every gate has reported once
        counts: Counter[str] = Counter()
        loop = asyncio.get_running_loop()
        window_starts = loop.time()
        window_ends = window_starts + 6.0
        while (left := window_ends - loop.time()) > 0:
            try:
                message = await inbox.next(
                    lambda m: window_starts <= m.at <= window_ends, within=left
                )
            except TimeoutError:
                break
            counts[message.topic] += 1
    assert len(counts) == 300
    assert min(counts.values()) >= 3  # 6 s at one report per 2 s
