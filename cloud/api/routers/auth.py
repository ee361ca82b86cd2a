from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cloud.access.desk import (
    SESSION_COOKIE,
    AccessDenied,
    AccessError,
    LoginRefused,
    TooManyAttempts,
)
from cloud.access.roles import SCOPES, Action
from cloud.api.deps import (
    PrincipalDep,
    ServicesDep,
    allowed,
    client_address,
    set_session_cookie,
)
from cloud.api.schemas import ID_MAX, NO_NUL, Problem

router = APIRouter(prefix="/auth", tags=["access"])

Scope = Literal[
    "register:read", "register:write", "tickets:read", "tickets:write", "telemetry:read"
]
assert set(get_args(Scope)) == SCOPES


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        min_length=1, max_length=64, pattern=NO_NUL, description="the account's user name"
    )
    password: str = Field(min_length=1, max_length=200, description="its password")


class Me(BaseModel):
    name: str = Field(description="user name, or the token's name")
    role: str = Field(description="operator_admin, property_manager, supervisor, maintainer, token")
    community_id: int | None = Field(description="null: every community")
    scopes: list[str] = Field(description="a token's scopes; empty for people")


class LoginResponse(Me):
    csrf_token: str = Field(description="send it as X-CSRF-Token with every unsafe request")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=100, pattern=NO_NUL, description="what the token is for"
    )
    scopes: list[Scope] = Field(min_length=1, max_length=10, description="what it may do")
    community_id: int | None = Field(
        default=None, ge=1, le=ID_MAX, description="its community; null: yours"
    )


class TokenIssued(BaseModel):
    id: int = Field(description="the token's id, to revoke it by")
    token: str = Field(description="the bearer value: shown this once, never again")


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={401: {"model": Problem}, 429: {"model": Problem}},
    summary="Log in: a session cookie (HttpOnly, SameSite=Strict) and the CSRF token to echo",
)
def login(
    services: ServicesDep, request: Request, response: Response, body: LoginRequest
) -> LoginResponse | JSONResponse:
    client = client_address(request)
    try:
        done = services.access.login(body.username, body.password, client, datetime.now(UTC))
    except TooManyAttempts as exc:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=429,
            headers={"Retry-After": str(max(1, round(exc.retry_after)))},
        )
    except LoginRefused as exc:
        raise HTTPException(401, str(exc)) from None
    set_session_cookie(response, request, done)
    principal = done.principal
    assert principal.csrf_token is not None
    return LoginResponse(
        name=principal.name,
        role=principal.role.value,
        community_id=principal.community_id,
        scopes=[],
        csrf_token=principal.csrf_token,
    )


@router.post("/logout", status_code=204, summary="End this web session")
def logout(services: ServicesDep, principal: PrincipalDep, request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        services.access.logout(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, responses={401: {"model": Problem}})
def me(principal: PrincipalDep) -> Me:
    return Me(
        name=principal.name,
        role=principal.role.value,
        community_id=principal.community_id,
        scopes=sorted(principal.scopes),
    )


@router.post(
    "/tokens",
    response_model=TokenIssued,
    status_code=201,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
    summary="Issue an integration token (operator admins; property managers for their community)",
)
def issue_token(services: ServicesDep, principal: PrincipalDep, body: TokenRequest) -> TokenIssued:
    allowed(principal, Action.WRITE_REGISTER)
    community = body.community_id if body.community_id is not None else principal.community_id
    try:
        issued = services.access.issue_token(
            principal, body.name, body.scopes, community, datetime.now(UTC)
        )
    except AccessDenied as exc:
        raise HTTPException(403, str(exc)) from None
    except AccessError as exc:
        raise HTTPException(422, str(exc)) from None
    return TokenIssued(id=issued.id, token=issued.token)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={403: {"model": Problem}, 404: {"model": Problem}},
    summary="Revoke an integration token",
)
def revoke_token(
    services: ServicesDep,
    principal: PrincipalDep,
    token_id: Annotated[int, Path(ge=1, le=ID_MAX, description="the token's id")],
) -> Response:
    allowed(principal, Action.WRITE_REGISTER)
    try:
        services.access.revoke_token(principal, token_id, datetime.now(UTC))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)
