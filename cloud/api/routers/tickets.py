from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from cloud import queries
from cloud.api.deps import ServicesDep, SessionDep
from cloud.api.schemas import Problem, TicketDetail, TicketPublic, TicketTransition
from cloud.db.models import TicketState
from cloud.tickets import InvalidTransition, TicketNotFound
from device_profiles import Priority

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get(
    "",
    response_model=list[TicketPublic],
    summary="Tickets, most urgent first; X-Total-Count gives the number matching",
)
def list_tickets(
    session: SessionDep,
    response: Response,
    state: Annotated[list[TicketState] | None, Query(description="repeat for several")] = None,
    facility_id: int | None = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TicketPublic]:
    found, total = queries.tickets(
        session,
        states=[s.value for s in state or ()],
        facility_id=facility_id,
        priorities=[p.value for p in priority or ()],
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return found


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: {"model": Problem}})
def get_ticket(session: SessionDep, ticket_id: int) -> TicketDetail:
    found = queries.ticket_detail(session, ticket_id)
    if found is None:
        raise HTTPException(404, f"ticket {ticket_id} does not exist")
    return found


@router.post(
    "/{ticket_id}/{action}",
    response_model=TicketDetail,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Acknowledge or resolve a ticket",
)
def transition_ticket(
    services: ServicesDep,
    ticket_id: int,
    action: Literal["acknowledge", "resolve"],
    body: TicketTransition | None = None,
) -> TicketDetail:
    note = body.note if body else ""
    with services.sessions.begin() as session:
        try:
            services.tickets.transition(session, ticket_id, action, note=note, at=datetime.now(UTC))
        except TicketNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from None
    with services.sessions() as session:
        detail = queries.ticket_detail(session, ticket_id)
    assert detail is not None
    return detail
