"""The register as people read it: communities, their zones and buildings, their people; and
moving a device to another facility, with its history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import select

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, visible
from cloud.api.routers.devices import DevicePk, device_for
from cloud.api.schemas import (
    ID_MAX,
    CommunityPublic,
    DeviceMovePublic,
    DeviceMoveRequest,
    PersonPublic,
    Problem,
    ZonePublic,
)
from cloud.db.models import Community, DeviceMove, Facility, Person, PersonZone, Zone

router = APIRouter(tags=["register"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=ID_MAX)]


@router.get("/communities", response_model=list[CommunityPublic], summary="Communities")
def list_communities(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 100, offset: Offset = 0
) -> list[CommunityPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Community).order_by(Community.slug).limit(limit).offset(offset)
    if principal.community_id is not None:
        query = query.where(Community.id == principal.community_id)
    return [CommunityPublic.model_validate(c) for c in session.scalars(query)]


@router.get("/zones", response_model=list[ZonePublic], summary="Zones and buildings")
def list_zones(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 1000, offset: Offset = 0
) -> list[ZonePublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Zone).order_by(Zone.community_id, Zone.slug).limit(limit).offset(offset)
    if principal.community_id is not None:
        query = query.where(Zone.community_id == principal.community_id)
    return [ZonePublic.model_validate(z) for z in session.scalars(query)]


@router.get("/people", response_model=list[PersonPublic], summary="People who work there")
def list_people(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 1000, offset: Offset = 0
) -> list[PersonPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = (
        select(Person)
        .where(Person.archived_at.is_(None))
        .order_by(Person.community_id, Person.slug)
        .limit(limit)
        .offset(offset)
    )
    if principal.community_id is not None:
        query = query.where(Person.community_id == principal.community_id)
    people = session.scalars(query).all()
    zones: dict[int, list[int]] = {}
    if people:
        for person_id, zone_id in session.execute(
            select(PersonZone.person_id, PersonZone.zone_id).where(
                PersonZone.person_id.in_([p.id for p in people])
            )
        ):
            zones.setdefault(person_id, []).append(zone_id)
    return [
        PersonPublic.model_validate(
            {**{k: getattr(p, k) for k in PersonPublic.model_fields if k != "zone_ids"},
             "zone_ids": sorted(zones.get(p.id, []))}
        )
        for p in people
    ]  # fmt: skip


@router.put(
    "/devices/{device_pk}/facility",
    response_model=DeviceMovePublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Move a device to another facility of its community (kept in its history)",
)
def move_device(
    services: ServicesDep,
    principal: PrincipalDep,
    device_pk: DevicePk,
    body: DeviceMoveRequest,
) -> DeviceMovePublic:
    allowed(principal, Action.WRITE_REGISTER)
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        device = device_for(session, principal, device_pk)
        target = session.get(Facility, body.facility_id)
        if target is None:
            raise HTTPException(404, f"facility {body.facility_id} does not exist")
        visible(principal, target.community_id, f"facility {body.facility_id}")
        source = device.facility
        if target.community_id != source.community_id:
            raise HTTPException(409, "a device moves only within its gateway's community")
        move = DeviceMove(
            device_pk=device.id,
            from_facility_id=source.id,
            to_facility_id=target.id,
            at=now,
            actor=principal.actor,
        )
        if target.id != source.id:
            device.facility_id = target.id
            session.add(move)
            session.flush()
            for facility in (source, target):
                session.refresh(facility, ["devices"])
                facility.refresh_health(now)
        return DeviceMovePublic.model_validate(move)


@router.get(
    "/devices/{device_pk}/moves",
    response_model=list[DeviceMovePublic],
    responses={404: {"model": Problem}},
    summary="Where the device was moved, newest first",
)
def device_moves(
    session: SessionDep,
    principal: PrincipalDep,
    device_pk: Annotated[int, Path(ge=1, le=ID_MAX)],
) -> list[DeviceMovePublic]:
    allowed(principal, Action.READ_REGISTER)
    device_for(session, principal, device_pk)
    query = (
        select(DeviceMove)
        .where(DeviceMove.device_pk == device_pk)
        .order_by(DeviceMove.at.desc(), DeviceMove.id.desc())
    )
    return [DeviceMovePublic.model_validate(m) for m in session.scalars(query)]
