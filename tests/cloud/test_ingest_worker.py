"""Ingest worker: MQTT messages → BatchWriter or dead letters, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from cloud.app import create_app
from cloud.db.models import DeadLetter, Gateway, IngestedBatch, Reading
from cloud.ingest.worker import IngestWorker
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import GatewayStatus, batch_topic, status_topic
from linli.mosquitto import Mosquitto
from plumbing.backoff import Backoff
from tests.cloud.conftest import build_services
from tests.cloud.helpers import (
    BUTTON,
    GATE,
    T0,
    at,
    batch,
    count,
    eventually,
    item,
    wait_until,
)


def dead_letters_total(services: Services) -> float:
    """Sum of linli_ingest_dead_letters_total over every reason label."""
    total = 0.0
    for family in services.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "linli_ingest_dead_letters_total":
                total += sample.value
    return total


def batches(services: Services, result: str) -> float:
    value = services.metrics.registry.get_sample_value(
        "linli_ingest_batches_total", {"result": result}
    )
    return value or 0.0


def reasons(services: Services) -> list[tuple[str, str]]:
    with services.sessions() as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id))
        return [(row.topic, row.reason) for row in rows]


def good_batch_json(catalogue: Catalogue, gateway_id: str, seq: int, minute: float = 0) -> bytes:
    items = [
        item(catalogue, GATE, "normal", ts=at(minute)),
        item(catalogue, BUTTON, "help_requested", ts=at(minute)),
    ]
    return batch(gateway_id, seq, items).model_dump_json().encode()


# --- one message at a time, straight into handle() -------------------------------------


@pytest.fixture
def worker(services: Services) -> IngestWorker:
    return IngestWorker(services.writer, services.metrics, host="127.0.0.1", port=1, group="t")


async def test_handle_stores_a_valid_batch(
    worker: IngestWorker, services: Services, catalogue: Catalogue
) -> None:
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1))

    assert count(services.sessions, Reading) == 2
    assert reasons(services) == []


@pytest.mark.parametrize(
    ("topic", "payload", "category", "reason_part"),
    [
        (batch_topic("gw-1"), b"\x00not json{", "invalid", "JSON"),
        (batch_topic("gw-1"), b"[1, 2]", "invalid", "payload"),
        (batch_topic("gw-1"), b'{"v": 2, "gateway_id": "gw-1"}', "invalid", "v"),
        ("linli/v1/gw/gw-1/up/telemetry", b"{}", "topic", "unknown message kind"),
        ("linli/v1/gw/gw-1/down/command", b"{}", "topic", "not an edge"),
        (status_topic("gw-1"), b'{"gateway_id": "gw-1"}', "invalid", "online"),
    ],
)
async def test_handle_dead_letters_invalid_messages(
    worker: IngestWorker,
    services: Services,
    topic: str,
    payload: bytes,
    category: str,
    reason_part: str,
) -> None:
    await worker.handle(topic, payload)

    [(stored_topic, reason)] = reasons(services)
    assert stored_topic == topic
    assert reason_part in reason
    assert (
        services.metrics.registry.get_sample_value(
            "linli_ingest_dead_letters_total", {"reason": category}
        )
        == 1
    )
    assert count(services.sessions, Gateway) == 0


async def test_handle_dead_letters_batch_for_another_gateway(
    worker: IngestWorker, services: Services, catalogue: Catalogue
) -> None:
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-2", 1))

    [(_, reason)] = reasons(services)
    assert "'gw-2' does not match topic" in reason
    assert count(services.sessions, Reading) == 0


async def test_handle_dead_letters_status_for_another_gateway(
    worker: IngestWorker, services: Services
) -> None:
    """A gateway must not be able to mark another one offline."""
    status = GatewayStatus(gateway_id="gw-2", online=False, ts=T0)

    await worker.handle(status_topic("gw-1"), status.model_dump_json().encode())

    [(_, reason)] = reasons(services)
    assert "'gw-2' does not match topic" in reason
    assert count(services.sessions, Gateway) == 0


async def test_handle_dead_letters_timestamps_without_offset(
    worker: IngestWorker, services: Services, catalogue: Catalogue
) -> None:
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1))
    document: dict[str, Any] = json.loads(good_batch_json(catalogue, "gw-1", 2, minute=1))
    document["items"][0]["ts"] = "2025-11-27T00:05:00"  # no offset: which zone?

    await worker.handle(batch_topic("gw-1"), json.dumps(document).encode())

    [(_, reason)] = reasons(services)
    assert "items.0.ts" in reason
    assert "offset" in reason
    assert count(services.sessions, Reading) == 2
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 3, minute=2))
    assert count(services.sessions, Reading) == 4


async def test_handle_survives_an_unexpected_error(
    worker: IngestWorker,
    services: Services,
    catalogue: Catalogue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = services.writer.write

    def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.writer, "write", broken)
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1))
    monkeypatch.setattr(services.writer, "write", real_write)

    [(_, reason)] = reasons(services)
    assert "disk on fire" in reason
    await worker.handle(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 2))
    assert count(services.sessions, Reading) == 2


# --- against a real Mosquitto ----------------------------------------------------------


@pytest.fixture
async def running(services: Services, cloud_broker: Mosquitto) -> AsyncIterator[IngestWorker]:
    """An ingest worker consuming from the cloud broker until the test ends."""
    worker = IngestWorker(
        services.writer,
        services.metrics,
        host=cloud_broker.host,
        port=cloud_broker.port,
        group="linli-test",
        backoff=Backoff(0.05, 0.1),
    )
    task = asyncio.create_task(worker.run(), name="ingest-under-test")
    try:
        await asyncio.wait_for(worker.connected.wait(), timeout=10)
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def publisher(cloud_broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        hostname=cloud_broker.host,
        port=cloud_broker.port,
        identifier="test-edge",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        yield client


async def test_worker_stores_published_batch_once(
    running: IngestWorker,
    publisher: aiomqtt.Client,
    services: Services,
    catalogue: Catalogue,
) -> None:
    payload = good_batch_json(catalogue, "gw-1", 1)

    await publisher.publish(batch_topic("gw-1"), payload, qos=1)
    await eventually(lambda: count(services.sessions, Reading) == 2, what="readings stored")

    await publisher.publish(batch_topic("gw-1"), payload, qos=1)
    await eventually(lambda: batches(services, "duplicate") == 1, what="duplicate seen")

    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, IngestedBatch) == 1
    assert services.metrics.registry.get_sample_value("linli_ingest_connected") == 1


async def test_worker_dead_letters_bad_messages_and_keeps_going(
    running: IngestWorker,
    publisher: aiomqtt.Client,
    services: Services,
    catalogue: Catalogue,
) -> None:
    unknown_field = json.loads(good_batch_json(catalogue, "gw-1", 2))
    unknown_field["priority"] = "high"
    bad = [
        b"this is not JSON",
        good_batch_json(catalogue, "gw-9", 1),  # gateway_id does not match the topic
        json.dumps(unknown_field).encode(),
    ]
    for payload in bad:
        await publisher.publish(batch_topic("gw-1"), payload, qos=1)

    letters = await eventually(
        lambda: len(reasons(services)) == 3 and reasons(services), what="three dead letters"
    )
    topics = {topic for topic, _ in letters}
    assert topics == {batch_topic("gw-1")}
    text = [reason for _, reason in letters]
    assert "JSON" in text[0]
    assert "does not match topic" in text[1]
    assert "priority" in text[2]
    assert "Extra inputs are not permitted" in text[2]
    assert dead_letters_total(services) == 3
    assert count(services.sessions, Reading) == 0

    await publisher.publish(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 3), qos=1)
    await eventually(lambda: count(services.sessions, Reading) == 2, what="good batch stored")


async def test_worker_records_gateway_status(
    running: IngestWorker,
    publisher: aiomqtt.Client,
    services: Services,
    catalogue: Catalogue,
) -> None:
    await publisher.publish(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1), qos=1)

    def gateway() -> Gateway | None:
        with services.sessions() as session:
            return session.get(Gateway, "gw-1")

    found = await eventually(gateway, what="gateway registered")
    assert found.online is True
    assert found.last_seq == 1

    status = GatewayStatus(gateway_id="gw-1", online=False, ts=at(9), counters={"outbox": 12})
    await publisher.publish(status_topic("gw-1"), status.model_dump_json().encode(), qos=1)

    found = await eventually(
        lambda: (g := gateway()) is not None and not g.online and g, what="gateway offline"
    )
    assert found.status_at == at(9)
    assert found.counters == {"outbox": 12}
    assert found.last_seq == 1


async def test_worker_learns_retained_status_published_before_it_started(
    publisher: aiomqtt.Client, services: Services, cloud_broker: Mosquitto
) -> None:
    """A worker that (re)connects must learn each gateway's last will or status at once."""
    status = GatewayStatus(gateway_id="gw-7", online=False, ts=at(3))
    await publisher.publish(
        status_topic("gw-7"), status.model_dump_json().encode(), qos=1, retain=True
    )
    worker = IngestWorker(
        services.writer,
        services.metrics,
        host=cloud_broker.host,
        port=cloud_broker.port,
        group="linli-test",
        backoff=Backoff(0.05, 0.1),
    )
    task = asyncio.create_task(worker.run(), name="late-ingest")
    try:

        def gateway() -> Gateway | None:
            with services.sessions() as session:
                return session.get(Gateway, "gw-7")

        found = await eventually(gateway, what="retained status ingested")
        assert found.online is False
        assert found.status_at == at(3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_batches_published_while_the_worker_is_away_are_stored_on_return(
    publisher: aiomqtt.Client,
    services: Services,
    catalogue: Catalogue,
    cloud_broker: Mosquitto,
) -> None:
    """A cloud restart loses nothing: the broker keeps the worker's session and queues."""

    def make_worker() -> IngestWorker:
        return IngestWorker(
            services.writer,
            services.metrics,
            host=cloud_broker.host,
            port=cloud_broker.port,
            group="linli-test",
            client_id="ingest-persistent",
            session_expiry_s=300,
            backoff=Backoff(0.05, 0.1),
        )

    async def run_until_stopped(worker: IngestWorker, until: Callable[[], bool]) -> None:
        task = asyncio.create_task(worker.run())
        try:
            await asyncio.wait_for(worker.connected.wait(), timeout=10)
            await eventually(until, what="worker caught up")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    await run_until_stopped(make_worker(), lambda: True)  # the broker now knows the session
    await publisher.publish(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1), qos=1)
    await publisher.publish(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 2), qos=1)
    assert count(services.sessions, Reading) == 0
    await run_until_stopped(make_worker(), lambda: count(services.sessions, IngestedBatch) == 2)
    assert count(services.sessions, Reading) == 4


