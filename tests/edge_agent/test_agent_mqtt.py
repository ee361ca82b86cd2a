"""The edge agent against real Mosquitto brokers: gateway (devices) and cloud."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

from device_profiles import Catalogue
from device_profiles.protocol import (
    Command,
    batch_topic,
    command_topic,
    local_command_topic,
    status_topic,
)
from edge_agent.agent import EdgeAgent
from linli.mosquitto import Mosquitto
from simulators.uplink import Uplink
from tests.edge_agent.helpers import (
    TIMEOUT_S,
    dead_letters,
    example,
    payload_of,
    publish,
    running,
    settings_for,
    wait_until,
    watch,
)
from tests.sample_profiles import pump

UP = "linli/v1/gw/+/up/#"


def reading(catalogue: Catalogue, device: str, cycles: int) -> tuple[str, bytes]:
    """A normal acme gate reading from ``device``."""
    spec = catalogue["acme_access_gate"].topics[0]
    body = {"ts": 1764201600 + cycles, "door": 0, "cycles": cycles, "motor_ma": 1200, "err": 0}
    return spec.topic_for(device), json.dumps(body).encode()


async def test_device_messages_arrive_at_the_cloud_as_batches_of_decoded_items(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path)
    normals = [next(e for e in p.examples if e.expect.health == "ok") for p in catalogue]
    messages = [(e.topic, payload_of(e)) for e in normals]
    async with watch(cloud_broker, UP) as cloud, running(settings, catalogue):
        await publish(gateway_broker, messages)
        batches = await cloud.items(len(messages))
    items = [item for batch in batches for item in batch.items]
    assert len(items) == len(messages)
    for batch in batches:
        assert batch.gateway_id == "gw-test"
        assert batch.v == 1
    expected = {e.expect.device_id: e.expect.metrics for e in normals}
    for item in items:
        assert item.metrics == expected[item.device_id]
        assert item.alarm is False
        assert re.fullmatch(r"[0-9a-f]{32}", item.id)
    assert len({item.id for item in items}) == len(items)
    assert sorted(item.device_id for item in items) == sorted(e.expect.device_id for e in normals)


async def test_one_broker_can_be_both_local_and_cloud(
    tmp_path: Path, broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(broker, broker, tmp_path, batch_linger_s=0)
    async with watch(broker, UP) as cloud, running(settings, catalogue) as agent:
        await publish(broker, [reading(catalogue, "gate-1", 3)])
        batch = await cloud.batch()
        assert [item.metrics["cycles"] for item in batch.items] == [3]
        assert agent.counters["local_connects"] == agent.counters["cloud_connects"] == 1


async def test_malformed_messages_go_to_the_dead_letter_log_and_good_ones_still_flow(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
    bad = [
        ("acme/gate/gate-01/state", b"this is not json"),
        ("acme/gate/gate-01/state", b'{"door": 0, "cycles": "many", "motor_ma": 5, "err": 0}'),
        ("acme/gate//state", b'{"door": 0, "cycles": 1, "motor_ma": 5, "err": 0}'),
        ("safecall/sos-01/evt", b"\x00\xff\xfe garbage"),
    ]
    good = reading(catalogue, "gate-77", 42)
    async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
        await publish(gateway_broker, [*bad, good])
        batch = await cloud.batch()
        assert [item.device_id for item in batch.items] == ["gate-77"]
        assert batch.items[0].metrics["cycles"] == 42
    counters = agent.counters  # stopped: the batch's PUBACK is in
    assert counters["dead_letters"] == 4
    assert counters["dead_letters_decode"] == 3
    assert counters["dead_letters_unknown_topic"] == 1
    assert counters["items_forwarded"] == 1
    letters = dead_letters(agent)
    assert [(d["topic"], d["category"]) for d in letters] == [
        ("acme/gate/gate-01/state", "decode"),
        ("acme/gate/gate-01/state", "decode"),
        ("acme/gate//state", "unknown_topic"),
        ("safecall/sos-01/evt", "decode"),
    ]
    assert "not JSON" in letters[0]["reason"]
    assert "cycles" in letters[1]["reason"]
    assert letters[0]["payload"] == "this is not json"
    assert "payload_b64" in letters[3]


async def test_an_alarm_overtakes_bulk_telemetry_that_waits_to_be_batched(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    # a long linger: the bulk readings wait, the alarm must not
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=60)
    bulk = [reading(catalogue, f"gate-{n}", n) for n in range(3)]
    jammed = example(catalogue, "acme_access_gate", "motor_jammed")
    async with watch(cloud_broker, UP) as cloud:
        async with running(settings, catalogue) as agent:
            await publish(gateway_broker, [*bulk, (jammed.topic, payload_of(jammed))])
            alarm_batch = await cloud.batch()
            assert agent.outbox.pending_bulk == 3  # still lingering
        # stopping flushes what waits, long before the linger would have
        bulk_batch = await cloud.batch()
    assert [(i.device_id, i.alarm, i.faults) for i in alarm_batch.items] == [
        ("gate-01", True, ("motor_jammed",))
    ]
    assert [(i.device_id, i.alarm) for i in bulk_batch.items] == [
        ("gate-0", False), ("gate-1", False), ("gate-2", False)
    ]  # fmt: skip
    assert bulk_batch.seq > alarm_batch.seq


async def test_a_full_batch_goes_without_waiting_for_the_linger(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, batch_max_items=4, batch_linger_s=60
    )
    readings = [reading(catalogue, "gate-1", n) for n in range(10)]
    async with watch(cloud_broker, UP) as cloud:
        async with running(settings, catalogue):
            await publish(gateway_broker, readings)
            first, second = await cloud.batch(), await cloud.batch()
        rest = await cloud.batch()
    assert [len(b.items) for b in (first, second, rest)] == [4, 4, 2]
    cycles = [item.metrics["cycles"] for b in (first, second, rest) for item in b.items]
    assert cycles == list(range(10))


async def test_a_device_stamped_message_sent_twice_is_one_item_an_unstamped_one_two(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    """The gate stamps its readings: the same message twice is the very same reading. The
    pump does not: the same payload twice is two readings, with two ids."""
    gates_and_pumps = Catalogue([Catalogue.load()["acme_access_gate"], pump()])
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0.2)
    gate = reading(gates_and_pumps, "gate-1", 3)
    pumped = ("test/pump/p1", json.dumps({"p": 3, "run": True, "h": 1, "dry": False}).encode())
    async with watch(cloud_broker, UP) as cloud, running(settings, gates_and_pumps) as agent:
        await publish(gateway_broker, [gate, gate, pumped, pumped])
        await wait_until(lambda: agent.counters["items_forwarded"] == 3, "3 items forwarded")
        batches = [cloud.batches.get_nowait() for _ in range(cloud.batches.qsize())]
    items = [item for batch in batches for item in batch.items]
    assert sorted(item.device_id for item in items) == ["gate-1", "p1", "p1"]
    assert len({item.id for item in items}) == 3


async def test_seq_grows_across_batches_and_restarts_and_the_epoch_stays(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
    identities: list[tuple[str, int]] = []
    async with watch(cloud_broker, UP) as cloud:
        for cycles in ((0, 1, 2), (10, 11)):
            async with running(settings, catalogue):
                for n in cycles:
                    await publish(gateway_broker, [reading(catalogue, "gate-1", n)])
                    batch = await cloud.batch()
                    identities.append((batch.epoch, batch.seq))
    epochs = {epoch for epoch, _ in identities}
    seqs = [seq for _, seq in identities]
    assert len(epochs) == 1
    assert seqs == sorted(set(seqs)), seqs


async def test_a_new_data_directory_is_a_new_epoch(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    epochs = []
    async with watch(cloud_broker, UP) as cloud:
        for data in ("first", "lost-and-new"):
            settings = settings_for(gateway_broker, cloud_broker, tmp_path / data)
            async with running(settings, catalogue):
                await publish(gateway_broker, [reading(catalogue, "gate-1", len(epochs))])
                batch = await cloud.batch()
            epochs.append((batch.epoch, batch.seq))
    assert epochs[0][1] == epochs[1][1] == 0  # the same seq, told apart by the epoch
    assert epochs[0][0] != epochs[1][0]


async def test_a_device_message_is_acknowledged_only_once_its_item_is_committed(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    """While another connection holds the outbox locked, a received message stays staged
    (not acknowledged, not forwarded); once the lock goes, it is committed and forwarded."""
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
    async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
        locker = sqlite3.connect(tmp_path / "outbox.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            await publish(gateway_broker, [reading(catalogue, "gate-1", 9)])
            await wait_until(lambda: agent.local.staged == 1, "the message staged")
            assert agent.counters["items_queued"] == 0
            assert cloud.batches.empty()
        finally:
            locker.execute("COMMIT")
            locker.close()
        batch = await cloud.batch()
        await wait_until(lambda: agent.local.staged == 0, "the commit")
    assert [item.metrics["cycles"] for item in batch.items] == [9]


async def test_what_devices_publish_while_the_agent_is_away_waits_for_it(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0.1)
    async with watch(cloud_broker, UP) as cloud:
        async with running(settings, catalogue):
            pass  # the broker now keeps the agent's session
        await publish(gateway_broker, [reading(catalogue, "gate-1", n) for n in range(5)])
        async with running(settings, catalogue):
            batches = await cloud.items(5)
    cycles = [item.metrics["cycles"] for batch in batches for item in batch.items]
    assert cycles == [0, 1, 2, 3, 4]


async def test_status_is_retained_online_refreshed_and_offline_at_shutdown(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, status_interval_s=0.2, batch_linger_s=0
    )
    topic = status_topic("gw-test")
    async with (
        watch(cloud_broker, batch_topic("gw-test")),  # the cloud, acknowledging batches
        running(settings, catalogue),
        watch(cloud_broker, topic) as late,
    ):
        status, retained = await late.status()
        assert retained
        assert status.online is True
        assert status.gateway_id == "gw-test"
        assert {"items_forwarded", "batches_sent", "dead_letters", "items_in_flight"} <= set(
            status.counters
        )
        await publish(gateway_broker, [reading(catalogue, "gate-1", 1)])
        refreshed, _ = await late.status_where(lambda s, _: s.counters["items_forwarded"] == 1)
        assert refreshed.online is True
        assert refreshed.counters["batches_sent"] == 1
    async with watch(cloud_broker, topic) as after:
        status, retained = await after.status()
    assert retained
    assert status.online is False
    assert status.counters["items_forwarded"] == 1


async def test_cancelling_run_flushes_waiting_items_and_says_offline(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=60)
    agent = EdgeAgent(settings, catalogue)
    async with watch(cloud_broker, UP) as cloud:
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.wait_ready(), TIMEOUT_S)
        await publish(gateway_broker, [reading(catalogue, "gate-1", 5)])
        await wait_until(lambda: agent.counters["items_waiting"] == 1, "the item to linger")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        batch = await cloud.batch()
        status, _ = await cloud.status_where(lambda s, _: not s.online)
    assert [item.metrics["cycles"] for item in batch.items] == [5]
    assert status.counters["items_forwarded"] == 1


async def test_a_lost_uplink_fires_the_last_will_and_queued_items_follow_on_reconnect(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    async with Uplink(cloud_broker.host, cloud_broker.port) as link:
        settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
        settings = settings.model_copy(update={"cloud_port": link.port})
        async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
            await publish(gateway_broker, [reading(catalogue, "gate-1", 0)])
            before = await cloud.batch()
            await wait_until(lambda: agent.counters["items_forwarded"] == 1, "the ack")
            link.cut()
            will, _ = await cloud.status_where(lambda s, _: not s.online)
            assert will.gateway_id == "gw-test"
            assert will.counters == {}  # the will was set at connect time
            await wait_until(lambda: not agent.cloud.ready.is_set(), "the agent to notice")
            await publish(gateway_broker, [reading(catalogue, "gate-1", n) for n in (1, 2, 3)])
            await wait_until(lambda: agent.counters["items_waiting"] == 3, "items to queue")
            link.restore()
            back, _ = await cloud.status_where(lambda s, _: s.online)
            assert back.counters["cloud_connects"] == 2
            batches = await cloud.items(3)
        cycles = [item.metrics["cycles"] for batch in batches for item in batch.items]
        assert cycles == [1, 2, 3]
        assert all(batch.seq > before.seq for batch in batches)


async def test_a_batch_the_cloud_does_not_acknowledge_is_sent_again_the_very_same(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    """A PUBACK deletes nothing: the batch stays until the cloud's acknowledgement, and is
    sent again with its identity and items after the timeout."""
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, batch_linger_s=0, ack_timeout_s=0.3
    )
    async with (
        watch(cloud_broker, UP, acking=False) as cloud,
        running(settings, catalogue) as agent,
    ):
        await publish(gateway_broker, [reading(catalogue, "gate-1", 7)])
        first = await cloud.batch()
        again = await cloud.batch()
        assert len(agent.outbox) == 1
        assert agent.counters["items_forwarded"] == 0
        await cloud.ack(again)
        await wait_until(lambda: len(agent.outbox) == 0, "the acknowledgement")
    assert (again.epoch, again.seq) == (first.epoch, first.seq)
    assert [item.id for item in again.items] == [item.id for item in first.items]
    assert agent.counters["batches_resent"] >= 1
    assert agent.counters["items_forwarded"] == 1


async def test_a_batch_unacknowledged_at_a_restart_is_sent_again_after_it(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, batch_linger_s=0, shutdown_timeout_s=0.5
    )
    async with watch(cloud_broker, UP, acking=False) as cloud:
        async with running(settings, catalogue):
            await publish(gateway_broker, [reading(catalogue, "gate-1", 4)])
            first = await cloud.batch()
        cloud.acking = True
        async with running(settings, catalogue) as agent:
            again = await cloud.batch()
            await wait_until(lambda: len(agent.outbox) == 0, "the acknowledgement")
    assert (again.epoch, again.seq) == (first.epoch, first.seq)
    assert again.items == first.items


async def test_commands_from_the_cloud_are_relayed_to_the_local_broker(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path)
    command = Command(id="cmd-000001", device_id="gate-01", command="open", args={"seconds": 5})
    async with (
        watch(gateway_broker, local_command_topic("+")) as devices,
        running(settings, catalogue) as agent,
    ):
        await publish(
            cloud_broker,
            [
                (command_topic("gw-test"), b'{"v": 1, "command": "open"}'),
                (command_topic("gw-test"), command.model_dump_json().encode()),
            ],
        )
        topic, payload = await devices.message()
        # the broker may deliver the command before its PUBACK reaches the agent
        await wait_until(lambda: agent.counters["commands_relayed"] == 1, "the PUBACK")
        counters = agent.counters
    assert topic == "linli/v1/local/cmd/gate-01"
    assert json.loads(payload) == {"id": "cmd-000001", "command": "open", "args": {"seconds": 5}}
    assert counters["commands_relayed"] == 1
    assert counters["dead_letters_command"] == 1
    (letter,) = dead_letters(agent)
    assert letter["category"] == "command"
    assert "id" in letter["reason"]


async def test_commands_for_a_known_device_are_sent_in_its_vendor_words(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    commands = {
        "run": {
            "description": "Start or stop the pump",
            "topic": "test/pump/{device_id}/set",
            "payload": {"cmd": "run", "on": "{on}"},
            "args": {"on": {"type": "bool"}},
        }
    }
    pumps = Catalogue([pump(commands=commands)])
    settings = settings_for(gateway_broker, cloud_broker, tmp_path)
    reading = json.dumps({"p": 3, "run": True, "h": 1, "dry": False}).encode()
    good = Command(id="cmd-000002", device_id="p7", command="run", args={"on": False})
    bad = Command(id="cmd-000003", device_id="p7", command="run", args={"on": "off"})
    async with (
        watch(gateway_broker, "test/pump/+/set") as devices,
        running(settings, pumps) as agent,
    ):
        await publish(gateway_broker, [("test/pump/p7", reading)])
        await wait_until(lambda: agent.counters["items_queued"] == 1, "the pump is seen")
        await publish(
            cloud_broker,
            [
                (command_topic("gw-test"), bad.model_dump_json().encode()),
                (command_topic("gw-test"), good.model_dump_json().encode()),
            ],
        )
        topic, payload = await devices.message()
        await wait_until(lambda: agent.counters["commands_relayed"] == 1, "the PUBACK")
    assert topic == "test/pump/p7/set"
    assert json.loads(payload) == {"cmd": "run", "on": False}
    (letter,) = dead_letters(agent)
    assert letter["category"] == "command"
    assert "expected true or false" in letter["reason"]
