"""The tickets export: a row per ticket of the scope and period."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.exports.table import FLUSH_ROWS, Table, columns
from cloud.db.models import Community, Facility, Gateway, Person, Ticket, Zone
from cloud.queries import subject_name
from cloud.register.scope import Period
from cloud.repair.tickets import LIVE

TICKETS = Table(
    "tickets",
    columns(
        ("id", "integer", "the ticket's id"),
        ("community_id", "integer?", "its community"),
        ("community", "string?", "its community's name"),
        (
            "scope",
            "string",
            "what failed: facility, zone (facilities that failed together), gateway (gone offline)",
        ),
        ("name", "string", "the name of what failed"),
        ("facility_id", "integer?", "the facility (null for a zone's or a gateway's ticket)"),
        ("facility", "string?", "the facility's name"),
        ("zone_id", "integer?", "the zone"),
        ("zone", "string?", "the zone's name"),
        ("gateway_id", "string?", "the gateway of a gateway's ticket"),
        (
            "fault",
            "string",
            "the fault (`reported` for one opened by hand for what no device reports)",
        ),
        ("title", "string", "the ticket's title"),
        ("priority", "string", "urgent, high, normal or low"),
        ("state", "string", "its state now"),
        ("opened_at", "time", "when the fault started (or it was opened by hand)"),
        ("assigned_at", "time?", "last assigned"),
        ("acknowledged_at", "time?", "acknowledged"),
        ("started_at", "time?", "work started"),
        ("resolved_at", "time?", "resolved by the maintainer"),
        ("closed_at", "time?", "closed (verified by the data, or confirmed)"),
        ("cancelled_at", "time?", "cancelled"),
        ("respond_by", "time?", "the response deadline"),
        ("resolve_by", "time?", "the resolution deadline"),
        ("respond_breached", "boolean", "the response deadline was missed"),
        ("resolve_breached", "boolean", "the resolution deadline was missed"),
        ("respond_breached_at", "time?", "when the response deadline was found missed"),
        ("resolve_breached_at", "time?", "when the resolution deadline was found missed"),
        ("assignee_id", "integer?", "the person it is assigned to"),
        ("assignee", "string?", "their name"),
        ("repeats", "integer", "how often the fault came back after a repair"),
    ),
)


def ticket_rows(
    sessions: sessionmaker[Session],
    period: Period,
    *,
    community: int | None,
    zones: frozenset[int] | None,
    mine: int | None,
    community_id: int | None = None,
    zone_id: int | None = None,
) -> Iterator[dict[str, object]]:
    """The tickets whose life touches ``period`` (opened before its end, and not closed or
    cancelled before its start), oldest first: of ``community`` (None: every one) and, if
    given, of ``community_id``; for a maintainer (``zones``), those of their zones and those
    assigned to them (``mine``); of zone ``zone_id``."""
    where: list[ColumnElement[bool]] = [
        Ticket.opened_at < period.end,
        or_(
            Ticket.state.in_(LIVE),
            Ticket.closed_at >= period.start,
            Ticket.cancelled_at >= period.start,
        ),
    ]
    if zones is not None:  # a maintainer's
        in_zones = Ticket.zone_id.in_(sorted(zones))
        where.append(or_(in_zones, Ticket.assignee_id == mine) if mine is not None else in_zones)
    for wanted in {community, community_id} - {None}:
        where.append(Ticket.community_id == wanted)
    if zone_id is not None:
        where.append(Ticket.zone_id == zone_id)
    query = (
        select(Ticket, Facility.name, Zone.name, Gateway.name, Person.name, Community.name)
        .outerjoin(Facility, Facility.id == Ticket.facility_id)
        .outerjoin(Zone, Zone.id == Ticket.zone_id)
        .outerjoin(Gateway, Gateway.id == Ticket.gateway_id)
        .outerjoin(Person, Person.id == Ticket.assignee_id)
        .outerjoin(Community, Community.id == Ticket.community_id)
        .where(*where)
        .order_by(Ticket.opened_at, Ticket.id)
        .execution_options(yield_per=FLUSH_ROWS)
    )
    with sessions() as session:
        for ticket, facility, zone, gateway, assignee, community_name in session.execute(query):
            yield {
                "id": ticket.id,
                "community_id": ticket.community_id,
                "community": community_name,
                "scope": ticket.scope,
                "name": subject_name(ticket, facility, zone, gateway),
                "facility_id": ticket.facility_id,
                "facility": facility,
                "zone_id": ticket.zone_id,
                "zone": zone,
                "gateway_id": ticket.gateway_id,
                "fault": ticket.fault,
                "title": ticket.title,
                "priority": ticket.priority,
                "state": ticket.state,
                "opened_at": ticket.opened_at,
                "assigned_at": ticket.assigned_at,
                "acknowledged_at": ticket.acknowledged_at,
                "started_at": ticket.started_at,
                "resolved_at": ticket.resolved_at,
                "closed_at": ticket.closed_at,
                "cancelled_at": ticket.cancelled_at,
                "respond_by": ticket.respond_by,
                "resolve_by": ticket.resolve_by,
                "respond_breached": ticket.respond_breached_at is not None,
                "resolve_breached": ticket.resolve_breached_at is not None,
                "respond_breached_at": ticket.respond_breached_at,
                "resolve_breached_at": ticket.resolve_breached_at,
                "assignee_id": ticket.assignee_id,
                "assignee": assignee,
                "repeats": ticket.repeats,
            }
