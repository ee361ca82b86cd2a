from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select

from cloud import queries
from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed, visible
from cloud.api.schemas import ID_MAX, DataGapPublic, GatewayPublic, Problem
from cloud.db.models import Gateway

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.get("", response_model=list[GatewayPublic], summary="Gateways and their last status")
def list_gateways(session: SessionDep, principal: PrincipalDep) -> list[GatewayPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Gateway).order_by(Gateway.id)
    if principal.community_id is not None:
        query = query.where(Gateway.community_id == principal.community_id)
    return [GatewayPublic.model_validate(g) for g in session.scalars(query)]


@router.get(
    "/{gateway_id}/gaps",
    response_model=list[DataGapPublic],
    responses={404: {"model": Problem}},
    summary="Readings the gateway had to drop (data-gap records), newest first; "
    "X-Total-Count gives the number of records, X-Readings-Dropped the readings they count",
)
def gateway_gaps(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    gateway_id: Annotated[str, Path(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
) -> list[DataGapPublic]:
    allowed(principal, Action.READ_TELEMETRY)
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise HTTPException(404, f"gateway {gateway_id} does not exist")
    visible(principal, gateway.community_id, f"gateway {gateway_id}")
    found, records, dropped = queries.data_gaps(
        session, gateway_id=gateway_id, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(records)
    response.headers["X-Readings-Dropped"] = str(dropped)
    return found
