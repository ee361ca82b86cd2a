"""Gateways heard from without being provisioned, or after being retired: the operator's
list, so that a forgotten provisioning step shows at once."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed
from cloud.api.paging import PAGED, Limit, Offset, page_of
from cloud.api.schemas import UnknownGatewayPublic
from cloud.db.models import UnknownGateway

router = APIRouter(prefix="/unknown-gateways", tags=["gateways"])


@router.get(
    "",
    response_model=list[UnknownGatewayPublic],
    responses=PAGED,
    summary="Gateways whose batches were refused, last heard from first (operator admins); "
    "provisioning one takes it off the list",
)
def list_unknown_gateways(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[UnknownGatewayPublic]:
    allowed(principal, Action.OPERATE)
    query = select(UnknownGateway).order_by(UnknownGateway.last_seen_at.desc(), UnknownGateway.id)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [UnknownGatewayPublic.model_validate(g) for g in found]
