from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from cloud import queries
from cloud.api.deps import SessionDep
from cloud.api.schemas import FacilityPublic, Problem
from device_profiles import Health

router = APIRouter(prefix="/facilities", tags=["facilities"])


@router.get("", response_model=list[FacilityPublic], summary="Facilities, worst health first")
def list_facilities(
    session: SessionDep,
    health: Annotated[list[Health] | None, Query(description="only these healths")] = None,
    gateway_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[FacilityPublic]:
    return queries.facilities(
        session,
        health=[h.value for h in health or ()],
        gateway_id=gateway_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{facility_id}", response_model=FacilityPublic, responses={404: {"model": Problem}})
def get_facility(session: SessionDep, facility_id: int) -> FacilityPublic:
    found = queries.facility(session, facility_id)
    if found is None:
        raise HTTPException(404, f"facility {facility_id} does not exist")
    return found
