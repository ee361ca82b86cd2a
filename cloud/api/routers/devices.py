from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud import queries
from cloud.api.deps import SessionDep
from cloud.api.schemas import DevicePublic, Problem
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
