"""The cloud's only contact with MQTT: the ingest subscription, the acknowledgements, and
the commands for devices (:mod:`cloud.ingest.commands`).

One connection per worker, on :class:`plumbing.mqtt.Client`:

- a kept session (a stable client id, clean start off, a session expiry), so batches that
  arrive while the worker restarts wait at the broker;
- manual acknowledgement: a message is acknowledged to the broker only when ingest is done
  with it (:meth:`IngestLink.ack`); one not acknowledged comes again after a reconnect;
- MQTT 5 Receive Maximum: the broker sends at most that many messages ahead of their
  acknowledgements, so a worker that falls behind stops reading instead of piling up (or
  dropping) messages; the broker keeps the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cloud.ingest.acks import Ack
from device_profiles.protocol import BATCH_FILTER, STATUS_FILTER
from plumbing.mqtt import Client, Message, MqttError

__all__ = ["Endpoint", "IngestLink", "Message", "MqttError", "connect"]


@dataclass(frozen=True)
class Endpoint:
    """Where and how a worker connects."""

    host: str
    port: int
    client_id: str
    group: str
    """The MQTT 5 shared-subscription group: each batch goes to one worker of the group."""
    session_expiry_s: int = 0
    receive_maximum: int = 1000

    @property
    def filters(self) -> tuple[str, ...]:
        """Batches shared by the group; statuses plain, so retained ones reach every worker."""
        return (f"$share/{self.group}/{BATCH_FILTER}", STATUS_FILTER)


class IngestLink:
    """One connected ingest subscription."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def connected(self) -> bool:
        return self._client.is_connected

    def messages(self) -> AsyncIterator[Message]:
        """Messages as they come, until the connection breaks (MqttError)."""
        return self._client.messages()

    def ack(self, message: Message) -> None:
        """Tell the broker ``message`` is dealt with: it will not be delivered again."""
        self._client.ack(message)

    async def publish_acks(self, acks: Sequence[Ack]) -> None:
        """Tell gateways what became of their batches, in order (QoS 1, not retained);
        returns once the broker has them all, MqttError if the connection broke first."""
        await self._client.publish_all([(ack.topic, ack.payload) for ack in acks], qos=1)

    async def publish_commands(self, commands: Sequence[tuple[str, bytes]]) -> None:
        """Send ``(topic, payload)`` commands to gateways, in order (QoS 1, never retained:
        a retained command would run again at every reconnect of its gateway); returns once
        the broker has them all, MqttError if the connection broke first."""
        await self._client.publish_all(commands, qos=1)


@asynccontextmanager
async def connect(endpoint: Endpoint) -> AsyncIterator[IngestLink]:
    """Connect and subscribe (at every connect: a session the broker lost is rebuilt)."""
    async with Client(
        endpoint.host,
        endpoint.port,
        client_id=endpoint.client_id,
        clean_start=False,
        session_expiry_s=endpoint.session_expiry_s,
        receive_maximum=endpoint.receive_maximum,
        manual_ack=True,
    ) as client:
        await client.subscribe(endpoint.filters, qos=1)
        yield IngestLink(client)
