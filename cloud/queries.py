"""Read-side queries shared by the REST API and the web UI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from cloud.access.roles import Action, Principal, Role
from cloud.api.paging import set_aside
from cloud.api.schemas import (
    ESCALATIONS,
    GATEWAY_OFFLINE,
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
    TicketFacility,
    UnknownGateway,
    Zone,
)
from cloud.repair.lifecycle import Move, State
from cloud.repair.team import open_work
from cloud.repair.tickets import LIVE, By
from cloud.repair.tickets import moves_for as desk_moves_for

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
    live = union_all(
        select(Ticket.facility_id.label("facility_id")).where(Ticket.state.in_(LIVE)),
        select(TicketFacility.facility_id.label("facility_id"))
        .join(Ticket, Ticket.id == TicketFacility.ticket_id)
        .where(Ticket.state.in_(LIVE)),
    ).subquery()
    open_count = (
        select(live.c.facility_id, func.count().label("n")).group_by(live.c.facility_id).subquery()
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
    rows = session.execute(query).all()
    offline = offline_gateways(session, {d.gateway_id for f, _ in rows for d in f.devices})
    return [_facility(f, n, offline) for f, n in rows], total


def facility(session: Session, facility_id: int) -> FacilityPublic | None:
    found = session.get(Facility, facility_id)
    if found is None:
        return None
    n = session.scalar(
        select(func.count()).where(Ticket.facility_id == facility_id, Ticket.state.in_(LIVE))
    )
    n = (n or 0) + (
        session.scalar(
            select(func.count())
            .select_from(TicketFacility)
            .join(Ticket, Ticket.id == TicketFacility.ticket_id)
            .where(TicketFacility.facility_id == facility_id, Ticket.state.in_(LIVE))
        )
        or 0
    )
    offline = offline_gateways(session, {d.gateway_id for d in found.devices})
    return _facility(found, n or 0, offline)


def offline_gateways(session: Session, gateway_ids: set[str]) -> set[str]:
    """Of ``gateway_ids``, those whose status says offline: their devices are unknown."""
    if not gateway_ids:
        return set()
    return set(
        session.scalars(
            select(Gateway.id).where(Gateway.id.in_(sorted(gateway_ids)), Gateway.online.is_(False))
        )
    )


def _facility(found: Facility, open_tickets: int, offline: set[str]) -> FacilityPublic:
    # Not model_validate(found): its ``devices`` attribute holds Device rows, not ids.
    fields = {
        name: getattr(found, name)
        for name in FacilityPublic.model_fields
        if name not in ("open_tickets", "devices", "status", "status_reason")
    }
    fields["open_tickets"] = open_tickets
    fields["devices"] = sorted(d.device_id for d in found.devices)
    fields["status"] = found.health
    if found.devices and all(d.gateway_id in offline for d in found.devices):
        fields["status"], fields["status_reason"] = "unknown", GATEWAY_OFFLINE
    return FacilityPublic.model_validate(fields)


def device(session: Session, found: Device) -> DevicePublic:
    """``found`` as the API shows it: unknown while its gateway is offline."""
    return _device(found, offline_gateways(session, {found.gateway_id}))


def _device(found: Device, offline: set[str]) -> DevicePublic:
    public = DevicePublic.model_validate(found)
    if found.gateway_id in offline:
        return public.model_copy(update={"status": "unknown", "status_reason": GATEWAY_OFFLINE})
    return public.model_copy(update={"status": found.health})


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
    found = session.scalars(page).all()
    offline = offline_gateways(session, {d.gateway_id for d in found})
    return [_device(d, offline) for d in found], total


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
        in_zones = Ticket.zone_id.in_(sorted(zones))
        where.append(or_(in_zones, Ticket.assignee_id == mine) if mine is not None else in_zones)
    if community is not None:
        where.append(Ticket.community_id == community)
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
        select(
            Ticket,
            Facility.name,
            Device.device_id,
            Device.profile,
            Person.name,
            Zone.name,
            Gateway.name,
        )
        .outerjoin(Facility, Facility.id == Ticket.facility_id)
        .outerjoin(Zone, Zone.id == Ticket.zone_id)
        .outerjoin(Gateway, Gateway.id == Ticket.gateway_id)
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
                "name": subject_name(ticket, facility_name, zone_name, gateway_name),
                "facility_name": facility_name,
                "device_id": device_id,
                "profile": profile,
                "assignee_name": assignee_name,
            }
        )
        for ticket, facility_name, device_id, profile, assignee_name, zone_name, gateway_name in (
            session.execute(query).tuples()
        )
    ]
    return found, total


def subject_name(
    ticket: Ticket, facility: str | None, zone: str | None, gateway: str | None
) -> str:
    """The name of what failed: the facility, the gateway (its id if it has no name), the
    zone."""
    if ticket.facility_id is not None:
        return facility or ""
    if ticket.gateway_id is not None:
        return gateway or ticket.gateway_id
    return zone or ticket.subject


def reaches_ticket(principal: Principal, ticket: Ticket) -> bool:
    """Whether the principal may see and act on ``ticket``: one of a facility they reach,
    or — for a maintainer — one assigned to them in their community, wherever it is."""
    if principal.reaches(ticket.community_id, ticket.zone_id):
        return True
    return (
        principal.role is Role.MAINTAINER
        and principal.person_id is not None
        and ticket.assignee_id == principal.person_id
        and principal.sees(ticket.community_id)
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
            **_ticket_fields(session, ticket),
            "events": ticket.events,
            "moves": moves_for(principal, ticket.state, ticket.assignee_id),
            "linked": sorted(i for i in repair if i != ticket.id),
            "facilities": [
                {
                    "facility_id": member.facility_id,
                    "name": member.facility.name,
                    "profile": member.device.profile if member.device is not None else None,
                    "fault": member.fault,
                    "joined_at": member.joined_at,
                    "cleared_at": member.cleared_at,
                }
                for member in ticket.members
            ],
        }
    )


_TICKET_COLUMNS = tuple(
    name for name in TicketPublic.model_fields if hasattr(Ticket, name) and name != "escalation"
)


def _own_fields(ticket: Ticket) -> dict[str, object]:
    fields: dict[str, object] = {name: getattr(ticket, name) for name in _TICKET_COLUMNS}
    fields["escalation"] = ESCALATIONS[min(max(ticket.escalation, 0), len(ESCALATIONS) - 1)]
    return fields


def _ticket_fields(session: Session, ticket: Ticket) -> dict[str, object]:
    fields = _own_fields(ticket)
    facility = ticket.facility.name if ticket.facility is not None else None
    gateway = ticket.gateway_id
    if gateway is not None:
        found = session.get(Gateway, gateway)
        gateway = found.name if found is not None and found.name else gateway
    zone = None
    if ticket.zone_id is not None and ticket.scope == "zone":
        found_zone = session.get(Zone, ticket.zone_id)
        zone = found_zone.name if found_zone is not None else None
    fields["name"] = subject_name(ticket, facility, zone, gateway)
    fields["facility_name"] = facility
    fields["device_id"] = ticket.device.device_id if ticket.device is not None else None
    fields["profile"] = ticket.device.profile if ticket.device is not None else None
    fields["assignee_name"] = ticket.assignee.name if ticket.assignee is not None else None
    return fields


@dataclass(frozen=True)
class Assignable:
    """A maintainer a ticket may be assigned to, as a choice in a form."""

    id: int
    name: str
    open_tickets: int


def assignable(session: Session, community_ids: Sequence[int]) -> dict[int, list[Assignable]]:
    """For each community, the maintainers its tickets may be assigned to: those at work, by
    name, with their current load."""
    wanted = sorted(set(community_ids))
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
    by_community: dict[int, list[Assignable]] = {c: [] for c in wanted}
    for person_id, name, community_id in people:
        by_community[community_id].append(Assignable(person_id, name, load.get(person_id, 0)))
    return by_community


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
