"""Gateways: everyone reads their community's; operator admins provision, change and retire
them. Ingest takes batches only from gateways provisioned and not retired."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select

from cloud import queries
from cloud.access.roles import Action
from cloud.api.bodies import GatewayChange, GatewayProvision
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, visible
from cloud.api.paging import (
    PAGED,
    CommunityFilter,
    Limit,
    Offset,
    count_into,
    of_community,
    page_of,
    set_aside,
)
from cloud.api.references import community_for, row_of, set_fields, zone_of
from cloud.api.schemas import NO_NUL, DataGapPublic, GatewayPublic, Problem
from cloud.db.models import Gateway
from cloud.register.gateways import RegisterConflict, provision_gateway, retire_gateway

router = APIRouter(prefix="/gateways", tags=["gateways"])

GatewayId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="the gateway's id")
]


@router.get(
    "",
    response_model=list[GatewayPublic],
    responses=PAGED,
    summary="Gateways and their last status, by id (your community's)",
)
def list_gateways(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    retired: Annotated[
        bool, Query(description="list retired gateways (true) instead of those in service")
    ] = False,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[GatewayPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Gateway).order_by(Gateway.id)
    query = query.where(set_aside(Gateway.retired_at, retired))
    query = of_community(query, Gateway.community_id, principal, community_id)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [GatewayPublic.model_validate(g) for g in found]


@router.post(
    "",
    response_model=GatewayPublic,
    status_code=201,
    responses={
        409: {
            "model": Problem,
            "description": "it is provisioned already or belongs to another community, or "
            "the zone is not of the community",
        },
        404: {"model": Problem, "description": "the community does not exist"},
    },
    summary="Provision a gateway for a community, or a retired one again (operator admins): "
    "ingest takes its batches from then on",
)
def provision(
    services: ServicesDep, principal: PrincipalDep, body: GatewayProvision
) -> GatewayPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        existing = session.get(Gateway, body.id)
        if existing is not None and existing.provisioned:
            if existing.community_id == body.community_id:
                raise HTTPException(
                    409, f"gateway {body.id} is provisioned already: change it with PATCH"
                )
            raise HTTPException(
                409, f"gateway {body.id} belongs to another community (id {existing.community_id})"
            )
        community = community_for(session, principal, body.community_id)
        try:
            gateway, _ = provision_gateway(
                session,
                body.id,
                community.id,
                name=body.name,
                zone_id=zone_of(session, community.id, body.zone_id),
                new_devices=body.new_devices,
                now=datetime.now(UTC),
                revive=True,
            )
        except RegisterConflict as exc:
            raise HTTPException(409, str(exc)) from None
        public = GatewayPublic.model_validate(gateway)
    services.intake.roster.forget([body.id])  # heard at once here; elsewhere within its refresh
    return public


@router.get("/{gateway_id}", response_model=GatewayPublic, responses={404: {"model": Problem}})
def get_gateway(
    session: SessionDep, principal: PrincipalDep, gateway_id: GatewayId
) -> GatewayPublic:
    allowed(principal, Action.READ_REGISTER)
    found = row_of(session, Gateway, gateway_id, principal, f"gateway {gateway_id}")
    return GatewayPublic.model_validate(found)


@router.patch(
    "/{gateway_id}",
    response_model=GatewayPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Change a gateway's name, zone, or what its new devices become (operator admins)",
)
def change_gateway(
    services: ServicesDep, principal: PrincipalDep, gateway_id: GatewayId, body: GatewayChange
) -> GatewayPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        gateway = row_of(session, Gateway, gateway_id, principal, f"gateway {gateway_id}")
        if gateway.retired_at is not None:
            raise HTTPException(409, f"gateway {gateway_id} is retired: provision it again first")
        changes = body.changes()
        if "zone_id" in changes:
            changes["zone_id"] = zone_of(session, gateway.community_id, changes["zone_id"])
        if "new_devices" in changes:
            changes["new_devices"] = changes["new_devices"].value
        set_fields(gateway, changes)
        session.flush()
        return GatewayPublic.model_validate(gateway)


@router.post(
    "/{gateway_id}/retire",
    response_model=GatewayPublic,
    responses={404: {"model": Problem}},
    summary="Retire a gateway (operator admins): its batches are no longer taken; its "
    "devices and their history stay",
)
def retire(services: ServicesDep, principal: PrincipalDep, gateway_id: GatewayId) -> GatewayPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        gateway = row_of(session, Gateway, gateway_id, principal, f"gateway {gateway_id}")
        retire_gateway(gateway, datetime.now(UTC))
        session.flush()
        public = GatewayPublic.model_validate(gateway)
    services.intake.roster.forget([gateway_id])
    return public


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
    gateway_id: GatewayId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DataGapPublic]:
    allowed(principal, Action.READ_TELEMETRY)
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise HTTPException(404, f"gateway {gateway_id} does not exist")
    visible(principal, gateway.community_id, f"gateway {gateway_id}")
    found, records, dropped = queries.data_gaps(
        session, gateway_id=gateway_id, limit=limit, offset=offset
    )
    count_into(response, records)
    response.headers["X-Readings-Dropped"] = str(dropped)
    return found
