from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from cloud import queries
from cloud.api.deps import SessionDep
from cloud.api.schemas import DataGapPublic, DevicePublic, Problem
from cloud.db.models import Device
from device_profiles import Health

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic], summary="Devices with their latest state")
def list_devices(
    session: SessionDep,
    facility_id: int | None = None,
    health: Annotated[list[Health] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DevicePublic]:
    return queries.devices(
        session,
        facility_id=facility_id,
        health=[h.value for h in health or ()],
        limit=limit,
        offset=offset,
    )


@router.get("/{device_pk}", response_model=DevicePublic, responses={404: {"model": Problem}})
def get_device(session: SessionDep, device_pk: int) -> DevicePublic:
    device = session.get(Device, device_pk)
    if device is None:
        raise HTTPException(404, f"device {device_pk} does not exist")
    return DevicePublic.model_validate(device)


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
    response: Response,
    device_pk: int,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DataGapPublic]:
    device = session.get(Device, device_pk)
    if device is None:
        raise HTTPException(404, f"device {device_pk} does not exist")
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
