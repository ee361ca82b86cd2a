"""What a register write names, checked the one way every router checks it: the row it
changes (404 if the caller may not see it), the community it writes in (403 outside the
caller's own, 404 if there is none), the zones it puts things in (409 unless of the same
community), rows in use (409 once archived), and what must be unique (409).

A request the schema takes is not answered 422 for what it names: whether a row exists, or
is of the right community, is the register's state (404, 409), not the request's shape."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.access.roles import Principal
from cloud.api.deps import visible
from cloud.db.models import Community, Zone


class _Archivable(Protocol):
    archived_at: datetime | None


T = TypeVar("T")


def row_of(session: Session, model: type[T], key: Any, principal: Principal, what: str) -> T:
    """The row of ``model`` with ``key``, if the principal may see it (a row of a community,
    or the community itself); 404 as if it did not exist otherwise."""
    row = session.get(model, key)
    if row is None:
        raise HTTPException(404, f"{what} does not exist")
    community_id = row.id if isinstance(row, Community) else getattr(row, "community_id", None)
    visible(principal, community_id, what)
    return row


def in_use(row: _Archivable, what: str) -> None:
    """409 if ``row`` is archived: an archived row is not changed."""
    if row.archived_at is not None:
        raise HTTPException(409, f"{what} is archived; it is not changed any more")


def community_for(session: Session, principal: Principal, community_id: int | None) -> Community:
    """The community a write goes to: the one named, or the caller's own. 403 for another
    community than the caller's, 404 for one that does not exist (or none, named by an
    operator, who has no community of their own), 409 for an archived one."""
    if community_id is None:
        community_id = principal.community_id
        if community_id is None:
            raise HTTPException(
                404, "community_id: name the community (an operator has none of their own)"
            )
    elif not principal.sees(community_id):
        raise HTTPException(403, "you write only in your own community")
    community = session.get(Community, community_id)
    if community is None:
        raise HTTPException(404, f"community_id: community {community_id} does not exist")
    in_use(community, f"community {community_id}")
    return community


def zones_of(session: Session, community_id: int, zone_ids: Iterable[int]) -> list[Zone]:
    """The zones named, each of ``community_id`` and in use: 409 for one that does not exist,
    is of another community (which is not told apart, for who may not see it), or archived."""
    wanted = sorted(set(zone_ids))
    if not wanted:
        return []
    found = {z.id: z for z in session.scalars(select(Zone).where(Zone.id.in_(wanted)))}
    for zone_id in wanted:
        zone = found.get(zone_id)
        if zone is None or zone.community_id != community_id:
            raise HTTPException(
                409, f"zone_id: zone {zone_id} is not a zone of community {community_id}"
            )
        in_use(zone, f"zone {zone_id}")
    return [found[z] for z in wanted]


def zone_of(session: Session, community_id: int | None, zone_id: int | None) -> int | None:
    """``zone_id``, checked as :func:`zones_of` does (None stays None); 409 if there is no
    community to take it from."""
    if zone_id is None:
        return None
    if community_id is None:
        raise HTTPException(409, "it has no community yet, so no zone: provision its gateway")
    zones_of(session, community_id, [zone_id])
    return zone_id


@contextmanager
def unique(what: str) -> Iterator[None]:
    """409 where the database says ``what`` is taken (a write racing another)."""
    try:
        yield
    except IntegrityError:
        raise HTTPException(409, f"{what} is taken") from None


def taken(session: Session, query: Any, what: str) -> None:
    """409 if ``query`` (a select of one column) finds a row."""
    if session.scalar(query.limit(1)) is not None:
        raise HTTPException(409, f"{what} is taken")


def set_fields(row: object, values: dict[str, Any]) -> None:
    """Set each of ``values`` on ``row`` (a change's fields, checked)."""
    for name, value in values.items():
        setattr(row, name, value)
