"""Read-side queries shared by the REST API and the web UI."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, selectinload

from cloud.api.paging import set_aside
from cloud.api.schemas import (
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
    Ticket,
    TicketState,
    UnknownGateway,
)

_HEALTH_ORDER = case({"faulty": 0, "degraded": 1, "ok": 2}, value=Facility.health, else_=3)
_PRIORITY_ORDER = case(
    {"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Ticket.priority, else_=4
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
        .where(Ticket.state != TicketState.RESOLVED.value)
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
        select(func.count()).where(
            Ticket.facility_id == facility_id, Ticket.state != TicketState.RESOLVED.value
        )
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
    community: int | None = None,
    zones: frozenset[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[TicketPublic], int]:
    """Tickets, most urgent and newest first, and how many match in all (of one community,
    if ``community`` is given; of facilities in ``zones``, if given)."""
    where: list[ColumnElement[bool]] = []
    if zones is not None:  # a maintainer's
        where.append(
            Ticket.facility_id.in_(select(Facility.id).where(Facility.zone_id.in_(sorted(zones))))
        )
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
    total = session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
    # the facility's name and the device's id come joined in (not whole rows: a device row
    # carries its metrics and rule memory, and the list is polled)
    query = (
        select(Ticket, Facility.name, Device.device_id)
        .join(Facility, Facility.id == Ticket.facility_id)
        .join(Device, Device.id == Ticket.device_pk)
        .where(*where)
        .order_by(_PRIORITY_ORDER, Ticket.opened_at.desc(), Ticket.id.desc())
        .limit(limit)
        .offset(offset)
    )
    found = [
        TicketPublic.model_validate(
            {**_own_fields(ticket), "facility_name": facility_name, "device_id": device_id}
        )
        for ticket, facility_name, device_id in session.execute(query).tuples()
    ]
    return found, total


def ticket_public(ticket: Ticket) -> TicketPublic:
    return TicketPublic.model_validate(_ticket_fields(ticket))


def ticket_detail(session: Session, ticket_id: int) -> TicketDetail | None:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    return TicketDetail.model_validate({**_ticket_fields(ticket), "events": ticket.events})


_TICKET_COLUMNS = tuple(name for name in TicketPublic.model_fields if hasattr(Ticket, name))


def _own_fields(ticket: Ticket) -> dict[str, object]:
    return {name: getattr(ticket, name) for name in _TICKET_COLUMNS}


def _ticket_fields(ticket: Ticket) -> dict[str, object]:
    fields = _own_fields(ticket)
    fields["facility_name"] = ticket.facility.name
    fields["device_id"] = ticket.device.device_id
    return fields


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