@pytest.fixture
def app_with_ingest(
    tmp_path: Any, catalogue: Catalogue, cloud_broker: Mosquitto
) -> Iterator[tuple[TestClient, Services]]:
    built = build_services(
        tmp_path / "with-ingest",
        catalogue,
        ingest=True,
        mqtt_host=cloud_broker.host,
        mqtt_port=cloud_broker.port,
    )
    try:
        with TestClient(create_app(built)) as client:
            yield client, built
    finally:
        built.close()


def test_app_lifespan_runs_the_ingest_worker(
    app_with_ingest: tuple[TestClient, Services],
    cloud_broker: Mosquitto,
    catalogue: Catalogue,
) -> None:
    client, _ = app_with_ingest
    wait_until(lambda: client.get("/healthz").json()["ingest_connected"], what="ingest connected")

    edge = paho.Client(CallbackAPIVersion.VERSION2, "test-edge-sync", protocol=paho.MQTTv5)
    edge.connect(cloud_broker.host, cloud_broker.port)
    edge.loop_start()
    try:
        info = edge.publish(batch_topic("gw-1"), good_batch_json(catalogue, "gw-1", 1), qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()
    finally:
        edge.loop_stop()
        edge.disconnect()

    devices = wait_until(
        lambda: client.get("/api/v1/devices").json(), what="devices through the API"
    )
    assert sorted(d["device_id"] for d in devices) == ["gate-01", "sos-02"]
    tickets = client.get("/api/v1/tickets").json()
    assert [t["fault"] for t in tickets] == ["help_requested"]
