"""Health engine: device and facility health follow the latest reading by event time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Facility, Ticket
from cloud.health import HealthEngine
from cloud.ingest.writer import BatchWriter
from cloud.services import Services
from device_profiles import Catalogue, decode
from device_profiles.examples import payload_bytes
from device_profiles.protocol import Batch, Item
from tests.cloud.helpers import EPOCH, GATE, T0, at, batch, item


def all_examples() -> list[tuple[str, str]]:
    return [(p.id, e.name) for p in Catalogue.load() for e in p.examples]


def device(services: Services, device_id: str = "gate-01") -> Device:
    with services.sessions() as session:
        return session.scalars(select(Device).where(Device.device_id == device_id)).one()


def facility(services: Services, device_id: str = "gate-01") -> Facility:
    with services.sessions() as session:
        return session.scalars(select(Facility).where(Facility.code == device_id)).one()


@pytest.mark.parametrize(("profile_id", "example_name"), all_examples())
def test_health_follows_profile_severities(
    services: Services, catalogue: Catalogue, profile_id: str, example_name: str
) -> None:
    """Every example's expected health and faults, as the cloud records them: its history
    and payload ingested as the edge would forward them, then its silence, if any, swept."""
    profile = catalogue[profile_id]
    case = next(e for e in profile.examples if e.name == example_name)
    expect = case.expect
    readings = []
    for step in (*case.history, case):
        received = at(0) - timedelta(seconds=getattr(step, "before_s", 0))
        decoded = decode(profile, case.topic, payload_bytes(step.payload), received)
        readings.append(Item.from_decoded(decoded, received, alarm=False))

    services.writer.write(batch("gw-1", 1, readings))
    if case.silent_for_s:
        with services.sessions.begin() as session:
            heard = session.scalars(select(Device).where(Device.device_id == expect.device_id))
            heard.one().last_seen_at = at(0)
        services.health.sweep(services.sessions, at(0) + timedelta(seconds=case.silent_for_s))

    found = device(services, expect.device_id)
    assert found.health == expect.health.value
    assert found.faults == sorted(expect.faults)
    assert found.last_ts == readings[-1].ts
    assert facility(services, expect.device_id).health == expect.health.value


def test_health_values_cover_ok_degraded_faulty(services: Services, catalogue: Catalogue) -> None:
    services.writer.write(
        batch(
            "gw-1",
            1,
            [
                item(catalogue, GATE, "normal", device_id="g-ok"),
                item(catalogue, GATE, "door_forced", device_id="g-minor"),  # minor → degraded
                item(catalogue, GATE, "card_reader_fault", device_id="g-major"),  # → faulty
                item(catalogue, GATE, "motor_jammed", device_id="g-critical"),  # → faulty
            ],
        )
    )

    healths = {d: device(services, d).health for d in ("g-ok", "g-minor", "g-major", "g-critical")}
    assert healths == {
        "g-ok": "ok",
        "g-minor": "degraded",
        "g-major": "faulty",
        "g-critical": "faulty",
    }


def test_newer_fault_then_older_normal_leaves_device_faulty(
    services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "motor_jammed", ts=at(5))]))
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "normal", ts=at(1))]))

    found = device(services)
    assert found.health == "faulty"
    assert found.faults == ["motor_jammed"]
    assert found.last_ts == at(5)
    assert found.metrics["door_open"] is True, "metrics of the older reading must not win"
    assert facility(services).health == "faulty"
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.fault_cleared_at is None, "an older normal reading clears nothing"


def test_newer_normal_then_older_fault_leaves_device_ok(
    services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "normal", ts=at(5))]))
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "motor_jammed", ts=at(1))]))

    found = device(services)
    assert (found.health, found.faults, found.last_ts) == ("ok", [], at(5))
    assert facility(services).health == "ok"


def test_items_out_of_order_within_one_batch(services: Services, catalogue: Catalogue) -> None:
    items = [
        item(catalogue, GATE, "motor_jammed", ts=at(5)),
        item(catalogue, GATE, "normal", ts=at(1)),
    ]
    services.writer.write(batch("gw-1", 1, items))

    assert device(services).health == "faulty"


def test_fault_clears_with_a_newer_normal_reading(services: Services, catalogue: Catalogue) -> None:
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "motor_jammed", ts=at(1))]))
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "normal", ts=at(2))]))

    found = device(services)
    assert (found.health, found.faults, found.last_ts) == ("ok", [], at(2))
    assert facility(services).health == "ok"


def test_offset_timestamps_are_ordered_as_instants(
    services: Services, catalogue: Catalogue
) -> None:
    """08:00+08:00 is 00:00Z: a normal reading at 00:01Z is newer and must clear the fault."""
    china = timezone(timedelta(hours=8))
    fault = item(catalogue, GATE, "motor_jammed", ts=T0.astimezone(china))
    services.writer.write(batch("gw-1", 1, [fault]))
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "normal", ts=at(1))]))

    found = device(services)
    assert found.health == "ok"
    assert found.last_ts == at(1)
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.opened_at == T0
        assert ticket.fault_cleared_at == at(1)


def test_facility_health_since_changes_only_on_change(
    services: Services, catalogue: Catalogue
) -> None:
    registered_at = datetime(2030, 1, 1, tzinfo=UTC)
    writer = BatchWriter(
        services.sessions,
        catalogue,
        HealthEngine(catalogue, services.tickets),
        services.metrics,
        clock=lambda: registered_at,
    )
    steps = [
        ("normal", 0, "ok", registered_at),
        ("normal", 1, "ok", registered_at),
        ("door_forced", 2, "degraded", at(2)),
        ("door_forced", 3, "degraded", at(2)),
        ("motor_jammed", 4, "faulty", at(4)),
        ("motor_jammed", 5, "faulty", at(4)),
        ("normal", 6, "ok", at(6)),
        ("normal", 7, "ok", at(6)),
    ]
    for seq, (name, minute, health, since) in enumerate(steps, start=1):
        reading = item(catalogue, GATE, name, ts=at(minute), device_id="gate-01")
        writer.write(batch("gw-1", seq, [reading]))
        found = facility(services)
        assert (found.health, found.health_since) == (health, since), f"after {name}@{minute}"


def test_facility_is_as_healthy_as_its_worst_device(
    services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(
        batch(
            "gw-1",
            1,
            [
                item(catalogue, GATE, "normal", device_id="gate-a"),
                item(catalogue, GATE, "normal", device_id="gate-b"),
            ],
        )
    )
    with services.sessions.begin() as session:  # an operator groups both gates into one
        a, b = (
            session.scalars(select(Device).where(Device.device_id == d)).one()
            for d in ("gate-a", "gate-b")
        )
        b.facility_id = a.facility_id
        shared = a.facility_id

    def shared_health() -> str:
        with services.sessions() as session:
            found = session.get(Facility, shared)
            assert found is not None
            return found.health

    def send(seq: int, name: str, device_id: str, minute: int) -> None:
        reading = item(catalogue, GATE, name, ts=at(minute), device_id=device_id)
        services.writer.write(batch("gw-1", seq, [reading]))

    send(2, "door_forced", "gate-a", 1)
    assert shared_health() == "degraded"
    send(3, "motor_jammed", "gate-b", 2)
    assert shared_health() == "faulty"
    send(4, "normal", "gate-b", 3)
    assert shared_health() == "degraded", "gate-a still has its minor fault"
    send(5, "normal", "gate-a", 4)
    assert shared_health() == "ok"


def test_reading_of_unknown_profile_is_stored_without_judging_health(
    services: Services,
) -> None:
    stranger = Item(
        id="stranger-0001",
        device_id="pump-1",
        device_type="water_pump",
        profile="someone_pump",
        profile_version="0.1.0",
        ts=T0,
        received_at=T0,
        metrics={"pressure": 2.5},
        faults=("dry_run",),
    )

    result = services.writer.write(
        Batch.model_validate_json(
            json.dumps(
                {
                    "gateway_id": "gw-1",
                    "epoch": EPOCH,
                    "seq": 1,
                    "sent_at": T0.isoformat(),
                    "items": [stranger.model_dump(mode="json")],
                }
            )
        )
    )

    assert result.stored == 1
    found = device(services, "pump-1")
    assert found.health == "ok"
    assert facility(services, "pump-1").category == "water_pump"
