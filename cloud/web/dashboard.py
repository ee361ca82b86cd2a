"""The manager dashboard: what property managers, supervisors and operator admins keep open.

``GET /`` shows it to everyone but maintainers (:func:`page`, called by the web router):
the zones with their facilities' health, the open tickets (most urgent first, missed
targets marked) with the moves the viewer may make, the gateways' status, the repair loop's
figures and the idle facilities over the last 7 or 30 days. Each facility links to its own
page (:mod:`cloud.web.facility_page`).

The page stays live without reloading: ``static/dashboard.js`` listens to the event stream
(``/api/v1/events/stream``) and swaps the fragments ``/dashboard/fragments/{part}`` that a
ticket event may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.desk import SESSION_COOKIE
from cloud.access.roles import Action, Principal, Role
from cloud.api.deps import ServicesDep, SessionDep
from cloud.api.schemas import ID_MAX, FacilityPublic
from cloud.db.models import Gateway
from cloud.db.register import Community, Zone
from cloud.notify.rules import NOTIFYING
from cloud.register.scope import Period, Scope
from cloud.repair import figures as repairs
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import LIVE
from cloud.services import Services
from cloud.telemetry import utilisation
from cloud.telemetry.store import TelemetryRejected, TelemetryUnavailable
from cloud.web.i18n import _
from cloud.web.labels import PRIORITY_LABELS, SCOPE_LABELS, STATE_LABELS
from cloud.web.render import Renderer

STATIC = FilePath(__file__).parent / "static"
"""The web UI's scripts and style sheets, served at ``/static``."""
PERIODS = (7, 30)
"""The figures' periods the dashboard offers, in days."""
PARTS = ("zones", "tickets", "gateways")
"""The fragments the page refreshes when a ticket event comes."""
TICKETS_MAX = 200


STATUS_LABELS = {
    "ok": _("ok"),
    "degraded": _("degraded"),
    "faulty": _("faulty"),
    "unknown": _("unknown"),
}
STATUS_SIGNS = {"ok": "✓", "degraded": "!", "faulty": "✕", "unknown": "?"}
"""A shape for each health, for who cannot tell the colours apart."""
ROLE_LABELS = {
    Role.OPERATOR_ADMIN: _("operator admin"),
    Role.PROPERTY_MANAGER: _("property manager"),
    Role.SUPERVISOR: _("supervisor"),
    Role.MAINTAINER: _("maintainer"),
    Role.TOKEN: _("token"),
}
ESCALATION_LABELS = {
    "maintainer": _("maintainer"),
    "supervisor": _("supervisor"),
    "property_manager": _("property manager"),
}
MOVE_LABELS = {
    "assign": _("Assign"),
    "acknowledge": _("Acknowledge"),
    "start": _("Start"),
    "hold": _("Hold"),
    "resolve": _("Resolve"),
    "confirm": _("Confirm"),
    "reopen": _("Reopen"),
    "cancel": _("Cancel"),
}


def viewer(request: Request, services: Services) -> Principal | None:
    """Who the session cookie says is looking, if anyone."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return services.access.session_principal(cookie, datetime.now(UTC))


def shows_dashboard(principal: Principal) -> bool:
    """Whether ``/`` is the dashboard for ``principal``: everyone but maintainers."""
    return principal.role is not Role.MAINTAINER


@dataclass(frozen=True)
class Seen:
    """What a dashboard shows: whose community (an operator's choice, or every one) and
    which zones (a maintainer's), in which time zone."""

    principal: Principal
    community_id: int | None
    zones: frozenset[int] | None
    time_zone: str
    communities: list[Community]
    """the communities an operator may choose among (empty for everyone else)"""

    @property
    def query(self) -> str:
        """The choice, as the fragments' query string."""
        return f"community={self.community_id}" if self.community_id is not None else ""


def seen(session: Session, principal: Principal, community: int | None) -> Seen:
    if principal.community_id is not None:
        community = principal.community_id
    choices: list[Community] = []
    if principal.may(Action.OPERATE):
        choices = list(
            session.scalars(
                select(Community).where(Community.archived_at.is_(None)).order_by(Community.name)
            )
        )
    found = session.get(Community, community) if community is not None else None
    if community is not None and found is None:
        raise HTTPException(404, f"community {community} not found")
    time_zone = found.time_zone if found is not None else "UTC"
    return Seen(principal, community, principal.zone_ids, time_zone, choices)


# -- the parts of the page ----------------------------------------------------------------


@dataclass
class ZoneTile:
    id: int | None
    name: str
    kind: str
    facilities: list[FacilityPublic]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.facilities if f.status == s) for s in STATUS_LABELS}


