"""Figures of the caller's community (an operator's choice of one, or all) over a period,
per community, zone, category or facility — the same period, scope and groups for each
kind (:func:`asked`): repair figures — MTTR, MTBF, SLA compliance, repeat failures, the
facilities that fail most — from the tickets and their events (:mod:`cloud.repair.figures`),
and utilisation figures — uses counted, time in use, the facilities that sit idle — from the
devices' telemetry (:mod:`cloud.telemetry.utilisation`). Definitions in docs/figures.md."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import CommunityFilter
from cloud.api.periods import period as period_of
from cloud.api.routers.telemetry import STORE_PROBLEMS, store_failures
from cloud.api.schemas import ID_MAX, NO_NUL, RepairFigures
from cloud.api.schemas.utilisation import UtilisationFigures
from cloud.register.scope import GroupBy, Period, Scope
from cloud.repair import figures as repairs
from cloud.services import Services
from cloud.telemetry import utilisation

router = APIRouter(prefix="/figures", tags=["figures"])

DEFAULT_SPAN = timedelta(days=30)
TOP_MAX = 100
LISTED_MAX = 1000
IDLE_S_MAX = 1e10


@dataclass(frozen=True)
class Asked:
    """What a request for figures asks about, held to what the caller sees."""

    period: Period
    scope: Scope
    community_id: int | None
    """the community the figures are of: the one asked for, else the caller's own"""
    group_by: GroupBy | None
    now: datetime

    def echo(self) -> dict[str, object]:
        """The answer's fields that say what was asked."""
        return {
            "community_id": self.community_id,
            "zone_id": self.scope.zone_id,
            "category": self.scope.category,
            "start": self.period.start,
            "end": self.period.end,
            "group_by": self.group_by.value if self.group_by is not None else None,
        }


def asked(
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
) -> Asked:
    """The period, scope and groups of a request for figures: a maintainer's zones only,
    the caller's community only (an operator's choice of one, or every one)."""
    now = datetime.now(UTC)
    start, end = period_of(start, end, now, DEFAULT_SPAN)
    scope = Scope(
        community_id=community_id,
        zone_id=zone_id,
        category=category,
        zones=principal.zone_ids,
        communities=(principal.community_id,) if principal.community_id is not None else (),
    )
    chosen = community_id if community_id is not None else principal.community_id
    return Asked(Period(start, end), scope, chosen, group_by, now)


AskedDep = Annotated[Asked, Depends(asked)]


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
    wanted: AskedDep,
    top: Annotated[
        int,
        Query(ge=1, le=TOP_MAX, description="how many of the facilities that fail most to list"),
    ] = 5,
) -> RepairFigures:
    allowed(principal, Action.READ_TICKETS)
    period, now = wanted.period, wanted.now
    facilities, tickets = (
        repairs.load(session, wanted.scope, period) if not period.empty else ([], [])
    )
    whole = repairs.figures(facilities, tickets, period, now, top=top)
    by = wanted.group_by
    groups = repairs.grouped(facilities, tickets, period, now, by, top=top) if by else []
    return RepairFigures.model_validate(
        {
            **_fields(whole),
            **wanted.echo(),
            "groups": [
                {**_fields(group.figures), "key": group.key, "name": group.name} for group in groups
            ],
        }
    )


@router.get(
    "/utilisation",
    response_model=UtilisationFigures,
    response_model_by_alias=True,
    responses=STORE_PROBLEMS,
    summary="Utilisation figures of your community over a period, from the devices' "
    "telemetry: uses their counters counted (passages, trips), time their states meant in "
    "use (lit, charging), the facilities that sat idle; per zone, category, facility or "
    "community with `group_by`",
)
def utilisation_figures(
    session: SessionDep,
    services: ServicesDep,
    principal: PrincipalDep,
    wanted: AskedDep,
    idle_uses: Annotated[
        int,
        Query(
            ge=0,
            le=ID_MAX,
            description="a facility whose counters counted at most this many uses in the "
            "period is idle (default 0: not used at all)",
        ),
    ] = 0,
    idle_s: Annotated[
        float,
        Query(
            ge=0,
            le=IDLE_S_MAX,
            description="a facility whose states meant in use for at most this many seconds "
            "in the period is idle (default 0: not used at all)",
        ),
    ] = 0.0,
    top: Annotated[
        int,
        Query(
            ge=1,
            le=LISTED_MAX,
            description="how many facilities to list in `least_used` (idle ones first)",
        ),
    ] = 100,
) -> UtilisationFigures:
    allowed(principal, Action.READ_TELEMETRY)
    observed = observed_use(services, session, wanted)
    idle = utilisation.Idle(idle_uses, idle_s)
    whole = utilisation.figures(observed, idle=idle, top=top)
    by = wanted.group_by
    groups = utilisation.grouped(observed, by, idle=idle, top=top) if by else []
    return UtilisationFigures.model_validate(
        {
            **_fields(whole),
            **wanted.echo(),
            "idle_uses": idle_uses,
            "idle_s": idle_s,
            "groups": [
                {**_fields(group.figures), "key": group.key, "name": group.name} for group in groups
            ],
        }
    )


def _fields(found: Any) -> dict[str, object]:
    """Figures (a dataclass) as the schema's fields: the nested ones are read by attribute."""
    return {field.name: getattr(found, field.name) for field in fields(found)}


def observed_use(services: Services, session: Session, wanted: Asked) -> utilisation.Observed:
    """The use the telemetry store saw in the scope and period asked for; 502/503 when the
    store refuses or is away."""
    with store_failures():
        return utilisation.load(
            session,
            services.telemetry,
            services.catalogue,
            services.upkeep.retention,
            wanted.scope,
            wanted.period,
            wanted.now,
        )
