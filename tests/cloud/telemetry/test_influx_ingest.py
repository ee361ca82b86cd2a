"""Ingest with InfluxDB as the telemetry store: raw readings go there, device state and
tickets stay in SQL, a batch is acknowledged only once both hold it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cloud.db.models import Device, IngestedBatch, Reading, Ticket
from cloud.ingest.failures import is_temporary
from cloud.ingest.writer import BatchWriter
from cloud.services import Services
from cloud.telemetry.influx import InfluxTelemetry
from cloud.telemetry.store import TelemetryUnavailable
from device_profiles import Catalogue
from linli.ports import free_port
from tests.cloud.helpers import GATE, LIGHT, T0, at, batch, count, item

FAR = timedelta(days=3650)


def everything(services: Services) -> list[tuple[str, datetime]]:
    return [(p.profile_id, p.ts) for p in services.telemetry.readings_between(T0 - FAR, T0 + FAR)]


def test_readings_go_to_influxdb_while_state_and_tickets_stay_in_sql(
    influx_services: Services, catalogue: Catalogue
) -> None:
    services = influx_services
    items = [
        item(catalogue, GATE, "motor_jammed", ts=at(0), device_id="gate-01"),
        item(catalogue, LIGHT, "normal_on", ts=at(1), device_id="light-01"),
    ]
    result = services.writer.write(batch("gw-1", 1, items))
    assert result.stored == 2
    assert count(services.sessions, Reading) == 0
    assert everything(services) == [(GATE, at(0)), (LIGHT, at(1))]
    assert count(services.sessions, Ticket) == 1
    with services.sessions() as session:
        gate = session.query(Device).filter_by(device_id="gate-01").one()
        assert (gate.health, gate.faults) == ("faulty", ["motor_jammed"])


def test_a_batch_sent_again_is_stored_and_judged_once(
    influx_services: Services, catalogue: Catalogue
) -> None:
    services = influx_services
    items = [item(catalogue, GATE, "motor_jammed", ts=at(m), device_id="gate-01") for m in (0, 1)]
    services.writer.write(batch("gw-1", 1, items))
    again = services.writer.write(batch("gw-1", 1, items))
    assert (again.duplicate_batch, again.stored, again.duplicates) == (True, 0, 2)
    assert len(everything(services)) == 2
    with services.sessions() as session:
        [ticket] = session.query(Ticket).all()
        assert ticket.occurrences == 1


def test_while_influxdb_is_unreachable_nothing_is_stored_so_nothing_is_acknowledged(
    influx_services: Services, catalogue: Catalogue
) -> None:
    services = influx_services
    down = BatchWriter(
        services.sessions,
        catalogue,
        services.health,
        services.metrics,
        telemetry=InfluxTelemetry(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=2),
    )
    sent = batch("gw-1", 1, [item(catalogue, GATE, "motor_jammed", ts=at(0), device_id="g-1")])
    with pytest.raises(TelemetryUnavailable) as failure:
        down.write(sent)
    assert is_temporary(failure.value)  # ingest holds the batch and tries again
    assert count(services.sessions, IngestedBatch) == 0
    assert count(services.sessions, Ticket) == 0
    # InfluxDB back: the same batch is stored whole
    assert services.writer.write(sent).stored == 1
    assert count(services.sessions, Ticket) == 1
