"""Ingest when things fail, with real parts: a database locked by another connection, a
worker that falls behind, ingest that breaks, a broker that goes away. Nothing is lost,
nothing acknowledged before it is stored, and ``/healthz`` says when ingest is not
consuming."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.app import create_app
from cloud.db.models import DeadLetter, IngestedBatch, Reading
from cloud.services import Services
from device_profiles import Catalogue
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from plumbing.mqtt import Client, Message
from tests.cloud.conftest import build_services
from tests.cloud.helpers import count, eventually, wait_until
from tests.cloud.ingest_support import (
    FAST,
    change_schema,
    database_file,
    exclusive_lock,
    good_batch_json,
    make_worker,
    publish_batch,
    running,
    sample,
    watching_acks,
)
from tests.conftest import require_mosquitto


@pytest.fixture
def services(tmp_path: Path, catalogue: Catalogue, migrated_db: Path) -> Iterator[Services]:
    """Services whose SQLite connections wait only briefly for a lock, so that a locked
    database shows quickly (the default wait is seconds)."""
    data_dir = tmp_path / "cloud"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / "linli.db")
    built = build_services(data_dir, catalogue, ingest=False, **FAST)
    yield built
    built.close()


def database_retries(services: Services) -> float:
    return sample(services, "linli_ingest_retries_total", cause="database")


async def test_a_locked_database_holds_the_batch_until_the_lock_goes(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    async with (
        running(make_worker(services, cloud_broker)),
        watching_acks(cloud_broker) as watcher,
    ):
        with exclusive_lock(database_file(services)) as lock:
            await publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1))
            await eventually(lambda: database_retries(services) >= 3, what="retries")

            assert watcher.acks == [], "nothing is acknowledged while nothing is stored"
            assert count(services.sessions, Reading) == 0
            lock.execute("ROLLBACK")
        [ack] = await watcher.wait_for(1)

    assert ack.result == "stored"
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, DeadLetter) == 0, "a database failure is not the batch's"
    assert sample(services, "linli_ingest_retries_total", cause="error") == 0


async def test_a_worker_stopped_while_the_database_is_locked_leaves_the_batch_at_the_broker(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    with exclusive_lock(database_file(services)):
        async with running(make_worker(services, cloud_broker)):
            await publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1))
            await eventually(lambda: database_retries(services) >= 1, what="a retry")
    assert count(services.sessions, Reading) == 0

    async with (
        watching_acks(cloud_broker) as watcher,
        running(make_worker(services, cloud_broker)),
    ):
        [ack] = await watcher.wait_for(1)

    # the first worker's last try may have been under way as the lock went: then the batch
    # was stored by it, and comes back as a duplicate; either way it was delivered again
    assert (ack.seq, ack.result in ("stored", "duplicate")) == (1, True)
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, IngestedBatch) == 1
    assert count(services.sessions, DeadLetter) == 0


async def test_the_broker_sends_no_more_than_the_receive_maximum_ahead_of_acknowledgements(
    services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    """A worker stuck on the database stops reading: the broker holds everything beyond
    the receive maximum. The broker itself says what it had sent: after a reconnect, what
    it sends again is flagged ``dup``; what it had kept back is not."""
    payloads = [good_batch_json(catalogue, "gw-1", n, minute=n) for n in range(10)]
    worker = make_worker(
        services, cloud_broker, ingest_receive_maximum=3, ingest_client_id="ingest-slow"
    )
    with exclusive_lock(database_file(services)):
        async with running(worker):
            await publish_batch(cloud_broker, "gw-1", *payloads)
            await eventually(lambda: database_retries(services) >= 1, what="worker stuck")

        async with Client(
            cloud_broker.host,
            cloud_broker.port,
            client_id="ingest-slow",
            clean_start=False,
            session_expiry_s=300,
            manual_ack=True,
        ) as session:
            assert session.session_present
            taken: list[Message] = []
            async with asyncio.timeout(15):
                async for message in session.messages():
                    taken.append(message)
                    session.ack(message)
                    if len(taken) == len(payloads):
                        break

    assert [json.loads(m.payload)["seq"] for m in taken] == list(range(10))
    assert [m.dup for m in taken] == [True] * 3 + [False] * 7
    assert count(services.sessions, Reading) == 0


@pytest.fixture
def cloud_with_ingest(
    tmp_path: Path, catalogue: Catalogue, cloud_broker: Mosquitto
) -> Iterator[tuple[TestClient, Services]]:
    built = build_services(
        tmp_path / "with-ingest",
        catalogue,
        ingest=True,
        mqtt_host=cloud_broker.host,
        mqtt_port=cloud_broker.port,
        ingest_session_expiry_s=300,
        ingest_max_attempts=2,
        **{**FAST, "reconnect_min_s": 0.5, "reconnect_max_s": 1.0},
    )
    try:
        with TestClient(create_app(built)) as client:
            yield client, built
    finally:
        built.close()


def healthz(client: TestClient) -> tuple[int, dict[str, object]]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_ingest_that_fails_is_restarted_and_healthz_says_503_meanwhile(
    cloud_with_ingest: tuple[TestClient, Services], cloud_broker: Mosquitto
) -> None:
    """A real failure: the database refuses dead letters (a trigger), so a poison batch can
    be neither stored nor kept. Ingest fails, is restarted, gets the batch again (it was
    never acknowledged) and fails again, until the trigger goes."""
    client, services = cloud_with_ingest
    assert wait_until(lambda: healthz(client)[0] == 200, what="ingest consuming")
    assert healthz(client) == (
        200,
        {"status": "ok", "ingest": "on", "ingest_connected": True},
    )
    change_schema(
        database_file(services),
        "CREATE TRIGGER refuse BEFORE INSERT ON dead_letters "
        "BEGIN SELECT RAISE(ABORT, 'dead letters refused'); END",
    )
    poison = b'{"v": 1, "epoch": "0123456789abcdef", "seq": 5, "surprise": true}'
    asyncio.run(publish_batch(cloud_broker, "gw-1", poison))

    _, body = wait_until(
        lambda: (h := healthz(client))[0] == 503 and h, what="503 while ingest restarts"
    )
    assert (body["status"], body["ingest"], body["ingest_connected"]) == (
        "unavailable",
        "on",
        False,
    )
    assert "ingest failed: IntegrityError: dead letters refused" in str(body["reason"])
    wait_until(
        lambda: sample(services, "linli_ingest_restarts_total") >= 2,
        what="restarted, and failed again on the same batch",
    )

    change_schema(database_file(services), "DROP TRIGGER refuse")

    wait_until(lambda: count(services.sessions, DeadLetter) == 1, what="dead letter kept")
    wait_until(lambda: healthz(client)[0] == 200, what="consuming again")
    with services.sessions() as session:
        assert session.scalars(select(DeadLetter.payload)).one() == poison


def test_healthz_says_503_while_the_broker_is_away(tmp_path: Path, catalogue: Catalogue) -> None:
    require_mosquitto()
    broker = Mosquitto(port=free_port(), name="cloud", log_dir=tmp_path)
    with broker:
        built = build_services(
            tmp_path / "cloud",
            catalogue,
            ingest=True,
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            **FAST,
        )
        try:
            with TestClient(create_app(built)) as client:
                wait_until(lambda: healthz(client)[0] == 200, what="ingest consuming")

                broker.stop()
                _, body = wait_until(
                    lambda: (h := healthz(client))[0] == 503 and h, what="503 without broker"
                )
                assert body["ingest_connected"] is False
                assert "cloud broker" in str(body["reason"])

                broker.start()
                wait_until(lambda: healthz(client)[0] == 200, what="consuming again")
                assert healthz(client)[1]["ingest_connected"] is True
        finally:
            built.close()
