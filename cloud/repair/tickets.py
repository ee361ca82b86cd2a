"""What the ticket desk works with: who makes a move (:class:`By`), what a ticket is about
(:class:`Subject`), the moves each may make, and the errors the desk answers with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cloud.access.roles import Principal, Role
from cloud.db.models import Facility, Gateway, facility_subject, gateway_subject, zone_subject
from cloud.repair.lifecycle import FINAL, Actor, Move, State, moves_from

LIVE = [s.value for s in State if s not in FINAL]
REPORTED = "reported"
"""The fault of a ticket opened by hand for what no device reports (a broken bench)."""
DONE = {
    Move.ASSIGN: "assigned",
    Move.ACKNOWLEDGE: "acknowledged",
    Move.START: "started",
    Move.HOLD: "held",
    Move.RESOLVE: "resolved",
    Move.VERIFY: "verified",
    Move.CONFIRM: "confirmed",
    Move.REOPEN: "reopened",
    Move.CANCEL: "cancelled",
}
"""The ticket event each move leaves."""
NOTE_REQUIRED = frozenset({Move.HOLD, Move.CANCEL, Move.REOPEN})


class TicketError(Exception):
    """A ticket operation that cannot be done; the message says why."""


class TicketNotFound(TicketError):
    pass


class InvalidTransition(TicketError):
    """The move is not allowed now: by the lifecycle, for this actor, or for this ticket."""


class TicketConflict(TicketError):
    """A ticket for this (facility, fault) is already being worked on."""

    def __init__(self, message: str, ticket_id: int) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


@dataclass(frozen=True)
class By:
    """Who makes a move: as the lifecycle tells them apart, and as the ticket's events name
    them (``name`` None and kind ``rule`` for Linli itself)."""

    actor: Actor
    name: str | None = None
    kind: str = "rule"
    person_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> By:
        token = principal.role is Role.TOKEN
        return cls(
            Actor(principal.role.value),
            principal.actor,
            "token" if token else "person",
            principal.person_id,
        )


RULE = By(Actor.RULE)


def not_theirs(by: By, assignee_id: int | None, move: Move) -> str | None:
    """Why ``by`` may not make ``move`` on a ticket assigned to ``assignee_id`` whatever the
    lifecycle says — a maintainer moves only their own tickets, and takes an unassigned one by
    acknowledging it; None if nothing stands in the way."""
    if by.actor is not Actor.MAINTAINER:
        return None
    if by.person_id is None:
        return "cannot be moved by this account: it is no maintainer of the community"
    if assignee_id == by.person_id or (assignee_id is None and move is Move.ACKNOWLEDGE):
        return None
    return "is not assigned to you"


def moves_for(by: By, state: State, assignee_id: int | None) -> list[Move]:
    """The moves ``by`` may make now on a ticket in ``state`` assigned to ``assignee_id``
    (what :meth:`TicketDesk.move` would not refuse for who they are)."""
    return [m for m in moves_from(state, by.actor) if not_theirs(by, assignee_id, m) is None]


@dataclass(frozen=True)
class Subject:
    """What a ticket is about: a facility, a zone whose facilities failed together, or a
    gateway; with the community and zone it belongs to."""

    key: str
    community_id: int | None
    zone_id: int | None
    facility_id: int | None = None
    gateway_id: str | None = None

    @classmethod
    def facility(cls, session: Session, facility_id: int) -> Subject:
        found = session.get(Facility, facility_id)
        if found is None:
            raise TicketError(f"no facility {facility_id}")
        return cls(
            facility_subject(facility_id),
            found.community_id,
            found.zone_id,
            facility_id=facility_id,
        )

    @classmethod
    def zone(cls, community_id: int, zone_id: int) -> Subject:
        return cls(zone_subject(zone_id), community_id, zone_id)

    @classmethod
    def gateway(cls, gateway: Gateway) -> Subject:
        return cls(
            gateway_subject(gateway.id),
            gateway.community_id,
            gateway.zone_id,
            gateway_id=gateway.id,
        )
