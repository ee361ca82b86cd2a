"""The resident page behind each facility's QR code: no login, one unguessable link per
facility (``/r/<token>``).

A resident sees what the facility is and whether it works. If a repair is already under
way they see so, with its expected time, and may add a "me too"; else they may report it
(a description, optionally a photo and a phone number for the maintainer). A report joins
the facility's live ticket when there is one — so a sensor's alarm and a resident's word
about the same fault are one repair — or opens a ``reported`` ticket. Each report (or me
too) gets a second unguessable link, ``/r/status/<token>``, that follows the repair to its
end and shows nothing personal.

Forms carry a token also set in a cookie of the page's path (double submit); reports are
limited per client address, a me too to one per facility and address an hour. Managers
print a zone's QR codes at ``/zones/<id>/qr``; staff see report photos at ``/photos/<id>``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access.desk import SESSION_COOKIE
from cloud.access.limits import LoginLimiter
from cloud.access.roles import Principal, Role
from cloud.api.deps import ServicesDep, client_address, public_base
from cloud.db.models import (
    Community,
    Facility,
    ResidentReport,
    Ticket,
    Zone,
)
from cloud.repair.desk import TicketDesk
from cloud.repair.lifecycle import State
from cloud.repair.residents import (
    facility_of_link,
    link_of,
    live_ticket,
    me_too,
    neighbours,
    new_token,
    report,
    report_of_token,
)
from cloud.repair.tickets import LIVE
from cloud.services import Services
from cloud.web.i18n import _
from cloud.web.photos import PhotoNotFound, PhotoRefused, PhotoStore, PhotoTooLarge
from cloud.web.render import Renderer

CSRF_COOKIE = "linli_resident_csrf"
DESCRIPTION_MAX = 1000
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
ME_TOO_WINDOW_S = 3600.0
STAFF = frozenset({Role.OPERATOR_ADMIN, Role.PROPERTY_MANAGER, Role.SUPERVISOR})
"""Who may print a zone's QR codes (of their own community)."""


HEALTH_WORDS = {
    "ok": _("Working"),
    "degraded": _("Working, but not fully"),
    "faulty": _("Out of order"),
}
STATE_WORDS = {
    State.OPEN: _("Reported: waiting for a maintainer"),
    State.ASSIGNED: _("A maintainer has been given the repair"),
    State.ACKNOWLEDGED: _("A maintainer has taken on the repair"),
    State.IN_PROGRESS: _("The repair is under way"),
    State.ON_HOLD: _("The repair is paused (waiting for parts or access)"),
    State.RESOLVED: _("Repaired: being checked"),
    State.VERIFYING: _("Repaired: being checked"),
    State.CLOSED: _("Repaired and checked"),
    State.CANCELLED: _("Closed without a repair"),
}
"""A ticket's state as a resident understands it."""


# -- what the pages show ----------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A facility as a resident's page names it."""

    name: str
    category: str
    zone: str | None
    health: str
    time_zone: str

    @classmethod
    def of(cls, session: Session, facility: Facility) -> Place:
        zone = session.get(Zone, facility.zone_id) if facility.zone_id is not None else None
        community = session.get(Community, facility.community_id)
        return cls(
            facility.name,
            facility.category,
            zone.name if zone is not None else None,
            HEALTH_WORDS.get(facility.health, _("Unknown")),
            community.time_zone if community is not None else "UTC",
        )


