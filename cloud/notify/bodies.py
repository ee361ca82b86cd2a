"""What a notice says, as every channel sends it (JSON): the event — its kind, time, note,
actor and evidence — and the ticket it happened to, as the ticket was just after it.

A notice's body is fixed when it is fanned out (:mod:`cloud.notify.fanout`), so every
attempt of every delivery sends the same; the live stream describes notices not fanned out
yet the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import Community, Facility, Person, Ticket, TicketEvent, Zone
from cloud.db.notices import Notice

T = TypeVar("T")

TITLES = {
    "opened": "New ticket",
    "assigned": "Assigned",
    "acknowledged": "Acknowledged",
    "started": "Repair started",
    "held": "On hold",
    "resolved": "Resolved",
    "verified": "Repair verified",
    "confirmed": "Repair confirmed",
    "reopened": "Reopened: the repair did not hold",
    "cancelled": "Cancelled",
    "sla_warning": "Target nearly missed",
    "sla_breached": "Target missed",
    "escalated": "Escalated",
    "reminded": "Reminder",
}
"""A notice's kind as people read it (an e-mail's subject)."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _by_id(session: Session, model: type[T], column: Any, ids: Iterable[Any]) -> dict[Any, T]:
    wanted = sorted({i for i in ids if i is not None})
    found: dict[Any, T] = {}
    for start in range(0, len(wanted), 500):
        for row in session.scalars(select(model).where(column.in_(wanted[start : start + 500]))):
            found[getattr(row, column.key)] = row
    return found


def describe(session: Session, notices: Sequence[Notice]) -> dict[int, dict[str, Any]]:
    """The body of each of ``notices``, by notice id: its own once fixed, else made now."""
    bodies = {n.id: n.body for n in notices if n.body is not None}
    todo = [n for n in notices if n.body is None]
    if not todo:
        return bodies
    events = _by_id(session, TicketEvent, TicketEvent.id, (n.event_id for n in todo))
    tickets = _by_id(session, Ticket, Ticket.id, (n.ticket_id for n in todo))
    facilities = _by_id(session, Facility, Facility.id, (t.facility_id for t in tickets.values()))
    zones = _by_id(session, Zone, Zone.id, (t.zone_id for t in tickets.values()))
    communities = _by_id(session, Community, Community.id, (n.community_id for n in todo))
    people = _by_id(session, Person, Person.id, (n.assignee_id for n in todo))
    for notice in todo:
        event = events[notice.event_id]
        ticket = tickets[notice.ticket_id]
        facility = facilities.get(ticket.facility_id)
        zone = zones.get(ticket.zone_id)
        community = communities.get(notice.community_id)
        assignee = people.get(notice.assignee_id)
        if facility is not None:
            name = facility.name
        elif zone is not None:
            name = zone.name
        else:
            name = f"gateway {ticket.gateway_id}"
        bodies[notice.id] = {
            "id": notice.id,
            "event_id": notice.event_id,
            "kind": notice.kind,
            "title": TITLES.get(notice.kind, notice.kind),
            "at": _iso(notice.at),
            "note": event.note,
            "actor": event.actor,
            "actor_kind": event.actor_kind,
            "evidence": event.evidence,
            "community": (
                {"id": community.id, "slug": community.slug, "name": community.name}
                if community is not None
                else None
            ),
            "ticket": {
                "id": ticket.id,
                "title": ticket.title,
                "fault": ticket.fault,
                "priority": ticket.priority,
                "severity": ticket.severity,
                "state": notice.state,
                "subject": ticket.subject,
                "name": name,
                "facility_id": ticket.facility_id,
                "zone_id": notice.zone_id,
                "gateway_id": ticket.gateway_id,
                "assignee_id": notice.assignee_id,
                "assignee_name": assignee.name if assignee is not None else None,
                "opened_at": _iso(ticket.opened_at),
                "respond_by": _iso(ticket.respond_by),
                "resolve_by": _iso(ticket.resolve_by),
            },
        }
    return bodies


def as_text(body: dict[str, Any]) -> tuple[str, str]:
    """An e-mail's subject and plain text for a notice's body."""
    ticket = body["ticket"]
    subject = f"[Linli] {body['title']}: {ticket['title']} — {ticket['name']} (#{ticket['id']})"
    lines = [
        f"{body['title']}: ticket #{ticket['id']}, {ticket['title']}",
        f"Where: {ticket['name']}",
        f"Priority: {ticket['priority']}; state: {ticket['state']}",
        f"When: {body['at']}",
    ]
    if ticket["assignee_name"]:
        lines.append(f"Assigned to: {ticket['assignee_name']}")
    if body["actor"]:
        lines.append(f"By: {body['actor']}")
    if body["note"]:
        lines += ["", body["note"]]
    return subject, "\n".join(lines) + "\n"
