"""MQTT for the simulator: the only module that talks to aiomqtt.

The simulator publishes through a :class:`Transport`. :class:`SharedConnection` carries
every device over one MQTT connection; a transport with one connection per device (each
with its own client id and will) can take its place, which is why ``publish`` is told
which device a message comes from.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

import aiomqtt

from simulators.faults import CONTROL_TOPIC

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class TransportError(Exception):
    """The broker could not be reached, or the connection to it was lost."""


class Transport(Protocol):
    """How simulated devices reach the broker and the simulator receives control messages."""

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        """Publish ``payload`` on ``topic`` on behalf of ``device_id``."""
        ...

    def control_messages(self) -> AsyncIterator[bytes]:
        """Payloads arriving on the control topic, until the connection is lost."""
        ...


@contextmanager
def _mqtt_errors(action: str) -> Iterator[None]:
    try:
        yield
    except aiomqtt.MqttError as exc:
        raise TransportError(f"{action}: {exc}") from exc


def _as_bytes(payload: bytes | bytearray | str | float | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return str(payload).encode()


class SharedConnection:
    """All simulated devices multiplexed over one MQTT connection; an async context manager.

    On entry it connects and subscribes to the control topic; TransportError if it cannot.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        control_topic: str = CONTROL_TOPIC,
        client_id: str | None = None,
        timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.control_topic = control_topic
        self.client_id = client_id or f"linli-sim-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._timeout_s = timeout_s
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> SharedConnection:
        client = aiomqtt.Client(
            self.host, self.port, identifier=self.client_id, timeout=self._timeout_s
        )
        with _mqtt_errors(f"cannot connect to MQTT broker {self.host}:{self.port}"):
            await client.__aenter__()
        self._client = client
        try:
            with _mqtt_errors(f"cannot subscribe to {self.control_topic}"):
                await client.subscribe(self.control_topic, qos=1)
        except TransportError:
            await self._close()
            raise
        log.info("connected to %s:%d as %s", self.host, self.port, self.client_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError as error:
            log.info("connection to %s:%d closed uncleanly: %s", self.host, self.port, error)

    def _connected(self) -> aiomqtt.Client:
        if self._client is None:
            raise TransportError("not connected")
        return self._client

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        client = self._connected()
        with _mqtt_errors(f"publish for {device_id} on {topic} failed"):
            await client.publish(topic, payload, qos=qos)

    async def control_messages(self) -> AsyncIterator[bytes]:
        client = self._connected()
        with _mqtt_errors("control subscription lost"):
            async for message in client.messages:
                if message.topic.matches(self.control_topic):
                    yield _as_bytes(message.payload)


async def publish_once(
    host: str, port: int, topic: str, payload: bytes, *, timeout_s: float = 5.0
) -> None:
    """Connect, publish one message with QoS 1, disconnect; TransportError on failure."""
    client_id = f"linli-sim-cli-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with _mqtt_errors(f"cannot publish to MQTT broker {host}:{port}"):
        async with aiomqtt.Client(host, port, identifier=client_id, timeout=timeout_s) as client:
            await client.publish(topic, payload, qos=1)