def zones_part(session: Session, view: Seen) -> dict[str, Any]:
    facilities, _total = queries.facilities(session, community=view.community_id, zones=view.zones)
    query = select(Zone).where(Zone.archived_at.is_(None))
    if view.community_id is not None:
        query = query.where(Zone.community_id == view.community_id)
    if view.zones is not None:
        query = query.where(Zone.id.in_(sorted(view.zones)))
    tiles = {
        zone.id: ZoneTile(zone.id, zone.name, zone.kind, [])
        for zone in session.scalars(query.order_by(Zone.name, Zone.id))
    }
    loose = ZoneTile(None, _("Not in a zone"), "zone", [])
    for facility in sorted(facilities, key=lambda f: (f.name, f.id)):
        tiles.get(facility.zone_id or 0, loose).facilities.append(facility)
    shown = [t for t in tiles.values() if t.facilities] + ([loose] if loose.facilities else [])
    counts = {s: sum(1 for f in facilities if f.status == s) for s in STATUS_LABELS}
    return {
        "tiles": shown,
        "facilities_total": len(facilities),
        "counts": counts,
        "status_labels": STATUS_LABELS,
        "status_signs": STATUS_SIGNS,
    }


def tickets_part(session: Session, view: Seen) -> dict[str, Any]:
    principal = view.principal
    open_tickets, total_open = queries.tickets(
        session,
        states=LIVE,
        community=view.community_id,
        zones=view.zones,
        mine=principal.person_id,
        limit=TICKETS_MAX,
    )
    moves = {t.id: queries.moves_for(principal, t.state, t.assignee_id) for t in open_tickets}
    if not principal.may(Action.ACT_ON_TICKETS):
        moves = {t: [] for t in moves}
    assigning = [
        t.community_id
        for t in open_tickets
        if Move.ASSIGN in moves[t.id] and t.community_id is not None
    ]
    breached = sum(1 for t in open_tickets if t.respond_breached_at or t.resolve_breached_at)
    return {
        "tickets": open_tickets,
        "total_open": total_open,
        "breached": breached,
        "moves": moves,
        "assignable": queries.assignable(session, assigning) if assigning else {},
        "state_labels": STATE_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "scope_labels": SCOPE_LABELS,
        "escalation_labels": ESCALATION_LABELS,
        "move_labels": MOVE_LABELS,
    }


def gateways_part(session: Session, view: Seen) -> dict[str, Any]:
    query = select(Gateway).where(Gateway.retired_at.is_(None), Gateway.community_id.is_not(None))
    if view.community_id is not None:
        query = query.where(Gateway.community_id == view.community_id)
    gateways = list(session.scalars(query.order_by(Gateway.online, Gateway.name, Gateway.id)))
    operator = view.principal.may(Action.OPERATE)
    return {
        "gateways": gateways,
        "offline": sum(1 for g in gateways if not g.online),
        "unknown_gateways": queries.unknown_gateways(session, limit=20) if operator else [],
        "unassigned": queries.unassigned_devices(session, community=view.community_id),
    }


