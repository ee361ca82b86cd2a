from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from cloud.api.deps import SessionDep
from cloud.api.schemas import GatewayPublic
from cloud.db.models import Gateway

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.get("", response_model=list[GatewayPublic], summary="Gateways and their last status")
def list_gateways(session: SessionDep) -> list[GatewayPublic]:
    return [
        GatewayPublic.model_validate(g)
        for g in session.scalars(select(Gateway).order_by(Gateway.id))
    ]
