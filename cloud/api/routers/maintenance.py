"""Maintenance windows: a facility, or a zone's facilities, whose faults are recorded but
open no tickets for a while (:mod:`cloud.repair.maintenance`). Everyone of the community
reads them; supervisors, property managers and operator admins set and end them, for a
facility or a zone; a maintainer, for a facility they reach (the one they are working on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access.roles import Action, Principal, Role
from cloud.api.bodies import MaintenanceCreate
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, reachable
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, of_community, page_of
from cloud.api.references import in_use, row_of
from cloud.api.schemas import ID_MAX, MaintenancePublic, Problem
from cloud.db.models import Facility, MaintenanceWindow, Zone

router = APIRouter(tags=["maintenance"])

WindowId = Annotated[int, Path(ge=1, le=ID_MAX, description="the window's id")]
_SET: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "you may not set maintenance here"},
    404: {"model": Problem, "description": "no such facility or zone that you reach"},
    409: {"model": Problem, "description": "it is archived"},
}


@router.get(
    "/maintenance",
    response_model=list[MaintenancePublic],
    responses=PAGED,
    summary="Maintenance windows, latest end first (your community's)",
)
def list_windows(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    active: Annotated[
        bool | None,
        Query(description="only those under way now (true), or only the others (false)"),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[MaintenancePublic]:
    allowed(principal, Action.READ_TICKETS)
    query = select(MaintenanceWindow).order_by(
        MaintenanceWindow.ends_at.desc(), MaintenanceWindow.id.desc()
    )
    query = of_community(query, MaintenanceWindow.community_id, principal, community_id)
    now = datetime.now(UTC)
    under_way = (MaintenanceWindow.starts_at <= now) & (MaintenanceWindow.ends_at > now)
    if active is not None:
        query = query.where(under_way if active else ~under_way)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [MaintenancePublic.model_validate(w) for w in found]


@router.post(
    "/facilities/{facility_id}/maintenance",
    response_model=MaintenancePublic,
    status_code=201,
    responses=_SET,
    summary="Put a facility under maintenance for a while",
)
def maintain_facility(
    services: ServicesDep,
    principal: PrincipalDep,
    facility_id: Annotated[int, Path(ge=1, le=ID_MAX, description="the facility's id")],
    body: MaintenanceCreate,
) -> MaintenancePublic:
    allowed(principal, Action.ACT_ON_TICKETS)

    def over_facility(session: Session) -> MaintenanceWindow:
        facility = session.get(Facility, facility_id)
        what = f"facility {facility_id}"
        if facility is None or facility.community_id is None:
            raise HTTPException(404, f"{what} does not exist")
        reachable(principal, facility.community_id, facility.zone_id, what)
        in_use(facility, what)
        return _window(principal, body, facility.community_id, facility_id=facility_id)

    return _kept(services, over_facility)


@router.post(
    "/zones/{zone_id}/maintenance",
    response_model=MaintenancePublic,
    status_code=201,
    responses=_SET,
    summary="Put every facility of a zone or building under maintenance for a while "
    "(supervisors, property managers, operator admins)",
)
def maintain_zone(
    services: ServicesDep,
    principal: PrincipalDep,
    zone_id: Annotated[int, Path(ge=1, le=ID_MAX, description="the zone's id")],
    body: MaintenanceCreate,
) -> MaintenancePublic:
    allowed(principal, Action.ACT_ON_TICKETS)
    if principal.role is Role.MAINTAINER:
        raise HTTPException(403, "a maintainer sets maintenance for a facility, not a zone")

    def over_zone(session: Session) -> MaintenanceWindow:
        zone = row_of(session, Zone, zone_id, principal, f"zone {zone_id}")
        in_use(zone, f"zone {zone_id}")
        return _window(principal, body, zone.community_id, zone_id=zone_id)

    return _kept(services, over_zone)


@router.post(
    "/maintenance/{window_id}/end",
    response_model=MaintenancePublic,
    responses={404: {"model": Problem}, 409: {"model": Problem, "description": "it is over"}},
    summary="End a maintenance window now: what is still faulty opens its tickets at the next "
    "repair round",
)
def end_window(
    services: ServicesDep, principal: PrincipalDep, window_id: WindowId
) -> MaintenancePublic:
    allowed(principal, Action.ACT_ON_TICKETS)
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        window = session.get(MaintenanceWindow, window_id)
        if window is None or not _reaches(session, principal, window):
            raise HTTPException(404, f"maintenance window {window_id} does not exist")
        if _aware(window.ends_at) <= now:
            raise HTTPException(409, f"maintenance window {window_id} is over")
        window.ends_at = max(now, _aware(window.starts_at))
        window.ended_by = principal.actor
        session.flush()
        found = MaintenancePublic.model_validate(window)
    services.tickets.maintenance.forget()
    return found


def _kept(services: ServicesDep, made: Callable[[Session], MaintenanceWindow]) -> MaintenancePublic:
    """The window ``made`` (it checks what it is over), stored; this process's ingest hears
    of it at once, others' within their refresh."""
    with services.sessions.begin() as session:
        window = made(session)
        session.add(window)
        session.flush()
        found = MaintenancePublic.model_validate(window)
    services.tickets.maintenance.forget()
    return found


def _window(
    principal: Principal,
    body: MaintenanceCreate,
    community_id: int,
    *,
    facility_id: int | None = None,
    zone_id: int | None = None,
) -> MaintenanceWindow:
    now = datetime.now(UTC)
    starts = now + timedelta(seconds=body.starts_in_s)
    return MaintenanceWindow(
        community_id=community_id,
        facility_id=facility_id,
        zone_id=zone_id,
        starts_at=starts,
        ends_at=starts + timedelta(seconds=body.for_s),
        reason=body.reason,
        created_by=principal.actor,
        created_at=now,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reaches(session: SessionDep, principal: Principal, window: MaintenanceWindow) -> bool:
    if window.facility_id is not None:
        facility = session.get(Facility, window.facility_id)
        return facility is not None and principal.reaches(facility.community_id, facility.zone_id)
    if principal.role is Role.MAINTAINER:
        return False
    return principal.sees(window.community_id)
