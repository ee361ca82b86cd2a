"""BatchWriter: idempotent storage of batches, device registration, gateway sequence."""

from __future__ import annotations

from sqlalchemy import select

from cloud.db.models import Device, Facility, Gateway, IngestedBatch, Reading, Ticket
from cloud.repair.lifecycle import Move
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import GatewayStatus, batch_topic
from tests.cloud.helpers import ADMIN, BUTTON, EPOCH, GATE, LIGHT, T0, at, batch, count, item


def sample(value: float | None) -> float:
    return value or 0.0


def test_batch_is_stored(services: Services, catalogue: Catalogue) -> None:
    items = [
        item(catalogue, GATE, "normal", ts=at(0)),
        item(catalogue, LIGHT, "normal_on", ts=at(1)),
        item(catalogue, BUTTON, "normal", ts=at(2)),
    ]

    result = services.writer.write(batch("gw-1", 1, items))

    assert (result.duplicate_batch, result.stored, result.duplicates) == (False, 3, 0)
    assert count(services.sessions, Reading) == 3
    assert count(services.sessions, IngestedBatch) == 1
    with services.sessions() as session:
        gate_reading = session.scalars(select(Reading).where(Reading.id == items[0].id)).one()
        assert gate_reading.metrics == {"door_open": False, "cycles": 48211, "motor_current": 1.25}
        assert gate_reading.faults == []
        assert gate_reading.ts == at(0)
        assert gate_reading.profile_version == catalogue[GATE].version


def test_resent_batch_is_stored_once(services: Services, catalogue: Catalogue) -> None:
    items = [item(catalogue, GATE, "normal", ts=at(0)), item(catalogue, GATE, "motor_jammed")]
    first = services.writer.write(batch("gw-1", 7, items))
    assert first.stored == 2

    again = services.writer.write(batch("gw-1", 7, items))

    assert again.duplicate_batch is True
    assert (again.stored, again.duplicates) == (0, 2)
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, IngestedBatch) == 1


def test_a_batch_identity_reused_for_other_items_still_stores_them(
    services: Services, catalogue: Catalogue
) -> None:
    """A gateway must send a batch again with the same items; if one ever does not, its
    other items are stored all the same, rather than acknowledged as stored and lost."""
    first = item(catalogue, GATE, "normal")
    services.writer.write(batch("gw-1", 3, [first]))

    other = item(catalogue, GATE, "normal", ts=at(5))
    result = services.writer.write(batch("gw-1", 3, [first, other]))

    assert (result.duplicate_batch, result.stored, result.duplicates) == (True, 1, 1)
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, IngestedBatch) == 1
    assert (
        services.metrics.registry.get_sample_value(
            "linli_ingest_batches_total", {"result": "identity_reused"}
        )
        == 1
    )
    outcome = services.intake.process(
        batch_topic("gw-1"),
        batch("gw-1", 3, [item(catalogue, GATE, "normal", ts=at(9))]).model_dump_json().encode(),
    )
    assert (outcome.result, outcome.stored) == ("stored", 1)
    assert outcome.ack is not None and outcome.ack.result == "stored"


def test_old_seq_in_a_new_epoch_is_stored(services: Services, catalogue: Catalogue) -> None:
    """A gateway that lost its data starts a new epoch: its seq 1 is not the old seq 1."""
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "normal")], epoch=EPOCH))

    result = services.writer.write(
        batch("gw-1", 1, [item(catalogue, GATE, "normal", ts=at(1))], epoch="feedface00000001")
    )

    assert (result.duplicate_batch, result.stored) == (False, 1)
    assert count(services.sessions, IngestedBatch) == 2
    assert count(services.sessions, Reading) == 2


def test_same_seq_from_another_gateway_is_not_a_duplicate(
    services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "normal")]))

    result = services.writer.write(batch("gw-2", 1, [item(catalogue, GATE, "normal")]))

    assert result.duplicate_batch is False
    assert result.stored == 1
    assert count(services.sessions, Reading) == 2


