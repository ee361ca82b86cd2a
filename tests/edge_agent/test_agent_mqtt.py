"""The edge agent against real Mosquitto brokers: gateway (devices) and cloud."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from device_profiles import Catalogue
from device_profiles.protocol import Command, command_topic, local_command_topic, status_topic
from edge_agent.agent import EdgeAgent
from linli.mosquitto import Mosquitto
from tests.edge_agent.helpers import (
    TIMEOUT_S,
    Link,
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
    messages.append(messages[0])  # the same payload twice is two readings, two ids
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
    assert sorted(item.device_id for item in items) == sorted(
        [e.expect.device_id for e in normals] + [normals[0].expect.device_id]
    )


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
    letters = dead_letters(tmp_path)
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


async def test_seq_grows_across_batches_and_across_a_restart(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
    seqs: list[int] = []
    async with watch(cloud_broker, UP) as cloud:
        async with running(settings, catalogue):
            for n in range(3):
                await publish(gateway_broker, [reading(catalogue, "gate-1", n)])
                seqs.append((await cloud.batch()).seq)
        async with running(settings, catalogue):
            for n in range(2):
                await publish(gateway_broker, [reading(catalogue, "gate-1", 10 + n)])
                seqs.append((await cloud.batch()).seq)
    assert seqs == sorted(set(seqs)), seqs
    assert seqs[3] >= 1000  # the first run had reserved 0..999


async def test_no_batch_leaves_while_its_seq_cannot_be_persisted(
    tmp_path: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    catalogue: Catalogue,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("edge_agent.cloud_link.SEQUENCE_RETRY_S", 0.05)
    settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
    blocker = tmp_path / "sequence.tmp"  # where the next block is written first
    blocker.mkdir()
    async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
        await publish(gateway_broker, [reading(catalogue, "gate-1", 9)])
        await wait_until(lambda: "cannot write" in caplog.text, "a failed reservation")
        assert agent.counters["batches_sent"] == 0
        assert cloud.batches.empty()
        assert agent.counters["items_waiting"] == 1
        blocker.rmdir()
        batch = await cloud.batch()
    assert batch.seq == 0
    assert [item.metrics["cycles"] for item in batch.items] == [9]
    assert (tmp_path / "sequence").read_text() == "1000\n"


async def test_status_is_retained_online_refreshed_and_offline_at_shutdown(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, status_interval_s=0.2, batch_linger_s=0
    )
    topic = status_topic("gw-test")
    async with running(settings, catalogue), watch(cloud_broker, topic) as late:
        status, retained = await late.status()
        assert retained
        assert status.online is True
        assert status.gateway_id == "gw-test"
        assert {"items_forwarded", "batches_sent", "dead_letters", "dropped"} <= set(
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
    link = await Link(cloud_broker).start()
    settings = settings_for(gateway_broker, link, tmp_path, batch_linger_s=0)
    try:
        async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
            await publish(gateway_broker, [reading(catalogue, "gate-1", 0)])
            before = await cloud.batch()
            # the broker may deliver the batch before its PUBACK reaches the agent
            await wait_until(lambda: agent.counters["batches_sent"] == 1, "the PUBACK")
            await link.cut()
            will, _ = await cloud.status_where(lambda s, _: not s.online)
            assert will.gateway_id == "gw-test"
            assert will.counters == {}  # the will was set at connect time
            await wait_until(lambda: not agent.cloud.ready.is_set(), "the agent to notice")
            await publish(gateway_broker, [reading(catalogue, "gate-1", n) for n in (1, 2, 3)])
            await wait_until(lambda: agent.counters["items_waiting"] == 3, "items to queue")
            await link.restore()
            back, _ = await cloud.status_where(lambda s, _: s.online)
            assert back.counters["cloud_connects"] == 2
            batches = await cloud.items(3)
        cycles = [item.metrics["cycles"] for batch in batches for item in batch.items]
        assert cycles == [1, 2, 3]
        assert all(batch.seq > before.seq for batch in batches)
    finally:
        await link.close()


async def test_a_batch_without_puback_is_not_counted_and_is_sent_again_after_reconnect(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    link = await Link(cloud_broker).start()
    settings = settings_for(gateway_broker, link, tmp_path, batch_linger_s=0)
    try:
        async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
            link.stall()  # the batch leaves the agent but never reaches the broker
            await publish(gateway_broker, [reading(catalogue, "gate-1", 7)])
            outbox = agent.outbox
            await wait_until(
                lambda: len(outbox) == 1 and outbox.pending_bulk == 0, "the batch in flight"
            )
            assert agent.counters["batches_sent"] == 0
            await link.cut()
            await wait_until(lambda: outbox.pending_bulk == 1, "the item back in the outbox")
            await link.restore()
            batch = await cloud.batch()
            assert [item.metrics["cycles"] for item in batch.items] == [7]
            await wait_until(lambda: agent.counters["batches_sent"] == 1, "the PUBACK")
            assert len(outbox) == 0
    finally:
        await link.close()


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
    (letter,) = dead_letters(tmp_path)
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
    (letter,) = dead_letters(tmp_path)
    assert letter["category"] == "command"
    assert "expected true or false" in letter["reason"]
