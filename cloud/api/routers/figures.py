"""Repair figures — MTTR, MTBF, SLA compliance, repeat failures, the facilities that fail
most — of the caller's community (an operator's choice of one, or all), computed from the
tickets and their events (:mod:`cloud.repair.figures`; definitions in docs/figures.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed
from cloud.api.paging import CommunityFilter
from cloud.api.periods import period as period_of
from cloud.api.schemas import ID_MAX, NO_NUL, RepairFigures
from cloud.repair import figures as computed
from cloud.repair.figures import GroupBy, Scope
from cloud.repair.history import Period

router = APIRouter(prefix="/figures", tags=["figures"])

DEFAULT_SPAN = timedelta(days=30)
TOP_MAX = 100


@router.get(
    "/repairs",
    response_model=RepairFigures,
    response_model_by_alias=True,
    summary="Repair figures of your community over a period: MTTR and MTBF from the fault's "
    "start to the recovery the data saw, SLA compliance, repeat failures, the facilities "
    "that fail most; per zone, category, facility or community with `group_by`",
)
def repair_figures(
    session: SessionDep,
    principal: PrincipalDep,
    community_id: CommunityFilter = None,
    zone_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only facilities of this zone")
    ] = None,
    category: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=NO_NUL,
            description="only facilities of this category (access, lighting...)",
        ),
    ] = None,
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="the period's start; default: 30 days before `to`. Times are taken "
            "between 1970 and 2200 (without an offset, in UTC)",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        Query(
            alias="to",
            description="the period's end, not included; default: now. Not after `from`: an "
            "empty period, every figure zero",
        ),
    ] = None,
    group_by: Annotated[
        GroupBy | None,
        Query(description="the same figures per community, zone, category or facility too"),
    ] = None,
    top: Annotated[
        int,
        Query(ge=1, le=TOP_MAX, description="how many of the facilities that fail most to list"),
    ] = 5,
) -> RepairFigures:
    allowed(principal, Action.READ_TICKETS)
    now = datetime.now(UTC)
    start, end = period_of(start, end, now, DEFAULT_SPAN)
    period = Period(start, end)
    chosen = community_id if community_id is not None else principal.community_id
    scope = Scope(
        community_id=community_id,
        zone_id=zone_id,
        category=category,
        zones=principal.zone_ids,
        communities=(principal.community_id,) if principal.community_id is not None else (),
    )
    facilities, tickets = computed.load(session, scope, period) if not period.empty else ([], [])
    whole = computed.figures(facilities, tickets, period, now, top=top)
    groups = (
        computed.grouped(facilities, tickets, period, now, group_by, top=top)
        if group_by is not None
        else []
    )
    return RepairFigures.model_validate(
        {
            **_fields(whole),
            "community_id": chosen,
            "zone_id": zone_id,
            "category": category,
            "start": start,
            "end": end,
            "group_by": group_by.value if group_by is not None else None,
            "groups": [
                {**_fields(group.figures), "key": group.key, "name": group.name} for group in groups
            ],
        }
    )


def _fields(found: computed.Figures) -> dict[str, object]:
    """The figures as the schema's fields (the nested ones read by attribute)."""
    return {
        "facilities": found.facilities,
        "tickets": found.tickets,
        "cancelled": found.cancelled,
        "mttr": found.mttr,
        "mtbf": found.mtbf,
        "sla": found.sla,
        "repeats": found.repeats,
        "most_failing": list(found.most_failing),
    }