def test_items_resent_in_new_seq_are_stored_once(services: Services, catalogue: Catalogue) -> None:
    old = [item(catalogue, GATE, "normal", ts=at(0)), item(catalogue, BUTTON, "normal", ts=at(0))]
    services.writer.write(batch("gw-1", 1, old))

    resent = services.writer.write(batch("gw-1", 2, old))
    assert (resent.duplicate_batch, resent.stored, resent.duplicates) == (False, 0, 2)
    assert count(services.sessions, Reading) == 2

    new = item(catalogue, GATE, "normal", ts=at(1))
    mixed = services.writer.write(batch("gw-1", 3, [old[0], new]))
    assert (mixed.stored, mixed.duplicates) == (1, 1)
    assert count(services.sessions, Reading) == 3
    assert count(services.sessions, IngestedBatch) == 3


def test_resent_item_does_not_replay_health(services: Services, catalogue: Catalogue) -> None:
    """An item stored before is not applied again: a re-sent old fault cannot reopen state.
    Were it judged again, it would reopen its ticket (resolved meanwhile) as a repeat."""
    fault = item(catalogue, GATE, "motor_jammed", ts=at(0))
    services.writer.write(batch("gw-1", 1, [fault]))
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "normal", ts=at(1))]))
    with services.sessions.begin() as session:
        [ticket] = session.scalars(select(Ticket))
        services.tickets.move(session, ticket.id, Move.RESOLVE, ADMIN, at=at(1))

    again = services.writer.write(batch("gw-1", 3, [fault]))

    assert (again.duplicate_batch, again.stored, again.duplicates) == (False, 0, 1)
    assert count(services.sessions, Reading) == 2
    assert count(services.sessions, Ticket) == 1
    with services.sessions() as session:
        device = session.scalars(select(Device)).one()
        assert device.health == "ok"
        assert device.faults == []


def test_a_reading_is_the_same_reading_by_its_id_at_its_time(
    services: Services, catalogue: Catalogue
) -> None:
    """An item keeps its event time wherever it is sent (it is fixed where it is made), so
    a reading is stored once by its id at its time: the same id at another time is no
    reading sent again."""
    first = item(catalogue, GATE, "normal", ts=at(0))
    services.writer.write(batch("gw-1", 1, [first]))

    other = services.writer.write(batch("gw-1", 2, [first.model_copy(update={"ts": at(2)})]))

    assert (other.stored, other.duplicates) == (1, 0)
    assert count(services.sessions, Reading) == 2


def test_devices_and_facilities_are_registered_on_first_sight(
    services: Services, catalogue: Catalogue
) -> None:
    items = [
        item(catalogue, GATE, "normal"),
        item(catalogue, LIGHT, "normal_on"),
        item(catalogue, BUTTON, "normal"),
        item(catalogue, GATE, "normal", ts=at(1)),  # gate-01 again, same batch
    ]
    services.writer.write(batch("gw-1", 1, items))
    services.writer.write(batch("gw-1", 2, [item(catalogue, GATE, "normal", ts=at(2))]))

    with services.sessions() as session:
        devices = {d.device_id: d for d in session.scalars(select(Device))}
        facilities = list(session.scalars(select(Facility)))
        assert sorted(devices) == ["gate-01", "light-01", "sos-01"]
        assert len(facilities) == 3
        assert {f.id for f in facilities} == {d.facility_id for d in devices.values()}
        gate = devices["gate-01"]
        assert (gate.gateway_id, gate.device_type, gate.profile) == ("gw-1", "access_gate", GATE)
        facility = session.get(Facility, gate.facility_id)
        assert facility is not None
        assert facility.code == "gate-01"
        assert facility.gateway_id == "gw-1"
        assert facility.name == "Pedestrian access gate gate-01"
        assert facility.category == "access"
        light = session.get(Facility, devices["light-01"].facility_id)
        assert light is not None
        assert light.category == "lighting"
        assert gate.metrics == {"door_open": False, "cycles": 48211, "motor_current": 1.25}
        assert gate.last_ts == at(2)
        assert gate.last_seen_at is not None


