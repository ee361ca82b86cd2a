"""plumbing.mqtt against a real Mosquitto: acknowledgement after the fact, kept sessions,
receive maximum, last will, and failures as MqttError."""

from __future__ import annotations

import asyncio
import time

import pytest

from linli.mosquitto import Mosquitto, free_port
from plumbing.mqtt import Client, Message, MqttError, Will

TIMEOUT_S = 10.0


def keeping(broker: Mosquitto, client_id: str, **options: object) -> Client:
    """A client whose session the broker keeps, acknowledging by hand."""
    return Client(
        broker.host,
        broker.port,
        client_id=client_id,
        clean_start=False,
        session_expiry_s=600,
        manual_ack=True,
        **options,  # type: ignore[arg-type]
    )


async def take(client: Client, count: int, *, ack: bool = True) -> list[Message]:
    taken: list[Message] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for message in client.messages():
            taken.append(message)
            if ack:
                client.ack(message)
            if len(taken) == count:
                return taken
    raise AssertionError("unreachable")


async def publish(broker: Mosquitto, count: int, topic: str = "t/a") -> None:
    async with Client(broker.host, broker.port, client_id="publisher") as publisher:
        for n in range(count):
            await publisher.publish(topic, str(n).encode(), qos=1)


async def test_a_refused_connection_fails_at_once_with_mqtt_error() -> None:
    started = time.monotonic()
    with pytest.raises(MqttError, match="refused"):
        async with Client("127.0.0.1", free_port(), client_id="nobody"):
            pass
    assert time.monotonic() - started < 2


async def test_messages_not_acknowledged_come_again_marked_as_redelivered(
    broker: Mosquitto,
) -> None:
    async with keeping(broker, "keeper") as client:
        await client.subscribe(["t/#"])
        assert client.session_present is False
    await publish(broker, 10)
    async with keeping(broker, "keeper", receive_maximum=3) as client:
        assert client.session_present is True
        first = await take(client, 3, ack=False)
    assert [m.payload for m in first] == [b"0", b"1", b"2"]
    async with keeping(broker, "keeper") as client:
        again = await take(client, 10)
    assert [m.payload for m in again] == [str(n).encode() for n in range(10)]
    assert all(m.dup for m in again[:3])
    assert not any(m.dup for m in again[3:])


async def test_receive_maximum_bounds_what_the_broker_sends_ahead_of_acks(
    broker: Mosquitto,
) -> None:
    async with keeping(broker, "slow", receive_maximum=4) as client:
        await client.subscribe(["t/#"])
        await publish(broker, 20)
        held = await take(client, 4, ack=False)
        with pytest.raises(TimeoutError):  # nothing more while four wait for their ack
            async with asyncio.timeout(0.5):
                await anext(aiter(client.messages()))
        for message in held:
            client.ack(message)
        rest = await take(client, 16)
    assert [m.payload for m in held + rest] == [str(n).encode() for n in range(20)]


async def test_the_last_will_is_published_when_the_connection_is_aborted(
    broker: Mosquitto,
) -> None:
    will = Will("status/x", b"offline", retain=False)
    async with Client(broker.host, broker.port, client_id="watcher") as watcher:
        await watcher.subscribe(["status/#"])
        async with Client(broker.host, broker.port, client_id="x", will=will) as doomed:
            doomed.abort()
        (message,) = await take(watcher, 1)
    assert (message.topic, message.payload) == ("status/x", b"offline")


async def test_a_clean_disconnect_sends_no_will(broker: Mosquitto) -> None:
    will = Will("status/x", b"offline", retain=True)
    async with Client(broker.host, broker.port, client_id="x", will=will):
        pass
    async with Client(broker.host, broker.port, client_id="watcher") as watcher:
        await watcher.subscribe(["status/#"])
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await anext(aiter(watcher.messages()))


async def test_a_broker_that_goes_away_ends_messages_and_publish_with_mqtt_error(
    broker: Mosquitto,
) -> None:
    async with Client(broker.host, broker.port, client_id="x", keepalive_s=5) as client:
        await client.subscribe(["t/#"])
        broker.stop()
        with pytest.raises(MqttError):
            async with asyncio.timeout(TIMEOUT_S):
                async for _ in client.messages():
                    pass
        with pytest.raises(MqttError):
            await client.publish("t/a", b"late", qos=1)
