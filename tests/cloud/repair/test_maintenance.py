"""Maintenance mode, driven by an injected clock: faults are recorded but open no tickets,
reopen none and leave a repair being verified alone; the window ends by itself and what is
still faulty then opens its tickets, as of its end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Facility, MaintenanceWindow, Ticket, Zone
from cloud.repair.lifecycle import Actor, Move, State
from cloud.repair.tickets import By
from cloud.services import Services
from tests.cloud.repair.community import GATE_FIXERS, community, fault, set_up, ticket

START = datetime(2025, 11, 27, 1, 0, tzinfo=UTC)


@pytest.fixture
def team(sqlite_services: Services) -> Services:
    set_up(sqlite_services, community(**GATE_FIXERS))
    fault(sqlite_services, START - timedelta(minutes=5), "normal")  # the gate and its facility
    return sqlite_services


def maintain(
    services: Services, minutes: float, *, zone: str | None = None, starts: datetime = START
) -> int:
    """A window over the gate's facility (or a zone's facilities) from ``starts``."""
    with services.sessions.begin() as session:
        facility = session.scalars(select(Facility)).one()
        zone_id = None
        if zone is not None:
            zone_id = session.scalars(select(Zone.id).where(Zone.slug == zone)).one()
        window = MaintenanceWindow(
            community_id=facility.community_id,
            facility_id=None if zone else facility.id,
            zone_id=zone_id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            reason="replacing the motor",
            created_by="chen",
            created_at=starts,
        )
        session.add(window)
        session.flush()
        window_id = window.id
    services.tickets.maintenance.forget()
    return window_id


def tickets(services: Services) -> list[Ticket]:
    with services.sessions() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def gate(services: Services) -> Device:
    with services.sessions() as session:
        return session.scalars(select(Device)).one()


@pytest.mark.parametrize("zone", [None, "north"])
def test_faults_under_maintenance_open_tickets_only_when_it_ends(
    team: Services, zone: str | None
) -> None:
    maintain(team, 60, zone=zone)

    fault(team, START + timedelta(minutes=10), seq=2)

    assert tickets(team) == [], "no ticket while people work on it"
    assert gate(team).faults == ["motor_jammed"], "the fault is recorded all the same"
    assert team.rounds.run(team.sessions, START + timedelta(minutes=59)).maintenance_ended == 0

    result = team.rounds.run(team.sessions, START + timedelta(minutes=61))

    assert result.maintenance_ended == 1
    [opened] = tickets(team)
    assert (opened.fault, opened.opened_at) == ("motor_jammed", START + timedelta(minutes=60))
    assert opened.state == State.ASSIGNED, "dispatched in the same round"
    assert team.rounds.run(team.sessions, START + timedelta(minutes=62)).maintenance_ended == 0


def test_what_recovered_during_maintenance_opens_nothing(team: Services) -> None:
    maintain(team, 60)
    fault(team, START + timedelta(minutes=10), seq=2)
    fault(team, START + timedelta(minutes=20), "normal", seq=3)

    team.rounds.run(team.sessions, START + timedelta(minutes=61))

    assert tickets(team) == []


def test_a_window_covers_only_its_own_time(team: Services) -> None:
    maintain(team, 60, starts=START + timedelta(hours=2))  # planned for later

    fault(team, START + timedelta(minutes=10), seq=2)

    [opened] = tickets(team)
    assert opened.opened_at == START + timedelta(minutes=10)


def test_a_repair_being_verified_is_left_alone_until_the_window_ends(team: Services) -> None:
    """The maintainer resolved the jam and put the gate under maintenance to test it; the
    jams of the test reopen nothing. Still jammed when the window ends: reopened then."""
    fault(team, START, seq=2)
    [jam] = tickets(team)
    with team.sessions.begin() as session:
        team.tickets.move(
            session, jam.id, Move.RESOLVE, By(Actor.SUPERVISOR, "chen", "person"), at=START
        )
    maintain(team, 30, starts=START + timedelta(minutes=1))

    fault(team, START + timedelta(minutes=5), seq=3)
    assert ticket(team, jam.id).state == State.VERIFYING

    team.rounds.run(team.sessions, START + timedelta(minutes=31))

    reopened = ticket(team, jam.id)
    assert (reopened.state, reopened.repeats) == (State.ASSIGNED, 1)
    assert reopened.last_seen_at == START + timedelta(minutes=31)
