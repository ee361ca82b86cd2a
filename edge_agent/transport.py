"""MQTT connections for the edge agent: the only module that talks to aiomqtt.

:func:`connect` opens an MQTT 5 connection as an async context manager and yields a
:class:`Connection` with what the agent does: subscribe (and unsubscribe), iterate
received messages, publish. Every MQTT failure surfaces as :class:`TransportError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

DEFAULT_TIMEOUT_S = 10.0


class TransportError(Exception):
    """A broker could not be reached, refused something, or the connection broke."""


@dataclass(frozen=True, slots=True)
class Received:
    """One message as it arrived from a broker."""

    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class LastWill:
    """What the broker publishes for us if the connection dies without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class Connection:
    """An open connection to one broker; obtained from :func:`connect`."""

    def __init__(self, client: aiomqtt.Client, name: str) -> None:
        self._client = client
        self.name = name

    async def subscribe(self, filters: Sequence[str], *, qos: int = 1) -> None:
        """Subscribe to every filter in one SUBSCRIBE; TransportError if any is refused."""
        if not filters:
            return
        topics = [(f, SubscribeOptions(qos=qos)) for f in filters]
        try:
            granted = await self._client.subscribe(topics)
        except aiomqtt.MqttError as exc:
            raise TransportError(f"{self.name}: subscribe failed: {exc}") from exc
        refused = [f for f, code in zip(filters, granted, strict=False) if _refused(code)]
        if refused:
            raise TransportError(f"{self.name}: subscription refused for {refused}")

    async def unsubscribe(self, filters: Sequence[str]) -> None:
        """Unsubscribe from every filter in one UNSUBSCRIBE, keeping the connection."""
        if not filters:
            return
        try:
            await self._client.unsubscribe(list(filters))
        except aiomqtt.MqttError as exc:
            raise TransportError(f"{self.name}: unsubscribe failed: {exc}") from exc

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Publish; with QoS 1 this returns once the broker's PUBACK has arrived."""
        try:
            await self._client.publish(topic, payload, qos=qos, retain=retain, timeout=timeout_s)
        except aiomqtt.MqttError as exc:
            raise TransportError(f"{self.name}: publish to {topic} failed: {exc}") from exc

    async def messages(self) -> AsyncIterator[Received]:
        """Messages on the subscribed filters, until the connection breaks (TransportError)."""
        try:
            async for message in self._client.messages:
                payload = message.payload
                if not isinstance(payload, bytes | bytearray):
                    payload = b"" if payload is None else str(payload).encode("utf-8")
                yield Received(str(message.topic), bytes(payload), bool(message.retain))
        except aiomqtt.MqttError as exc:
            raise TransportError(f"{self.name}: connection lost: {exc}") from exc


def _refused(code: object) -> bool:
    """Whether a SUBACK code (MQTT 5 reason code or 3.1.1 return code) refuses."""
    if isinstance(code, ReasonCode):
        return code.is_failure
    return isinstance(code, int) and code >= 0x80


@contextlib.asynccontextmanager
async def connect(
    host: str,
    port: int,
    *,
    client_id: str,
    will: LastWill | None = None,
    keepalive_s: int = 30,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_queued_incoming: int = 0,
) -> AsyncIterator[Connection]:
    """Connect with MQTT 5 and a clean start; disconnect cleanly (no last will) on exit.

    ``max_queued_incoming`` bounds the received messages waiting to be iterated (0 means
    no bound); beyond it the client discards messages and logs a warning.
    """
    name = f"{host}:{port}"
    client = aiomqtt.Client(
        host,
        port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        will=(
            aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain)
            if will is not None
            else None
        ),
        keepalive=keepalive_s,
        timeout=timeout_s,
        max_queued_incoming_messages=max_queued_incoming,
    )
    try:
        async with client:
            yield Connection(client, name)
    except aiomqtt.MqttError as exc:
        raise TransportError(f"{name}: {exc}") from exc
