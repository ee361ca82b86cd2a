"""Exports for other parties: tickets, facility health, repair and utilisation figures and a
device's telemetry, as CSV or JSON attachments (the path's suffix), filtered by period and
zone (an operator by community too), held to what the caller sees as the API resource they
come from holds them. Rows are written as they are read (:mod:`cloud.api.exports`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import StreamingResponse

from cloud.access.roles import Action
from cloud.api import exports
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.exports import Format, Table
from cloud.api.paging import CommunityFilter
from cloud.api.periods import period as period_of
from cloud.api.routers.devices import device_for
from cloud.api.routers.figures import AskedDep, observed_use
from cloud.api.routers.telemetry import (
    DEFAULT_SPAN as TELEMETRY_SPAN,
)
from cloud.api.routers.telemetry import (
    MAX_STEP_S,
    RESOLUTIONS,
    metric_of,
    store_failures,
)
from cloud.api.schemas import ID_MAX, NO_NUL
from cloud.register.scope import Period
from cloud.repair import figures as repairs
from cloud.telemetry import utilisation
from cloud.telemetry.charts import MAX_POINTS, Charts, Series
from cloud.telemetry.store import RAW

router = APIRouter(prefix="/exports", tags=["exports"])

DEFAULT_SPAN = timedelta(days=30)
TELEMETRY_ROWS_MAX = 100_000
"""The most rows a telemetry export gives: a longer series is 409, and asks for a larger
step or a shorter period."""

FORMAT = Annotated[
    str,
    Path(
        alias="format",
        description="`csv` (UTF-8, a header row, RFC 4180 quoting) or `json` (an array of "
        "objects with the same fields); anything else is 404",
        json_schema_extra={"enum": [f.value for f in Format]},
    ),
]
BOM = Annotated[
    bool,
    Query(
        description="CSV only: begin with a UTF-8 byte order mark, for spreadsheet programs "
        "that need one to read Chinese names right"
    ),
]
ZONE = Annotated[int | None, Query(ge=1, le=ID_MAX, description="only those of this zone")]
START = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="the period's start; default: 30 days before `to`. Times are taken "
        "between 1970 and 2200 (without an offset, in UTC)",
    ),
]
END = Annotated[
    datetime | None,
    Query(alias="to", description="the period's end, not included; default: now"),
]
NOT_A_FORMAT = (404, "not an export format: `.csv` or `.json`")


def _format(asked: str) -> Format:
    try:
        return Format(asked)
    except ValueError:
        raise HTTPException(
            404, f"no export as {asked!r}: ask for .csv or .json (say tickets.csv)"
        ) from None


def _download(
    table: Table, rows: Iterable[Mapping[str, object]], fmt: str, bom: bool
) -> StreamingResponse:
    return exports.download(table, rows, _format(fmt), datetime.now(UTC).date(), bom=bom)


@router.get(
    "/tickets.{format}",
    response_class=StreamingResponse,
    responses=exports.TICKETS.responses(NOT_A_FORMAT),
    summary="Tickets whose life touches a period (opened before its end, not closed or "
    "cancelled before its start), oldest first, as CSV or JSON: the tickets you may read",
)
def export_tickets(
    services: ServicesDep,
    principal: PrincipalDep,
    fmt: FORMAT,
    start: START = None,
    end: END = None,
    zone_id: ZONE = None,
    community_id: CommunityFilter = None,
    bom: BOM = False,
) -> StreamingResponse:
    allowed(principal, Action.READ_TICKETS)
    _format(fmt)
    since, until = period_of(start, end, datetime.now(UTC), DEFAULT_SPAN)
    rows = exports.ticket_rows(
        services.sessions,
        Period(since, until),
        community=principal.community_id,
        zones=principal.zone_ids,
        mine=principal.person_id,
        community_id=community_id,
        zone_id=zone_id,
    )
    return _download(exports.TICKETS, rows, fmt, bom)


@router.get(
    "/facilities.{format}",
    response_class=StreamingResponse,
    responses=exports.FACILITIES.responses(NOT_A_FORMAT),
    summary="The facilities in use and their health now, worst first, as CSV or JSON: the "
    "facilities you may read",
)
def export_facilities(
    services: ServicesDep,
    principal: PrincipalDep,
    fmt: FORMAT,
    zone_id: ZONE = None,
    category: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=NO_NUL, description="only this category"),
    ] = None,
    community_id: CommunityFilter = None,
    bom: BOM = False,
) -> StreamingResponse:
    allowed(principal, Action.READ_REGISTER)
    _format(fmt)
    rows = exports.facility_rows(
        services.sessions,
        community=principal.community_id,
        zones=principal.zone_ids,
        community_id=community_id,
        zone_id=zone_id,
        category=category,
    )
    return _download(exports.FACILITIES, rows, fmt, bom)


@router.get(
    "/figures.{format}",
    response_class=StreamingResponse,
    responses=exports.FIGURES.responses(NOT_A_FORMAT),
    summary="Repair figures over a period (as GET /figures/repairs), one row of the whole "
    "scope or, with `group_by`, one per group, as CSV or JSON",
)
def export_figures(
    session: SessionDep,
    principal: PrincipalDep,
    wanted: AskedDep,
    fmt: FORMAT,
    bom: BOM = False,
) -> StreamingResponse:
    allowed(principal, Action.READ_TICKETS)
    _format(fmt)
    period, now = wanted.period, wanted.now
    facilities, tickets = (
        repairs.load(session, wanted.scope, period) if not period.empty else ([], [])
    )
    whole = repairs.figures(facilities, tickets, period, now, top=0)
    by = wanted.group_by
    groups = repairs.grouped(facilities, tickets, period, now, by, top=0) if by else []
    rows = exports.figure_rows(
        whole,
        [(g.key, g.name, g.figures) for g in groups],
        exports.REPAIR_FIGURES,
        group_by=by.value if by else None,
        community_id=wanted.community_id,
        period=period,
    )
    return _download(exports.FIGURES, rows, fmt, bom)


@router.get(
    "/utilisation.{format}",
    response_class=StreamingResponse,
    responses=exports.UTILISATION.responses(
        NOT_A_FORMAT,
        (502, "the telemetry store refused the query"),
        (503, "the telemetry store cannot answer now"),
    ),
    summary="Utilisation figures over a period (as GET /figures/utilisation), one row of the "
    "whole scope or, with `group_by`, one per group, as CSV or JSON",
)
def export_utilisation(
    session: SessionDep,
    services: ServicesDep,
    principal: PrincipalDep,
    wanted: AskedDep,
    fmt: FORMAT,
    bom: BOM = False,
) -> StreamingResponse:
    allowed(principal, Action.READ_TELEMETRY)
    _format(fmt)
    observed = observed_use(services, session, wanted)
    whole = utilisation.figures(observed, top=0)
    by = wanted.group_by
    groups = utilisation.grouped(observed, by, top=0) if by else []
    rows = exports.figure_rows(
        whole,
        [(g.key, g.name, g.figures) for g in groups],
        exports.UTILISATION_FIGURES,
        group_by=by.value if by else None,
        community_id=wanted.community_id,
        period=wanted.period,
    )
    return _download(exports.UTILISATION, rows, fmt, bom)


@router.get(
    "/telemetry.{format}",
    response_class=StreamingResponse,
    responses=exports.TELEMETRY.responses(
        (
            404,
            "not an export format (`.csv` or `.json`), no such device, or the metric is not "
            "one of its profile's",
        ),
        (
            409,
            f"the series would have more than {TELEMETRY_ROWS_MAX} rows: ask for a larger "
            "step or a shorter period",
        ),
        (502, "the telemetry store refused the query"),
        (503, "the telemetry store cannot answer now"),
    ),
    summary="One metric of a device over a period, as CSV or JSON: raw readings for a short "
    f"span, else roll-ups in buckets of `step` (as GET /devices/{{device_pk}}/telemetry); at "
    f"most {TELEMETRY_ROWS_MAX} rows",
)
def export_telemetry(
    session: SessionDep,
    services: ServicesDep,
    principal: PrincipalDep,
    fmt: FORMAT,
    device_pk: Annotated[int, Query(ge=1, le=ID_MAX, description="the device's id")],
    metric: Annotated[
        str, Query(min_length=1, max_length=64, description="a metric of the device's profile")
    ],
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="default: 24 hours before `to`; times are taken between 1970 and "
            "2200, and a `from` not before `to` gives no rows",
        ),
    ] = None,
    end: END = None,
    step: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_STEP_S,
            description=f"bucket width in seconds; default: raw readings for a short span, "
            f"else a step giving at most {MAX_POINTS} buckets",
        ),
    ] = None,
    bom: BOM = False,
) -> StreamingResponse:
    allowed(principal, Action.READ_TELEMETRY)
    _format(fmt)
    device = device_for(session, principal, device_pk)
    spec = metric_of(services, device, metric)
    now = datetime.now(UTC)
    start, end = period_of(start, end, now, TELEMETRY_SPAN)
    if step is not None and start < end:
        buckets = (min(end, now) - start).total_seconds() / step + 1
        if buckets > TELEMETRY_ROWS_MAX:
            raise HTTPException(
                409,
                f"{int(buckets)} buckets of {step} s from {exports.iso(start)} to "
                f"{exports.iso(end)}: more than the {TELEMETRY_ROWS_MAX} rows an export "
                "gives; ask for a larger step or a shorter period",
            )
    charts = Charts(services.telemetry, services.upkeep.retention)
    with store_failures():
        series = (
            charts.series(device_pk, device.profile, metric, start, end, step, now)
            if start < end
            else Series(RAW, step, [], [])
        )
    rows = len(series.readings) + len(series.buckets)
    if rows > TELEMETRY_ROWS_MAX:
        raise HTTPException(
            409,
            f"{rows} rows from {exports.iso(start)} to {exports.iso(end)}: more than the "
            f"{TELEMETRY_ROWS_MAX} an export gives; ask for a step or a shorter period",
        )
    found = exports.telemetry_rows(
        series,
        device_pk=device_pk,
        device_id=device.device_id,
        metric=metric,
        unit=spec.unit,
        resolution=RESOLUTIONS.get(series.resolution, "raw"),
        boolean=spec.source.type == "bool",
    )
    return _download(exports.TELEMETRY, found, fmt, bom)
