"""The cuttable uplink against a real Mosquitto: relaying, last wills on a cut, restore, close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

import pytest

from linli.mosquitto import Mosquitto
from linli.ports import free_port
from plumbing.mqtt import Client, Message, MqttError, Will
from simulators.uplink import Uplink
from tests.simulators.conftest import TIMEOUT_S, eventually, subscribed

WILL_TOPIC = "test/uplink/lwt/edge-1"
CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


def _connect_packet(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keepalive 60 s)."""
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id.encode()
    return bytes([0x10, len(body)]) + body


async def _handshake(port: int) -> bytes:
    """What a raw MQTT CONNECT to 127.0.0.1:``port`` gets back: the CONNACK, or b"" when the
    connection is refused or closed without one."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return b""
    try:
        writer.write(_connect_packet("raw-probe"))
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(CONNACK_ACCEPTED)), TIMEOUT_S)
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except ConnectionError:
        return b""
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()


@asynccontextmanager
async def _through(uplink: Uplink, name: str, *, will: bool = False) -> AsyncIterator[Client]:
    """An MQTT client connected to the broker through ``uplink``."""
    last_will = Will(WILL_TOPIC, b"offline", retain=False) if will else None
    async with Client("127.0.0.1", uplink.port, client_id=name, will=last_will) as client:
        yield client


async def _lost(client: Client) -> None:
    """Returns once ``client`` notices its connection is gone."""
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_lost()


async def _next(client: Client) -> Message:
    async with asyncio.timeout(TIMEOUT_S):
        return await anext(aiter(client.messages()))


def _uplink_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("Uplink.")
    ]


async def test_messages_are_relayed_both_ways(broker: Mosquitto) -> None:
    async with (
        Uplink(broker.host, broker.port) as uplink,
        subscribed(broker, ["test/uplink/up"]) as direct,
        _through(uplink, "edge-1") as edge,
    ):
        assert uplink.connections == 1
        await edge.subscribe(["test/uplink/down"])
        await edge.publish("test/uplink/up", b"from the edge", qos=1)
        assert (await direct.next()).payload == b"from the edge"
        await direct.publish("test/uplink/down", b"from the cloud")
        message = await _next(edge)
        assert (message.topic, message.payload) == ("test/uplink/down", b"from the cloud")


async def test_a_cut_fires_the_last_will_and_refuses_new_connections(broker: Mosquitto) -> None:
    async with (
        Uplink(broker.host, broker.port) as uplink,
        subscribed(broker, [WILL_TOPIC]) as direct,
        _through(uplink, "edge-1", will=True) as edge,
    ):
        assert await _handshake(uplink.port) == CONNACK_ACCEPTED
        uplink.cut()
        assert uplink.is_cut
        assert uplink.connections == 0
        will = await direct.next()
        assert (will.topic, will.payload) == (WILL_TOPIC, b"offline")
        await _lost(edge)

        assert await _handshake(uplink.port) == b""
        assert uplink.connections == 0
        # refused at once, not after the client's connect timeout
        started = asyncio.get_running_loop().time()
        with pytest.raises(MqttError):
            async with Client("127.0.0.1", uplink.port, client_id="edge-2", timeout_s=5):
                pass
        assert asyncio.get_running_loop().time() - started < 2.5


async def test_after_restore_clients_connect_through_again(broker: Mosquitto) -> None:
    async with Uplink(broker.host, broker.port) as uplink, subscribed(broker, ["test/#"]) as direct:
        uplink.cut()
        uplink.restore()
        assert not uplink.is_cut
        async with _through(uplink, "edge-1") as edge:
            await edge.publish("test/uplink/up", b"back", qos=1)
            assert (await direct.next()).payload == b"back"
            assert uplink.connections == 1


async def test_connections_are_counted_and_a_clean_disconnect_passes_through(
    broker: Mosquitto,
) -> None:
    async with (
        Uplink(broker.host, broker.port) as uplink,
        subscribed(broker, [WILL_TOPIC, "test/marker"]) as direct,
        _through(uplink, "edge-1"),
    ):
        async with _through(uplink, "edge-2", will=True):
            assert uplink.connections == 2
        await eventually(lambda: uplink.connections == 1)
        # edge-2's DISCONNECT reached the broker before the relay closed: no last will
        await direct.publish("test/marker", b"")
        assert (await direct.next()).topic == "test/marker"


async def test_closing_drops_every_connection_and_leaves_no_task(broker: Mosquitto) -> None:
    async with AsyncExitStack() as stack:
        direct = await stack.enter_async_context(subscribed(broker, [WILL_TOPIC]))
        async with Uplink(broker.host, broker.port) as uplink:
            edge = await stack.enter_async_context(_through(uplink, "edge-1", will=True))
            assert uplink.connections == 1
        # the uplink is closed; the edge client is still open (the stack closes it last)
        assert uplink.connections == 0
        assert _uplink_tasks() == []
        assert (await direct.next()).payload == b"offline"
        await _lost(edge)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", uplink.port)


async def test_an_unreachable_target_closes_the_client() -> None:
    uplink = Uplink("127.0.0.1", free_port())
    with pytest.raises(RuntimeError, match="not listening"):
        _ = uplink.port
    async with uplink:
        assert await _handshake(uplink.port) == b""
        assert uplink.connections == 0
    assert _uplink_tasks() == []
