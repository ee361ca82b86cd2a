"""The web UI: log in, the manager dashboard (:mod:`cloud.web.dashboard`), ticket moves.

Each ticket offers the moves its viewer may make now (as the API's ``moves`` says them), with
a note and, for assign, the community's maintainers to choose from.

Every page but the login needs a session; every form carries a CSRF token — the session's,
or, for the login form (which has no session yet), one set in a cookie of its own and
echoed by the form (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud.access.desk import SESSION_COOKIE, LoginRefused, TooManyAttempts
from cloud.access.roles import Action, Principal, Role
from cloud.api.deps import ServicesDep, SessionDep, client_address, set_session_cookie
from cloud.api.moves import make_move
from cloud.api.schemas import ID_MAX, NO_NUL
from cloud.repair.lifecycle import Move
from cloud.web import dashboard, facility_page
from cloud.web.i18n import _
from cloud.web.render import Renderer
from cloud.web.resident import make_resident_router

LOGIN_CSRF_COOKIE = "linli_login_csrf"
CsrfField = Annotated[str, Form(max_length=100)]


def _principal(request: Request, services: ServicesDep) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return services.access.session_principal(cookie, datetime.now(UTC))


def _checked(principal: Principal | None, csrf_token: str) -> Principal:
    if principal is None:
        raise HTTPException(401, "log in first")
    if not hmac.compare_digest(csrf_token, principal.csrf_token or ""):
        raise HTTPException(403, "this form is stale: reload the page")
    return principal


def make_router(renderer: Renderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(make_resident_router(renderer))  # no login: QR-code pages
    router.include_router(dashboard.make_router(renderer))  # its fragments
    router.include_router(facility_page.make_router(renderer))

    def login_page(
        request: Request, error: str = "", username: str = "", status: int = 200
    ) -> Response:
        token = secrets.token_urlsafe(24)
        page = renderer.page(
            request,
            "login.html",
            {"csrf_token": token, "error": error, "username": username},
            status_code=status,
        )
        page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
        return page

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return login_page(request)

    @router.post("/login")
    def login(
        request: Request,
        services: ServicesDep,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=200)],
        csrf_token: CsrfField,
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(csrf_token, expected):
            return login_page(request, _("This form is stale: try again."), username, 403)
        client = client_address(request)
        try:
            done = services.access.login(username, password, client, datetime.now(UTC))
        except TooManyAttempts:
            return login_page(
                request, _("Too many failed log-ins: wait a while, then try again."), username, 429
            )
        except LoginRefused:
            return login_page(request, _("Wrong user name or password."), username, 401)
        page = RedirectResponse("/", status_code=303)
        set_session_cookie(page, request, done)
        page.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return page

    @router.post("/logout")
    def logout(request: Request, services: ServicesDep, csrf_token: CsrfField) -> Response:
        _checked(_principal(request, services), csrf_token)
        services.access.logout(request.cookies.get(SESSION_COOKIE, ""))
        page = RedirectResponse("/login", status_code=303)
        page.delete_cookie(SESSION_COOKIE, path="/")
        return page

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, services: ServicesDep, session: SessionDep) -> Response:
        principal = _principal(request, services)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        if principal.role is Role.MAINTAINER:  # their view is made for a phone
            return RedirectResponse("/my", status_code=303)
        return dashboard.page(renderer, request, services, session, principal)

    @router.post("/tickets/{ticket_id}/{move}")
    def move_ticket(
        request: Request,
        services: ServicesDep,
        ticket_id: Annotated[int, Path(ge=1, le=ID_MAX)],
        move: Move,
        csrf_token: CsrfField,
        note: Annotated[str, Form(max_length=2000, pattern=NO_NUL)] = "",
        assignee_id: Annotated[str, Form(pattern=r"^[0-9]{0,9}$")] = "",
    ) -> RedirectResponse:
        principal = _checked(_principal(request, services), csrf_token)
        if not principal.may(Action.ACT_ON_TICKETS):
            raise HTTPException(403, f"{principal.name} may not act on tickets")
        make_move(
            services,
            principal,
            ticket_id,
            move,
            note=note,
            assignee_id=int(assignee_id) if assignee_id else None,
        )
        return RedirectResponse("/", status_code=303)

    return router
