"""The maintainer's view, made for a phone: ``/my`` lists their tickets, most urgent first,
and ``/my/tickets/{id}`` shows one — where the facility is, what happened to the ticket,
the device's recent data, its photos — with the moves they may make now as big buttons
(acknowledge, start, hold, resolve; resolve with a photo of the repair).

Plain forms, no script: each move is a form of its own with its note (and, for resolve, a
photo: ``multipart/form-data``), carrying the session's CSRF token. Anyone who reaches a
ticket may read its page; staff see the photos there too.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.desk import SESSION_COOKIE
from cloud.access.roles import Action, Principal
from cloud.api.deps import ServicesDep
from cloud.api.schemas import ID_MAX, NO_NUL, TicketDetail, TicketPublic
from cloud.db.models import Community, Device, Facility, Ticket, Zone
from cloud.repair.lifecycle import Move, State
from cloud.repair.ticket_photos import Photo, has_photo, move_with_photo, photos_of
from cloud.repair.tickets import By, InvalidTransition, TicketNotFound
from cloud.services import Services
from cloud.telemetry.store import TelemetryRejected, TelemetryUnavailable
from cloud.web.i18n import _
from cloud.web.labels import EVENT_LABELS, HEALTH_LABELS, PRIORITY_LABELS, STATE_LABELS
from cloud.web.photos import PhotoNotFound, PhotoRefused, PhotoStore
from cloud.web.render import Renderer

MOVES = (Move.ACKNOWLEDGE, Move.START, Move.HOLD, Move.RESOLVE)
"""The moves this view offers, in the order of a repair."""
NOTE_NEEDED = frozenset({Move.HOLD, Move.RESOLVE})
WORKING = (
    State.OPEN,
    State.ASSIGNED,
    State.ACKNOWLEDGED,
    State.IN_PROGRESS,
    State.ON_HOLD,
)
"""The states of a ticket its maintainer still has work on."""
RESPONDING = frozenset({State.OPEN.value, State.ASSIGNED.value})
"""Before it is acknowledged, the response deadline runs; after, the resolution one."""
_PRIORITY = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
RECENT = 5
"""How many of a metric's last values the page shows."""
RECENT_SPAN = timedelta(hours=24)

MOVE_LABELS = {
    Move.ACKNOWLEDGE: _("Acknowledge"),
    Move.START: _("Start the repair"),
    Move.HOLD: _("Put on hold"),
    Move.RESOLVE: _("Resolve"),
}
ZONE_KINDS = {"zone": _("Zone"), "building": _("Building")}
_PHOTO_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Row:
    """A ticket in the list: what it is and how long is left."""

    ticket: TicketPublic
    deadline: datetime | None
    left_s: float | None
    """seconds to its running deadline; negative: overdue"""
    breached: bool

    @property
    def overdue(self) -> bool:
        return self.breached or (self.left_s is not None and self.left_s < 0)


def ordered(tickets: list[TicketPublic], now: datetime) -> list[Row]:
    """Most urgent first: by priority, then those of a missed target, then by the deadline
    that runs now (respond by, before it is acknowledged; resolve by, after) — soonest
    first, none last."""
    rows = []
    for t in tickets:
        deadline = t.respond_by if t.state in RESPONDING else t.resolve_by
        breached = t.respond_breached_at is not None or t.resolve_breached_at is not None
        left = (deadline - now).total_seconds() if deadline is not None else None
        rows.append(Row(t, deadline, left, breached))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        rows,
        key=lambda r: (
            _PRIORITY.get(r.ticket.priority, 4),
            0 if r.breached else 1,
            r.deadline or far,
            r.ticket.id,
        ),
    )


@dataclass(frozen=True)
class DeviceData:
    """A device of the ticket's facility: its latest state and recent values."""

    device_id: str
    profile: str
    health: str
    faults: list[str]
    metrics: dict[str, Any]
    last_ts: datetime | None
    recent: dict[str, list[tuple[datetime, Any]]]
    unavailable: bool
    """the telemetry store could not answer: ``recent`` is empty"""


def _principal(request: Request, services: Services) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return services.access.session_principal(cookie, datetime.now(UTC))