def progress(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The steps of a repair so far, as a resident follows it."""
    steps = [
        (_("Reported"), ticket.opened_at),
        (_("Given to a maintainer"), ticket.assigned_at),
        (_("Repair started"), ticket.started_at),
        (_("Repaired"), ticket.resolved_at),
        (_("Checked and closed"), ticket.closed_at),
        (_("Closed without a repair"), ticket.cancelled_at),
    ]
    return [(words, moment) for words, moment in steps if moment is not None]


def _session_principal(request: Request, services: Services) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return services.access.session_principal(cookie, datetime.now(UTC))


def qr_svg(link: str) -> str:
    """The QR code of ``link``, as inline SVG."""
    return str(segno.make(link, error="m").svg_inline(scale=4, svgclass="qr", title=link))


# -- the routes -------------------------------------------------------------------------


def make_resident_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    limiters: dict[str, LoginLimiter] = {}

    def limiter(services: Services, name: str) -> LoginLimiter:
        if name not in limiters:
            settings = services.settings
            limiters[name] = (
                LoginLimiter(1, ME_TOO_WINDOW_S)
                if name == "me_too"
                else LoginLimiter(
                    settings.resident_reports_per_window, settings.resident_report_window_s
                )
            )
        return limiters[name]

    def not_found(request: Request) -> Response:
        return renderer.page(request, "resident/missing.html", {}, status_code=404)

    def limited(request: Request, wait_s: float) -> Response:
        page = renderer.page(
            request, "resident/limited.html", {"wait_s": max(wait_s, 60.0)}, status_code=429
        )
        page.headers["Retry-After"] = str(int(wait_s) + 1)
        return page

    def facility_page(
        request: Request,
        services: Services,
        token: str,
        *,
        error: str = "",
        error_values: dict[str, Any] | None = None,
        description: str = "",
        phone: str = "",
        status: int = 200,
    ) -> Response:
        with services.sessions() as session:
            facility = facility_of_link(session, token)
            if facility is None:
                return not_found(request)
            place = Place.of(session, facility)
            ticket = live_ticket(session, facility.id)
            if ticket is not None and facility.health == "ok":  # no sensor sees it
                place = replace(place, health=_("Reported broken"))
            count = neighbours(session, ticket.id) if ticket is not None else 0
            resolve_by = ticket.resolve_by if ticket is not None else None
            state = STATE_WORDS[State(ticket.state)] if ticket is not None else None
        csrf = new_token()
        page = renderer.page(
            request,
            "resident/facility.html",
            {
                "token": token,
                "place": place,
                "live": ticket is not None,
                "state": state,
                "resolve_by": resolve_by,
                "neighbours": count,
                "csrf_token": csrf,
                "error": error,
                "error_values": error_values or {},
                "description": description,
                "phone": phone,
                "description_max": DESCRIPTION_MAX,
            },
            status_code=status,
        )
        page.headers["Cache-Control"] = "no-store"
        page.headers["Referrer-Policy"] = "no-referrer"
        page.set_cookie(
            CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=f"/r/{token}",
        )
        return page

    def fresh(request: Request, csrf_token: str) -> bool:
        expected = request.cookies.get(CSRF_COOKIE, "")
        return bool(expected) and hmac.compare_digest(csrf_token, expected)

    @router.get("/r/status/{token}", response_class=HTMLResponse)
    def status_page(request: Request, services: ServicesDep, token: str) -> Response:
        with services.sessions() as session:
            found = report_of_token(session, token)
            if found is None:
                return not_found(request)
            facility = session.get(Facility, found.facility_id)
            ticket = session.get(Ticket, found.ticket_id)
            assert facility is not None and ticket is not None
            place = Place.of(session, facility)
            state = State(ticket.state)
            context = {
                "place": place,
                "kind": found.kind,
                "reported_at": found.at,
                "state": STATE_WORDS[state],
                "done": state in (State.CLOSED, State.CANCELLED),
                "resolve_by": ticket.resolve_by if ticket.state in LIVE else None,
                "steps": progress(ticket),
                "neighbours": neighbours(session, ticket.id),
                "thanks": request.query_params.get("thanks") == "1",
            }
        page = renderer.page(request, "resident/status.html", context)
        page.headers["Cache-Control"] = "no-store"
        page.headers["Referrer-Policy"] = "no-referrer"
        return page

    @router.get("/r/{token}", response_class=HTMLResponse)
    def facility_form(request: Request, services: ServicesDep, token: str) -> Response:
        return facility_page(request, services, token)

    @router.post("/r/{token}/report")
    def report_fault(
        request: Request,
        services: ServicesDep,
        token: str,
        csrf_token: Annotated[str, Form(max_length=100)],
        description: Annotated[str, Form(max_length=DESCRIPTION_MAX * 4)] = "",
        phone: Annotated[str, Form(max_length=100)] = "",
        photo: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        description, phone = description.strip(), phone.strip()

        def again(error: str, status: int, **values: Any) -> Response:
            return facility_page(
                request,
                services,
                token,
                error=error,
                error_values=values,
                description=description,
                phone=phone,
                status=status,
            )

        if not fresh(request, csrf_token):
            return again(_("This form is stale: please try again."), 403)
        address = client_address(request)
        reports = limiter(services, "reports")
        wait = reports.retry_after(address)
        if wait > 0:
            return limited(request, wait)
        reports.failed(address)  # every try counts
        if not description or "\x00" in description:
            return again(_("Please say what is wrong."), 400)
        if len(description) > DESCRIPTION_MAX:
            return again(
                _("Please say it in at most {count} characters."), 400, count=DESCRIPTION_MAX
            )
        if phone and not PHONE.match(phone):
            return again(_("This does not look like a phone number."), 400)
        photo_id = None
        if photo is not None and (photo.filename or photo.size):
            try:
                photo_id = PhotoStore.of(services.settings).save(photo)
            except PhotoTooLarge:
                megabytes = services.settings.photo_max_bytes / 1_000_000
                return again(
                    _("The photo is too large: at most {mb} MB."), 413, mb=f"{megabytes:g}"
                )
            except PhotoRefused:
                return again(_("The photo must be a JPEG, PNG or WebP image."), 415)
        at = datetime.now(UTC)
        with services.sessions.begin() as session:
            facility = facility_of_link(session, token)
            if facility is None:
                return not_found(request)
            made = report(
                session,
                services.tickets,
                facility,
                description,
                at=at,
                photo_id=photo_id,
                phone=phone or None,
            )
            status_token = made.token
        services.tickets.count_opened(TicketDesk.opened(session))
        return RedirectResponse(f"/r/status/{status_token}?thanks=1", status_code=303)

    @router.post("/r/{token}/me-too")
    def add_me_too(
        request: Request,
        services: ServicesDep,
        token: str,
        csrf_token: Annotated[str, Form(max_length=100)],
    ) -> Response:
        if not fresh(request, csrf_token):
            return facility_page(
                request,
                services,
                token,
                error=_("This form is stale: please try again."),
                status=403,
            )
        address = client_address(request)
        with services.sessions.begin() as session:
            facility = facility_of_link(session, token)
            if facility is None:
                return not_found(request)
            ticket = live_ticket(session, facility.id)
            if ticket is None:  # repaired meanwhile: the page now offers a report
                return RedirectResponse(f"/r/{token}", status_code=303)
            once = limiter(services, "me_too")
            reports = limiter(services, "reports")
            key = f"{facility.id}:{address}"
            wait = max(once.retry_after(key), reports.retry_after(address))
            if wait > 0:
                return limited(request, wait)
            once.failed(key)
            reports.failed(address)
            status_token = me_too(session, facility, ticket, datetime.now(UTC)).token
        return RedirectResponse(f"/r/status/{status_token}?thanks=1", status_code=303)

    @router.get("/photos/{photo_id}")
    def photo(request: Request, services: ServicesDep, photo_id: str) -> Response:
        principal = _session_principal(request, services)
        if principal is None:
            raise HTTPException(401, "log in first")
        with services.sessions() as session:
            where = session.execute(
                select(Facility.community_id, Facility.zone_id)
                .join(ResidentReport, ResidentReport.facility_id == Facility.id)
                .where(ResidentReport.photo_id == photo_id)
                .limit(1)
            ).first()
        if where is None or not principal.reaches(where[0], where[1]):
            raise HTTPException(404, "no such photo")
        store = PhotoStore.of(services.settings)
        try:
            path = store.path(photo_id)
        except PhotoNotFound as exc:
            raise HTTPException(404, "no such photo") from exc
        return FileResponse(
            path,
            media_type=store.media_type(path),
            headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/zones/{zone_id}/qr", response_class=HTMLResponse)
    def qr_sheet(request: Request, services: ServicesDep, zone_id: int) -> Response:
        principal = _session_principal(request, services)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        if principal.role not in STAFF:
            raise HTTPException(403, "only managers, supervisors and operators print QR codes")
        base = public_base(request, services)
        with services.sessions.begin() as session:
            zone = session.get(Zone, zone_id)
            if zone is None or not principal.sees(zone.community_id):
                raise HTTPException(404, f"zone {zone_id} does not exist")
            facilities = session.scalars(
                select(Facility)
                .where(Facility.zone_id == zone_id, Facility.archived_at.is_(None))
                .order_by(Facility.name, Facility.id)
            ).all()
            at = datetime.now(UTC)
            codes = []
            for facility in facilities:
                link = f"{base}/r/{link_of(session, facility.id, at)}"
                codes.append({"name": facility.name, "link": link, "svg": qr_svg(link)})
            zone_name = zone.name
        return renderer.page(request, "resident/qr_sheet.html", {"zone": zone_name, "codes": codes})

    return router
