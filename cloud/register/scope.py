"""Which facilities a figure counts, and how figures are grouped.

A :class:`Scope` (a community or every one, a zone, a category, a maintainer's zones) over a
:class:`Period` picks the facilities in use during the period: those not archived before it
starts. :func:`facilities` reads them as :class:`FacilityRow` s, :func:`in_scope` gives
their ids to a query of rows of theirs, and :func:`groups` splits them by community, zone,
category or facility. The repair figures (:mod:`cloud.repair.figures`) and the utilisation
figures (:mod:`cloud.telemetry.utilisation`) count the same facilities the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from cloud.db.models import Community, Facility, Zone


@dataclass(frozen=True)
class Period:
    """``[start, end)``; empty when ``end`` is not after ``start``."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    @property
    def empty(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class FacilityRow:
    id: int
    code: str
    name: str
    category: str
    zone_id: int | None = None
    zone_name: str | None = None
    community_id: int | None = None
    community_name: str | None = None


class GroupBy(StrEnum):
    COMMUNITY = "community"
    ZONE = "zone"
    CATEGORY = "category"
    FACILITY = "facility"


@dataclass(frozen=True)
class Scope:
    """Which facilities: of a community (None: every community), in zones, of a category."""

    community_id: int | None = None
    zone_id: int | None = None
    category: str | None = None
    zones: frozenset[int] | None = None
    """a maintainer's zones: only the facilities there"""
    communities: tuple[int, ...] = ()
    """held to these too (the caller's own, and the one asked for)"""


def _where(scope: Scope, period: Period) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        or_(Facility.archived_at.is_(None), Facility.archived_at >= period.start)
    ]
    for community in {*scope.communities, scope.community_id} - {None}:
        where.append(Facility.community_id == community)
    if scope.zone_id is not None:
        where.append(Facility.zone_id == scope.zone_id)
    if scope.zones is not None:
        where.append(Facility.zone_id.in_(sorted(scope.zones)))
    if scope.category is not None:
        where.append(Facility.category == scope.category)
    return where


def in_scope(scope: Scope, period: Period) -> Any:
    """The ids of the facilities of ``scope`` in use in the period, as a subquery (for
    ``column.in_(...)``)."""
    return select(Facility.id).where(*_where(scope, period)).scalar_subquery()


def facilities(session: Session, scope: Scope, period: Period) -> list[FacilityRow]:
    """The facilities of ``scope`` in use in the period (not archived before it starts),
    by id."""
    query = (
        select(
            Facility.id,
            Facility.code,
            Facility.name,
            Facility.category,
            Facility.zone_id,
            Zone.name,
            Facility.community_id,
            Community.name,
        )
        .outerjoin(Zone, Zone.id == Facility.zone_id)
        .outerjoin(Community, Community.id == Facility.community_id)
        .where(*_where(scope, period))
        .order_by(Facility.id)
    )
    return [FacilityRow(*row) for row in session.execute(query)]


_KEYS: dict[GroupBy, Callable[[FacilityRow], tuple[str, str]]] = {
    GroupBy.COMMUNITY: lambda f: (
        str(f.community_id) if f.community_id is not None else "none",
        f.community_name or "(no community)",
    ),
    GroupBy.ZONE: lambda f: (
        str(f.zone_id) if f.zone_id is not None else "none",
        f.zone_name or "(no zone)",
    ),
    GroupBy.CATEGORY: lambda f: (f.category, f.category),
    GroupBy.FACILITY: lambda f: (str(f.id), f.name),
}


def groups(rows: Sequence[FacilityRow], by: GroupBy) -> list[tuple[str, str, list[FacilityRow]]]:
    """``rows`` by community, zone, category or facility: each group's key (an id, ``none``,
    or the category), name and facilities, ordered by name then key. A group is made of its
    facilities, so one with no facility does not show."""
    key = _KEYS[by]
    members: dict[tuple[str, str], list[FacilityRow]] = defaultdict(list)
    for row in rows:
        members[key(row)].append(row)
    ordered = sorted(members.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    return [(group_key, name, found) for (group_key, name), found in ordered]