def _ticket(session: Session, principal: Principal, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not queries.reaches_ticket(principal, ticket):
        raise HTTPException(404, f"ticket {ticket_id} does not exist")
    return ticket


def _where(session: Session, ticket: Ticket) -> tuple[Zone | None, str]:
    """The ticket's zone or building, and its community's time zone."""
    zone = session.get(Zone, ticket.zone_id) if ticket.zone_id is not None else None
    community = (
        session.get(Community, ticket.community_id) if ticket.community_id is not None else None
    )
    return zone, community.time_zone if community is not None else "UTC"


def _devices(session: Session, ticket: Ticket, detail: TicketDetail) -> list[Device]:
    """The devices whose data tells about the ticket: its own, else its facility's (or,
    for a zone ticket, its facilities')."""
    if ticket.device_pk is not None:
        found = session.get(Device, ticket.device_pk)
        if found is not None:
            return [found]
    facilities = [ticket.facility_id] if ticket.facility_id is not None else []
    facilities += [f.facility_id for f in detail.facilities]
    if not facilities:
        return []
    query = (
        select(Device)
        .where(Device.facility_id.in_(facilities))
        .order_by(Device.gateway_id, Device.device_id)
        .limit(10)
    )
    return list(session.scalars(query))


def _recent(services: Services, device: Device) -> DeviceData:
    """The device's latest metrics and faults, and each metric's last values (those of the
    day before its latest reading)."""
    recent: dict[str, list[tuple[datetime, Any]]] = {}
    unavailable = False
    if device.last_ts is not None:
        end = device.last_ts + timedelta(seconds=1)
        try:
            for metric in sorted(device.metrics):
                values = services.telemetry.series(
                    device.id, device.profile, metric, end - RECENT_SPAN, end
                )
                recent[metric] = list(reversed(values[-RECENT:]))
        except (TelemetryUnavailable, TelemetryRejected):
            recent, unavailable = {}, True
    return DeviceData(
        device.device_id,
        device.profile,
        device.health,
        list(device.faults),
        dict(sorted(device.metrics.items())),
        device.last_ts,
        recent,
        unavailable,
    )


def make_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def problem(request: Request, status: int, reason: str, ticket_id: int | None) -> Response:
        return renderer.page(
            request,
            "maintainer/problem.html",
            {"status": status, "reason": reason, "ticket_id": ticket_id},
            status_code=status,
        )

    @router.get("/my", response_class=HTMLResponse)
    def my_tickets(request: Request, services: ServicesDep) -> Response:
        principal = _principal(request, services)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        now = datetime.now(UTC)
        mine: list[TicketPublic] = []
        waiting: list[TicketPublic] = []
        with services.sessions() as session:
            if principal.person_id is not None:
                mine, _total = queries.tickets(
                    session,
                    states=[s.value for s in WORKING],
                    community=principal.community_id,
                    assignee_id=principal.person_id,
                    limit=200,
                )
            if principal.zone_ids is not None and principal.may(Action.ACT_ON_TICKETS):
                waiting, _total = queries.tickets(  # nobody has them: theirs to take
                    session,
                    states=[State.OPEN.value],
                    community=principal.community_id,
                    zones=principal.zone_ids,
                    limit=50,
                )
                waiting = [t for t in waiting if t.assignee_id is None]
            zone = None
            if principal.community_id is not None:
                community = session.get(Community, principal.community_id)
                zone = community.time_zone if community is not None else None
        return renderer.page(
            request,
            "maintainer/list.html",
            {
                "principal": principal,
                "rows": ordered(mine, now),
                "waiting": ordered(waiting, now),
                "time_zone": zone or "UTC",
                "states": STATE_LABELS,
                "priorities": PRIORITY_LABELS,
            },
        )

    @router.get("/my/tickets/{ticket_id}", response_class=HTMLResponse)
    def my_ticket(
        request: Request,
        services: ServicesDep,
        ticket_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    ) -> Response:
        principal = _principal(request, services)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        if not principal.may(Action.READ_TICKETS):
            return problem(request, 403, _("You may not read tickets."), None)
        with services.sessions() as session:
            try:
                ticket = _ticket(session, principal, ticket_id)
            except HTTPException:
                return problem(request, 404, _("There is no such ticket."), None)
            detail = queries.ticket_detail(session, ticket_id, principal)
            assert detail is not None
            zone, time_zone = _where(session, ticket)
            facility = session.get(Facility, ticket.facility_id) if ticket.facility_id else None
            data = [_recent(services, d) for d in _devices(session, ticket, detail)]
            photos: list[Photo] = photos_of(session, ticket_id)
        now = datetime.now(UTC)
        return renderer.page(
            request,
            "maintainer/ticket.html",
            {
                "principal": principal,
                "t": detail,
                "row": ordered([detail], now)[0],
                "zone": zone,
                "facility": facility,
                "time_zone": time_zone,
                "data": data,
                "photos": photos,
                "moves": [m for m in MOVES if m in detail.moves],
                "note_needed": NOTE_NEEDED,
                "move_labels": MOVE_LABELS,
                "states": STATE_LABELS,
                "priorities": PRIORITY_LABELS,
                "events": EVENT_LABELS,
                "health": HEALTH_LABELS,
                "zone_kinds": ZONE_KINDS,
            },
        )

    @router.get("/my/tickets/{ticket_id}/photos/{photo_id}")
    def ticket_photo(
        request: Request,
        services: ServicesDep,
        ticket_id: Annotated[int, Path(ge=1, le=ID_MAX)],
        photo_id: Annotated[str, Path(max_length=64)],
    ) -> Response:
        principal = _principal(request, services)
        if principal is None or not principal.may(Action.READ_TICKETS):
            raise HTTPException(401 if principal is None else 403, "log in first")
        if not _PHOTO_ID.match(photo_id):
            raise HTTPException(404, "no such photo")
        with services.sessions() as session:
            _ticket(session, principal, ticket_id)
            if not has_photo(session, ticket_id, photo_id):
                raise HTTPException(404, "no such photo")
        store = PhotoStore.of(services.settings)
        try:
            path = store.path(photo_id)
        except PhotoNotFound:
            raise HTTPException(404, "no such photo") from None
        return FileResponse(
            path,
            media_type=store.media_type(path),
            headers={"Cache-Control": "private, max-age=86400"},
        )

    @router.post("/my/tickets/{ticket_id}/{move}")
    def move_ticket(
        request: Request,
        services: ServicesDep,
        ticket_id: Annotated[int, Path(ge=1, le=ID_MAX)],
        move: Move,
        csrf_token: Annotated[str, Form(max_length=100)] = "",
        note: Annotated[str, Form(max_length=2000, pattern=NO_NUL)] = "",
        photo: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        principal = _principal(request, services)
        if principal is None:
            return problem(request, 401, _("Log in first."), None)
        if not hmac.compare_digest(csrf_token, principal.csrf_token or ""):
            return problem(request, 403, _("This form is stale: reload the page."), ticket_id)
        if not principal.may(Action.ACT_ON_TICKETS):
            return problem(request, 403, _("You may not act on tickets."), ticket_id)
        if move not in MOVES:
            return problem(request, 404, _("This move is not made here."), ticket_id)
        if move in NOTE_NEEDED and not note.strip():
            return problem(request, 422, _("Say what was done or why: write a note."), ticket_id)
        with services.sessions() as session:  # before anything is stored
            try:
                _ticket(session, principal, ticket_id)
            except HTTPException:
                return problem(request, 404, _("There is no such ticket."), None)
        store = PhotoStore.of(services.settings)
        photo_id = None
        if move is Move.RESOLVE and photo is not None and photo.filename:
            try:
                photo_id = store.save(photo)
            except PhotoRefused as refused:
                too_big = photo.size is not None and photo.size > store.max_bytes
                return problem(request, 413 if too_big else 415, str(refused), ticket_id)
        try:
            with services.sessions.begin() as session:
                move_with_photo(
                    services.tickets,
                    session,
                    ticket_id,
                    move,
                    By.of(principal),
                    at=datetime.now(UTC),
                    note=note,
                    photo_id=photo_id,
                )
        except (InvalidTransition, TicketNotFound) as refused:
            _forget(store, photo_id)  # the move was not made: its photo is not kept
            return problem(request, 409, str(refused), ticket_id)
        except BaseException:
            _forget(store, photo_id)
            raise
        return RedirectResponse(f"/my/tickets/{ticket_id}", status_code=303)

    return router


def _forget(store: PhotoStore, photo_id: str | None) -> None:
    if photo_id is not None:
        with contextlib.suppress(PhotoNotFound):
            store.path(photo_id).unlink(missing_ok=True)
