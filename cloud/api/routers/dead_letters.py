from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud.api.deps import SessionDep
from cloud.api.schemas import DeadLetterPublic
from cloud.db.models import DeadLetter

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


@router.get(
    "", response_model=list[DeadLetterPublic], summary="Messages ingest rejected, newest first"
)
def list_dead_letters(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterPublic]:
    rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit))
    return [DeadLetterPublic.model_validate(r) for r in rows]
