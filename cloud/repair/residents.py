"""Residents' word on the facilities: the unguessable link behind each facility's QR
code, and the reports and "me too"s that come through it.

A report joins the facility's live ticket when there is one — so a sensor's alarm and a
resident's word about the same fault are one repair — or opens a ``reported`` ticket whose
title is the resident's description. Each report is an event of its ticket
(``resident_report``, ``resident_me_too``), written by :func:`cloud.repair.events.record`
with its notice. The pages that use these are ``cloud/web/resident.py``.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db.models import (
    Facility,
    FacilityLink,
    ResidentReport,
    Ticket,
    TicketEvent,
    TicketFacility,
)
from cloud.repair.desk import TicketDesk
from cloud.repair.events import record
from cloud.repair.lifecycle import Actor
from cloud.repair.tickets import LIVE, REPORTED, By, TicketConflict

RESIDENT = By(Actor.RULE, "resident", "resident")
"""How tickets and their events name a resident: no one in particular."""
REPORT_EVENT = "resident_report"
ME_TOO_EVENT = "resident_me_too"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
"""The form of a facility link's or a report's token."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def link_of(session: Session, facility_id: int, at: datetime) -> str:
    """The token of the facility's page, made the first time it is asked for."""
    found = session.get(FacilityLink, facility_id)
    if found is not None:
        return found.token
    made = FacilityLink(facility_id=facility_id, token=new_token(), created_at=at)
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:  # made meanwhile by another request
        session.expunge(made)
        again = session.get(FacilityLink, facility_id, populate_existing=True)
        assert again is not None
        return again.token
    return made.token


def rotate_link(session: Session, facility_id: int, at: datetime) -> str:
    """A new token for the facility's page: the old link (and its printed QR code) stops
    working."""
    found = session.get(FacilityLink, facility_id)
    if found is None:
        return link_of(session, facility_id, at)
    found.token = new_token()
    found.created_at = at
    return found.token


def facility_of_link(session: Session, token: str) -> Facility | None:
    """The facility in use whose page ``token`` is, if any."""
    if not TOKEN.match(token):
        return None
    facility = session.scalar(
        select(Facility)
        .join(FacilityLink, FacilityLink.facility_id == Facility.id)
        .where(FacilityLink.token == token)
    )
    if facility is None or facility.archived_at is not None or facility.community_id is None:
        return None
    return facility


def live_ticket(session: Session, facility_id: int) -> Ticket | None:
    """The facility's repair under way, if any: its oldest ticket not closed, or that of
    its zone when it failed with the others there."""
    members = select(TicketFacility.ticket_id).where(TicketFacility.facility_id == facility_id)
    return session.scalar(
        select(Ticket)
        .where(
            Ticket.state.in_(LIVE),
            or_(Ticket.facility_id == facility_id, Ticket.id.in_(members)),
        )
        .order_by(Ticket.opened_at, Ticket.id)
        .limit(1)
    )


def neighbours(session: Session, ticket_id: int) -> int:
    """How many reports and me-toos residents have added to the ticket."""
    return (
        session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(
                TicketEvent.ticket_id == ticket_id,
                TicketEvent.kind.in_((REPORT_EVENT, ME_TOO_EVENT)),
            )
        )
        or 0
    )


def report(
    session: Session,
    desk: TicketDesk,
    facility: Facility,
    description: str,
    *,
    at: datetime,
    photo_id: str | None = None,
    phone: str | None = None,
) -> ResidentReport:
    """A resident's report: an event of the facility's live ticket, or a new ``reported``
    ticket opened by a resident."""
    ticket = live_ticket(session, facility.id)
    if ticket is None:
        try:
            ticket = desk.open_by_hand(
                session,
                facility,
                REPORTED,
                RESIDENT,
                at=at,
                title=description[:200],
                note=description,
            )
        except TicketConflict as conflict:  # a report opened it meanwhile
            ticket = session.get(Ticket, conflict.ticket_id)
            assert ticket is not None
    made = ResidentReport(
        token=new_token(),
        kind="report",
        facility_id=facility.id,
        ticket_id=ticket.id,
        at=at,
        description=description,
        photo_id=photo_id,
        phone=phone,
    )
    session.add(made)
    session.flush()
    evidence = {"report_id": made.id, "photo_id": photo_id, "phone_left": phone is not None}
    record(
        session,
        ticket,
        REPORT_EVENT,
        at=at,
        note=description,
        actor=RESIDENT.name,
        actor_kind=RESIDENT.kind,
        evidence=evidence,
    )
    return made


def me_too(session: Session, facility: Facility, ticket: Ticket, at: datetime) -> ResidentReport:
    """A resident's "me too" on the facility's live ticket."""
    made = ResidentReport(
        token=new_token(), kind="me_too", facility_id=facility.id, ticket_id=ticket.id, at=at
    )
    session.add(made)
    session.flush()
    record(
        session,
        ticket,
        ME_TOO_EVENT,
        at=at,
        actor=RESIDENT.name,
        actor_kind=RESIDENT.kind,
        evidence={"report_id": made.id},
    )
    return made


def report_of_token(session: Session, token: str) -> ResidentReport | None:
    """The report (or me too) whose status link ``token`` is, if any."""
    if not TOKEN.match(token):
        return None
    return session.scalar(select(ResidentReport).where(ResidentReport.token == token))
