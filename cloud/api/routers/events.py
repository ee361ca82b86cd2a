"""The live event stream of ticket events (server-sent events), for the web UI and for
integrations that keep a connection open: what the caller may see of the tickets list, as it
happens (:mod:`cloud.notify.stream`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from cloud.access.roles import Action, Principal, Role
from cloud.api.deps import PrincipalDep, ServicesDep, allowed, get_principal
from cloud.api.schemas import ID_MAX, Problem
from cloud.notify.stream import HEARTBEAT, Cursor, Reach, frames, latest
from cloud.services import Services

router = APIRouter(prefix="/events", tags=["events"])

EVENT_STREAM = "text/event-stream"


def reach_of(principal: Principal) -> Reach:
    """Whose ticket events ``principal`` sees: as the tickets list shows them."""
    mine = principal.person_id if principal.role is Role.MAINTAINER else None
    return Reach(principal.community_id, principal.zone_ids, mine)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "server-sent events, one per ticket event as it is written: `id` "
            "(send it back as Last-Event-ID to resume), `event` (its kind: opened, assigned, "
            "…) and `data`, the notice as JSON — as webhooks receive it; a comment every "
            "little while keeps the connection alive",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
        403: {"model": Problem, "description": "the caller may not read tickets"},
    },
    summary="Ticket events as they happen, of the tickets you may see (server-sent events)",
)
async def event_stream(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    last_event_id: Annotated[
        int | None,
        Header(
            ge=0,
            le=ID_MAX,
            description="resume after this event's id (a browser's EventSource sends it when "
            "it reconnects)",
        ),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=ID_MAX, description="start after this event's id; default: from now"),
    ] = None,
) -> StreamingResponse:
    allowed(principal, Action.READ_TICKETS)
    start = last_event_id if last_event_id is not None else after
    if start is None:
        start = await asyncio.to_thread(_latest, services)
    reach = reach_of(principal)
    stream = _events(request, services, Cursor(start), reach)
    return StreamingResponse(
        stream,
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _latest(services: Services) -> int:
    with services.sessions() as session:
        return latest(session)


def _read(services: Services, cursor: Cursor, reach: Reach) -> str:
    with services.sessions() as session:
        return frames(cursor.read(session, reach))


async def _events(
    request: Request, services: Services, cursor: Cursor, reach: Reach
) -> AsyncIterator[str]:
    """Events as they are written, a keep-alive comment when nothing came for a while;
    until the client goes away or its login ends (its session, or its token revoked)."""
    settings = services.settings
    yield f"retry: 3000\n{HEARTBEAT}"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        chunk = await asyncio.to_thread(_read, services, cursor, reach)
        if chunk:
            yield chunk
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settings.events_heartbeat_s:
            try:
                await asyncio.to_thread(get_principal, request, services)
            except HTTPException:
                return  # logged out or revoked: the stream ends with the login
            yield HEARTBEAT
            quiet_since = time.monotonic()
        await asyncio.sleep(settings.events_poll_s)
