"""Residents' word on the facilities: a report joins the facility's repair under way (a
sensor's alarm and a resident's report are one repair) or opens one in their words; it tells
the maintainer who has it, a "me too" only the integrations; a phone number stays with the
staff."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from cloud.db.models import Facility, Ticket
from cloud.db.notices import Delivery, Notice
from cloud.notify.fanout import Fanout, Routes
from cloud.repair.residents import (
    ME_TOO_EVENT,
    REPORT_EVENT,
    link_of,
    live_ticket,
    me_too,
    report,
    report_of_token,
)
from cloud.services import Services
from tests.cloud.notify.conftest import PEOPLE, Clock
from tests.cloud.repair.community import FRIDAY_1630, community, events, fault, person, set_up

LATER = FRIDAY_1630 + timedelta(minutes=5)


def gate(services: Services) -> int:
    with services.sessions() as session:
        found = session.scalar(select(Facility.id).where(Facility.code == "gate-01"))
        assert found is not None
        return found


def test_a_report_joins_the_repair_under_way_and_tells_its_maintainer(
    services: Services,
) -> None:
    set_up(services, community(**PEOPLE))
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)  # given to Wang, who fixes gates
    with services.sessions.begin() as session:
        facility = session.get_one(Facility, gate(services))
        ticket = live_ticket(session, facility.id)
        assert ticket is not None and ticket.id == ticket_id
        made = report(
            session, services.tickets, facility, "刷卡没反应", at=LATER, phone="13800138000"
        )
        plus_one = me_too(session, facility, ticket, at=LATER)
        tokens = made.token, plus_one.token

    assert [e.kind for e in events(services, ticket_id)][-2:] == [REPORT_EVENT, ME_TOO_EVENT]
    with services.sessions() as session:
        assert session.scalar(select(Ticket.id).where(Ticket.id != ticket_id)) is None
        for token in tokens:
            found = report_of_token(session, token)
            assert found is not None and found.ticket_id == ticket_id
        assert report_of_token(session, "not-a-token") is None

    Fanout(services.sessions, Routes(email=True, mqtt=True), Clock(LATER)).run()
    with services.sessions() as session:
        by_kind = {n.kind: n for n in session.scalars(select(Notice))}
        keys = set(session.scalars(select(Delivery.key)))
    wang = f"person-{person(services, 'wang')}"
    reported, agreed = by_kind[REPORT_EVENT].event_id, by_kind[ME_TOO_EVENT].event_id
    assert {k for k in keys if k.startswith(f"{reported}:")} == {
        f"{reported}:mqtt:community",
        f"{reported}:email:{wang}",
        f"{reported}:mqtt:{wang}",
    }
    assert {k for k in keys if k.startswith(f"{agreed}:")} == {f"{agreed}:mqtt:community"}
    body = by_kind[REPORT_EVENT].body
    assert body is not None and body["note"] == "刷卡没反应"
    assert "13800138000" not in json.dumps(body), "a phone number is for the staff only"


def test_a_report_with_no_repair_under_way_opens_one_in_the_residents_words(
    services: Services,
) -> None:
    set_up(services, community(**PEOPLE))
    fault(services, FRIDAY_1630, "normal")  # the gate is heard from, and works
    facility_id = gate(services)
    with services.sessions.begin() as session:
        facility = session.get_one(Facility, facility_id)
        assert live_ticket(session, facility_id) is None
        first = report(session, services.tickets, facility, "The gate squeaks loudly", at=LATER)
        second = report(session, services.tickets, facility, "Squeaks at night", at=LATER)
        link = link_of(session, facility_id, LATER)
        assert link_of(session, facility_id, LATER) == link, "one link per facility"

    assert first.ticket_id == second.ticket_id, "the second report joins the first's repair"
    with services.sessions() as session:
        opened = session.get_one(Ticket, first.ticket_id)
        assert (opened.fault, opened.title, opened.opened_by) == (
            "reported",
            "The gate squeaks loudly",
            "resident",
        )
