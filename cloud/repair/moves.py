"""A ticket's moves through its lifecycle: acknowledge, start, hold, resolve, verify,
confirm, reopen, cancel, assign — what each sets on the ticket, and what follows from it
(a self-test asked of the device, a maintenance count restarted).

Every move goes through :func:`cloud.repair.lifecycle.target` and is applied by one guarded
UPDATE (``WHERE state = <the state it was decided from>``): of two requests at once, the
second finds the state moved on and is refused, rather than repeating it. Its event (and
notice) is written by :func:`cloud.repair.events.record` in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloud.access.roles import Role
from cloud.db.models import OutboundCommand, Person, Ticket
from cloud.repair.events import record
from cloud.repair.lifecycle import FINAL, Actor, Move, MoveRefused, State, target
from cloud.repair.sla import phase_of
from cloud.repair.team import SlaBooks
from cloud.repair.tickets import (
    DONE,
    NOTE_REQUIRED,
    By,
    InvalidTransition,
    TicketNotFound,
    not_theirs,
)
from device_profiles import Catalogue, health_of
from device_profiles.rules import RuleState, serviced

KNOWN = "linli.live_tickets"
"""session.info: (facility_id, fault) → its ticket not yet closed, or None for none (the
desk's cache of a group's live tickets, kept true by the moves)"""


class TicketMoves:
    """The moves, with what they need: the SLA books (reopen windows) and the profiles
    (self-tests, maintenance counters)."""

    def __init__(self, books: SlaBooks, catalogue: Catalogue) -> None:
        self.books = books
        self._catalogue = catalogue

    def move(
        self,
        session: Session,
        ticket_id: int,
        move: Move,
        by: By,
        *,
        at: datetime,
        note: str = "",
        assignee_id: int | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Ticket:
        """Make ``move`` on the ticket as ``by``; :class:`TicketNotFound`, or
        :class:`InvalidTransition` saying why it may not be made."""
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound(f"ticket {ticket_id} does not exist")
        before = State(ticket.state)
        values: dict[str, Any] = {"wake_at": at, "reminded_at": at}
        refusal = not_theirs(by, ticket.assignee_id, move)
        if refusal is not None:
            raise InvalidTransition(f"ticket {ticket_id} {refusal}")
        if by.actor is Actor.MAINTAINER and ticket.assignee_id is None:  # they take it
            values |= {"assignee_id": by.person_id, "assigned_at": at}
        if move in NOTE_REQUIRED and not note.strip() and by.actor is not Actor.RULE:
            raise InvalidTransition(f"say why: {move.value} needs a note")
        assignee = values.get("assignee_id", ticket.assignee_id)
        if move is Move.ASSIGN:
            assignee = self._assignee(session, ticket, assignee_id)
            if assignee == ticket.assignee_id:
                raise InvalidTransition(f"ticket {ticket_id} is assigned to them already")
            values |= {"assignee_id": assignee, "assigned_at": at}
            if ticket.assignee_id is not None:
                # given to someone else: they answer anew; the repair's own clock runs on
                values |= {
                    "acknowledged_at": None,
                    "started_at": None,
                    "respond_from": at,
                    "respond_by": None,
                }
        elif move is Move.REOPEN and assignee is not None:
            person = session.get(Person, assignee)
            if person is None or person.archived_at is not None:
                assignee = None  # their maintainer left: dispatch finds another
                values["assignee_id"] = None
        try:
            after = target(
                move, before, by.actor, observable=ticket.observable, assigned=assignee is not None
            )
        except MoveRefused as refused:
            raise InvalidTransition(str(refused)) from None
        values["state"] = after.value
        values |= self._stamps(session, ticket, move, after, at)
        if phase_of(after) != phase_of(before):
            values["sla_step"] = 0
        # guarded: of two requests at once, the second finds the state moved on (it waits
        # for the first's row lock, then its WHERE no longer holds) rather than repeating it
        moved: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.state == before.value)
            .values(values),
            execution_options={"synchronize_session": False},
        )
        if moved.rowcount != 1:
            session.refresh(ticket)
            raise InvalidTransition(f"cannot {move.value} a ticket that is now {ticket.state}")
        for name, value in values.items():
            set_committed_value(ticket, name, value)
        if move is Move.ASSIGN:
            person = session.get(Person, assignee)
            evidence = {
                **(evidence or {}),
                "assignee_id": assignee,
                "assignee": person.name if person else None,
            }
        record(
            session,
            ticket,
            DONE[move],
            at=at,
            note=note,
            actor=by.name,
            actor_kind=by.kind,
            evidence=evidence,
        )
        if move is Move.RESOLVE:
            self._maintenance_done(ticket)
            if after is State.VERIFYING:
                self._self_test(session, ticket, at)
        known = session.info.get(KNOWN)
        if known is not None:
            key = (ticket.facility_id, ticket.fault)
            if after in FINAL and known.get(key) is ticket:
                known[key] = None
            elif after not in FINAL:
                known[key] = ticket
        return ticket

    def _assignee(self, session: Session, ticket: Ticket, assignee_id: int | None) -> int:
        if assignee_id is None:
            raise InvalidTransition("assign needs assignee_id: the maintainer to assign")
        person = session.get(Person, assignee_id)
        community = ticket.community_id
        if (
            person is None
            or person.archived_at is not None
            or (community is not None and person.community_id != community)
        ):
            raise InvalidTransition(f"no person {assignee_id} works in this community")
        if person.role != Role.MAINTAINER.value:
            raise InvalidTransition(f"{person.name} is no maintainer ({person.role})")
        return person.id

    def _stamps(
        self, session: Session, ticket: Ticket, move: Move, after: State, at: datetime
    ) -> dict[str, Any]:
        """The times a move sets on the ticket, beside its state."""
        if move is Move.ACKNOWLEDGE:
            return {"acknowledged_at": at}
        if move is Move.START:
            return {"started_at": ticket.started_at or at}
        if move is Move.RESOLVE:
            stamps: dict[str, Any] = {"resolved_at": at}
            if after is State.VERIFYING:
                until = at + timedelta(seconds=ticket.verify_s)
                stamps |= {"verify_until": until, "wake_at": until}
            return stamps
        if move in (Move.VERIFY, Move.CONFIRM):
            book = self.books.book(session, ticket.community_id)
            reopen_s = book.targets(ticket.sla, ticket.priority).reopen_s
            return {
                "closed_at": at,
                "reopen_until": at + timedelta(seconds=reopen_s),
                "wake_at": None,
                "verify_until": None,
            }
        if move is Move.CANCEL:
            return {"cancelled_at": at, "wake_at": None}
        if move is Move.REOPEN:
            return {
                "repeats": ticket.repeats + 1,
                "occurrences": ticket.occurrences + 1,
                "last_seen_at": max(at, ticket.last_seen_at),
                "fault_cleared_at": None,
                "acknowledged_at": None,
                "started_at": None,
                "resolved_at": None,
                "verify_until": None,
                "closed_at": None,
                "reopen_until": None,
                "sla_since": at,
                "respond_from": at,
                "respond_by": None,
                "resolve_by": None,
                "respond_breached_at": None,
                "resolve_breached_at": None,
                "escalation": 0,
                "sla_step": 0,
            }
        return {}

    def _self_test(self, session: Session, ticket: Ticket, at: datetime) -> None:
        """Ask the device to test itself where its profile has a self-test; its next
        readings are the result."""
        device = ticket.device
        profile = self._catalogue.get(device.profile) if device is not None else None
        command = profile.ticket.self_test if profile is not None else None
        if device is None or command is None:
            return
        session.add(
            OutboundCommand(
                id=uuid.uuid4().hex,
                gateway_id=device.gateway_id,
                device_id=device.device_id,
                command=command,
                args={},
                ticket_id=ticket.id,
                created_at=at,
            )
        )
        record(
            session,
            ticket,
            "self_test",
            at=at,
            note=f"asked {device.device_id} to run {command}",
            evidence={"device_pk": device.id, "command": command},
        )

    def _maintenance_done(self, ticket: Ticket) -> None:
        """Resolving a usage-counter ticket (preventive maintenance) restarts the count from
        the device's current usage, and the fault ends until the next service falls due."""
        device = ticket.device
        profile = self._catalogue.get(device.profile) if device is not None else None
        if (
            device is None
            or profile is None
            or not any(
                rule.counter is not None and rule.fault == ticket.fault for rule in profile.rules
            )
        ):
            return
        state = RuleState.from_json(device.rule_state or {})
        state = serviced(profile, state, ticket.fault, device.metrics)
        device.rule_state = replace(state, last_ts=None).to_json()
        device.faults = [fault for fault in device.faults if fault != ticket.fault]
        device.health = health_of(profile, tuple(device.faults)).value
        if device.facility is not None:
            device.facility.refresh_health(datetime.now(UTC))
