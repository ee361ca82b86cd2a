"""Repair tickets: listed, read, opened by hand, and moved through their lifecycle
(:mod:`cloud.repair.lifecycle`) — which roles may make which move is the lifecycle's to say,
not this router's; it asks for ``tickets:write`` and a ticket the caller reaches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from cloud import queries
from cloud.access.roles import Action, Principal, Role
from cloud.api.bodies import TicketCreate, TicketMoveRequest
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed, reachable
from cloud.api.moves import check_ticket, make_move
from cloud.api.paging import PAGED, Limit, Offset, count_into
from cloud.api.references import in_use
from cloud.api.schemas import ID_MAX, Problem, TicketDetail, TicketPublic
from cloud.db.models import Facility, TicketState
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import By, TicketConflict, TicketError
from device_profiles import Priority

router = APIRouter(prefix="/tickets", tags=["tickets"])

ME = "me"


@router.get(
    "",
    response_model=list[TicketPublic],
    responses={
        **PAGED,
        403: {"model": Problem, "description": "`assignee=me` from an account of no person"},
    },
    summary="Tickets, most urgent first, then those of missed targets; X-Total-Count gives "
    "the number matching",
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
    assignee: Annotated[
        str | None,
        Query(
            max_length=10,
            pattern=r"^(me|[1-9][0-9]{0,9})$",
            description="only those assigned to this person (an id), or to you (`me`: an "
            "account of a person; 403 for another)",
        ),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[TicketPublic]:
    allowed(principal, Action.READ_TICKETS)
    assignee_id: int | None = None
    if assignee == ME:
        if principal.person_id is None:
            raise HTTPException(
                403, "assignee: `me` is for a person's account; this one is no person's"
            )
        assignee_id = principal.person_id
    elif assignee is not None:
        assignee_id = int(assignee)
        if assignee_id > ID_MAX:  # no one's
            count_into(response, 0)
            return []
    found, total = queries.tickets(
        session,
        community=principal.community_id,
        zones=principal.zone_ids,
        mine=principal.person_id,
        states=[s.value for s in state or ()],
        facility_id=facility_id,
        priorities=[p.value for p in priority or ()],
        assignee_id=assignee_id,
        limit=limit,
        offset=offset,
    )
    count_into(response, total)
    return found


TicketId = Annotated[int, Path(ge=1, le=ID_MAX, description="the ticket's id")]


def _detail(services: ServicesDep, principal: Principal, ticket_id: int) -> TicketDetail:
    with services.sessions() as session:
        detail = queries.ticket_detail(session, ticket_id, principal)
    assert detail is not None
    return detail


@router.get("/{ticket_id}", response_model=TicketDetail, responses={404: {"model": Problem}})
def get_ticket(session: SessionDep, principal: PrincipalDep, ticket_id: TicketId) -> TicketDetail:
    allowed(principal, Action.READ_TICKETS)
    check_ticket(session, principal, ticket_id)
    found = queries.ticket_detail(session, ticket_id, principal)
    assert found is not None
    return found


@router.post(
    "",
    response_model=TicketDetail,
    status_code=201,
    responses={
        403: {"model": Problem, "description": "maintainers do not open tickets by hand"},
        404: {"model": Problem, "description": "the facility does not exist"},
        409: {
            "model": Problem,
            "description": "a ticket for this fault of the facility is being worked on (the "
            "detail names it; Location points to it), the facility has no such fault (the "
            "detail lists its faults), or the facility is archived",
        },
    },
    summary="Open a ticket by hand for a fault of a facility, or `reported` for what no "
    "device reports (operator admins, property managers, supervisors, tokens with "
    "tickets:write)",
)
def open_ticket(
    services: ServicesDep, principal: PrincipalDep, body: TicketCreate, response: Response
) -> TicketDetail:
    allowed(principal, Action.ACT_ON_TICKETS)
    if principal.role is Role.MAINTAINER:
        raise HTTPException(403, "a maintainer does not open tickets by hand: tell a supervisor")
    with services.sessions.begin() as session:
        facility = session.get(Facility, body.facility_id)
        what = f"facility {body.facility_id}"
        if facility is None:
            raise HTTPException(404, f"facility_id: {what} does not exist")
        reachable(principal, facility.community_id, facility.zone_id, f"facility_id: {what}")
        in_use(facility, what)
        try:
            ticket = services.tickets.open_by_hand(
                session,
                facility,
                body.fault,
                By.of(principal),
                at=datetime.now(UTC),
                title=body.title,
                priority=body.priority.value if body.priority is not None else None,
                note=body.note,
            )
        except TicketConflict as exc:
            raise HTTPException(
                409, str(exc), headers={"Location": f"/api/v1/tickets/{exc.ticket_id}"}
            ) from None
        except TicketError as exc:  # not a fault of the facility: the register's state
            raise HTTPException(409, f"fault: {exc}") from None
        ticket_id = ticket.id
    response.headers["Location"] = f"/api/v1/tickets/{ticket_id}"
    return _detail(services, principal, ticket_id)


@router.post(
    "/{ticket_id}/{action}",
    response_model=TicketDetail,
    responses={
        403: {"model": Problem},
        404: {"model": Problem},
        409: {
            "model": Problem,
            "description": "the move may not be made now — from this state, by you, on this "
            "ticket, without a note, or (assign) without a maintainer of the community — the "
            "detail says why",
        },
    },
    summary="Move a ticket through its lifecycle: assign, acknowledge, start, hold, resolve, "
    "confirm, reopen, cancel (verify is Linli's own); `moves` of the ticket says which you "
    "may make",
)
def move_ticket(
    services: ServicesDep,
    principal: PrincipalDep,
    ticket_id: TicketId,
    action: Annotated[
        Move,
        Path(
            description="the move: assign (with `assignee_id`), acknowledge, start, hold (with "
            "a note), resolve, verify (Linli's own), confirm, reopen (with a note), cancel "
            "(with a note)"
        ),
    ],
    body: TicketMoveRequest | None = None,
) -> TicketDetail:
    allowed(principal, Action.ACT_ON_TICKETS)
    body = body or TicketMoveRequest()
    make_move(services, principal, ticket_id, action, note=body.note, assignee_id=body.assignee_id)
    return _detail(services, principal, ticket_id)
