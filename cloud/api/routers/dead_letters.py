from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed
from cloud.api.paging import PAGED, Limit, Offset, page_of
from cloud.api.schemas import DeadLetterPublic
from cloud.db.models import DeadLetter

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


@router.get(
    "",
    response_model=list[DeadLetterPublic],
    responses=PAGED,
    summary="Messages ingest could not take, kept whole, newest first (operator admins)",
    description="Replay them with `linli cloud dead-letters replay`.",
)
def list_dead_letters(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
    waiting: Annotated[bool, Query(description="only those no replay has stored yet")] = False,
) -> list[DeadLetterPublic]:
    allowed(principal, Action.OPERATE)
    query = select(DeadLetter).order_by(DeadLetter.id.desc())
    if waiting:
        query = query.where(DeadLetter.replayed_at.is_(None))
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [DeadLetterPublic.of(row) for row in found]