def figures_part(
    session: Session, services: Services, view: Seen, days: int, now: datetime
) -> dict[str, Any]:
    principal = view.principal
    period = Period(now - timedelta(days=days), now)
    scope = Scope(
        community_id=view.community_id,
        zones=view.zones,
        communities=(principal.community_id,) if principal.community_id is not None else (),
    )
    found: dict[str, Any] = {"days": days, "periods": PERIODS}
    if principal.may(Action.READ_TICKETS):
        facilities, tickets = repairs.load(session, scope, period)
        found["repairs"] = repairs.figures(facilities, tickets, period, now, top=5)
    if principal.may(Action.READ_TELEMETRY):
        try:
            observed = utilisation.load(
                session,
                services.telemetry,
                services.catalogue,
                services.upkeep.retention,
                scope,
                period,
                now,
            )
        except (TelemetryUnavailable, TelemetryRejected):
            found["store_down"] = True
        else:
            used = utilisation.figures(observed, top=1000)
            found["usage"] = used
            found["idle"] = [f for f in used.least_used if f.idle]
    found["downloads"] = downloads(principal, view.community_id, period)
    return found


@dataclass(frozen=True)
class Download:
    """An export of what the dashboard shows, for other parties (``/api/v1/exports``)."""

    label: str
    path: str
    """without its extension: ``.csv`` or ``.json`` is added"""
    query: str


EXPORTS = (
    (_("Tickets"), "tickets", Action.READ_TICKETS, True),
    (_("Facility health"), "facilities", Action.READ_REGISTER, False),
    (_("Repair figures"), "figures", Action.READ_TICKETS, True),
    (_("Utilisation"), "utilisation", Action.READ_TELEMETRY, True),
)
"""What may be downloaded: label, export, what the viewer must be allowed, whether it
covers a period (the facilities' health is of now)."""


def downloads(principal: Principal, community_id: int | None, period: Period) -> list[Download]:
    """The exports the viewer may download, of the community and period shown."""
    found = []
    for label, export, needs, of_period in EXPORTS:
        if not principal.may(needs):
            continue
        params: dict[str, str] = {}
        if of_period:
            params |= {"from": period.start.isoformat(), "to": period.end.isoformat()}
        if community_id is not None:
            params["community_id"] = str(community_id)
        found.append(Download(label, f"/api/v1/exports/{export}", urlencode(params)))
    return found


# -- the routes ---------------------------------------------------------------------------


def page(
    renderer: Renderer,
    request: Request,
    services: Services,
    session: Session,
    principal: Principal,
) -> Response:
    """The dashboard, for ``GET /``: ``?community=`` (operators) and ``?days=`` (7 or 30)."""
    community = _int_param(request, "community")
    days = _int_param(request, "days") or PERIODS[0]
    if days not in PERIODS:
        days = PERIODS[0]
    view = seen(session, principal, community)
    now = datetime.now(UTC)
    context = {
        "principal": principal,
        "role_label": ROLE_LABELS[principal.role],
        "view": view,
        "time_zone": view.time_zone,
        "notice_kinds": sorted(NOTIFYING),
        "parts": PARTS,
        **zones_part(session, view),
        **tickets_part(session, view),
        **gateways_part(session, view),
        **figures_part(session, services, view, days, now),
    }
    return renderer.page(request, "dashboard.html", context)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    if raw.isdigit() and len(raw) <= 9:
        return int(raw)
    return None


Part = Literal["zones", "tickets", "gateways"]


def make_router(renderer: Renderer) -> APIRouter:
    """The dashboard's own routes: its fragments."""
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard/fragments/{part}", response_class=HTMLResponse)
    def fragment(
        request: Request,
        services: ServicesDep,
        session: SessionDep,
        part: Part,
        community: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
    ) -> Response:
        """One part of the dashboard, as the page swaps it in when a ticket event comes."""
        principal = viewer(request, services)
        if principal is None:
            raise HTTPException(401, "log in first")
        view = seen(session, principal, community)
        build = {"zones": zones_part, "tickets": tickets_part, "gateways": gateways_part}[part]
        context = {
            "principal": principal,
            "view": view,
            "time_zone": view.time_zone,
            **build(session, view),
        }
        answer = renderer.page(request, f"dashboard/{part}.html", context)
        answer.headers["Cache-Control"] = "no-store"
        return answer

    return router
