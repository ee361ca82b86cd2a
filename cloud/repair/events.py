"""Ticket events, recorded one way: :func:`record` adds the event and — for the kinds that
notify (:data:`cloud.notify.rules.NOTIFYING`) — its notice, the transactional outbox row the
notifier delivers from, in the same session, so both are committed together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.db.models import Ticket, TicketEvent
from cloud.db.notices import Notice
from cloud.notify.rules import NOTIFYING


def community_of(ticket: Ticket) -> int | None:
    """The community a ticket belongs to (None: a facility of a gateway never provisioned),
    as its subject's was when it opened."""
    return ticket.community_id


def zone_of(ticket: Ticket) -> int | None:
    """The zone a ticket is in, if any: the facility's, the zone of a zone ticket, the
    gateway's."""
    return ticket.zone_id


def record(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    at: datetime,
    note: str = "",
    actor: str | None = None,
    actor_kind: str = "rule",
    item_id: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> TicketEvent:
    """Add the event ``kind`` of ``ticket`` at ``at`` to ``session``, with its notice if
    ``kind`` notifies; the ticket as it is now (its state, assignee) is what the notice
    keeps. ``actor`` None and ``actor_kind`` ``rule``: Linli did it."""
    event = TicketEvent(
        ticket=ticket,
        at=at,
        kind=kind,
        note=note,
        item_id=item_id,
        actor=actor,
        actor_kind=actor_kind,
        evidence=evidence,
    )
    session.add(event)
    if kind in NOTIFYING:
        session.add(
            Notice(
                event=event,
                ticket=ticket,
                kind=kind,
                at=at,
                community_id=community_of(ticket),
                zone_id=zone_of(ticket),
                assignee_id=ticket.assignee_id,
                state=ticket.state,
            )
        )
    return event
