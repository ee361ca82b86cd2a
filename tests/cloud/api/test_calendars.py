"""/api/v1/calendars: a community's calendars, read by everyone of it (a person's duty
calendar and an SLA class's business hours are named by these ids)."""

from __future__ import annotations

from cloud.access.roles import Role
from cloud.db.models import BusinessCalendar
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities

OFFICE = {"mon": "08:30-17:30", "fri": "08:30-12:00"}


def test_a_community_reads_its_own_calendars(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with services.sessions.begin() as session:
        office = BusinessCalendar(
            community_id=ids["oak"], slug="office", hours=OFFICE, holidays=["2025-10-01"]
        )
        elm = BusinessCalendar(community_id=ids["elm"], slug="shifts", hours={}, holidays=[])
        session.add_all([office, elm])
        session.flush()
        office_id, elm_id = office.id, elm.id
    with client_as(services, "li", Role.MAINTAINER, ids["oak"]) as li:
        listed = li.get("/api/v1/calendars")
        assert listed.status_code == 200, listed.text
        assert listed.json() == [
            {
                "id": office_id,
                "community_id": ids["oak"],
                "slug": "office",
                "hours": OFFICE,
                "holidays": ["2025-10-01"],
            }
        ]
        assert listed.headers["X-Total-Count"] == "1"
        assert li.get(f"/api/v1/calendars/{office_id}").json()["slug"] == "office"
        assert li.get(f"/api/v1/calendars/{elm_id}").status_code == 404
