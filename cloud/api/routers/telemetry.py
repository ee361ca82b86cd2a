from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.periods import period as period_of
from cloud.api.routers.devices import DevicePk, device_for
from cloud.api.schemas import Problem, TelemetryBucket, TelemetryReading, TelemetrySeries
from cloud.db.models import Device
from cloud.services import Services
from cloud.telemetry.charts import Charts, Series
from cloud.telemetry.store import HOUR, MINUTE, RAW, TelemetryRejected, TelemetryUnavailable
from device_profiles.schema import Metric

router = APIRouter(prefix="/devices", tags=["telemetry"])

STORE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    502: {"model": Problem, "description": "the telemetry store refused the query"},
    503: {"model": Problem, "description": "the telemetry store cannot answer now"},
}
"""The answers of an operation that reads the telemetry store, when it fails."""


@contextmanager
def store_failures() -> Iterator[None]:
    """The telemetry store's failures as answers: 503 while it cannot answer (down, timing
    out), 502 when it refused the query."""
    try:
        yield
    except TelemetryUnavailable as exc:
        raise HTTPException(503, f"the telemetry store cannot answer now: {exc}") from None
    except TelemetryRejected as exc:
        raise HTTPException(502, f"the telemetry store refused the query: {exc}") from None


DEFAULT_SPAN = timedelta(hours=24)
MAX_STEP_S = 31 * 86400
RESOLUTIONS = {MINUTE: "1m", HOUR: "1h"}


@router.get(
    "/{device_pk}/telemetry",
    response_model=TelemetrySeries,
    response_model_by_alias=True,
    responses={404: {"model": Problem}, 422: {"model": Problem}, **STORE_PROBLEMS},
    summary="One metric of the device over a span, for charts: raw readings for a short "
    "span, else 1-minute or 1-hour roll-ups (min, max, mean, count; for states, the "
    "time-weighted share of each value), chosen by the span",
)
def device_telemetry(
    session: SessionDep,
    services: ServicesDep,
    principal: PrincipalDep,
    device_pk: DevicePk,
    metric: Annotated[
        str, Query(min_length=1, max_length=64, description="a metric of the device's profile")
    ],
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="default: 24 hours before `to`; times are taken between 1970 and "
            "2200, and a `from` not before `to` gives an empty series",
        ),
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    step: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_STEP_S,
            description="bucket width in seconds; default: raw "
            "readings for a short span, else a step giving at most 1440 buckets",
        ),
    ] = None,
) -> TelemetrySeries:
    allowed(principal, Action.READ_TELEMETRY)
    device = device_for(session, principal, device_pk)
    spec = metric_of(services, device, metric)
    now = datetime.now(UTC)
    start, end = period_of(start, end, now, DEFAULT_SPAN)
    charts = Charts(services.telemetry, services.upkeep.retention)
    with store_failures():
        series = (
            charts.series(device_pk, device.profile, metric, start, end, step, now)
            if start < end
            else Series(RAW, step, [], [])
        )
    state = spec.source.type in ("bool", "str")
    return TelemetrySeries(
        device_id=device_pk,
        metric=metric,
        kind="state" if state else "number",
        unit=spec.unit,
        start=start,
        end=end,
        resolution=RESOLUTIONS.get(series.resolution, "raw"),
        step=series.step,
        store=services.telemetry.name,
        readings=[TelemetryReading(t=t, value=value) for t, value in series.readings],
        buckets=[
            TelemetryBucket(
                t=bucket.start,
                count=bucket.count,
                min=bucket.min,
                max=bucket.max,
                mean=bucket.mean,
                share=(bucket.shares or {}).get("true", 0.0)
                if spec.source.type == "bool" and bucket.shares is not None
                else None,
                shares=bucket.shares,
                covered_s=bucket.covered,
                last=bucket.last,
            )
            for bucket in series.buckets
        ],
    )


def metric_of(services: Services, device: Device, metric: str) -> Metric:
    """``metric`` as the device's profile decodes it; 404 naming the metrics it has."""
    profile = services.catalogue.get(device.profile)
    known = profile.decode.metrics if profile is not None else {}
    spec = known.get(metric)
    if spec is None:
        raise HTTPException(
            404, f"{metric!r} is not a metric of device {device.id}: {', '.join(sorted(known))}"
        )
    return spec
