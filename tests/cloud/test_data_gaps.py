"""Data-gap records: readings a gateway had to drop, stored once with the batch that brings
them and visible through the API per device and per gateway."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import DataGap as GapRow
from cloud.db.models import Device, IngestedBatch, Reading
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import Batch, DataGap, GapReason, Item, batch_topic
from linli.postgres import PostgresCluster
from tests.cloud.conftest import build_services, log_in, make_account
from tests.cloud.helpers import EPOCH, GATE, LIGHT, T0, at, count, item


def gap(
    device_id: str, first: float, last: float, items: int, reason: GapReason = "disk_budget"
) -> DataGap:
    return DataGap(
        id=uuid.uuid4().hex,
        device_id=device_id,
        first_ts=at(first),
        last_ts=at(last),
        items=items,
        reason=reason,
    )


def batch(seq: int, items: list[Item], gaps: list[DataGap], gateway_id: str = "gw-1") -> Batch:
    return Batch(gateway_id=gateway_id, epoch=EPOCH, seq=seq, sent_at=T0, items=items, gaps=gaps)


def dropped(services: Services, reason: str = "disk_budget") -> float:
    value = services.metrics.registry.get_sample_value(
        "linli_ingest_readings_dropped_at_edge_total", {"reason": reason}
    )
    return value or 0.0


def device_pk(services: Services, device_id: str) -> int:
    with services.sessions() as session:
        pk = session.scalar(select(Device.id).where(Device.device_id == device_id))
    assert pk is not None
    return pk


def test_gaps_are_listed_per_device_and_per_gateway_newest_first(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    older = gap("gate-01", 0, 10, 40)
    newer = gap("gate-01", 20, 30, 25, "disk_full")
    never_seen = gap("gate-77", 5, 15, 12)  # every reading of it dropped: no device row
    readings = [item(catalogue, GATE, "normal", ts=at(31), device_id="gate-01")]
    services.writer.write(batch(1, readings, [older, never_seen, newer]))
    services.writer.write(
        batch(1, [item(catalogue, GATE, "normal")], [gap("x-1", 0, 1, 3)], "gw-2")
    )

    response = client.get(f"/api/v1/devices/{device_pk(services, 'gate-01')}/gaps")

    assert response.status_code == 200
    listed = response.json()
    assert [g["id"] for g in listed] == [newer.id, older.id]
    assert listed[0] == {
        "id": newer.id,
        "gateway_id": "gw-1",
        "device_id": "gate-01",
        "first_ts": "2025-11-27T00:20:00Z",
        "last_ts": "2025-11-27T00:30:00Z",
        "items": 25,
        "reason": "disk_full",
        "epoch": EPOCH,
        "seq": 1,
        "received_at": listed[0]["received_at"],
    }
    assert response.headers["X-Total-Count"] == "2"
    assert response.headers["X-Readings-Dropped"] == "65"

    of_gateway = client.get("/api/v1/gateways/gw-1/gaps")
    assert of_gateway.status_code == 200
    assert [g["id"] for g in of_gateway.json()] == [newer.id, never_seen.id, older.id]
    assert of_gateway.headers["X-Total-Count"] == "3"
    assert of_gateway.headers["X-Readings-Dropped"] == "77"

    page = client.get("/api/v1/gateways/gw-1/gaps", params={"limit": 1, "offset": 1})
    assert [g["id"] for g in page.json()] == [never_seen.id]
    assert page.headers["X-Total-Count"] == "3"

    assert dropped(services) == 40 + 12 + 3
    assert dropped(services, "disk_full") == 25


def test_gaps_of_unknown_gateways_and_devices_are_404(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch(1, [item(catalogue, GATE, "normal")], []))

    assert client.get("/api/v1/gateways/gw-nowhere/gaps").status_code == 404
    assert client.get("/api/v1/devices/9999/gaps").status_code == 404
    quiet = client.get("/api/v1/gateways/gw-1/gaps")
    assert quiet.json() == []
    assert quiet.headers["X-Readings-Dropped"] == "0"


def test_a_batch_sent_again_stores_its_gaps_once(services: Services, catalogue: Catalogue) -> None:
    sent = batch(4, [item(catalogue, LIGHT, "normal_on")], [gap("light-01", 0, 9, 100)])
    payload = sent.model_dump_json().encode()

    first = services.intake.process(batch_topic("gw-1"), payload)
    again = services.intake.process(batch_topic("gw-1"), payload)

    assert (first.result, again.result) == ("stored", "duplicate")
    assert again.ack is not None and again.ack.result == "duplicate"
    assert count(services.sessions, GapRow) == 1
    assert count(services.sessions, Reading) == 1
    assert dropped(services) == 100


def test_a_batch_of_gaps_alone_is_stored_and_acknowledged(services: Services) -> None:
    sent = batch(2, [], [gap("gate-01", 0, 1, 7), gap("gate-02", 0, 2, 8)])

    outcome = services.intake.process(batch_topic("gw-1"), sent.model_dump_json().encode())

    assert (outcome.result, outcome.stored) == ("stored", 0)
    assert outcome.ack is not None and outcome.ack.result == "stored"
    assert count(services.sessions, GapRow) == 2
    assert count(services.sessions, IngestedBatch) == 1
    assert dropped(services) == 15


def test_a_gap_brought_again_by_another_batch_is_stored_once(
    services: Services, catalogue: Catalogue
) -> None:
    """A gateway says a gap once, but should it send the record again in a later batch (or
    twice in one group), the cloud still counts it once and stores the rest."""
    said = gap("gate-01", 0, 5, 30)
    services.writer.write(batch(1, [], [said]))

    results = services.writer.write_group(
        [
            batch(2, [item(catalogue, GATE, "normal", ts=at(6))], [said]),
            batch(3, [item(catalogue, GATE, "normal", ts=at(7))], [said, gap("gate-01", 6, 7, 2)]),
        ]
    )

    assert [r.stored for r in results] == [1, 1]
    assert count(services.sessions, GapRow) == 2
    assert count(services.sessions, Reading) == 2
    assert dropped(services) == 32


@pytest.fixture
def pg_services(
    tmp_path: Path, catalogue: Catalogue, postgres_cluster: PostgresCluster
) -> Iterator[Services]:
    url = postgres_cluster.create_database(f"gaps_{uuid.uuid4().hex[:12]}")
    built = build_services(tmp_path, catalogue, database_url=url, ingest=False)
    yield built
    built.close()


def test_gaps_are_stored_once_on_postgresql(pg_services: Services, catalogue: Catalogue) -> None:
    services = pg_services
    said = gap("gate-01", 0, 5, 30)
    sent = batch(1, [item(catalogue, GATE, "normal")], [said])
    services.writer.write(sent)
    services.writer.write(sent)
    services.writer.write_group([batch(2, [], [said, gap("gate-01", 6, 7, 2)])])

    assert count(services.sessions, GapRow) == 2
    assert dropped(services) == 32
    make_account(services, "admin", Role.OPERATOR_ADMIN)
    with TestClient(create_app(services)) as client:
        log_in(client, "admin")
        pk = device_pk(services, "gate-01")
        listed = client.get(f"/api/v1/devices/{pk}/gaps")
        assert [g["items"] for g in listed.json()] == [2, 30]
        assert listed.headers["X-Readings-Dropped"] == "32"
