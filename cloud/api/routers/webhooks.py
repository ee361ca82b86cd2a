"""Webhook subscriptions of a community (:mod:`cloud.notify.webhooks`): its property managers
and operator admins (and tokens with ``register:write``) make, read, change and archive them.
A webhook's signing secret is made with it and shown once; a new one replaces it on asking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select

from cloud.access.roles import Action
from cloud.api.bodies import WebhookChange, WebhookCreate
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, of_community, page_of, set_aside
from cloud.api.references import community_for, in_use, row_of, set_fields
from cloud.api.schemas import ID_MAX, Problem, WebhookIssued, WebhookPublic
from cloud.db.notices import Webhook
from cloud.notify.webhooks import new_secret

router = APIRouter(prefix="/webhooks", tags=["notifications"])

WebhookId = Annotated[int, Path(ge=1, le=ID_MAX, description="the webhook's id")]
_ONE: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
_CHANGED: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    409: {
        "model": Problem,
        "description": "it is archived, or the URL is not one a request can go to",
    },
}


def _checked_url(url: str) -> str:
    """409 for a URL its pattern lets through that no request could go to (a port out of
    range, say)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise HTTPException(409, f"url: {exc}") from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise HTTPException(409, f"url: port {parsed.port} is out of range")
    return url


@router.get(
    "",
    response_model=list[WebhookPublic],
    responses=PAGED,
    summary="Webhook subscriptions (your community's; property managers, operator admins)",
)
def list_webhooks(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    archived: Annotated[
        bool, Query(description="list archived webhooks (true) instead of those in use")
    ] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[WebhookPublic]:
    allowed(principal, Action.WRITE_REGISTER)
    query = select(Webhook).order_by(Webhook.community_id, Webhook.id)
    query = query.where(set_aside(Webhook.archived_at, archived))
    query = of_community(query, Webhook.community_id, principal, community_id)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [WebhookPublic.model_validate(w) for w in found]


@router.post(
    "",
    response_model=WebhookIssued,
    status_code=201,
    responses={
        404: {"model": Problem, "description": "the community does not exist"},
        409: {"model": Problem, "description": "the community is archived, or the URL is bad"},
    },
    summary="Subscribe a URL to a community's ticket events; the answer shows its signing "
    "secret, this once",
)
def create_webhook(
    services: ServicesDep, principal: PrincipalDep, body: WebhookCreate, response: Response
) -> WebhookIssued:
    allowed(principal, Action.WRITE_REGISTER)
    url = _checked_url(body.url)
    with services.sessions.begin() as session:
        community = community_for(session, principal, body.community_id)
        hook = Webhook(
            community_id=community.id,
            name=body.name,
            url=url,
            secret=new_secret(),
            kinds=list(dict.fromkeys(body.kinds)),
            created_by=principal.actor,
            created_at=datetime.now(UTC),
        )
        session.add(hook)
        session.flush()
        issued = WebhookIssued.model_validate(hook)
    response.headers["Location"] = f"/api/v1/webhooks/{issued.id}"
    return issued


@router.get("/{webhook_id}", response_model=WebhookPublic, responses=_ONE)
def get_webhook(
    session: SessionDep, principal: PrincipalDep, webhook_id: WebhookId
) -> WebhookPublic:
    allowed(principal, Action.WRITE_REGISTER)
    return WebhookPublic.model_validate(
        row_of(session, Webhook, webhook_id, principal, f"webhook {webhook_id}")
    )


@router.patch(
    "/{webhook_id}",
    response_model=WebhookPublic,
    responses=_CHANGED,
    summary="Change a webhook: its name, URL, or the kinds of event it takes",
)
def change_webhook(
    services: ServicesDep, principal: PrincipalDep, webhook_id: WebhookId, body: WebhookChange
) -> WebhookPublic:
    allowed(principal, Action.WRITE_REGISTER)
    changes = body.changes()
    if "url" in changes:
        _checked_url(changes["url"])
    if "kinds" in changes:
        changes["kinds"] = list(dict.fromkeys(changes["kinds"]))
    with services.sessions.begin() as session:
        hook = row_of(session, Webhook, webhook_id, principal, f"webhook {webhook_id}")
        in_use(hook, f"webhook {webhook_id}")
        set_fields(hook, changes)
        session.flush()
        return WebhookPublic.model_validate(hook)


@router.post(
    "/{webhook_id}/secret",
    response_model=WebhookIssued,
    responses=_CHANGED,
    summary="Give a webhook a new signing secret (shown this once): deliveries from now on "
    "are signed with it",
)
def renew_secret(
    services: ServicesDep, principal: PrincipalDep, webhook_id: WebhookId
) -> WebhookIssued:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        hook = row_of(session, Webhook, webhook_id, principal, f"webhook {webhook_id}")
        in_use(hook, f"webhook {webhook_id}")
        hook.secret = new_secret()
        session.flush()
        return WebhookIssued.model_validate(hook)


@router.post(
    "/{webhook_id}/archive",
    response_model=WebhookPublic,
    responses=_ONE,
    summary="Archive a webhook: nothing more is sent to it (deliveries not yet made are "
    "given up); its deliveries are kept",
)
def archive_webhook(
    services: ServicesDep, principal: PrincipalDep, webhook_id: WebhookId
) -> WebhookPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        hook = row_of(session, Webhook, webhook_id, principal, f"webhook {webhook_id}")
        if hook.archived_at is None:
            hook.archived_at = datetime.now(UTC)
        session.flush()
        return WebhookPublic.model_validate(hook)
