"""The agent's side of the cloud broker: batches up, commands in, the gateway's status.

:class:`CloudLink` stays connected (reconnecting with backoff). While connected it sends
batches from the outbox — alarms at once, bulk telemetry when a batch is full or has
lingered long enough — each with the next sequence number, and forgets a batch's items only
once the broker acknowledged it; it takes commands for this gateway, and publishes a retained
:class:`~device_profiles.protocol.GatewayStatus`: online with the agent's counters at connect
and every ``status_interval_s``, offline at shutdown; the MQTT last will says offline if the
agent dies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from device_profiles.protocol import (
    Batch,
    GatewayStatus,
    Item,
    batch_topic,
    command_topic,
    status_topic,
)
from edge_agent import transport
from edge_agent.config import EdgeSettings
from edge_agent.outbox import Outbox
from edge_agent.sequence import SequenceError, SequenceNumbers
from edge_agent.status import Counters
from edge_agent.tasks import first_to_finish, wait_event
from edge_agent.transport import Connection, LastWill, TransportError
from plumbing.backoff import Backoff

log = logging.getLogger(__name__)

INCOMING_LIMIT = 1000
STATUS_TIMEOUT_S = 5.0
SEQUENCE_RETRY_S = 5.0


class CloudLink:
    """The connection to the cloud broker; :meth:`run` returns once stopped and drained."""

    def __init__(
        self,
        settings: EdgeSettings,
        counters: Counters,
        outbox: Outbox,
        sequence: SequenceNumbers,
        *,
        on_command: Callable[[bytes, bool], object],
        status: Callable[[], dict[str, int]],
        stop: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._outbox = outbox
        self._sequence = sequence
        self._on_command = on_command
        self._status = status
        self._stop = stop
        self._wakeup = asyncio.Event()
        self._client_id = f"linli-edge-{settings.gateway_id}-cloud"
        self.ready = asyncio.Event()
        """Set while connected, subscribed to commands, with the online status sent."""

    def wake(self) -> None:
        """Something was queued (or stopping began): look at the outbox again."""
        self._wakeup.set()

    async def run(self) -> None:
        """Stay connected until stopped and what waits is sent (or the link is down)."""
        settings = self._settings
        gateway_id = settings.gateway_id
        will = LastWill(
            status_topic(gateway_id),
            GatewayStatus(gateway_id=gateway_id, online=False).model_dump_json().encode(),
        )
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            try:
                async with transport.connect(
                    settings.cloud_host,
                    settings.cloud_port,
                    client_id=self._client_id,
                    will=will,
                    keepalive_s=settings.keepalive_s,
                    max_queued_incoming=INCOMING_LIMIT,
                ) as conn:
                    await conn.subscribe([command_topic(gateway_id)])
                    self._counters.cloud_connects += 1
                    await self._publish_status(conn, online=True)
                    backoff.reset()
                    self.ready.set()
                    log.info("cloud broker %s: connected, status online", conn.name)
                    await self._session(conn)
                    return
            except TransportError as exc:
                log.warning("cloud broker: %s; %d items wait", exc, len(self._outbox))
            finally:
                self.ready.clear()
            if not self._stop.is_set():
                await wait_event(self._stop, backoff.next())

    async def _session(self, conn: Connection) -> None:
        """Forward, take commands and report status until stopped and drained."""
        try:
            await first_to_finish(self._forward(conn), self._listen(conn), self._report(conn))
        except asyncio.CancelledError:
            await self._say_offline(conn)
            raise
        await self._say_offline(conn)

    async def _forward(self, conn: Connection) -> None:
        """Send batches until stopped with nothing left to send."""
        gateway_id = self._settings.gateway_id
        topic = batch_topic(gateway_id)
        while True:
            items = await self._next_items()
            if not items:
                return
            try:
                seq = self._sequence.next()
            except SequenceError as exc:
                self._outbox.release(items)
                log.error("%s; items wait until it can be written", exc)
                await wait_event(self._stop, SEQUENCE_RETRY_S)
                if self._stop.is_set():
                    return
                continue
            batch = Batch(gateway_id=gateway_id, seq=seq, sent_at=datetime.now(UTC), items=items)
            try:
                await conn.publish(topic, batch.model_dump_json().encode("utf-8"), qos=1)
            except BaseException:
                self._outbox.release(items)
                raise
            self._outbox.confirm(items)
            alarms = sum(1 for item in items if item.alarm)
            self._counters.batches_sent += 1
            self._counters.items_forwarded += len(items)
            self._counters.alarms_forwarded += alarms
            log.debug("sent batch seq=%d: %d items, %d alarms", seq, len(items), alarms)

    async def _next_items(self) -> list[Item]:
        """The next batch's items: alarms at once, bulk when full or lingered long enough.

        Once stopping, whatever waits (possibly nothing).
        """
        limit = self._settings.batch_max_items
        linger = self._settings.batch_linger_s
        outbox = self._outbox
        while True:
            self._wakeup.clear()
            if self._stop.is_set() or outbox.pending_alarms or outbox.pending_bulk >= limit:
                return outbox.take(limit)
            age = outbox.oldest_bulk_age()
            if age is not None and age >= linger:
                return outbox.take(limit)
            await wait_event(self._wakeup, None if age is None else linger - age)

    async def _listen(self, conn: Connection) -> None:
        async for message in conn.messages():
            self._on_command(message.payload, message.retain)

    async def _report(self, conn: Connection) -> None:
        while True:
            await asyncio.sleep(self._settings.status_interval_s)
            await self._publish_status(conn, online=True)

    async def _publish_status(self, conn: Connection, *, online: bool) -> None:
        gateway_id = self._settings.gateway_id
        status = GatewayStatus(
            gateway_id=gateway_id, online=online, ts=datetime.now(UTC), counters=self._status()
        )
        await conn.publish(
            status_topic(gateway_id),
            status.model_dump_json().encode("utf-8"),
            qos=1,
            retain=True,
            timeout_s=STATUS_TIMEOUT_S,
        )

    async def _say_offline(self, conn: Connection) -> None:
        try:
            await self._publish_status(conn, online=False)
        except TransportError as exc:
            log.warning("could not publish the offline status: %s", exc)
        else:
            log.info("cloud broker %s: status offline", conn.name)
