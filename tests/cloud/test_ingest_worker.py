"""The ingest worker against a real Mosquitto: batches stored, then acknowledged to their
gateway; resends acknowledged as duplicates; poison batches dead-lettered whole and
acknowledged as rejected; statuses recorded; nothing lost while the worker is away."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import DeadLetter, Gateway, IngestedBatch, Reading
from cloud.ingest.transport import Endpoint
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import Batch, BatchAck, GatewayStatus, batch_topic, status_topic
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client
from tests.cloud.conftest import build_services, log_in, make_account
from tests.cloud.helpers import EPOCH, GATE, at, batch, count, eventually, item, wait_until
from tests.cloud.ingest_support import (
    good_batch_json,
    make_worker,
    publish,
    publish_batch,
    running,
    sample,
    watching_acks,
)


def letters(services: Services) -> list[DeadLetter]:
    with services.sessions() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def gateway(services: Services, gateway_id: str) -> Gateway | None:
    with services.sessions() as session:
        return session.get(Gateway, gateway_id)


async def test_a_batch_is_acknowledged_to_its_gateway_after_it_is_stored(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    payload = good_batch_json(catalogue, "gw-1", 1)
    ids = [i.id for i in Batch.model_validate_json(payload).items]

    def rows_when_acknowledged(ack: BatchAck) -> int:
        return count(services.sessions, Reading, Reading.id.in_(ids))

    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker, rows_when_acknowledged) as watcher,
    ):
        await publish_batch(cloud_broker, "gw-1", payload)
        [ack] = await watcher.wait_for(1)

    assert ack == BatchAck(gateway_id="gw-1", epoch=EPOCH, seq=1, result="stored")
    assert watcher.seen == [2], "both readings were committed before the acknowledgement"
    assert sample(services, "linli_ingest_acks_total", result="stored") == 1
    assert sample(services, "linli_ingest_connected") == 0, "not consuming once stopped"
    # how long it took: one measure of the group, from the broker and from the gateway
    assert sample(services, "linli_ingest_ack_seconds_count") == 1
    assert sample(services, "linli_ingest_lag_seconds_count") == 1


async def test_a_batch_sent_again_is_acknowledged_as_duplicate_and_stored_once(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    payload = good_batch_json(catalogue, "gw-1", 7)

    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(cloud_broker, "gw-1", payload, payload)
        acks = await watcher.wait_for(2)

    assert [(a.seq, a.result) for a in acks] == [(7, "stored"), (7, "duplicate")]
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, IngestedBatch) == 1


async def test_an_old_seq_in_a_new_epoch_is_stored(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(
            cloud_broker,
            "gw-1",
            good_batch_json(catalogue, "gw-1", 1),
            good_batch_json(catalogue, "gw-1", 1, minute=1, epoch="feedface00000001"),
        )
        acks = await watcher.wait_for(2)

    assert [(a.epoch, a.seq, a.result) for a in acks] == [
        (EPOCH, 1, "stored"),
        ("feedface00000001", 1, "stored"),
    ]
    assert count(services.sessions, Reading) == 4
    found = gateway(services, "gw-1")
    assert found is not None
    assert (found.epoch, found.last_seq) == ("feedface00000001", 1)


async def test_a_poison_batch_is_dead_lettered_whole_and_acknowledged_as_rejected(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    """It must not block the gateway: the batch after it is stored."""
    items = [item(catalogue, GATE, "normal", ts=at(n)) for n in range(40)]
    document: dict[str, Any] = json.loads(batch("gw-1", 2, items).model_dump_json())
    document["items"][39]["ts"] = "2025-11-27T00:05:00"  # no offset: which zone?
    poison = json.dumps(document).encode()
    assert len(poison) > 4096, "bigger than dead letters used to keep"
    not_json = b"\xff\x00 not JSON at all"

    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(
            cloud_broker, "gw-1", not_json, poison, good_batch_json(catalogue, "gw-1", 3)
        )
        acks = await watcher.wait_for(2)

    assert [(a.seq, a.result) for a in acks] == [(2, "rejected"), (3, "stored")]
    assert "items.39.ts: timestamp has no UTC offset" in acks[0].reason
    kept = letters(services)
    assert [(d.payload, d.category, d.gateway_id) for d in kept] == [
        (not_json, "invalid", "gw-1"),
        (poison, "invalid", "gw-1"),
    ]
    assert "JSON" in kept[0].reason
    assert count(services.sessions, Reading) == 2
    assert sample(services, "linli_ingest_acks_total", result="rejected") == 1


async def test_batches_that_break_the_protocol_are_rejected_with_the_reason(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    unknown_field = json.loads(good_batch_json(catalogue, "gw-1", 1))
    unknown_field["priority"] = "high"
    no_epoch = json.loads(good_batch_json(catalogue, "gw-1", 2))
    del no_epoch["epoch"]

    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(
            cloud_broker,
            "gw-1",
            json.dumps(unknown_field).encode(),
            good_batch_json(catalogue, "gw-9", 5),  # gateway_id does not match the topic
            json.dumps(no_epoch).encode(),  # nothing to acknowledge it by
            good_batch_json(catalogue, "gw-1", 6),
        )
        acks = await watcher.wait_for(3)
        await eventually(lambda: len(letters(services)) == 3, what="three dead letters")

    assert [(a.gateway_id, a.seq, a.result) for a in acks] == [
        ("gw-1", 1, "rejected"),
        ("gw-1", 5, "rejected"),
        ("gw-1", 6, "stored"),
    ]
    assert "priority" in acks[0].reason
    assert "Extra inputs are not permitted" in acks[0].reason
    assert "'gw-9' does not match topic" in acks[1].reason
    assert [d.category for d in letters(services)] == ["invalid", "gateway", "invalid"]
    assert "epoch" in letters(services)[2].reason


async def test_a_batch_failing_again_and_again_is_dead_lettered_after_the_last_try(
    services: Services,
    catalogue: Catalogue,
    cloud_broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = services.writer.write_group

    def broken(batches: list[Batch]) -> Any:
        if any(batch.seq == 1 for batch in batches):
            raise RuntimeError("disk on fire")
        return real_write(batches)

    monkeypatch.setattr(services.writer, "write_group", broken)
    payload = good_batch_json(catalogue, "gw-1", 1)
    async with (
        running(make_worker(services, cloud_broker, ingest_max_attempts=3)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(cloud_broker, "gw-1", payload, good_batch_json(catalogue, "gw-1", 2))
        acks = await watcher.wait_for(2)

    assert [(a.seq, a.result) for a in acks] == [(1, "rejected"), (2, "stored")]
    assert "failed 3 times, last with RuntimeError: disk on fire" in acks[0].reason
    [letter] = letters(services)
    assert (letter.payload, letter.category) == (payload, "error")
    assert sample(services, "linli_ingest_retries_total", cause="error") == 3


async def test_a_batch_that_fails_once_is_stored_on_the_next_try(
    services: Services,
    catalogue: Catalogue,
    cloud_broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = services.writer.write_group
    failures = ["connection to the rules engine reset"]

    def flaky(batches: list[Batch]) -> Any:
        if failures:
            raise ConnectionResetError(failures.pop())
        return real_write(batches)

    monkeypatch.setattr(services.writer, "write_group", flaky)
    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        await publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1))
        [ack] = await watcher.wait_for(1)

    assert ack.result == "stored"
    assert letters(services) == []
    assert count(services.sessions, Reading) == 2
    assert sample(services, "linli_ingest_retries_total", cause="error") == 1


async def test_statuses_are_recorded_and_a_bad_one_is_dead_lettered(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    async with running(make_worker(services, cloud_broker)):
        await publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1))
        found = await eventually(
            lambda: (g := gateway(services, "gw-1")) is not None and g.last_seq and g,
            what="first batch stored",
        )
        assert (found.online, found.last_seq) == (True, 1)

        status = GatewayStatus(gateway_id="gw-1", online=False, ts=at(9), counters={"outbox": 12})
        await publish(cloud_broker, status_topic("gw-1"), status.model_dump_json().encode())
        impostor = GatewayStatus(gateway_id="gw-2", online=False, ts=at(9))
        await publish(cloud_broker, status_topic("gw-1"), impostor.model_dump_json().encode())

        found = await eventually(
            lambda: (g := gateway(services, "gw-1")) is not None and not g.online and g,
            what="gateway offline",
        )
        await eventually(lambda: letters(services), what="impostor dead-lettered")

    assert (found.status_at, found.counters, found.last_seq) == (at(9), {"outbox": 12}, 1)
    [letter] = letters(services)
    assert (letter.topic, letter.category) == (status_topic("gw-1"), "gateway")
    other = gateway(services, "gw-2")
    assert other is not None and other.status_at is None, "a gateway cannot mark another offline"


async def test_a_worker_learns_statuses_retained_before_it_started(
    services: Services, cloud_broker: Mosquitto
) -> None:
    status = GatewayStatus(gateway_id="gw-7", online=False, ts=at(3))
    await publish(
        cloud_broker, status_topic("gw-7"), status.model_dump_json().encode(), retain=True
    )

    async with running(make_worker(services, cloud_broker)):
        found = await eventually(
            lambda: (g := gateway(services, "gw-7")) is not None and g.status_at and g,
            what="retained status",
        )

    assert (found.online, found.status_at) == (False, at(3))


async def test_batches_published_while_the_worker_is_away_are_stored_on_return(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    """A cloud restart loses nothing: the broker keeps the worker's session and queues."""
    async with running(make_worker(services, cloud_broker)):
        pass  # the broker now knows the session
    await publish_batch(
        cloud_broker,
        "gw-1",
        good_batch_json(catalogue, "gw-1", 1),
        good_batch_json(catalogue, "gw-1", 2),
    )
    assert count(services.sessions, Reading) == 0

    async with (
        watching_acks(cloud_broker) as watcher,
        running(make_worker(services, cloud_broker)),
    ):
        acks = await watcher.wait_for(2)

    assert [(a.seq, a.result) for a in acks] == [(1, "stored"), (2, "stored")]
    assert count(services.sessions, Reading) == 4


