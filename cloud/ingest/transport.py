"""The cloud's only contact with MQTT: the ingest subscription, the acknowledgements, the
commands for devices (:mod:`cloud.ingest.commands`), and the notices pushed to integrations
(:class:`Publisher`, for :mod:`cloud.notify.push`).

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

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from cloud.ingest.acks import Ack
from device_profiles.protocol import BATCH_FILTER, STATUS_FILTER
from plumbing.mqtt import ANONYMOUS, BrokerAccess, Client, Message, MqttError

__all__ = ["Endpoint", "IngestLink", "Message", "MqttError", "Publisher", "connect"]


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
    access: BrokerAccess = ANONYMOUS

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
        access=endpoint.access,
    ) as client:
        await client.subscribe(endpoint.filters, qos=1)
        yield IngestLink(client)


class Publisher:
    """A connection to the cloud broker that only publishes, QoS 1 (a clean session: it
    receives nothing): made when first needed, and made anew at the next publish after it
    broke. One publish at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        timeout_s: float = 10.0,
        access: BrokerAccess = ANONYMOUS,
    ) -> None:
        self._access = access
        self._host = host
        self._port = port
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._client: Client | None = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish ``(topic, payload)`` messages in order (not retained); returns once the
        broker has them all, MqttError if it could not be reached or the connection broke."""
        async with self._lock:
            client = self._client
            if client is None or not client.is_connected:
                await self._disconnect()
                stack = AsyncExitStack()
                client = await stack.enter_async_context(
                    Client(
                        self._host,
                        self._port,
                        client_id=self._client_id,
                        timeout_s=self._timeout_s,
                        access=self._access,
                    )
                )
                self._client, self._stack = client, stack
            try:
                async with asyncio.timeout(self._timeout_s):
                    await client.publish_all(messages, qos=1)
            except TimeoutError:
                await self._disconnect()
                raise MqttError(f"no PUBACK within {self._timeout_s:g} s") from None
            except MqttError:
                await self._disconnect()
                raise

    async def close(self) -> None:
        async with self._lock:
            await self._disconnect()

    async def _disconnect(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(MqttError):  # it broke already
                await stack.aclose()
