"""One MQTT connection on the event loop (paho-mqtt's public API), against a real Mosquitto:
connecting, subscribing, publishing with acknowledgement, and ending it cleanly (no will)
or abruptly (the will)."""

from __future__ import annotations

import asyncio

import pytest

from linli.mosquitto import Mosquitto, free_port
from simulators.transport.client import (
    MqttConnection,
    OnMessage,
    TransportError,
    Will,
    topic_matches,
)
from tests.simulators.conftest import TIMEOUT_S, subscribed

WILL = Will("test/will", b"gone")


async def _connected(
    broker: Mosquitto,
    client_id: str,
    *,
    will: Will | None = None,
    on_message: OnMessage | None = None,
) -> MqttConnection:
    connection = MqttConnection(
        broker.host, broker.port, client_id, timeout_s=5, will=will, on_message=on_message
    )
    await connection.connect()
    return connection


async def test_a_broker_that_is_not_there_is_a_transport_error() -> None:
    connection = MqttConnection("127.0.0.1", free_port(), "nobody", timeout_s=5)
    with pytest.raises(TransportError, match="refused"):
        await connection.connect()


async def test_published_messages_are_acknowledged_and_arrive(broker: Mosquitto) -> None:
    async with subscribed(broker, ["test/#"]) as inbox:
        connection = await _connected(broker, "publisher")
        for qos in (0, 1, 2):
            await connection.publish(f"test/{qos}", f"at qos {qos}".encode(), qos)
        received = [await inbox.next() for _ in range(3)]
        await connection.disconnect()
    assert [(m.topic, m.payload) for m in received] == [
        (f"test/{qos}", f"at qos {qos}".encode()) for qos in (0, 1, 2)
    ]
    assert connection.lost.result() == "disconnected"


async def test_subscriptions_hand_over_every_message(broker: Mosquitto) -> None:
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    connection = await _connected(
        broker, "listener", on_message=lambda t, p: got.put_nowait((t, p))
    )
    await connection.subscribe(["a/+", "b/#"])
    async with subscribed(broker, []) as sender:
        for topic in ("a/1", "c/1", "b/2/3"):
            await sender.publish(topic, topic.encode())
        first = await asyncio.wait_for(got.get(), TIMEOUT_S)
        second = await asyncio.wait_for(got.get(), TIMEOUT_S)
    await connection.disconnect()
    assert [first, second] == [("a/1", b"a/1"), ("b/2/3", b"b/2/3")]


async def test_an_abort_publishes_the_will_and_a_disconnect_does_not(broker: Mosquitto) -> None:
    async with subscribed(broker, [WILL.topic, "probe"]) as inbox:
        clean = await _connected(broker, "clean", will=WILL)
        await clean.disconnect()
        await inbox.publish("probe", b"after the clean end")
        assert (await inbox.next()).topic == "probe"  # no will came first
        cut = await _connected(broker, "cut", will=WILL)
        await cut.abort()
        will = await inbox.next()
    assert (will.topic, will.payload) == (WILL.topic, WILL.payload)
    assert cut.lost.done()
    with pytest.raises(TransportError):
        await cut.publish("test/late", b"", 1)


async def test_a_lost_connection_fails_what_waits_for_an_acknowledgement(
    broker: Mosquitto,
) -> None:
    connection = await _connected(broker, "stranded")
    broker.stop()
    await asyncio.wait_for(asyncio.shield(connection.lost), TIMEOUT_S)
    with pytest.raises(TransportError):
        await connection.publish("test/x", b"x", 1)


def test_topic_matching() -> None:
    assert topic_matches("acme/gate/gate-01/cmd", "acme/gate/+/cmd")
    assert topic_matches("linli/sim/control", "linli/sim/#")
    assert not topic_matches("acme/gate/gate-01/state", "acme/gate/+/cmd")
