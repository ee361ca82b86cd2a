from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from cloud import queries
from cloud.api.deps import ServicesDep, SessionDep
from cloud.db.models import TicketState
from cloud.tickets import InvalidTransition, TicketNotFound


def make_router() -> APIRouter:
    templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, session: SessionDep) -> HTMLResponse:
        facilities = queries.facilities(session)
        open_tickets, total_open = queries.tickets(
            session, states=[TicketState.OPEN.value, TicketState.ACKNOWLEDGED.value], limit=200
        )
        counts = {
            h: sum(1 for f in facilities if f.health == h) for h in ("faulty", "degraded", "ok")
        }
        return templates.TemplateResponse(
            request,
            "overview.html",
            {
                "facilities": facilities,
                "tickets": open_tickets,
                "total_open": total_open,
                "counts": counts,
            },
        )

    @router.post("/tickets/{ticket_id}/{action}")
    def transition(
        services: ServicesDep, ticket_id: int, action: Literal["acknowledge", "resolve"]
    ) -> RedirectResponse:
        with services.sessions.begin() as session:
            try:
                services.tickets.transition(
                    session, ticket_id, action, note="from the web UI", at=datetime.now(UTC)
                )
            except TicketNotFound as exc:
                raise HTTPException(404, str(exc)) from None
            except InvalidTransition as exc:
                raise HTTPException(409, str(exc)) from None
        return RedirectResponse("/", status_code=303)

    return router
