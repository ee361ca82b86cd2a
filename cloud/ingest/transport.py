"""The cloud's only contact with the MQTT library: an MQTT 5 shared subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt

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
async def shared_subscription(
    host: str, port: int, group: str, topic_filter: str, client_id: str
) -> AsyncIterator[Subscription]:
    """Join ``group`` on ``topic_filter`` (``$share/group/filter``) with QoS 1."""
    async with aiomqtt.Client(
        hostname=host,
        port=port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        keepalive=30,
        max_queued_incoming_messages=10_000,
    ) as client:
        await client.subscribe(f"$share/{group}/{topic_filter}", qos=1)
        yield Subscription(client)
