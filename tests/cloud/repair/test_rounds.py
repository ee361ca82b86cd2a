"""The repair rounds on a small community, driven by an injected clock: dispatch by skill,
zone, duty and load; escalation along the chain in business hours; reminders; verification
by the facility's own data; a reported ticket and the sensor ticket of the same repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Person, Ticket, TicketEvent
from cloud.register.sites import apply_site
from cloud.repair.desk import REPORTED, By
from cloud.repair.lifecycle import Actor, Move, State
from cloud.services import Services
from device_profiles.site import Site
from tests.cloud.conftest import TEST_GATEWAYS
from tests.cloud.helpers import GATE, batch, item, move

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_1630 = datetime(2025, 11, 28, 16, 30, tzinfo=SHANGHAI).astimezone(UTC)
"""A ticket opened half an hour before the office closes for the weekend."""
OFFICE = {day: "08:30-17:30" for day in ("mon", "tue", "wed", "thu", "fri")}


def community(**people: dict[str, object]) -> Site:
    return Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": "tests", "name": "Tests", "time_zone": "Asia/Shanghai"},
            "calendars": {"office": {"hours": OFFICE}},
            "sla": {
                "standard": {
                    "acknowledge_within": "4h",
                    "resolve_within": "72h",
                    "calendar": "office",
                    "reopen_within": "7d",
                }
            },
            "zones": {"north": {"name": "North"}, "south": {"name": "South"}},
            "gateways": {
                g: {"new_devices": "own-facility", "zone": "north"} for g in TEST_GATEWAYS
            },
            "people": {
                "zhang": {"name": "Zhang", "role": "property_manager"},
                "chen": {"name": "Chen", "role": "supervisor"},
                **people,
            },
        }
    )


GATE_FIXERS = {
    "wang": {"name": "Wang", "role": "maintainer", "skills": ["access-control"]},
    "li": {
        "name": "Li",
        "role": "maintainer",
        "skills": ["access-control"],
        "zones": ["north"],
        "duty": "office",
    },
    "zhao": {"name": "Zhao", "role": "maintainer", "skills": ["plumbing"]},
    "sun": {
        "name": "Sun",
        "role": "maintainer",
        "skills": ["access-control"],
        "zones": ["south"],
    },
}


def set_up(services: Services, site: Site) -> None:
    with services.sessions.begin() as session:
        apply_site(session, site, datetime.now(UTC), services.tickets)


def fault(services: Services, when: datetime, example: str = "motor_jammed", seq: int = 1) -> int:
    """A gate of gw-1 reports ``example`` at ``when``; its ticket's id."""
    reading = item(services.catalogue, GATE, example, ts=when)
    services.writer.write(batch("gw-1", seq, [reading]))
    with services.sessions() as session:
        return session.scalars(select(Ticket.id).order_by(Ticket.id.desc())).first() or 0


def ticket(services: Services, ticket_id: int) -> Ticket:
    with services.sessions() as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def events(services: Services, ticket_id: int) -> list[TicketEvent]:
    with services.sessions() as session:
        query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
        return list(session.scalars(query.order_by(TicketEvent.id)))


def person(services: Services, slug: str) -> int:
    with services.sessions() as session:
        return session.scalars(select(Person.id).where(Person.slug == slug)).one()


def assignee(services: Services, ticket_id: int) -> str | None:
    found = ticket(services, ticket_id).assignee_id
    if found is None:
        return None
    with services.sessions() as session:
        return session.get(Person, found).slug  # type: ignore[union-attr]


@pytest.fixture
def team(sqlite_services: Services) -> Services:
    set_up(sqlite_services, community(**GATE_FIXERS))
    return sqlite_services


def test_dispatch_picks_the_qualified_maintainer_on_duty_with_least_work(team: Services) -> None:
    """Wang and Li both fix gates in the north, Sun only in the south, Zhao fixes pumps.
    Li's duty is office hours: on a Thursday morning both are on duty; the first ticket goes
    to the one listed first, the next to the other (least open work)."""
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    first = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    second = fault(team, thursday_9, "door_forced", seq=2)
    result = team.rounds.run(team.sessions, thursday_9 + timedelta(seconds=5))

    assert result.assigned == 1
    assert {assignee(team, first), assignee(team, second)} == {"wang", "li"}
    assigned = [e for e in events(team, first) if e.kind == "assigned"]
    assert assigned[0].actor_kind == "rule" and "access-control" in assigned[0].note
    assert ticket(team, first).state == State.ASSIGNED


