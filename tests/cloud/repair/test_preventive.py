"""Preventive maintenance by the calendar, driven by an injected clock: a plan of the site
file services every facility of its category when it falls due, through the repair loop,
and the next service falls due a period after the last was done (or skipped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import PreventivePlan, Ticket
from cloud.register.site_export import export_site
from cloud.repair.lifecycle import Actor, Move, State
from cloud.repair.tickets import By
from cloud.services import Services
from device_profiles.site import Site
from tests.cloud.repair.community import GATE_FIXERS, community, fault, set_up

MONTH = timedelta(days=30)
PLAN = {
    "title": "Monthly gate service",
    "category": "access",
    "every": "30d",
    "skill": "access-control",
}


def with_plan() -> Site:
    plain = community(**GATE_FIXERS).model_dump(by_alias=True)
    return Site.model_validate({**plain, "preventive": {"gate-service": PLAN}})


@pytest.fixture
def team(sqlite_services: Services) -> Services:
    fault(sqlite_services, datetime(2025, 11, 27, tzinfo=UTC), "normal")  # a gate facility
    set_up(sqlite_services, with_plan())
    return sqlite_services


def since(services: Services) -> datetime:
    with services.sessions() as session:
        found = session.scalars(select(PreventivePlan.since)).one()
        return found if found.tzinfo else found.replace(tzinfo=UTC)


def services_opened(services: Services) -> list[Ticket]:
    with services.sessions() as session:
        query = select(Ticket).where(Ticket.fault == "preventive:gate-service")
        return list(session.scalars(query.order_by(Ticket.id)))


def confirm(services: Services, ticket_id: int, at: datetime) -> None:
    supervisor = By(Actor.SUPERVISOR, "chen", "person")
    with services.sessions.begin() as session:
        services.tickets.move(session, ticket_id, Move.RESOLVE, supervisor, at=at)
        services.tickets.move(session, ticket_id, Move.CONFIRM, supervisor, at=at)


def test_a_service_falls_due_a_period_after_the_last(team: Services) -> None:
    start = since(team)
    assert team.rounds.run(team.sessions, start + MONTH - timedelta(hours=1)).services_due == 0

    assert team.rounds.run(team.sessions, start + MONTH + timedelta(hours=1)).services_due == 1

    [first] = services_opened(team)
    assert (first.title, first.skill, first.sla) == (
        "Monthly gate service",
        "access-control",
        "standard",
    )
    assert first.opened_at == start + MONTH, "dated when it fell due"
    assert (first.observable, first.device_pk) == (False, None), "a supervisor confirms it done"
    assert first.state == State.ASSIGNED, "dispatched like any repair"
    later = start + MONTH + timedelta(days=1)
    assert team.rounds.run(team.sessions, later).services_due == 0, "one at a time"

    done = start + MONTH + timedelta(days=2)
    confirm(team, first.id, done)
    assert team.rounds.run(team.sessions, done + MONTH - timedelta(hours=1)).services_due == 0
    assert team.rounds.run(team.sessions, done + MONTH + timedelta(hours=1)).services_due == 1
    assert [t.opened_at for t in services_opened(team)] == [start + MONTH, done + MONTH]


def test_a_skipped_service_counts_from_when_it_was_skipped(team: Services) -> None:
    start = since(team)
    team.rounds.run(team.sessions, start + MONTH)
    [first] = services_opened(team)
    skipped = start + MONTH + timedelta(days=3)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            first.id,
            Move.CANCEL,
            By(Actor.SUPERVISOR, "chen", "person"),
            at=skipped,
            note="the gate is being replaced",
        )

    team.rounds.run(team.sessions, skipped + MONTH)

    assert [t.opened_at for t in services_opened(team)][-1] == skipped + MONTH


def test_the_site_file_keeps_its_plans(team: Services) -> None:
    start = since(team)
    set_up(team, with_plan())  # applied again: the plan is not made anew
    assert since(team) == start
    with team.sessions() as session:
        exported = export_site(session, "tests")
    assert exported.preventive["gate-service"].every == MONTH.total_seconds()


def test_a_plan_more_often_than_daily_is_refused() -> None:
    plain = community().model_dump(by_alias=True)
    with pytest.raises(ValueError, match="every day at the most"):
        Site.model_validate({**plain, "preventive": {"x": {**PLAN, "every": "1h"}}})
