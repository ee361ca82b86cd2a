"""Connection modes against a real Mosquitto: per-device connections with a last will, and
devices spread over several shared connections."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto
from simulators.community import Community
from simulators.faults import CONTROL_TOPIC, FaultCommand, SilenceCommand, encode_control
from simulators.simulator import Simulator, SimulatorConfig
from simulators.transport import (
    WILL_PAYLOAD,
    WILL_TOPIC,
    DeviceConnections,
    SharedConnection,
    will_topic,
)
from tests.simulators.conftest import (
    FAST,
    TIMEOUT_S,
    Received,
    broker_log,
    eventually,
    running_with,
    sim_run_process,
    subscribed,
)

WILLS = WILL_TOPIC.format(device_id="+")


def _community(catalogue: Catalogue) -> Community:
    counts = {"acme_access_gate": 3, "safecall_alarm_button": 2}
    return Community.generate(catalogue, counts, seed=5)


def _device_of(message: Received, catalogue: Catalogue) -> str:
    return message.decoded(catalogue).device_id


async def test_per_device_mode_connects_each_device_as_itself(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path
) -> None:
    community = _community(catalogue)
    ids = [device.device_id for device in community]
    made: list[DeviceConnections] = []

    def connect() -> DeviceConnections:
        made.append(DeviceConnections(broker.host, broker.port, ids, connect_concurrency=2))
        return made[-1]

    simulator = Simulator(community, FAST)
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running_with(simulator, connect),
    ):
        await asyncio.wait_for(made[0].all_up.wait(), TIMEOUT_S)
        assert made[0].connected == len(ids)
        seen: set[str] = set()
        while seen != set(ids):
            seen.add(_device_of(await inbox.next(), catalogue))
    # the broker saw one client per device, named by the device id, besides the control one
    await eventually(lambda: all(f" as {i} " in broker_log(broker, tmp_path) for i in ids))
    assert f" as {made[0].control_client_id} " in broker_log(broker, tmp_path)


async def test_a_silenced_device_drops_and_the_broker_publishes_its_will(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = _community(catalogue)
    ids = [device.device_id for device in community]
    made: list[DeviceConnections] = []

    def connect() -> DeviceConnections:
        made.append(DeviceConnections(broker.host, broker.port, ids))
        return made[-1]

    simulator = Simulator(community, FAST)
    async with (
        subscribed(broker, [*catalogue.subscriptions(), WILLS]) as inbox,
        running_with(simulator, connect),
    ):
        await asyncio.wait_for(made[0].all_up.wait(), TIMEOUT_S)
        command = SilenceCommand(device_id="gate-02", duration_s=600.0)  # 1 s at 600x
        await inbox.publish(CONTROL_TOPIC, encode_control(command))
        will = await inbox.next(lambda m: m.topic.startswith("linli/sim/lwt/"))
        assert (will.topic, will.payload) == (will_topic("gate-02"), WILL_PAYLOAD)
        assert simulator.faults.is_silent("gate-02")
        # it comes back by itself: reconnected, and reporting again after its silence
        back = await inbox.next(
            lambda m: not m.topic.startswith("linli/sim/") and _device_of(m, catalogue) == "gate-02"
        )
        assert back.at - will.at >= 0.8
        assert not simulator.faults.is_silent("gate-02")
        assert made[0].connected == len(ids)
        # no other device dropped meanwhile
        assert made[0].connects("gate-02") == 2
        assert all(made[0].connects(i) == 1 for i in ids if i != "gate-02")


async def test_dropping_publishes_the_will_and_closing_cleanly_does_not(
    broker: Mosquitto,
) -> None:
    ids = ["gate-01", "gate-02"]
    async with subscribed(broker, [WILLS, "probe"]) as inbox:
        async with DeviceConnections(broker.host, broker.port, ids) as connections:
            await asyncio.wait_for(connections.all_up.wait(), TIMEOUT_S)
            connections.drop("gate-01")
            will = await inbox.next()
            assert will.topic == will_topic("gate-01")
        # after the clean close, a probe published now is the next message: no will came
        await inbox.publish("probe", b"after")
        assert (await inbox.next()).topic == "probe"


async def test_shared_mode_spreads_devices_over_connections(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path
) -> None:
    community = _community(catalogue)
    ids = [device.device_id for device in community]
    shared = SharedConnection(broker.host, broker.port, connections=3, devices=ids)
    assert [shared.connection_of(i) for i in ids] == [0, 1, 2, 0, 1]
    assert len(set(shared.client_ids)) == 3
    simulator = Simulator(community, SimulatorConfig(speed=1, min_interval_s=0))
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running_with(simulator, lambda: shared),
    ):
        # control arrives over the first connection; the gate reports over the second
        fault = FaultCommand(device_id="gate-02", fault="motor_jammed", duration_s=30)
        await inbox.publish(CONTROL_TOPIC, encode_control(fault))
        message = await inbox.next(lambda m: m.decoded(catalogue).faults == ("motor_jammed",))
        assert _device_of(message, catalogue) == "gate-02"
    log = await _logged(broker, tmp_path, [f" as {c} " for c in shared.client_ids])
    assert all(f" as {i} " not in log for i in ids)


async def _logged(broker: Mosquitto, log_dir: Path, needles: list[str]) -> str:
    await eventually(lambda: all(n in broker_log(broker, log_dir) for n in needles))
    return broker_log(broker, log_dir)


async def test_sim_run_per_device_process(catalogue: Catalogue, broker: Mosquitto) -> None:
    argv = [
        "--broker-port", str(broker.port),
        "--connection-mode", "per-device",
        "--speed", "600", "--min-interval", "0.2",
        "--count", "acme_access_gate=2",
    ]  # fmt: skip
    async with subscribed(broker, [*catalogue.subscriptions(), WILLS]) as inbox:
        async with sim_run_process(*argv) as process:
            message = await inbox.next(within=15)
            assert message.topic in ("acme/gate/gate-01/state", "acme/gate/gate-02/state")
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
        # a clean stop disconnects every device properly: the broker publishes no will
        await inbox.publish("linli/sim/lwt/probe", b"probe")
        after = await inbox.next(lambda m: m.topic.startswith("linli/sim/lwt/"))
        assert after.topic == "linli/sim/lwt/probe"
    assert process.returncode == 0, output.decode()
    assert b"one connection per device" in output
