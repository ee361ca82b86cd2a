"""A ticket move as the doors make it — the REST API's ``POST /tickets/{id}/{move}`` and the
web pages' buttons alike: the ticket must be one the caller reaches (404), the move is made
by them, now, and a move the lifecycle refuses is a 409 saying why."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy.orm import Session

from cloud import queries
from cloud.access.roles import Principal
from cloud.db.models import Ticket
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import By, InvalidTransition, TicketNotFound
from cloud.services import Services


def check_ticket(session: Session, principal: Principal, ticket_id: int) -> None:
    """404 if there is no such ticket the principal may see."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not queries.reaches_ticket(principal, ticket):
        raise HTTPException(404, f"ticket {ticket_id} does not exist")


def make_move(
    services: Services,
    principal: Principal,
    ticket_id: int,
    move: Move,
    *,
    note: str,
    assignee_id: int | None,
) -> None:
    """``move`` on a ticket the principal reaches, by them, now (the API's and the web
    page's one way): 404 for a ticket they do not reach, 409 saying why it may not be made."""
    with services.sessions.begin() as session:
        check_ticket(session, principal, ticket_id)
        try:
            services.tickets.move(
                session,
                ticket_id,
                move,
                By.of(principal),
                at=datetime.now(UTC),
                note=note,
                assignee_id=assignee_id if move is Move.ASSIGN else None,
            )
        except TicketNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from None
