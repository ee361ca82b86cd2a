from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from cloud import queries
from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, reachable
from cloud.api.paging import PAGED, Limit, Offset, count_into
from cloud.api.schemas import ID_MAX, Problem, TicketDetail, TicketPublic, TicketTransition
from cloud.db.models import Ticket, TicketState
from cloud.tickets import InvalidTransition, TicketNotFound
from device_profiles import Priority

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get(
    "",
    response_model=list[TicketPublic],
    responses=PAGED,
    summary="Tickets, most urgent first; X-Total-Count gives the number matching",
)
def list_tickets(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    state: Annotated[list[TicketState] | None, Query(description="repeat for several")] = None,
    facility_id: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="only this facility's")
    ] = None,
    priority: Annotated[
        list[Priority] | None, Query(description="only these priorities; repeat for several")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[TicketPublic]:
    allowed(principal, Action.READ_TICKETS)
    found, total = queries.tickets(
        session,
        community=principal.community_id,
        zones=principal.zone_ids,
        states=[s.value for s in state or ()],
        facility_id=facility_id,
        priorities=[p.value for p in priority or ()],
        limit=limit,
        offset=offset,
    )
    count_into(response, total)
    return found


TicketId = Annotated[int, Path(ge=1, le=ID_MAX, description="the ticket's id")]


def _check_ticket(session: SessionDep, principal: PrincipalDep, ticket_id: int) -> None:
    """404 if there is no such ticket the principal may see."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise HTTPException(404, f"ticket {ticket_id} does not exist")
    facility = ticket.facility
    reachable(principal, facility.community_id, facility.zone_id, f"ticket {ticket_id}")


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: {"model": Problem}})
def get_ticket(session: SessionDep, principal: PrincipalDep, ticket_id: TicketId) -> TicketDetail:
    allowed(principal, Action.READ_TICKETS)
    _check_ticket(session, principal, ticket_id)
    found = queries.ticket_detail(session, ticket_id)
    assert found is not None
    return found


@router.post(
    "/{ticket_id}/{action}",
    response_model=TicketDetail,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
    summary="Acknowledge or resolve a ticket (operator admins, property managers, supervisors; "
    "maintainers, tickets of their zones)",
)
def transition_ticket(
    services: ServicesDep,
    principal: PrincipalDep,
    ticket_id: TicketId,
    action: Annotated[
        Literal["acknowledge", "resolve"], Path(description="what to do: acknowledge or resolve")
    ],
    body: TicketTransition | None = None,
) -> TicketDetail:
    allowed(principal, Action.ACT_ON_TICKETS)
    note = body.note if body else ""
    with services.sessions.begin() as session:
        _check_ticket(session, principal, ticket_id)
        try:
            services.tickets.transition(
                session, ticket_id, action, note=note, at=datetime.now(UTC), actor=principal.actor
            )
        except TicketNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from None
    with services.sessions() as session:
        detail = queries.ticket_detail(session, ticket_id)
    assert detail is not None
    return detail
