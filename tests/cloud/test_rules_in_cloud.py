"""Rules with memory in the cloud: silence sweeps, durations across batches, maintenance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Gateway, Ticket
from cloud.repair.lifecycle import Move
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import GatewayStatus
from tests.cloud.conftest import build_services
from tests.cloud.helpers import ADMIN, T0, batch, item_from_payload
from tests.sample_profiles import pump

TOPIC = "test/pump/p1"


@pytest.fixture
def pumps(tmp_path: Path) -> Iterator[Services]:
    built = build_services(tmp_path, Catalogue([pump()]), ingest=False)
    yield built
    built.close()


def send(services: Services, seq: int, minutes: float, **payload: Any) -> None:
    values = {"p": 3.0, "run": True, "h": 10, "dry": False, **payload}
    ts = T0 + timedelta(minutes=minutes)
    reading = item_from_payload(services.catalogue, "test_pump", TOPIC, values, ts=ts)
    services.writer.write(batch("gw-1", seq, [reading]))


def device(services: Services) -> Device:
    with services.sessions() as session:
        found = session.scalar(select(Device).where(Device.device_id == "p1"))
        assert found is not None
        return found


def tickets(services: Services) -> list[tuple[str, str]]:
    with services.sessions() as session:
        return [(t.fault, t.state) for t in session.scalars(select(Ticket).order_by(Ticket.id))]


def sweep(services: Services, minutes_after_t0: float) -> int:
    return services.health.sweep(services.sessions, T0 + timedelta(minutes=minutes_after_t0))


def last_seen(services: Services, minutes: float) -> None:
    """Pretend the device was last heard at T0 + minutes (receipt time is wall-clock)."""
    with services.sessions.begin() as session:
        found = session.scalar(select(Device).where(Device.device_id == "p1"))
        assert found is not None
        found.last_seen_at = T0 + timedelta(minutes=minutes)


def test_a_silent_device_goes_offline_and_opens_one_ticket(pumps: Services) -> None:
    send(pumps, 1, 0)
    last_seen(pumps, 0)
    assert sweep(pumps, 2.9) == 0  # 3 heartbeats of 60 s not yet over
    assert sweep(pumps, 3.0) == 1
    assert device(pumps).faults == ["offline"]
    assert device(pumps).health == "faulty"
    assert sweep(pumps, 10) == 0  # still offline: nothing new, no second ticket
    assert tickets(pumps) == [("offline", "open")]


def test_a_reading_ends_the_silence(pumps: Services) -> None:
    send(pumps, 1, 0)
    last_seen(pumps, 0)
    sweep(pumps, 5)
    send(pumps, 2, 6)
    assert device(pumps).faults == []
    assert device(pumps).health == "ok"
    with pumps.sessions() as session:
        ticket = session.scalar(select(Ticket))
        assert ticket is not None and ticket.fault_cleared_at is not None


def test_no_silence_tickets_while_the_gateway_itself_is_offline(pumps: Services) -> None:
    send(pumps, 1, 0)
    last_seen(pumps, 0)
    pumps.writer.record_status(GatewayStatus(gateway_id="gw-1", online=False))
    assert sweep(pumps, 30) == 0
    assert tickets(pumps) == []
    with pumps.sessions() as session:
        gateway = session.get(Gateway, "gw-1")
        assert gateway is not None and not gateway.online


def test_silence_counts_from_when_the_gateway_came_back(pumps: Services) -> None:
    # a gateway that was down for 20 minutes comes back: its devices get their heartbeats'
    # time to rejoin (and the gateway to send its backlog) before they are judged silent
    send(pumps, 1, 0)
    last_seen(pumps, 0)
    pumps.writer.record_status(GatewayStatus(gateway_id="gw-1", online=False))
    pumps.writer.record_status(GatewayStatus(gateway_id="gw-1", online=True))
    with pumps.sessions.begin() as session:
        gateway = session.get(Gateway, "gw-1")
        assert gateway is not None and gateway.online_since is not None
        gateway.online_since = T0 + timedelta(minutes=20)
    assert sweep(pumps, 22.9) == 0
    assert sweep(pumps, 23.0) == 1
    assert tickets(pumps) == [("offline", "open")]


def test_a_duration_rule_spans_batches(pumps: Services) -> None:
    send(pumps, 1, 0, p=1.0)
    send(pumps, 2, 1, p=1.1)
    assert tickets(pumps) == []
    send(pumps, 3, 2, p=1.0)  # held for 120 s
    assert tickets(pumps) == [("low_pressure", "open")]


def test_resolving_a_maintenance_ticket_restarts_the_usage_count(pumps: Services) -> None:
    send(pumps, 1, 0, h=2001)
    assert tickets(pumps) == [("service_due", "open")]
    with pumps.sessions.begin() as session:
        ticket = session.scalar(select(Ticket))
        assert ticket is not None
        pumps.tickets.move(session, ticket.id, Move.RESOLVE, ADMIN, note="serviced", at=T0)
    assert device(pumps).faults == []
    assert device(pumps).rule_state["counter_base"] == {"service_due": 2001.0}
    send(pumps, 2, 60, h=2050)
    assert tickets(pumps) == [("service_due", "verifying")]
    pumps.rounds.run(pumps.sessions, T0 + timedelta(days=1))  # the data verifies the service
    assert tickets(pumps) == [("service_due", "closed")]
    send(pumps, 3, 120, h=4001)
    # the next service falling due is no repair that failed: a new ticket, not a reopened one
    assert tickets(pumps) == [("service_due", "closed"), ("service_due", "open")]
