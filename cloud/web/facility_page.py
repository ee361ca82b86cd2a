"""A facility's page (``/dashboard/facilities/{id}``): its devices, its open tickets and each
device's metrics over the last hour, day or week, drawn as SVG on the server
(:mod:`cloud.web.charts_svg`), in the viewer's language and the community's time zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud import queries
from cloud.access.roles import Action
from cloud.api.deps import ServicesDep, SessionDep
from cloud.api.schemas import ID_MAX, DevicePublic
from cloud.repair.tickets import LIVE
from cloud.services import Services
from cloud.telemetry.charts import Charts
from cloud.telemetry.store import TelemetryRejected, TelemetryUnavailable
from cloud.web.charts_svg import line_chart
from cloud.web.dashboard import (
    ROLE_LABELS,
    STATUS_LABELS,
    STATUS_SIGNS,
    TICKETS_MAX,
    seen,
    viewer,
)
from cloud.web.i18n import Language, _
from cloud.web.labels import PRIORITY_LABELS, STATE_LABELS
from cloud.web.render import Renderer
from cloud.web.words import ProfileWords

SPANS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
"""The charts' spans the page offers."""
SPAN_LABELS = {"hour": _("Last hour"), "day": _("Last day"), "week": _("Last week")}


@dataclass(frozen=True)
class Chart:
    device: DevicePublic
    metric: str
    unit: str
    svg: Any


def moment_format(language: Language, time_zone: str, span: timedelta) -> Callable[[datetime], str]:
    """How the time axis writes a moment for ``span``: hours and minutes within a day, the
    day beyond."""
    skeleton = "Hm" if span <= timedelta(days=1) else "MMMd"
    zone = ZoneInfo(time_zone)
    return lambda t: format_skeleton(skeleton, t, tzinfo=zone, locale=language.locale)


def charts(
    services: Services,
    devices: list[DevicePublic],
    language: Language,
    time_zone: str,
    span: timedelta,
    now: datetime,
) -> tuple[list[Chart], bool]:
    """Each number or yes/no metric of ``devices`` over the last ``span``, drawn; and
    whether the telemetry store failed to answer."""
    start = now - span
    reader = Charts(services.telemetry, services.upkeep.retention)
    moment = moment_format(language, time_zone, span)
    words = ProfileWords(services.catalogue, language)
    drawn: list[Chart] = []
    for device in devices:
        profile = services.catalogue.get(device.profile)
        metrics = profile.decode.metrics if profile is not None else {}
        for metric, spec in sorted(metrics.items()):
            kind = spec.source.type
            if kind == "str":
                continue
            try:
                series = reader.series(device.id, device.profile, metric, start, now, None, now)
            except (TelemetryUnavailable, TelemetryRejected):
                return drawn, True
            points: list[tuple[datetime, float | None]]
            if series.step is None:
                points = [(t, _number(v)) for t, v in series.readings]
            elif kind == "bool":
                points = [
                    (b.start, (b.shares or {}).get("true", 0.0) if b.covered else None)
                    for b in series.buckets
                ]
            else:
                points = [(b.start, b.mean if b.count else None) for b in series.buckets]
            unit = spec.unit or ""
            label = words.metric(device.profile, metric)
            named = f"{label} ({unit})" if unit else label
            title = language.gettext(
                "{metric} of {device}, {span}",
                metric=named,
                device=device.device_id,
                span=language.gettext(SPAN_LABELS[_span_name(span)]),
            )
            svg = line_chart(
                points,
                start=start,
                end=now,
                title=title,
                number=language.number,
                moment=moment,
                empty=language.gettext("No data in this period"),
                gap_s=None if series.step is None else series.step * 1.5,
                fixed=(0.0, 1.0) if kind == "bool" else None,
            )
            drawn.append(Chart(device, metric, unit, svg))
    return drawn, False


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def _span_name(span: timedelta) -> str:
    return next(name for name, length in SPANS.items() if length == span)


def make_router(renderer: Renderer) -> APIRouter:
    """The facility page's route."""
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard/facilities/{facility_id}", response_class=HTMLResponse)
    def facility_page(
        request: Request,
        services: ServicesDep,
        session: SessionDep,
        facility_id: Annotated[int, Path(ge=1, le=ID_MAX)],
        span: Literal["hour", "day", "week"] = "day",
    ) -> Response:
        """A facility: its devices, its open tickets, its devices' data over a span."""
        principal = viewer(request, services)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        found = queries.facility(session, facility_id)
        if found is None or not principal.reaches(found.community_id, found.zone_id):
            raise HTTPException(404, f"facility {facility_id} not found")
        view = seen(session, principal, found.community_id)
        devices, _total = queries.devices(session, facility_id=facility_id)
        tickets, _count = queries.tickets(
            session, states=LIVE, facility_id=facility_id, limit=TICKETS_MAX
        )
        language = renderer.language(request)
        now = datetime.now(UTC)
        drawn, store_down = (
            charts(services, devices, language, view.time_zone, SPANS[span], now)
            if principal.may(Action.READ_TELEMETRY)
            else ([], False)
        )
        context = {
            "principal": principal,
            "role_label": ROLE_LABELS[principal.role],
            "view": view,
            "time_zone": view.time_zone,
            "facility": found,
            "devices": devices,
            "tickets": tickets,
            "charts": drawn,
            "store_down": store_down,
            "span": span,
            "spans": SPAN_LABELS,
            "status_labels": STATUS_LABELS,
            "status_signs": STATUS_SIGNS,
            "state_labels": STATE_LABELS,
            "priority_labels": PRIORITY_LABELS,
        }
        return renderer.page(request, "dashboard/facility.html", context)

    return router
