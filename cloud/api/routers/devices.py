from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.roles import Action, Principal
from cloud.api.deps import PrincipalDep, SessionDep, allowed, visible
from cloud.api.schemas import ID_MAX, DataGapPublic, DevicePublic, Problem
from cloud.db.models import Device
from device_profiles import Health

router = APIRouter(prefix="/devices", tags=["devices"])

DevicePk = Annotated[int, Path(ge=1, le=ID_MAX, description="the device's id")]


def device_for(session: Session, principal: Principal, device_pk: int) -> Device:
    """The device, if the principal may see it; 404 otherwise."""
    device = session.get(Device, device_pk)
    if device is None:
        raise HTTPException(404, f"device {device_pk} does not exist")
    visible(principal, device.facility.community_id, f"device {device_pk}")
    return device


@router.get("", response_model=list[DevicePublic], summary="Devices with their latest state")
def list_devices(
    session: SessionDep,
    principal: PrincipalDep,
    facility_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
    health: Annotated[list[Health] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
) -> list[DevicePublic]:
    allowed(principal, Action.READ_REGISTER)
    return queries.devices(
        session,
        facility_id=facility_id,
        health=[h.value for h in health or ()],
        community=principal.community_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{device_pk}", response_model=DevicePublic, responses={404: {"model": Problem}})
def get_device(session: SessionDep, principal: PrincipalDep, device_pk: DevicePk) -> DevicePublic:
    allowed(principal, Action.READ_REGISTER)
    return DevicePublic.model_validate(device_for(session, principal, device_pk))


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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
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
    response.headers["X-Total-Count"] = str(records)
    response.headers["X-Readings-Dropped"] = str(dropped)
    return found
