"""Photos of a repair: a maintainer resolving a ticket from their phone sends a photo of
the work; the move's event names it in its evidence (``photo_id``), and ``ticket_photos``
lists a ticket's photos. The files themselves are the web's photo store's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import TicketEvent, TicketPhoto
from cloud.repair.desk import TicketDesk
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import DONE, By


@dataclass(frozen=True)
class Photo:
    """A photo of a ticket, as a page lists it."""

    photo_id: str
    event_id: int
    taken_by: str
    at: datetime


def move_with_photo(
    desk: TicketDesk,
    session: Session,
    ticket_id: int,
    move: Move,
    by: By,
    *,
    at: datetime,
    note: str,
    photo_id: str | None,
) -> TicketEvent:
    """Make ``move`` on the ticket as ``by`` (the desk's errors as it raises them), with
    ``photo_id`` — a photo already in the store — on its event and in the ticket's
    photos; the move's event."""
    evidence = {"photo_id": photo_id} if photo_id else None
    desk.move(session, ticket_id, move, by, at=at, note=note, evidence=evidence)
    session.flush()
    event = session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == DONE[move])
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).one()
    if photo_id:
        session.add(
            TicketPhoto(
                ticket_id=ticket_id,
                event_id=event.id,
                photo_id=photo_id,
                taken_by=by.name or "",
                at=at,
            )
        )
    return event


def photos_of(session: Session, ticket_id: int) -> list[Photo]:
    """The photos of a ticket, oldest first."""
    rows = session.scalars(
        select(TicketPhoto)
        .where(TicketPhoto.ticket_id == ticket_id)
        .order_by(TicketPhoto.at, TicketPhoto.id)
    )
    return [Photo(p.photo_id, p.event_id, p.taken_by, p.at) for p in rows]


def has_photo(session: Session, ticket_id: int, photo_id: str) -> bool:
    """Whether ``photo_id`` is a photo of that ticket."""
    found = session.scalar(
        select(TicketPhoto.id).where(
            TicketPhoto.ticket_id == ticket_id, TicketPhoto.photo_id == photo_id
        )
    )
    return found is not None
