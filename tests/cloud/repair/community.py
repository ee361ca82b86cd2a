"""A small community for the repair loop's tests: office hours in Shanghai, a standard SLA
class on them, two zones, a property manager, a supervisor and maintainers who fix gates (or
pumps), on duty or not; and short ways to make a gate fault and read what became of it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cloud.db.models import Person, Ticket, TicketEvent
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles.site import Site
from tests.cloud.conftest import TEST_GATEWAYS
from tests.cloud.helpers import GATE, batch, item

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
