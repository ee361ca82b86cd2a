"""Zones and buildings of a community: everyone of it reads them; its property managers and
operator admins create, change and archive them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import func, select

from cloud.access.roles import Action
from cloud.api.bodies import ZoneChange, ZoneCreate, ZoneKind
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, of_community, page_of, set_aside
from cloud.api.references import community_for, in_use, row_of, set_fields, taken, unique
from cloud.api.schemas import ID_MAX, Problem, ZonePublic
from cloud.db.models import Facility, Gateway, Zone

router = APIRouter(prefix="/zones", tags=["zones"])

ZoneId = Annotated[int, Path(ge=1, le=ID_MAX, description="the zone's id")]


@router.get(
    "",
    response_model=list[ZonePublic],
    responses=PAGED,
    summary="Zones and buildings, by community and slug (your community's)",
)
def list_zones(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    kind: Annotated[ZoneKind | None, Query(description="only zones, or only buildings")] = None,
    archived: Annotated[
        bool, Query(description="list archived zones (true) instead of those in use")
    ] = False,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[ZonePublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Zone).order_by(Zone.community_id, Zone.slug)
    query = query.where(set_aside(Zone.archived_at, archived))
    query = of_community(query, Zone.community_id, principal, community_id)
    if kind is not None:
        query = query.where(Zone.kind == kind)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [ZonePublic.model_validate(z) for z in found]


@router.post(
    "",
    response_model=ZonePublic,
    status_code=201,
    responses={
        404: {"model": Problem, "description": "the community does not exist"},
        409: {"model": Problem, "description": "the slug is taken in the community"},
    },
    summary="Create a zone or building (property managers of the community, operator admins)",
)
def create_zone(services: ServicesDep, principal: PrincipalDep, body: ZoneCreate) -> ZonePublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        community = community_for(session, principal, body.community_id)
        what = f"zone slug {body.slug!r} in community {community.id}"
        taken(
            session,
            select(Zone.id).where(Zone.community_id == community.id, Zone.slug == body.slug),
            what,
        )
        zone = Zone(community_id=community.id, slug=body.slug, name=body.name, kind=body.kind)
        with unique(what):
            session.add(zone)
            session.flush()
        return ZonePublic.model_validate(zone)


@router.get("/{zone_id}", response_model=ZonePublic, responses={404: {"model": Problem}})
def get_zone(session: SessionDep, principal: PrincipalDep, zone_id: ZoneId) -> ZonePublic:
    allowed(principal, Action.READ_REGISTER)
    return ZonePublic.model_validate(row_of(session, Zone, zone_id, principal, f"zone {zone_id}"))


@router.patch(
    "/{zone_id}",
    response_model=ZonePublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Change a zone's name or kind",
)
def change_zone(
    services: ServicesDep, principal: PrincipalDep, zone_id: ZoneId, body: ZoneChange
) -> ZonePublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        zone = row_of(session, Zone, zone_id, principal, f"zone {zone_id}")
        in_use(zone, f"zone {zone_id}")
        set_fields(zone, body.changes())
        session.flush()
        return ZonePublic.model_validate(zone)


@router.post(
    "/{zone_id}/archive",
    response_model=ZonePublic,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "facilities or gateways are still in it"},
    },
    summary="Archive a zone: out of use, its history kept (its facilities archived and "
    "gateways retired or moved first)",
)
def archive_zone(services: ServicesDep, principal: PrincipalDep, zone_id: ZoneId) -> ZonePublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        zone = row_of(session, Zone, zone_id, principal, f"zone {zone_id}")
        if zone.archived_at is None:
            facilities = session.scalar(
                select(func.count()).where(
                    Facility.zone_id == zone_id, Facility.archived_at.is_(None)
                )
            )
            gateways = session.scalar(
                select(func.count()).where(Gateway.zone_id == zone_id, Gateway.retired_at.is_(None))
            )
            if facilities or gateways:
                raise HTTPException(
                    409,
                    f"zone {zone_id} is in use by {facilities} facility(ies) and {gateways} "
                    "gateway(s): move them, or archive the facilities and retire the gateways",
                )
            zone.archived_at = datetime.now(UTC)
        return ZonePublic.model_validate(zone)
