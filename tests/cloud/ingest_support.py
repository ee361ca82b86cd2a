"""Running an ingest worker against a real Mosquitto, publishing as a gateway would, and
watching the acknowledgements the cloud sends back."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from cloud.config import CloudSettings
from cloud.ingest.worker import IngestWorker
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import BatchAck, ack_topic, batch_topic
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client
from tests.cloud.helpers import BUTTON, EPOCH, GATE, at, batch, eventually, item

ACK_FILTER = ack_topic("+")
FAST = {
    "reconnect_min_s": 0.05,
    "reconnect_max_s": 0.2,
    "database_retry_min_s": 0.01,
    "database_retry_max_s": 0.05,
    "sqlite_busy_timeout_s": 0.05,
}
"""Settings that keep retries and restarts quick in tests."""


def worker_settings(services: Services, broker: Mosquitto, **overrides: Any) -> CloudSettings:
    values = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "ingest_group": "linli-test",
        "ingest_client_id": "ingest-under-test",
        "ingest_session_expiry_s": 300,
        **FAST,
        **overrides,
    }
    return CloudSettings(**{**services.settings.model_dump(), **values})


def make_worker(services: Services, broker: Mosquitto, **overrides: Any) -> IngestWorker:
    settings = worker_settings(services, broker, **overrides)
    return IngestWorker.from_settings(
        settings, services.intake, services.metrics, services.sessions
    )


@contextlib.asynccontextmanager
async def running(worker: IngestWorker) -> AsyncIterator[IngestWorker]:
    """``worker`` consuming until the block ends."""
    task = asyncio.create_task(worker.run(), name="ingest-under-test")
    try:
        await asyncio.wait_for(worker.connected.wait(), timeout=10)
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def good_batch_json(
    catalogue: Catalogue, gateway_id: str, seq: int, minute: float = 0, epoch: str = EPOCH
) -> bytes:
    items = [
        item(catalogue, GATE, "normal", ts=at(minute)),
        item(catalogue, BUTTON, "help_requested", ts=at(minute)),
    ]
    return batch(gateway_id, seq, items, epoch=epoch).model_dump_json().encode()


async def publish(broker: Mosquitto, topic: str, *payloads: bytes, retain: bool = False) -> None:
    """Publish each payload with QoS 1; returns once the broker has them all."""
    async with Client(broker.host, broker.port, client_id="test-gateway") as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=1, retain=retain)


async def publish_batch(broker: Mosquitto, gateway_id: str, *payloads: bytes) -> None:
    await publish(broker, batch_topic(gateway_id), *payloads)


class AckWatcher:
    """Collects the acknowledgements the cloud publishes to gateways; ``on_ack`` runs (in a
    thread) as each arrives, e.g. to see what the database holds at that moment."""

    def __init__(self, on_ack: Callable[[BatchAck], Any] | None = None) -> None:
        self.acks: list[BatchAck] = []
        self.seen: list[Any] = []
        self._on_ack = on_ack

    async def wait_for(self, count: int, within: float = 15.0) -> list[BatchAck]:
        await eventually(lambda: len(self.acks) >= count, within, f"{count} acknowledgements")
        return self.acks

    async def _collect(self, client: Client) -> None:
        async for message in client.messages():
            ack = BatchAck.model_validate_json(message.payload)
            if self._on_ack is not None:
                self.seen.append(await asyncio.to_thread(self._on_ack, ack))
            self.acks.append(ack)


@contextlib.asynccontextmanager
async def watching_acks(
    broker: Mosquitto, on_ack: Callable[[BatchAck], Any] | None = None
) -> AsyncIterator[AckWatcher]:
    watcher = AckWatcher(on_ack)
    async with Client(broker.host, broker.port, client_id="test-ack-watcher") as client:
        await client.subscribe([ACK_FILTER])
        task = asyncio.create_task(watcher._collect(client))
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.contextmanager
def exclusive_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock (``BEGIN EXCLUSIVE``) until
    the block ends or the caller rolls back."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=10)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield connection
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def change_schema(database: Path, statement: str) -> None:
    """Run one DDL statement while the cloud's connections are busy. ``BEGIN IMMEDIATE``
    takes the write lock first, waiting on the busy timeout; a bare statement reads the
    schema, then wants the write lock, and fails at once with "database is locked" when
    another connection committed in between (WAL snapshot conflict)."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(statement)
        connection.execute("COMMIT")
    finally:
        connection.close()


def sample(services: Services, name: str, **labels: str) -> float:
    return services.metrics.registry.get_sample_value(name, labels) or 0.0


def database_file(services: Services) -> Path:
    return services.settings.data_dir / "linli.db"
