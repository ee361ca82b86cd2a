"""Communities: everyone reads their own; operator admins create, change and archive them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import func, select

from cloud.access.roles import Action
from cloud.api.bodies import CommunityChange, CommunityCreate
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import PAGED, Limit, Offset, of_community, page_of, set_aside
from cloud.api.references import in_use, row_of, set_fields, taken, unique
from cloud.api.schemas import ID_MAX, CommunityPublic, Problem
from cloud.db.models import Community, Gateway

router = APIRouter(prefix="/communities", tags=["communities"])

CommunityId = Annotated[int, Path(ge=1, le=ID_MAX, description="the community's id")]
Archived = Annotated[
    bool, Query(description="list archived communities (true) instead of those in use")
]


@router.get(
    "",
    response_model=list[CommunityPublic],
    responses=PAGED,
    summary="Communities by slug: an operator's all, anyone else's own",
)
def list_communities(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    archived: Archived = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[CommunityPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Community).order_by(Community.slug)
    query = query.where(set_aside(Community.archived_at, archived))
    query = of_community(query, Community.id, principal, None)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [CommunityPublic.model_validate(c) for c in found]


@router.post(
    "",
    response_model=CommunityPublic,
    status_code=201,
    responses={409: {"model": Problem, "description": "the slug is taken"}},
    summary="Create a community (operator admins)",
)
def create_community(
    services: ServicesDep, principal: PrincipalDep, body: CommunityCreate
) -> CommunityPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        what = f"community slug {body.slug!r}"
        taken(session, select(Community.id).where(Community.slug == body.slug), what)
        community = Community(**body.model_dump(), created_at=datetime.now(UTC))
        with unique(what):
            session.add(community)
            session.flush()
        return CommunityPublic.model_validate(community)


@router.get(
    "/{community_id}",
    response_model=CommunityPublic,
    responses={404: {"model": Problem}},
    summary="One community (your own, unless you are an operator)",
)
def get_community(
    session: SessionDep, principal: PrincipalDep, community_id: CommunityId
) -> CommunityPublic:
    allowed(principal, Action.READ_REGISTER)
    found = row_of(session, Community, community_id, principal, f"community {community_id}")
    return CommunityPublic.model_validate(found)


@router.patch(
    "/{community_id}",
    response_model=CommunityPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Change a community's name, time zone or address (operator admins)",
)
def change_community(
    services: ServicesDep, principal: PrincipalDep, community_id: CommunityId, body: CommunityChange
) -> CommunityPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        what = f"community {community_id}"
        community = row_of(session, Community, community_id, principal, what)
        in_use(community, what)
        set_fields(community, body.changes())
        session.flush()
        return CommunityPublic.model_validate(community)


@router.post(
    "/{community_id}/archive",
    response_model=CommunityPublic,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "it still has gateways in service"},
    },
    summary="Archive a community: out of use, its history kept (operator admins; its "
    "gateways retired first)",
)
def archive_community(
    services: ServicesDep, principal: PrincipalDep, community_id: CommunityId
) -> CommunityPublic:
    allowed(principal, Action.OPERATE)
    with services.sessions.begin() as session:
        what = f"community {community_id}"
        community = row_of(session, Community, community_id, principal, what)
        if community.archived_at is None:
            serving = session.scalar(
                select(func.count()).where(
                    Gateway.community_id == community_id, Gateway.retired_at.is_(None)
                )
            )
            if serving:
                raise HTTPException(
                    409, f"{what} has {serving} gateway(s) in service: retire them first"
                )
            community.archived_at = datetime.now(UTC)
        return CommunityPublic.model_validate(community)