def test_nobody_on_duty_leaves_the_ticket_open_until_someone_is(sqlite_services: Services) -> None:
    set_up(sqlite_services, community(li=GATE_FIXERS["li"]))
    saturday = datetime(2025, 11, 29, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(sqlite_services, saturday)

    sqlite_services.rounds.run(sqlite_services.sessions, saturday)
    assert ticket(sqlite_services, ticket_id).state == State.OPEN

    monday = datetime(2025, 12, 1, 8, 45, tzinfo=SHANGHAI).astimezone(UTC)
    sqlite_services.rounds.run(sqlite_services.sessions, monday)
    assert assignee(sqlite_services, ticket_id) == "li"


def test_a_missed_response_escalates_up_the_chain_in_business_hours(team: Services) -> None:
    """Opened Friday 16:30 with 4 business hours to respond: due Monday 11:30. Warned at
    three quarters (Monday 10:30), supervisors told when missed, property managers when it is
    missed by its length again (Monday 16:30 + …), reminded in between; acknowledging stops
    the response's escalation and starts the resolution's."""
    ticket_id = fault(team, FRIDAY_1630)
    team.rounds.run(team.sessions, FRIDAY_1630)
    opened = ticket(team, ticket_id)
    monday = datetime(2025, 12, 1, tzinfo=SHANGHAI)

    def local(hour: int, minute: int = 0) -> datetime:
        return (monday + timedelta(hours=hour, minutes=minute)).astimezone(UTC)

    assert opened.respond_by == local(11, 30)
    assert opened.resolve_by is not None and opened.resolve_by > local(11, 30)
    assert opened.wake_at == local(10, 30), "next look: the warning at three quarters"

    saturday = FRIDAY_1630 + timedelta(days=1)
    assert team.rounds.run(team.sessions, saturday).escalations == 0, "weekends do not count"
    assert team.rounds.run(team.sessions, local(10, 30)).escalations == 1
    assert team.rounds.run(team.sessions, local(11, 30)).escalations == 1
    after_breach = ticket(team, ticket_id)
    assert after_breach.respond_breached_at == local(11, 30)
    assert after_breach.escalation == 1
    # reminded every quarter of the target (an hour of business time) until acted on
    assert team.rounds.run(team.sessions, local(12, 30)).reminders == 1
    assert team.rounds.run(team.sessions, local(12, 45)).reminders == 0
    # missed by 4 more business hours: Monday 15:30
    assert team.rounds.run(team.sessions, local(15, 30)).escalations == 1
    assert ticket(team, ticket_id).escalation == 2

    told = {e.kind: e for e in events(team, ticket_id) if e.evidence and "to" in e.evidence}
    roles = {kind: {p["role"] for p in e.evidence["to"]} for kind, e in told.items()}  # type: ignore[index]
    assert roles["sla_warning"] == {"maintainer"}
    assert roles["sla_breached"] == {"maintainer", "supervisor"}
    assert roles["escalated"] == {"maintainer", "supervisor", "property_manager"}
    assert roles["reminded"] == {"maintainer", "supervisor"}

    maintainer = By(Actor.MAINTAINER, "them", "person", ticket(team, ticket_id).assignee_id)
    move(team, ticket_id, "acknowledge", 0, by=maintainer)  # (its time is a test's minute)
    team.rounds.run(team.sessions, local(16, 0))
    acknowledged = ticket(team, ticket_id)
    assert (acknowledged.state, acknowledged.sla_step) == (State.ACKNOWLEDGED, 0)
    assert acknowledged.wake_at is not None and acknowledged.wake_at > local(17, 30)


def test_verification_closes_only_on_data_since_the_repair(team: Services) -> None:
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    resolved_at = datetime.now(UTC)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            ticket_id,
            Move.RESOLVE,
            By(Actor.SUPERVISOR, "chen", "person"),
            at=resolved_at,
        )
        session.get(Ticket, ticket_id).verify_s = 0  # type: ignore[union-attr]
    verifying = ticket(team, ticket_id)
    assert verifying.state == State.VERIFYING
    end = verifying.verify_until
    assert end is not None

    team.rounds.run(team.sessions, end)
    assert ticket(team, ticket_id).state == State.VERIFYING, "no data since the repair yet"

    fault(team, resolved_at + timedelta(seconds=1), "normal", seq=2)
    result = team.rounds.run(team.sessions, end + timedelta(minutes=2))
    assert result.verified == 1
    closed = ticket(team, ticket_id)
    assert closed.state == State.CLOSED
    assert closed.reopen_until is not None


def test_a_fault_the_data_still_shows_after_the_repair_goes_back_to_its_maintainer(
    team: Services,
) -> None:
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    first = assignee(team, ticket_id)
    assert first is not None
    repaired = datetime.now(UTC)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            ticket_id,
            Move.RESOLVE,
            By(Actor.MAINTAINER, first, "person", person(team, first)),
            at=repaired,
        )

    fault(team, repaired + timedelta(seconds=30), seq=2)  # the gate's next reading

    reopened = ticket(team, ticket_id)
    assert (reopened.state, reopened.repeats, assignee(team, ticket_id)) == (
        State.ASSIGNED,
        1,
        first,
    )
    [event] = [e for e in events(team, ticket_id) if e.kind == "reopened"]
    assert event.evidence is not None and event.evidence["metrics"]["motor_current"] == 0.0
    assert event.actor_kind == "rule"


def test_a_sensor_alarm_joins_the_repair_of_what_was_reported(team: Services) -> None:
    """A supervisor opens a `reported` ticket for the gate and gives it to Sun; the gate's
    own alarm then opens its own ticket, linked to it and dispatched to Sun too."""
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    fault(team, thursday_9, "normal")  # the gate and its facility exist
    supervisor = By(Actor.SUPERVISOR, "chen", "person", person(team, "chen"))
    with team.sessions.begin() as session:
        device = session.scalars(select(Device)).one()
        reported = team.tickets.open_by_hand(
            session,
            device.facility,  # type: ignore[arg-type]
            REPORTED,
            supervisor,
            at=thursday_9,
            title="The gate squeaks and stops half way",
        )
        reported_id = reported.id
    assert (ticket(team, reported_id).observable, ticket(team, reported_id).device_pk) == (
        False,
        None,
    )
    move(team, reported_id, "assign", 0, by=supervisor, assignee_id=person(team, "sun"))

    alarm = fault(team, thursday_9 + timedelta(minutes=1), seq=2)
    team.rounds.run(team.sessions, thursday_9 + timedelta(minutes=1))

    assert alarm != reported_id
    assert ticket(team, alarm).linked_id == reported_id
    assert assignee(team, alarm) == "sun"
