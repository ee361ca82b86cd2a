"""The ingest worker: reads edge → cloud messages and hands them to the BatchWriter.

Bad messages never stop it: each goes to the dead-letter table with a reason.
Several workers on several machines may join the same shared subscription.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from cloud.ingest import transport
from cloud.ingest.writer import BatchWriter
from cloud.metrics import CloudMetrics
from device_profiles.protocol import (
    BATCH_FILTER,
    STATUS_FILTER,
    Batch,
    GatewayStatus,
    parse_up_topic,
)
from plumbing.backoff import Backoff
from plumbing.issues import validation_summary

log = logging.getLogger(__name__)


def _naive_timestamp(batch: Batch) -> str | None:
    """Where ``batch`` has a time without a UTC offset (it could not be ordered), if anywhere."""
    if batch.sent_at.tzinfo is None:
        return "sent_at"
    for n, item in enumerate(batch.items):
        for name in ("ts", "received_at"):
            if getattr(item, name).tzinfo is None:
                return f"items.{n}.{name}"
    return None


class IngestWorker:
    def __init__(
        self,
        writer: BatchWriter,
        metrics: CloudMetrics,
        *,
        host: str,
        port: int,
        group: str,
        client_id: str | None = None,
        session_expiry_s: int = 0,
        backoff: Backoff | None = None,
    ) -> None:
        self._writer = writer
        self._metrics = metrics
        self._host = host
        self._port = port
        self._group = group
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._client_id = client_id or f"linli-ingest-{socket.gethostname()}-{os.getpid()}"
        self._session_expiry_s = session_expiry_s
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Consume until cancelled, reconnecting when the broker goes away."""
        while True:
            try:
                async with transport.ingest_subscription(
                    self._host,
                    self._port,
                    self._client_id,
                    shared=(self._group, BATCH_FILTER),
                    plain=(STATUS_FILTER,),
                    session_expiry_s=self._session_expiry_s,
                ) as subscription:
                    log.info("ingest connected to %s:%s", self._host, self._port)
                    self._backoff.reset()
                    self._metrics.ingest_connected.set(1)
                    self.connected.set()
                    async for message in subscription.messages():
                        await self.handle(message.topic, message.payload)
            except transport.BrokerUnavailable as exc:
                log.warning("cloud broker unavailable (%s); retrying", exc)
            finally:
                self._metrics.ingest_connected.set(0)
                self.connected.clear()
            await asyncio.sleep(self._backoff.next())

    async def handle(self, topic: str, payload: bytes) -> None:
        """Ingest one message; dead-letter it if it is not a valid protocol message."""
        parsed = parse_up_topic(topic)
        if parsed is None:
            await self._dead_letter(topic, payload, "not an edge → cloud topic", "topic")
            return
        gateway_id, kind = parsed
        try:
            if kind == "batch":
                batch = Batch.model_validate_json(payload)
                if batch.gateway_id != gateway_id:
                    await self._dead_letter(
                        topic,
                        payload,
                        f"gateway_id {batch.gateway_id!r} does not match topic",
                        "gateway",
                    )
                    return
                naive = _naive_timestamp(batch)
                if naive is not None:
                    reason = f"{naive}: timestamp has no UTC offset"
                    await self._dead_letter(topic, payload, reason, "invalid")
                    return
                await asyncio.to_thread(self._writer.write, batch)
            elif kind == "status":
                status = GatewayStatus.model_validate_json(payload)
                if status.gateway_id != gateway_id:
                    await self._dead_letter(
                        topic,
                        payload,
                        f"gateway_id {status.gateway_id!r} does not match topic",
                        "gateway",
                    )
                    return
                await asyncio.to_thread(self._writer.record_status, status)
            else:
                await self._dead_letter(topic, payload, f"unknown message kind {kind!r}", "topic")
        except ValidationError as exc:
            await self._dead_letter(
                topic, payload, validation_summary(exc, root="payload"), "invalid"
            )
        except SQLAlchemyError:
            log.exception("storing a message from %s failed", topic)
            self._metrics.batches.labels(result="error").inc()
        except Exception as exc:  # a message must never stop ingest: keep it for a replay
            log.exception("ingesting a message from %s failed", topic)
            self._metrics.batches.labels(result="error").inc()
            reason = f"could not be stored: {type(exc).__name__}: {exc}"
            await self._dead_letter(topic, payload, reason, "error")

    async def _dead_letter(self, topic: str, payload: bytes, reason: str, category: str) -> None:
        log.warning("dead letter from %s: %s", topic, reason)
        await asyncio.to_thread(self._writer.record_dead_letter, topic, payload, reason, category)