def test_the_worker_shares_batches_and_takes_every_status() -> None:
    endpoint = Endpoint(host="h", port=1, client_id="c", group="g1")
    assert endpoint.filters == (f"$share/g1/{batch_topic('+')}", status_topic("+"))


def test_the_app_runs_ingest_and_serves_what_it_stored(
    tmp_path: Path, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    built = build_services(
        tmp_path / "with-ingest",
        catalogue,
        ingest=True,
        mqtt_host=cloud_broker.host,
        mqtt_port=cloud_broker.port,
    )
    make_account(built, "admin", Role.OPERATOR_ADMIN)
    try:
        with TestClient(create_app(built)) as client:
            log_in(client, "admin")
            wait_until(lambda: client.get("/healthz").status_code == 200, what="ingest up")
            assert client.get("/healthz").json() == {
                "status": "ok",
                "ingest": "on",
                "ingest_connected": True,
            }

            asyncio.run(publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1)))

            devices = wait_until(lambda: client.get("/api/v1/devices").json(), what="devices")
            assert sorted(d["device_id"] for d in devices) == ["gate-01", "sos-02"]
            tickets = client.get("/api/v1/tickets").json()
            assert [t["fault"] for t in tickets] == ["help_requested"]
    finally:
        built.close()


async def test_many_single_reading_batches_queued_for_the_session_are_all_stored(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    """Three thousand batches of one reading wait at the broker for the worker's kept
    session (as after a cloud restart under load): every one is stored and acknowledged
    once, in rounds that cover many groups, however the broker hands them over."""
    async with running(make_worker(services, cloud_broker)):
        pass  # the broker now knows the session
    batches = 3000
    payloads = [
        batch("gw-1", seq, [item(catalogue, GATE, "normal", ts=at(seq / 60))])
        .model_dump_json()
        .encode()
        for seq in range(1, batches + 1)
    ]
    async with Client(cloud_broker.host, cloud_broker.port, client_id="test-gateway") as client:
        for first in range(0, batches, 100):
            topic = batch_topic("gw-1")
            await asyncio.gather(*(client.publish(topic, p) for p in payloads[first : first + 100]))

    async with (
        watching_acks(cloud_broker) as watcher,
        running(make_worker(services, cloud_broker)),
    ):
        acks = await watcher.wait_for(batches, within=120)
        await eventually(
            lambda: sample(services, "linli_ingest_acks_total", result="stored") >= batches,
            what="every acknowledgement counted",
        )

    assert sorted(a.seq for a in acks) == list(range(1, batches + 1))
    assert {a.result for a in acks} == {"stored"}
    assert count(services.sessions, Reading) == batches
    assert count(services.sessions, IngestedBatch) == batches
    with services.sessions() as session:
        gateway = session.get(Gateway, "gw-1")
        assert gateway is not None and gateway.last_seq == batches
