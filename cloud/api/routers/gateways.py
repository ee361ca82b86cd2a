from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select

from cloud import queries
from cloud.api.deps import SessionDep
from cloud.api.schemas import DataGapPublic, GatewayPublic, Problem
from cloud.db.models import Gateway

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.get("", response_model=list[GatewayPublic], summary="Gateways and their last status")
def list_gateways(session: SessionDep) -> list[GatewayPublic]:
    return [
        GatewayPublic.model_validate(g)
        for g in session.scalars(select(Gateway).order_by(Gateway.id))
    ]


@router.get(
    "/{gateway_id}/gaps",
    response_model=list[DataGapPublic],
    responses={404: {"model": Problem}},
    summary="Readings the gateway had to drop (data-gap records), newest first; "
    "X-Total-Count gives the number of records, X-Readings-Dropped the readings they count",
)
def gateway_gaps(
    session: SessionDep,
    response: Response,
    gateway_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DataGapPublic]:
    if session.get(Gateway, gateway_id) is None:
        raise HTTPException(404, f"gateway {gateway_id} does not exist")
    found, records, dropped = queries.data_gaps(
        session, gateway_id=gateway_id, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(records)
    response.headers["X-Readings-Dropped"] = str(dropped)
    return found
