"""The agent's side of the cloud broker: batches up, acknowledgements and commands in, status.

:class:`CloudLink` stays connected (reconnecting with backoff). While connected it sends
batches from the outbox — alarms at once, bulk telemetry when a batch is full or has
lingered long enough — up to ``batches_in_flight`` at a time. A batch's items leave the
outbox only when the cloud's :class:`~device_profiles.protocol.BatchAck` for it arrives,
which the cloud sends after its database transaction; a broker's PUBACK deletes nothing. A
batch not acknowledged within ``ack_timeout_s`` is sent again, and at every connect every
unacknowledged batch is, with the same identity and items (the cloud stores each once).
Data-gap records go like alarms: at once, in the next batch. An outbox that cannot be read
or written ends the connection, which is made again with backoff (and everything
unacknowledged sent again).

It also takes commands for this gateway, and publishes a retained
:class:`~device_profiles.protocol.GatewayStatus`: online with the agent's counters at connect
and every ``status_interval_s``, offline at shutdown; the last will says offline if the
agent dies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from device_profiles.protocol import (
    BatchAck,
    GatewayStatus,
    ack_topic,
    batch_topic,
    command_topic,
    status_topic,
)
from edge_agent.config import EdgeSettings
from edge_agent.outbox import Outbox, OutboxError, OutgoingBatch
from edge_agent.status import Counters
from edge_agent.tasks import first_to_finish, wait_event
from plumbing.backoff import Backoff
from plumbing.issues import validation_summary
from plumbing.mqtt import Client, Message, MqttError, Will

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 5.0
OVERDUE_CHECK_S = 1.0


class CloudLink:
    """The connection to the cloud broker; :meth:`run` returns once stopped and drained."""

    def __init__(
        self,
        settings: EdgeSettings,
        counters: Counters,
        outbox: Outbox,
        *,
        on_command: Callable[[bytes, bool], object],
        status: Callable[[], dict[str, int]],
        stop: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._outbox = outbox
        self._on_command = on_command
        self._status = status
        self._stop = stop
        self._wakeup = asyncio.Event()
        self._client_id = f"linli-edge-{settings.gateway_id}-cloud"
        self._in_flight: dict[int, tuple[OutgoingBatch, bytes, float]] = {}
        self.ready = asyncio.Event()
        """Set while connected, subscribed, with the online status sent."""
        self.since = datetime.now(UTC)
        """When the link last went up or down."""

    def wake(self) -> None:
        """Something was queued (or stopping began): look at the outbox again."""
        self._wakeup.set()

    @property
    def batches_in_flight(self) -> int:
        """Batches sent and not acknowledged by the cloud yet, on this connection."""
        return len(self._in_flight)

    async def run(self) -> None:
        """Stay connected until stopped and what waits is acknowledged (or the link is
        down at shutdown: what waits stays in the outbox for the next start)."""
        settings = self._settings
        gateway_id = settings.gateway_id
        will = Will(
            status_topic(gateway_id),
            GatewayStatus(gateway_id=gateway_id, online=False).model_dump_json().encode(),
        )
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            try:
                async with Client(
                    settings.cloud_host,
                    settings.cloud_port,
                    client_id=self._client_id,
                    will=will,
                    keepalive_s=settings.keepalive_s,
                    access=settings.cloud_access(),
                ) as client:
                    await client.subscribe([command_topic(gateway_id), ack_topic(gateway_id)])
                    self._counters.cloud_connects += 1
                    await self._publish_status(client, online=True)
                    backoff.reset()
                    self._up(True)
                    log.info("cloud broker %s: connected, status online", client.name)
                    await self._session(client)
                    return
            except (MqttError, TimeoutError) as exc:
                log.warning(
                    "cloud broker: %s; %d items wait", exc or "timed out", len(self._outbox)
                )
            except OutboxError as exc:
                log.error("%s: connecting to the cloud again", exc)
            finally:
                self._up(False)
            if not self._stop.is_set():
                await wait_event(self._stop, backoff.next())

    def _up(self, up: bool) -> None:
        if up != self.ready.is_set():
            self.since = datetime.now(UTC)
        if up:
            self.ready.set()
        else:
            self.ready.clear()

    async def _session(self, client: Client) -> None:
        """Send, take acknowledgements and commands, report status; until stopped and
        drained."""
        try:
            await self._send_unconfirmed(client)
            await first_to_finish(
                self._forward(client),
                self._listen(client),
                self._report(client),
                self._resend_overdue(client),
            )
        except asyncio.CancelledError:
            await self._say_offline(client)
            raise
        await self._say_offline(client)

    # ------------------------------------------------------------------ batches up

    async def _send_unconfirmed(self, client: Client) -> None:
        """Send again every batch sent before and not acknowledged (after a reconnect or a
        restart), oldest first."""
        self._in_flight.clear()
        batches = await self._outbox.unconfirmed()
        for batch in batches:
            await self._send(client, batch)
        if batches:
            self._counters.batches_resent += len(batches)
            log.info("sent %d unacknowledged batches again", len(batches))

    async def _send(self, client: Client, batch: OutgoingBatch) -> None:
        settings = self._settings
        payload = batch.payload(settings.gateway_id, self._outbox.epoch, datetime.now(UTC))
        self._in_flight[batch.seq] = (batch, payload, time.monotonic())
        await client.publish(batch_topic(settings.gateway_id), payload, qos=1)

    async def _forward(self, client: Client) -> None:
        """Send batches as they are due, until stopped with nothing left unacknowledged."""
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            await self._send(client, batch)
            self._counters.batches_sent += 1
            log.debug(
                "sent batch seq=%d: %d items, %d alarms, %d data gaps",
                batch.seq,
                len(batch.items),
                batch.alarms,
                len(batch.gaps),
            )

    async def _next_batch(self) -> OutgoingBatch | None:
        """The next batch once one is due and there is room in flight: alarms at once, bulk
        when full or lingered long enough, whatever waits once stopping. None when stopped
        and everything sent was acknowledged."""
        settings = self._settings
        limit = settings.batch_max_items
        outbox = self._outbox
        while True:
            self._wakeup.clear()
            stopping = self._stop.is_set()
            waiting = outbox.pending_alarms + outbox.pending_bulk + outbox.pending_gaps
            if stopping and not waiting and not self._in_flight:
                return None
            timeout: float | None = None
            if waiting and len(self._in_flight) < settings.batches_in_flight:
                age = outbox.oldest_bulk_age()
                urgent = outbox.pending_alarms or outbox.pending_gaps
                due = stopping or urgent or outbox.pending_bulk >= limit
                if due or (age is not None and age >= settings.batch_linger_s):
                    batch = await outbox.next_batch(limit)
                    if batch is not None:
                        return batch
                    continue
                if age is not None:
                    timeout = settings.batch_linger_s - age
            await wait_event(self._wakeup, timeout)

    async def _resend_overdue(self, client: Client) -> None:
        """Send again what the cloud has not acknowledged within ``ack_timeout_s``."""
        timeout = self._settings.ack_timeout_s
        topic = batch_topic(self._settings.gateway_id)
        while True:
            await asyncio.sleep(min(OVERDUE_CHECK_S, timeout))
            now = time.monotonic()
            for seq, (batch, payload, sent) in list(self._in_flight.items()):
                if now - sent >= timeout and seq in self._in_flight:
                    self._in_flight[seq] = (batch, payload, now)
                    await client.publish(topic, payload, qos=1)
                    self._counters.batches_resent += 1
                    log.info("batch seq=%d not acknowledged in %.0f s: sent again", seq, timeout)

    async def _acknowledged(self, payload: bytes) -> None:
        try:
            ack = BatchAck.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignored an acknowledgement that is not one: %s", validation_summary(exc))
            return
        if ack.epoch != self._outbox.epoch:
            log.info("ignored an acknowledgement of another epoch (%s)", ack.epoch)
            return
        removed = await self._outbox.confirm(ack.seq)
        flight = self._in_flight.pop(ack.seq, None)  # only now: stopping waits for this
        if flight is None and not removed:
            return  # an acknowledgement of a batch acknowledged before
        batch = flight[0] if flight is not None else None
        self._counters.batches_confirmed += 1
        self._counters.items_forwarded += removed
        self._counters.alarms_forwarded += batch.alarms if batch is not None else 0
        self._counters.gaps_forwarded += len(batch.gaps) if batch is not None else 0
        if ack.result == "rejected":
            self._counters.batches_rejected += 1
            log.error(
                "the cloud refused batch seq=%d (%d items), kept as its dead letter: %s",
                ack.seq,
                removed,
                ack.reason,
            )
        self._wakeup.set()

    # ------------------------------------------------------------------ down, and status

    async def _listen(self, client: Client) -> None:
        acks = ack_topic(self._settings.gateway_id)
        async for message in client.messages():
            if message.topic == acks:
                await self._acknowledged(message.payload)
            else:
                self._command(message)

    def _command(self, message: Message) -> None:
        self._on_command(message.payload, message.retain)

    async def _report(self, client: Client) -> None:
        while True:
            await asyncio.sleep(self._settings.status_interval_s)
            await self._publish_status(client, online=True)

    async def _publish_status(self, client: Client, *, online: bool) -> None:
        gateway_id = self._settings.gateway_id
        status = GatewayStatus(
            gateway_id=gateway_id, online=online, ts=datetime.now(UTC), counters=self._status()
        )
        async with asyncio.timeout(STATUS_TIMEOUT_S):
            await client.publish(
                status_topic(gateway_id), status.model_dump_json().encode("utf-8"), retain=True
            )

    async def _say_offline(self, client: Client) -> None:
        try:
            await self._publish_status(client, online=False)
        except (MqttError, TimeoutError) as exc:
            log.warning("could not publish the offline status: %s", exc)
        else:
            log.info("cloud broker %s: status offline", client.name)
