"""Deliveries of notifications (:mod:`cloud.notify.deliveries`): what was sent to whom and
how it went — pending, delivered, or dead (given up) with the last error — for property
managers and operator admins; a dead letter can be given its attempts again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import Select, func, select

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, count_into
from cloud.api.references import row_of
from cloud.api.schemas import ID_MAX, DeliveryPublic, DeliveryState, Problem
from cloud.db.notices import Delivery, Notice
from cloud.notify.deliveries import revive
from cloud.notify.rules import Channel

router = APIRouter(prefix="/deliveries", tags=["notifications"])

DeliveryId = Annotated[int, Path(ge=1, le=ID_MAX, description="the delivery's id")]


def _state(delivery: Delivery) -> DeliveryState:
    if delivery.delivered_at is not None:
        return "delivered"
    return "dead" if delivery.dead_at is not None else "pending"


def _public(delivery: Delivery, notice: Notice) -> DeliveryPublic:
    fields = {name: getattr(delivery, name, None) for name in DeliveryPublic.model_fields}
    fields |= {"kind": notice.kind, "ticket_id": notice.ticket_id, "state": _state(delivery)}
    return DeliveryPublic.model_validate(fields)


def _of_state(
    query: Select[tuple[Delivery, Notice]], state: str
) -> Select[tuple[Delivery, Notice]]:
    if state == "delivered":
        return query.where(Delivery.delivered_at.is_not(None))
    if state == "dead":
        return query.where(Delivery.dead_at.is_not(None))
    return query.where(Delivery.delivered_at.is_(None), Delivery.dead_at.is_(None))


@router.get(
    "",
    response_model=list[DeliveryPublic],
    responses=PAGED,
    summary="Deliveries of notifications, newest first (your community's; property managers, "
    "operator admins)",
)
def list_deliveries(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    state: Annotated[DeliveryState | None, Query(description="only those in this state")] = None,
    channel: Annotated[Channel | None, Query(description="only those of this channel")] = None,
    webhook_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only those to this webhook")
    ] = None,
    ticket_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only those of this ticket's events")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeliveryPublic]:
    allowed(principal, Action.WRITE_REGISTER)
    query = select(Delivery, Notice).join(Notice, Notice.id == Delivery.notice_id)
    for community in (principal.community_id, community_id):  # yours, and the one asked for
        if community is not None:
            query = query.where(Delivery.community_id == community)
    if state is not None:
        query = _of_state(query, state)
    if channel is not None:
        query = query.where(Delivery.channel == channel.value)
    if webhook_id is not None:
        query = query.where(Delivery.webhook_id == webhook_id)
    if ticket_id is not None:
        query = query.where(Notice.ticket_id == ticket_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    count_into(response, total)
    page = query.order_by(Delivery.id.desc()).limit(limit).offset(offset)
    return [_public(delivery, notice) for delivery, notice in session.execute(page).tuples()]


@router.post(
    "/{delivery_id}/retry",
    response_model=DeliveryPublic,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "it is not dead: delivered, or still being tried"},
    },
    summary="Try a dead delivery again, from now, with its attempts anew (once its receiver "
    "is fixed)",
)
def retry_delivery(
    services: ServicesDep, principal: PrincipalDep, delivery_id: DeliveryId
) -> DeliveryPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        delivery = row_of(session, Delivery, delivery_id, principal, f"delivery {delivery_id}")
        if delivery.dead_at is None:
            state = _state(delivery)
            raise HTTPException(409, f"delivery {delivery_id} is {state}, not dead")
        revive(delivery, datetime.now(UTC))
        session.flush()
        return _public(delivery, delivery.notice)
