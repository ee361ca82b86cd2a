from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from cloud import queries
from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed, visible
from cloud.api.schemas import ID_MAX, FacilityPublic, Problem
from device_profiles import Health

router = APIRouter(prefix="/facilities", tags=["facilities"])


@router.get("", response_model=list[FacilityPublic], summary="Facilities, worst health first")
def list_facilities(
    session: SessionDep,
    principal: PrincipalDep,
    health: Annotated[list[Health] | None, Query(description="only these healths")] = None,
    gateway_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
) -> list[FacilityPublic]:
    allowed(principal, Action.READ_REGISTER)
    return queries.facilities(
        session,
        health=[h.value for h in health or ()],
        gateway_id=gateway_id,
        community=principal.community_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{facility_id}", response_model=FacilityPublic, responses={404: {"model": Problem}})
def get_facility(
    session: SessionDep, principal: PrincipalDep, facility_id: Annotated[int, Path(ge=1, le=ID_MAX)]
) -> FacilityPublic:
    allowed(principal, Action.READ_REGISTER)
    found = queries.facility(session, facility_id)
    if found is None:
        raise HTTPException(404, f"facility {facility_id} does not exist")
    visible(principal, found.community_id, f"facility {facility_id}")
    return found
