"""The cloud's only contact with the MQTT library: MQTT 5 subscriptions for ingest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

BrokerUnavailable = aiomqtt.MqttError


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes


class Subscription:
    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client

    async def messages(self) -> AsyncIterator[Message]:
        async for message in self._client.messages:
            payload = message.payload
            if isinstance(payload, str):
                data = payload.encode()
            elif isinstance(payload, (bytes, bytearray)):
                data = bytes(payload)
            else:
                data = b"" if payload is None else str(payload).encode()
            yield Message(topic=str(message.topic), payload=data)


@asynccontextmanager
async def ingest_subscription(
    host: str,
    port: int,
    client_id: str,
    *,
    shared: tuple[str, str],
    plain: tuple[str, ...] = (),
    session_expiry_s: int = 0,
) -> AsyncIterator[Subscription]:
    """Join group ``shared[0]`` on filter ``shared[1]`` (``$share/group/filter``) and subscribe
    to the ``plain`` filters too (each worker gets those messages, retained ones included).

    With ``session_expiry_s`` > 0 the broker keeps the session, and queues QoS 1 messages for
    it, that long after a disconnect: a restarting worker picks up what arrived meanwhile.
    """
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = session_expiry_s
    async with aiomqtt.Client(
        hostname=host,
        port=port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        keepalive=30,
        clean_start=session_expiry_s == 0,
        properties=properties,
        max_queued_incoming_messages=10_000,
    ) as client:
        group, topic_filter = shared
        await client.subscribe(f"$share/{group}/{topic_filter}", qos=1)
        for plain_filter in plain:
            await client.subscribe(plain_filter, qos=1)
        yield Subscription(client)