def test_same_device_id_behind_two_gateways_is_two_devices(
    services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch("gw-1", 1, [item(catalogue, GATE, "normal")]))
    services.writer.write(batch("gw-2", 1, [item(catalogue, GATE, "normal")]))

    assert count(services.sessions, Device) == 2
    assert count(services.sessions, Facility) == 2


def test_gateway_last_seq_tracks_the_maximum(services: Services, catalogue: Catalogue) -> None:
    def last_seq() -> int | None:
        with services.sessions() as session:
            gateway = session.get(Gateway, "gw-1")
            assert gateway is not None
            return gateway.last_seq

    services.writer.write(batch("gw-1", 5, [item(catalogue, GATE, "normal", ts=at(0))]))
    assert last_seq() == 5
    services.writer.write(batch("gw-1", 3, [item(catalogue, GATE, "normal", ts=at(1))]))
    assert last_seq() == 5, "a late, lower seq must not move last_seq back"
    services.writer.write(batch("gw-1", 9, []))
    assert last_seq() == 9
    with services.sessions() as session:
        gateway = session.get(Gateway, "gw-1")
        assert gateway is not None
        assert gateway.online is True
        assert gateway.first_seen_at is not None


def test_a_new_epoch_becomes_the_gateways_current_one(
    services: Services, catalogue: Catalogue
) -> None:
    def epoch_and_seq() -> tuple[str | None, int | None]:
        with services.sessions() as session:
            gateway = session.get(Gateway, "gw-1")
            assert gateway is not None
            return gateway.epoch, gateway.last_seq

    old, new = EPOCH, "feedface00000001"
    services.writer.write(batch("gw-1", 40, [], epoch=old))
    services.writer.write(batch("gw-1", 41, [], epoch=old))
    assert epoch_and_seq() == (old, 41)

    services.writer.write(batch("gw-1", 0, [], epoch=new))  # the gateway started afresh
    assert epoch_and_seq() == (new, 0)
    services.writer.write(batch("gw-1", 42, [], epoch=old))  # late, from before
    assert epoch_and_seq() == (new, 0), "a late batch of an earlier epoch moves nothing"
    services.writer.write(batch("gw-1", 2, [], epoch=new))
    assert epoch_and_seq() == (new, 2)
    assert count(services.sessions, IngestedBatch) == 5


def test_write_counts_batches_and_items(services: Services, catalogue: Catalogue) -> None:
    def value(name: str, result: str) -> float:
        return sample(services.metrics.registry.get_sample_value(name, {"result": result}))

    items = [item(catalogue, GATE, "normal"), item(catalogue, BUTTON, "normal")]
    services.writer.write(batch("gw-1", 1, items))
    services.writer.write(batch("gw-1", 1, items))
    services.writer.write(batch("gw-1", 2, [items[0], item(catalogue, GATE, "normal", ts=at(1))]))

    assert value("linli_ingest_batches_total", "stored") == 2
    assert value("linli_ingest_batches_total", "duplicate") == 1
    assert value("linli_ingest_items_total", "stored") == 3
    assert value("linli_ingest_items_total", "duplicate") == 3


def test_record_status_updates_the_gateway(services: Services) -> None:
    services.writer.record_status(
        GatewayStatus(gateway_id="gw-9", online=True, ts=T0, counters={"outbox": 4})
    )
    services.writer.record_status(GatewayStatus(gateway_id="gw-9", online=False, ts=at(3)))

    with services.sessions() as session:
        gateway = session.get(Gateway, "gw-9")
        assert gateway is not None
        assert gateway.online is False
        assert gateway.status_at == at(3)
        assert gateway.counters == {"outbox": 4}, "a status without counters keeps the last ones"
