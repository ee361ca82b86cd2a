from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.roles import Action, Principal
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, reachable, visible
from cloud.api.paging import PAGED, Limit, Offset, count_into
from cloud.api.schemas import (
    ID_MAX,
    DataGapPublic,
    DeviceMovePublic,
    DeviceMoveRequest,
    DevicePublic,
    Problem,
)
from cloud.db.models import Device, DeviceMove, Facility, Gateway
from cloud.register.binding import BindingRefused, bind_device
from cloud.services import Services
from device_profiles import Health

router = APIRouter(prefix="/devices", tags=["devices"])

DevicePk = Annotated[int, Path(ge=1, le=ID_MAX, description="the device's id")]


def device_for(session: Session, principal: Principal, device_pk: int) -> Device:
    """The device, if the principal may see it; 404 otherwise."""
    device = session.get(Device, device_pk)
    if device is None:
        raise HTTPException(404, f"device {device_pk} does not exist")
    gateway = session.get(Gateway, device.gateway_id)
    what = f"device {device_pk}"
    visible(principal, gateway.community_id if gateway else None, what)
    if principal.zone_ids is not None:  # a maintainer reaches devices of their zones' facilities
        facility = device.facility
        if facility is None:
            raise HTTPException(404, f"{what} does not exist")
        reachable(principal, facility.community_id, facility.zone_id, what)
    return device


@router.get(
    "",
    response_model=list[DevicePublic],
    responses=PAGED,
    summary="Devices with their latest state, by gateway and id; X-Total-Count gives the "
    "number matching",
)
def list_devices(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    facility_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only this facility's devices")
    ] = None,
    health: Annotated[
        list[Health] | None, Query(description="only devices of this health; repeat for several")
    ] = None,
    assigned: Annotated[
        bool | None,
        Query(description="only devices bound to a facility (true) or unassigned ones (false)"),
    ] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[DevicePublic]:
    allowed(principal, Action.READ_REGISTER)
    found, total = queries.devices(
        session,
        facility_id=facility_id,
        health=[h.value for h in health or ()],
        community=principal.community_id,
        zones=principal.zone_ids,
        assigned=assigned,
        limit=limit,
        offset=offset,
    )
    count_into(response, total)
    return found


@router.get("/{device_pk}", response_model=DevicePublic, responses={404: {"model": Problem}})
def get_device(session: SessionDep, principal: PrincipalDep, device_pk: DevicePk) -> DevicePublic:
    allowed(principal, Action.READ_REGISTER)
    return queries.device(session, device_for(session, principal, device_pk))


@router.get(
    "/{device_pk}/gaps",
    response_model=list[DataGapPublic],
    responses={404: {"model": Problem}},
    summary="Readings of the device its gateway had to drop (data-gap records), newest "
    "first; X-Total-Count gives the number of records, X-Readings-Dropped the readings they "
    "count",
)
def device_gaps(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    device_pk: DevicePk,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DataGapPublic]:
    allowed(principal, Action.READ_TELEMETRY)
    device = device_for(session, principal, device_pk)
    found, records, dropped = queries.data_gaps(
        session,
        gateway_id=device.gateway_id,
        device_id=device.device_id,
        limit=limit,
        offset=offset,
    )
    count_into(response, records)
    response.headers["X-Readings-Dropped"] = str(dropped)
    return found


@router.put(
    "/{device_pk}/facility",
    response_model=DeviceMovePublic | None,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Bind the device to a facility of its community, or move it to another (kept in "
    "its history); its active faults open tickets there. Null if it was there already",
)
def bind(
    services: ServicesDep, principal: PrincipalDep, device_pk: DevicePk, body: DeviceMoveRequest
) -> DeviceMovePublic | None:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        device = device_for(session, principal, device_pk)
        target = session.get(Facility, body.facility_id)
        if target is None:
            raise HTTPException(404, f"facility {body.facility_id} does not exist")
        visible(principal, target.community_id, f"facility {body.facility_id}")
        return _placed(session, services, principal, device, target)


@router.delete(
    "/{device_pk}/facility",
    response_model=DeviceMovePublic | None,
    responses={404: {"model": Problem}},
    summary="Unbind the device: it is unassigned again (kept in its history); tickets already "
    "open stay with their facility. Null if it was unassigned already",
)
def unbind(
    services: ServicesDep, principal: PrincipalDep, device_pk: DevicePk
) -> DeviceMovePublic | None:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        device = device_for(session, principal, device_pk)
        return _placed(session, services, principal, device, None)


def _placed(
    session: Session,
    services: Services,
    principal: Principal,
    device: Device,
    facility: Facility | None,
) -> DeviceMovePublic | None:
    try:
        move = bind_device(
            session,
            device,
            facility,
            services.tickets,
            actor=principal.actor,
            now=datetime.now(UTC),
        )
    except BindingRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return DeviceMovePublic.model_validate(move) if move is not None else None


@router.get(
    "/{device_pk}/moves",
    response_model=list[DeviceMovePublic],
    responses={404: {"model": Problem}},
    summary="Where the device was bound, moved and unbound, newest first",
)
def device_moves(
    session: SessionDep, principal: PrincipalDep, device_pk: DevicePk
) -> list[DeviceMovePublic]:
    allowed(principal, Action.READ_REGISTER)
    device_for(session, principal, device_pk)
    query = (
        select(DeviceMove)
        .where(DeviceMove.device_pk == device_pk)
        .order_by(DeviceMove.at.desc(), DeviceMove.id.desc())
    )
    return [DeviceMovePublic.model_validate(m) for m in session.scalars(query)]
