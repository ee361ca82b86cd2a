"""Lists a page at a time: ``limit`` and ``offset`` query parameters, and the number of rows
matching in all in the ``X-Total-Count`` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Response
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.access.roles import Principal
from cloud.api.schemas import ID_MAX

T = TypeVar("T")

TOTAL_COUNT = "X-Total-Count"
LIMIT_MAX = 1000

Limit = Annotated[
    int, Query(ge=1, le=LIMIT_MAX, description=f"at most this many rows (1 to {LIMIT_MAX})")
]
Offset = Annotated[int, Query(ge=0, le=ID_MAX, description="skip this many rows first")]

PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_COUNT: {
                "description": "how many rows match in all, whatever limit and offset",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    }
}
"""The ``responses`` of a paged list operation: it documents the header."""


def count_into(response: Response, total: int) -> None:
    """Say in ``response`` how many rows match in all."""
    response.headers[TOTAL_COUNT] = str(total)


def page_of(
    session: Session, query: Select[tuple[T]], response: Response, *, limit: int, offset: int
) -> Sequence[T]:
    """One page of ``query``'s rows (it must be ordered), their total counted into
    ``response``."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    count_into(response, total or 0)
    return session.scalars(query.limit(limit).offset(offset)).all()


CommunityFilter = Annotated[int | None, Query(ge=1, le=ID_MAX, description="only this community's")]
"""The ``community_id`` filter of a list of community rows."""


def of_community(
    query: Select[tuple[T]],
    column: Any,
    principal: Principal,
    community_id: int | None,
) -> Select[tuple[T]]:
    """``query`` held to the caller's community (every row of it, for the operator) and to
    ``community_id`` if the caller asks for one."""
    if principal.community_id is not None:
        query = query.where(column == principal.community_id)
    if community_id is not None:
        query = query.where(column == community_id)
    return query


def set_aside(column: InstrumentedAttribute[Any], wanted: bool) -> ColumnElement[bool]:
    """Rows whose ``column`` (``archived_at``, ``retired_at``) is set if ``wanted``, else
    those still in use."""
    return column.is_not(None) if wanted else column.is_(None)
