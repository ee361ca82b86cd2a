"""Facilities: everyone reads their community's; its property managers and operator admins
create, change and archive them, and make a new resident link (QR code) when a printed one
must stop working."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.roles import Action, Principal
from cloud.api.bodies import FacilityChange, FacilityCreate
from cloud.api.deps import (
    PrincipalDep,
    ServicesDep,
    SessionDep,
    allowed,
    public_base,
    reachable,
)
from cloud.api.paging import PAGED, Limit, Offset, count_into
from cloud.api.references import community_for, in_use, row_of, set_fields, taken, unique, zone_of
from cloud.api.schemas import ID_MAX, NO_NUL, FacilityPublic, Problem, ResidentLinkPublic
from cloud.db.models import Device, DeviceBinding, Facility, FacilityLink
from cloud.repair.residents import link_of, rotate_link
from device_profiles import Health

router = APIRouter(prefix="/facilities", tags=["facilities"])

FacilityId = Annotated[int, Path(ge=1, le=ID_MAX, description="the facility's id")]


@router.get(
    "",
    response_model=list[FacilityPublic],
    responses=PAGED,
    summary="Facilities, worst health first (your community's)",
)
def list_facilities(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    health: Annotated[list[Health] | None, Query(description="only these healths")] = None,
    gateway_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=NO_NUL,
            description="only those of this gateway's device",
        ),
    ] = None,
    zone_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only those in this zone")
    ] = None,
    category: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=NO_NUL, description="only this category"),
    ] = None,
    archived: Annotated[
        bool, Query(description="list archived facilities (true) instead of those in use")
    ] = False,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[FacilityPublic]:
    allowed(principal, Action.READ_REGISTER)
    found, total = queries.facilities(
        session,
        health=[h.value for h in health or ()],
        gateway_id=gateway_id,
        community=principal.community_id,
        zone_id=zone_id,
        category=category,
        archived=archived,
        zones=principal.zone_ids,
        limit=limit,
        offset=offset,
    )
    count_into(response, total)
    return found


@router.post(
    "",
    response_model=FacilityPublic,
    status_code=201,
    responses={
        404: {"model": Problem, "description": "the community does not exist"},
        409: {
            "model": Problem,
            "description": "the code is taken in the community, or the zone is not of it",
        },
    },
    summary="Create a facility (property managers of the community, operator admins); bind "
    "devices to it with PUT /devices/{device_pk}/facility",
)
def create_facility(
    services: ServicesDep, principal: PrincipalDep, body: FacilityCreate
) -> FacilityPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        community = community_for(session, principal, body.community_id)
        what = f"facility code {body.code!r} in community {community.id}"
        taken(
            session,
            select(Facility.id).where(
                Facility.community_id == community.id,
                Facility.code == body.code,
                Facility.gateway_id.is_(None),
            ),
            what,
        )
        facility = Facility(
            community_id=community.id,
            gateway_id=None,
            code=body.code,
            name=body.name,
            category=body.category,
            zone_id=zone_of(session, community.id, body.zone_id),
            health=Health.OK.value,
            health_since=datetime.now(UTC),
        )
        with unique(what):
            session.add(facility)
            session.flush()
        found = queries.facility(session, facility.id)
        assert found is not None
        return found


@router.get("/{facility_id}", response_model=FacilityPublic, responses={404: {"model": Problem}})
def get_facility(
    session: SessionDep, principal: PrincipalDep, facility_id: FacilityId
) -> FacilityPublic:
    allowed(principal, Action.READ_REGISTER)
    found = queries.facility(session, facility_id)
    if found is None:
        raise HTTPException(404, f"facility {facility_id} does not exist")
    reachable(principal, found.community_id, found.zone_id, f"facility {facility_id}")
    return found


@router.patch(
    "/{facility_id}",
    response_model=FacilityPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Change a facility's name, category or zone",
)
def change_facility(
    services: ServicesDep, principal: PrincipalDep, facility_id: FacilityId, body: FacilityChange
) -> FacilityPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        what = f"facility {facility_id}"
        facility = row_of(session, Facility, facility_id, principal, what)
        in_use(facility, what)
        changes = body.changes()
        if "zone_id" in changes:
            changes["zone_id"] = zone_of(session, facility.community_id, changes["zone_id"])
        set_fields(facility, changes)
        session.flush()
        found = queries.facility(session, facility_id)
        assert found is not None
        return found


@router.post(
    "/{facility_id}/archive",
    response_model=FacilityPublic,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "devices are still bound to it"},
    },
    summary="Archive a facility: out of use, its tickets and history kept (its devices "
    "moved or unbound first; bindings of devices not heard from yet are dropped)",
)
def archive_facility(
    services: ServicesDep, principal: PrincipalDep, facility_id: FacilityId
) -> FacilityPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        what = f"facility {facility_id}"
        facility = row_of(session, Facility, facility_id, principal, what)
        if facility.archived_at is None:
            devices = session.scalar(select(func.count()).where(Device.facility_id == facility_id))
            if devices:
                raise HTTPException(
                    409,
                    f"{what} still has {devices} device(s) bound to it: move or unbind them "
                    "first (PUT or DELETE /api/v1/devices/{device_pk}/facility)",
                )
            # bindings left are of devices not heard from yet: they would join nothing
            session.execute(delete(DeviceBinding).where(DeviceBinding.facility_id == facility_id))
            facility.archived_at = datetime.now(UTC)
        session.flush()
        found = queries.facility(session, facility_id)
        assert found is not None
        return found


@router.get(
    "/{facility_id}/resident-link",
    response_model=ResidentLinkPublic,
    responses={404: {"model": Problem}},
    summary="The resident page behind the facility's QR code (made the first time it is asked for)",
)
def get_resident_link(
    request: Request, services: ServicesDep, principal: PrincipalDep, facility_id: FacilityId
) -> ResidentLinkPublic:
    allowed(principal, Action.READ_REGISTER)
    with services.sessions.begin() as session:
        facility = _residents_reach(session, principal, facility_id)
        link_of(session, facility.id, datetime.now(UTC))
        return _resident_link(request, services, session.get_one(FacilityLink, facility.id))


@router.post(
    "/{facility_id}/resident-link/rotate",
    response_model=ResidentLinkPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="A new resident link for the facility: the old one, and the QR codes printed "
    "with it, stop working at once",
)
def rotate_resident_link(
    request: Request, services: ServicesDep, principal: PrincipalDep, facility_id: FacilityId
) -> ResidentLinkPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        facility = _residents_reach(session, principal, facility_id)
        rotate_link(session, facility.id, datetime.now(UTC))
        session.flush()
        return _resident_link(request, services, session.get_one(FacilityLink, facility.id))


def _residents_reach(session: Session, principal: Principal, facility_id: int) -> Facility:
    """The facility, if the principal reaches it and residents may: 409 for one archived or
    in no community (its page would say it does not exist)."""
    what = f"facility {facility_id}"
    facility = row_of(session, Facility, facility_id, principal, what)
    reachable(principal, facility.community_id, facility.zone_id, what)
    in_use(facility, what)
    if facility.community_id is None:
        raise HTTPException(409, f"{what} is in no community: residents have no page for it")
    return facility


def _resident_link(
    request: Request, services: ServicesDep, link: FacilityLink
) -> ResidentLinkPublic:
    return ResidentLinkPublic(
        facility_id=link.facility_id,
        url=f"{public_base(request, services)}/r/{link.token}",
        created_at=link.created_at,
    )
