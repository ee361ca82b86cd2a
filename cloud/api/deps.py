"""FastAPI dependencies, as Annotated aliases."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from cloud.access.desk import SESSION_COOKIE, Login
from cloud.access.roles import Action, Principal
from cloud.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(request: Request, services: ServicesDep) -> Principal:
    """Who the request acts for: a bearer token, or a web session's cookie — whose unsafe
    requests must carry its CSRF token in ``X-CSRF-Token``. 401 without either."""
    now = datetime.now(UTC)
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and credential:
        principal = services.access.token_principal(credential.strip())
        if principal is None:
            raise _unauthorized("the token is unknown or revoked")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = services.access.session_principal(cookie, now)
        if principal is None:
            raise _unauthorized("the session has ended: log in again")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
            request.headers.get("x-csrf-token", ""), principal.csrf_token or ""
        ):
            raise HTTPException(403, "missing or wrong X-CSRF-Token for this session")
        return principal
    raise _unauthorized("log in (POST /api/v1/auth/login) or send a bearer token")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allowed(principal: Principal, action: Action) -> None:
    """403 unless ``principal`` may do ``action``."""
    if not principal.may(action):
        raise HTTPException(
            403, f"{principal.role.value} {principal.name!r} may not {action.value}"
        )


def visible(principal: Principal, community_id: int | None, what: str) -> None:
    """404 (as if it did not exist) for an object of a community not the principal's."""
    if not principal.sees(community_id):
        raise HTTPException(404, f"{what} does not exist")


def reachable(
    principal: Principal, community_id: int | None, zone_id: int | None, what: str
) -> None:
    """404 (as if it did not exist) for a facility — or a device or ticket of one — the
    principal does not reach: another community's, or outside a maintainer's zones."""
    if not principal.reaches(community_id, zone_id):
        raise HTTPException(404, f"{what} does not exist")


def public_base(request: Request, services: Services) -> str:
    """Where residents and integrations reach the cloud: the ``public_url`` setting, else
    this request's own base URL."""
    return (services.settings.public_url or str(request.base_url)).rstrip("/")


def client_address(request: Request) -> str:
    """Who asks, as failed logins are counted by (with the user name)."""
    return request.client.host if request.client else "unknown"


def set_session_cookie(response: Response, request: Request, login: Login) -> None:
    """The cookie a login gives, for the API and the web UI alike: HttpOnly, SameSite=Strict,
    Secure when the request came over TLS."""
    response.set_cookie(
        SESSION_COOKIE,
        login.cookie,
        expires=login.expires_at,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
