"""Read-side queries shared by the REST API and the web UI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from cloud.access.roles import Action, Principal, Role
from cloud.api.paging import set_aside
from cloud.api.schemas import (
    ESCALATIONS,
    DataGapPublic,
    DevicePublic,
    FacilityPublic,
    TicketDetail,
    TicketPublic,
)
from cloud.db.models import (
    DataGap,
    Device,
    Facility,
    Gateway,
    Person,
    Ticket,
    UnknownGateway,
)
from cloud.repair.desk import LIVE, By
from cloud.repair.desk import moves_for as desk_moves_for
from cloud.repair.lifecycle import Move, State
from cloud.repair.team import open_work

_HEALTH_ORDER = case({"faulty": 0, "degraded": 1, "ok": 2}, value=Facility.health, else_=3)
_PRIORITY_ORDER = case(
    {"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Ticket.priority, else_=4
)
_BREACHED_FIRST = case(
    (
        and_(
            Ticket.state.in_(LIVE),
            or_(Ticket.respond_breached_at.is_not(None), Ticket.resolve_breached_at.is_not(None)),
        ),
        0,
    ),
    else_=1,
)


def facilities(
    session: Session,
    *,
    health: Sequence[str] = (),
    gateway_id: str | None = None,
    community: int | None = None,
    zone_id: int | None = None,
    category: str | None = None,
    archived: bool = False,
    zones: frozenset[int] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[FacilityPublic], int]:
    """Facilities in use (or archived ones, if ``archived``), worst health first, each with
    its count of unresolved tickets (of one community, if ``community`` is given); and how
    many match in all."""
    where: list[ColumnElement[bool]] = [set_aside(Facility.archived_at, archived)]
    if health:
        where.append(Facility.health.in_(health))
    if gateway_id:
        where.append(Facility.gateway_id == gateway_id)
    if community is not None:
        where.append(Facility.community_id == community)
    if zone_id is not None:
        where.append(Facility.zone_id == zone_id)
    if zones is not None:  # a maintainer's
        where.append(Facility.zone_id.in_(sorted(zones)))
    if category is not None:
        where.append(Facility.category == category)
    total = session.scalar(select(func.count()).select_from(Facility).where(*where)) or 0
    open_count = (
        select(Ticket.facility_id, func.count().label("n"))
        .where(Ticket.state.in_(LIVE))
        .group_by(Ticket.facility_id)
        .subquery()
    )
    query = (
        select(Facility, func.coalesce(open_count.c.n, 0))
        .outerjoin(open_count, open_count.c.facility_id == Facility.id)
        .options(selectinload(Facility.devices))
        .where(*where)
        .order_by(_HEALTH_ORDER, Facility.name, Facility.id)
        .limit(limit)
        .offset(offset)
    )
    return [_facility(f, n) for f, n in session.execute(query)], total


def facility(session: Session, facility_id: int) -> FacilityPublic | None:
    found = session.get(Facility, facility_id)
    if found is None:
        return None
    n = session.scalar(
        select(func.count()).where(Ticket.facility_id == facility_id, Ticket.state.in_(LIVE))
    )
    return _facility(found, n or 0)


def _facility(found: Facility, open_tickets: int) -> FacilityPublic:
    # Not model_validate(found): its ``devices`` attribute holds Device rows, not ids.
    fields = {
        name: getattr(found, name)
        for name in FacilityPublic.model_fields
        if name not in ("open_tickets", "devices")
    }
    fields["open_tickets"] = open_tickets
    fields["devices"] = sorted(d.device_id for d in found.devices)
    return FacilityPublic.model_validate(fields)


def devices(
    session: Session,
    *,
    facility_id: int | None = None,
    health: Sequence[str] = (),
    community: int | None = None,
    assigned: bool | None = None,
    zones: frozenset[int] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[DevicePublic], int]:
    """Devices by gateway and id — of one community (their gateway's), one facility, some
    health, assigned to a facility or not (``assigned``), of facilities in ``zones`` — and
    how many match in all."""
    query = select(Device)
    if zones is not None:  # a maintainer's
        query = query.join(Facility, Facility.id == Device.facility_id).where(
            Facility.zone_id.in_(sorted(zones))
        )
    if community is not None:
        query = query.join(Gateway, Gateway.id == Device.gateway_id).where(
            Gateway.community_id == community
        )
    if assigned is not None:
        query = query.where(
            Device.facility_id.is_not(None) if assigned else Device.facility_id.is_(None)
        )
    if facility_id is not None:
        query = query.where(Device.facility_id == facility_id)
    if health:
        query = query.where(Device.health.in_(health))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Device.gateway_id, Device.device_id).limit(limit).offset(offset)
    return [DevicePublic.model_validate(d) for d in session.scalars(page)], total


def data_gaps(
    session: Session,
    *,
    gateway_id: str,
    device_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[DataGapPublic], int, int]:
    """Data-gap records of a gateway (of one of its devices, if ``device_id`` is given),
    newest first (by the last reading dropped); how many records match in all, and how many
    readings they say were dropped."""
    where: list[ColumnElement[bool]] = [DataGap.gateway_id == gateway_id]
    if device_id is not None:
        where.append(DataGap.device_id == device_id)
    records, dropped = session.execute(
        select(func.count(), func.coalesce(func.sum(DataGap.items), 0)).where(*where)
    ).one()
    query = (
        select(DataGap)
        .where(*where)
        .order_by(DataGap.last_ts.desc(), DataGap.pk.desc())
        .limit(limit)
        .offset(offset)
    )
    found = [DataGapPublic.model_validate(gap) for gap in session.scalars(query)]
    return found, int(records), int(dropped)


def tickets(
    session: Session,
    *,
    states: Sequence[str] = (),
    facility_id: int | None = None,
    priorities: Sequence[str] = (),
    assignee_id: int | None = None,
    community: int | None = None,
    zones: frozenset[int] | None = None,
    mine: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[TicketPublic], int]:
    """Tickets, most urgent first — then those of missed targets, then the newest — and how
    many match in all (of one community, if ``community`` is given; of facilities in
    ``zones``, if given, and those assigned to person ``mine`` wherever they are)."""
    where: list[ColumnElement[bool]] = []
    if zones is not None:  # a maintainer's
        in_zones = Ticket.facility_id.in_(
            select(Facility.id).where(Facility.zone_id.in_(sorted(zones)))
        )
        where.append(or_(in_zones, Ticket.assignee_id == mine) if mine is not None else in_zones)
    if community is not None:
        where.append(
            Ticket.facility_id.in_(select(Facility.id).where(Facility.community_id == community))
        )
    if states:
        where.append(Ticket.state.in_(states))
    if facility_id is not None:
        where.append(Ticket.facility_id == facility_id)
    if priorities:
        where.append(Ticket.priority.in_(priorities))
    if assignee_id is not None:
        where.append(Ticket.assignee_id == assignee_id)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
    # the facility's name, the device's id and the assignee's name come joined in (not whole
    # rows: a device row carries its metrics and rule memory, and the list is polled)
    query = (
        select(Ticket, Facility.name, Device.device_id, Person.name)
        .join(Facility, Facility.id == Ticket.facility_id)
        .outerjoin(Device, Device.id == Ticket.device_pk)
        .outerjoin(Person, Person.id == Ticket.assignee_id)
        .where(*where)
        .order_by(_PRIORITY_ORDER, _BREACHED_FIRST, Ticket.opened_at.desc(), Ticket.id.desc())
        .limit(limit)
        .offset(offset)
    )
    found = [
        TicketPublic.model_validate(
            {
                **_own_fields(ticket),
                "facility_name": facility_name,
                "device_id": device_id,
                "assignee_name": assignee_name,
            }
        )
        for ticket, facility_name, device_id, assignee_name in session.execute(query).tuples()
    ]
    return found, total


def reaches_ticket(principal: Principal, ticket: Ticket) -> bool:
    """Whether the principal may see and act on ``ticket``: one of a facility they reach,
    or — for a maintainer — one assigned to them in their community, wherever it is."""
    facility = ticket.facility
    if principal.reaches(facility.community_id, facility.zone_id):
        return True
    return (
        principal.role is Role.MAINTAINER
        and principal.person_id is not None
        and ticket.assignee_id == principal.person_id
        and principal.sees(facility.community_id)
    )


def moves_for(principal: Principal, state: str, assignee_id: int | None) -> list[Move]:
    """The moves ``principal`` may make now on a ticket in ``state`` assigned to
    ``assignee_id``, as the desk decides them."""
    if not principal.may(Action.ACT_ON_TICKETS):
        return []
    return desk_moves_for(By.of(principal), State(state), assignee_id)


def ticket_detail(session: Session, ticket_id: int, principal: Principal) -> TicketDetail | None:
    """The ticket with its events, the moves ``principal`` may make on it, and the other
    tickets of its repair."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    root = ticket.linked_id if ticket.linked_id is not None else ticket.id
    repair = session.scalars(
        select(Ticket.id).where(or_(Ticket.id == root, Ticket.linked_id == root))
    )
    return TicketDetail.model_validate(
        {
            **_ticket_fields(ticket),
            "events": ticket.events,
            "moves": moves_for(principal, ticket.state, ticket.assignee_id),
            "linked": sorted(i for i in repair if i != ticket.id),
        }
    )


_TICKET_COLUMNS = tuple(
    name for name in TicketPublic.model_fields if hasattr(Ticket, name) and name != "escalation"
)


def _own_fields(ticket: Ticket) -> dict[str, object]:
    fields: dict[str, object] = {name: getattr(ticket, name) for name in _TICKET_COLUMNS}
    fields["escalation"] = ESCALATIONS[min(max(ticket.escalation, 0), len(ESCALATIONS) - 1)]
    return fields


def _ticket_fields(ticket: Ticket) -> dict[str, object]:
    fields = _own_fields(ticket)
    fields["facility_name"] = ticket.facility.name
    fields["device_id"] = ticket.device.device_id if ticket.device is not None else None
    fields["assignee_name"] = ticket.assignee.name if ticket.assignee is not None else None
    return fields


@dataclass(frozen=True)
class Assignable:
    """A maintainer a ticket may be assigned to, as a choice in a form."""

    id: int
    name: str
    open_tickets: int


def assignable(session: Session, facility_ids: Sequence[int]) -> dict[int, list[Assignable]]:
    """For each facility, the maintainers its tickets may be assigned to: those of its
    community at work, by name, with their current load."""
    communities = {
        facility_id: community_id
        for facility_id, community_id in session.execute(
            select(Facility.id, Facility.community_id).where(
                Facility.id.in_(sorted(set(facility_ids)))
            )
        ).tuples()
    }
    wanted = sorted({c for c in communities.values() if c is not None})
    if not wanted:
        return {}
    people = session.execute(
        select(Person.id, Person.name, Person.community_id)
        .where(
            Person.community_id.in_(wanted),
            Person.role == Role.MAINTAINER.value,
            Person.archived_at.is_(None),
        )
        .order_by(Person.name, Person.id)
    ).all()
    load = open_work(session, [person_id for person_id, _, _ in people])
    by_community: dict[int, list[Assignable]] = {}
    for person_id, name, community_id in people:
        by_community.setdefault(community_id, []).append(
            Assignable(person_id, name, load.get(person_id, 0))
        )
    return {
        facility: by_community.get(community, [])
        for facility, community in communities.items()
        if community is not None
    }


def unknown_gateways(
    session: Session, *, limit: int = 100, offset: int = 0
) -> list[UnknownGateway]:
    """Gateways heard from without being provisioned (or retired), last heard first."""
    query = (
        select(UnknownGateway)
        .order_by(UnknownGateway.last_seen_at.desc(), UnknownGateway.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def unassigned_devices(session: Session, *, community: int | None = None) -> int:
    """How many devices (of a community's gateways) are bound to no facility."""
    query = select(func.count()).select_from(Device).where(Device.facility_id.is_(None))
    if community is not None:
        query = query.join(Gateway, Gateway.id == Device.gateway_id).where(
            Gateway.community_id == community
        )
    return session.scalar(query) or 0
