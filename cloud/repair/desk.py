"""The ticket desk: faults become repair tickets, and tickets move through their lifecycle.

At most one ticket per (facility, fault) is not yet closed: the database enforces it (a
partial unique index), not a check-then-insert, so several ingest workers can report the
same fault at once. A fault that comes back while its ticket is being verified, or within
the reopen window after it closed, reopens that ticket to its maintainer as a repeat
failure, with the reading as evidence; later, a new ticket opens.

Every move goes through :func:`cloud.repair.lifecycle.target` and is applied by one guarded
UPDATE (``WHERE state = <the state it was decided from>``): of two requests at once, the
second finds the state moved on and is refused, rather than repeating it.

Ingest reports faults for whole groups of readings: :meth:`TicketDesk.preload` reads the
live tickets of every (facility, fault) a group touches in one query, and the reports that
follow find them in the session instead of asking the database each time. Tickets opened in
a session are counted only once it commits (:meth:`TicketDesk.opened`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloud.access.roles import Role
from cloud.db.models import (
    Device,
    Facility,
    OutboundCommand,
    Person,
    Ticket,
    TicketState,
)
from cloud.metrics import CloudMetrics
from cloud.repair.events import record
from cloud.repair.lifecycle import FINAL, Actor, Move, MoveRefused, State, target
from cloud.repair.maintenance import MaintenanceBook
from cloud.repair.sla import phase_of
from cloud.repair.team import SlaBooks
from cloud.repair.tickets import (
    DONE,
    LIVE,
    NOTE_REQUIRED,
    REPORTED,
    RULE,
    By,
    InvalidTransition,
    Subject,
    TicketConflict,
    TicketError,
    TicketNotFound,
    not_theirs,
)
from cloud.repair.zones import MEMBERS, ZoneGrouping
from device_profiles import Catalogue, Priority, Profile, health_of
from device_profiles.rules import RuleState, serviced

_KNOWN = "linli.live_tickets"
"""session.info: (facility_id, fault) → its ticket not yet closed, or None for none"""
_OPENED = "linli.tickets_opened"
"""session.info: faults of the tickets opened in the session"""


def _scheduled(profile: Profile, fault: str) -> bool:
    """Whether ``fault`` is preventive maintenance falling due (a usage-counter rule)."""
    return any(rule.counter is not None and rule.fault == fault for rule in profile.rules)


class TicketDesk:
    def __init__(
        self,
        metrics: CloudMetrics,
        catalogue: Catalogue,
        books: SlaBooks | None = None,
        maintenance: MaintenanceBook | None = None,
    ) -> None:
        self._metrics = metrics
        self._catalogue = catalogue
        self.books = books or SlaBooks()
        """the communities' SLA classes (reopen windows, targets)"""
        self.maintenance = maintenance or MaintenanceBook()
        """the facilities under maintenance, whose faults open no tickets"""
        self.zones = ZoneGrouping()
        """the grouping rules: facilities of a zone failing together get one ticket"""

    def profile(self, profile_id: str) -> Profile | None:
        """The profile tickets of ``profile_id``'s faults are made from, if known."""
        return self._catalogue.get(profile_id)

    # -- from the data ------------------------------------------------------------------

    @staticmethod
    def live(session: Session, facility_id: int, fault: str) -> Ticket | None:
        """The ticket of ``fault`` on the facility not yet closed, if any."""
        known: dict[tuple[int, str], Ticket | None] | None = session.info.get(_KNOWN)
        if known is not None and (facility_id, fault) in known:
            return known[(facility_id, fault)]
        return session.scalar(
            select(Ticket).where(
                Ticket.facility_id == facility_id, Ticket.fault == fault, Ticket.state.in_(LIVE)
            )
        )

    @staticmethod
    def preload(session: Session, pairs: Iterable[tuple[int, str]]) -> None:
        """Read the live tickets of every (facility, fault) in ``pairs`` at once, so that
        reports in this session need not ask the database one by one."""
        wanted = set(pairs)
        known: dict[tuple[int, str], Ticket | None] = session.info.setdefault(_KNOWN, {})
        facilities = sorted({facility_id for facility_id, _ in wanted})
        for start in range(0, len(facilities), 500):
            query = select(Ticket).where(
                Ticket.facility_id.in_(facilities[start : start + 500]), Ticket.state.in_(LIVE)
            )
            for ticket in session.scalars(query):
                if ticket.facility_id is not None:
                    known[(ticket.facility_id, ticket.fault)] = ticket
        missing = sorted({f for f, fault in wanted if known.get((f, fault)) is None})
        ZoneGrouping.preload(session, missing)
        members = session.info[MEMBERS]
        for pair in wanted:
            known.setdefault(pair, None)
            members.setdefault(pair, None)

    @staticmethod
    def live_of(session: Session, subject: str, fault: str) -> Ticket | None:
        """The ticket of ``fault`` on ``subject`` (a :class:`Subject` key) not yet closed."""
        return session.scalar(
            select(Ticket).where(
                Ticket.subject == subject, Ticket.fault == fault, Ticket.state.in_(LIVE)
            )
        )

    @staticmethod
    def opened(session: Session) -> list[str]:
        """Faults of the tickets opened in ``session``: count them once it committed."""
        found: list[str] = session.info.get(_OPENED, [])
        return found

    def count_opened(self, faults: Iterable[str]) -> None:
        for fault in faults:
            self._metrics.tickets_opened.labels(fault=fault).inc()

    def report(
        self,
        session: Session,
        facility_id: int,
        device_pk: int,
        profile: Profile,
        fault: str,
        *,
        onset: bool,
        at: datetime,
        item_id: str | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> Ticket | None:
        """A reading of device ``device_pk`` at ``at`` shows ``fault`` active: open a
        ticket for its facility, attach to the live one, or reopen the one whose repair it
        proves did not hold — none of it but attaching while the facility is under
        maintenance (then None if it has no live ticket).

        ``onset`` means the fault was not active on the device before this reading; an onset
        on an existing ticket counts as an occurrence.
        """

        def evidence() -> dict[str, Any]:  # made only when a reading reopens a repair
            found: dict[str, Any] = {"device_pk": device_pk, "item_id": item_id}
            found["at"] = at.isoformat()
            if metrics:
                found["metrics"] = dict(metrics)
            return found

        ticket = self.live(session, facility_id, fault)
        due = _scheduled(profile, fault)  # service due again: no repair that failed
        if (
            ticket is None or ticket.state in (State.VERIFYING.value, State.RESOLVED.value)
        ) and self.maintenance.covers(session, facility_id, at):
            return ticket  # people are working on it: recorded, no ticket moves
        if ticket is None:
            zone = self.zones.ticket_of(session, facility_id, fault)
            if zone is not None:  # one of the facilities of a zone ticket
                if self.maintenance.covers(session, facility_id, at):
                    return zone
                resolved = zone.resolved_at
                if (
                    zone.state in (State.VERIFYING.value, State.RESOLVED.value)
                    and resolved is not None
                    and at > resolved
                ):
                    self.reopen_by_data(session, zone, at, evidence())
                self.zones.again(session, zone, facility_id, at)
                return zone
            closed = None if due else self._reopenable(session, facility_id, fault, at)
            if closed is not None and self.reopen_by_data(session, closed, at, evidence()):
                return closed
            if onset and not due:
                grouped = self.zones.consider(
                    self,
                    session,
                    facility_id,
                    device_pk,
                    fault,
                    at=at,
                    verify_s=profile.ticket.verify_s,
                )
                if grouped is not None:
                    return grouped
            ticket = self._open(
                session,
                Subject.facility(session, facility_id),
                device_pk,
                profile,
                fault,
                at=at,
                item_id=item_id,
            )
            if ticket is not None:
                return ticket
            session.info.get(_KNOWN, {}).pop((facility_id, fault), None)
            ticket = self.live(session, facility_id, fault)
            if ticket is None:  # closed between our insert and this read
                raise TicketError(f"ticket for {fault} vanished while opening it")
            onset = True
        elif (
            not due
            and ticket.state in (State.VERIFYING.value, State.RESOLVED.value)
            and ticket.resolved_at is not None
            and at > ticket.resolved_at
        ):
            self.reopen_by_data(session, ticket, at, evidence())
            return ticket
        if onset:
            ticket.occurrences += 1
            ticket.fault_cleared_at = None
            record(session, ticket, "repeated", at=at, item_id=item_id)
        if at > ticket.last_seen_at:
            ticket.last_seen_at = at
        return ticket

    def _reopenable(
        self, session: Session, facility_id: int, fault: str, at: datetime
    ) -> Ticket | None:
        """The ticket of ``fault`` closed last, if ``at`` is within its reopen window."""
        return session.scalar(
            select(Ticket)
            .where(
                Ticket.facility_id == facility_id,
                Ticket.fault == fault,
                Ticket.state == State.CLOSED.value,
                Ticket.reopen_until >= at,
                Ticket.closed_at <= at,
            )
            .order_by(Ticket.closed_at.desc())
            .limit(1)
        )

    def reopen_by_data(
        self, session: Session, ticket: Ticket, at: datetime, evidence: dict[str, Any]
    ) -> bool:
        """Reopen ``ticket`` because its fault is back; False if another worker moved it
        first (or opened a new ticket for the fault meanwhile)."""
        when = "after it closed" if ticket.state == State.CLOSED.value else "during verification"
        note = f"{ticket.fault} seen again {when}: the repair did not hold"
        try:
            with session.begin_nested():
                self.move(
                    session, ticket.id, Move.REOPEN, RULE, note=note, at=at, evidence=evidence
                )
        except (InvalidTransition, IntegrityError):
            return False
        return True

    def _open(
        self,
        session: Session,
        subject: Subject,
        device_pk: int | None,
        profile: Profile | None,
        fault: str,
        *,
        at: datetime,
        item_id: str | None = None,
        by: By = RULE,
        title: str | None = None,
        priority: str | None = None,
        note: str = "",
        skill: str = "general-repair",
        sla: str = "standard",
        verify_s: float | None = None,
    ) -> Ticket | None:
        if profile is not None:
            spec = profile.faults[fault]
            template = profile.ticket
            values: dict[str, Any] = {
                "title": title or spec.title,
                "severity": spec.severity.value,
                "priority": priority or (spec.priority or template.priority).value,
                "skill": template.skill,
                "sla": template.sla,
                "verify_s": template.verify_s,
                "observable": device_pk is not None,
            }
        else:
            values = {
                "title": title or "Reported",
                "severity": "minor",
                "priority": priority or Priority.NORMAL.value,
                "skill": skill,
                "sla": sla,
                "verify_s": verify_s or 0.0,
                "observable": verify_s is not None,
            }
        reported = None
        facility_id = subject.facility_id
        if fault != REPORTED and facility_id is not None:  # part of a repair reported by hand
            reported = self.live(session, facility_id, REPORTED)
        ticket = Ticket(
            subject=subject.key,
            community_id=subject.community_id,
            zone_id=subject.zone_id,
            facility_id=facility_id,
            gateway_id=subject.gateway_id,
            device_pk=device_pk,
            fault=fault,
            state=TicketState.OPEN.value,
            occurrences=1,
            opened_at=at,
            last_seen_at=at,
            sla_since=at,
            respond_from=at,
            wake_at=at,
            opened_by=by.name,
            linked_id=reported.id if reported is not None else None,
            **values,
        )
        try:
            with session.begin_nested():
                session.add(ticket)
                session.flush()
        except IntegrityError:
            return None  # another worker opened it first
        record(
            session,
            ticket,
            "opened",
            at=at,
            item_id=item_id,
            note=note,
            actor=by.name,
            actor_kind=by.kind,
        )
        if _KNOWN in session.info and facility_id is not None:
            session.info[_KNOWN][(facility_id, fault)] = ticket
        session.info.setdefault(_OPENED, []).append(fault)
        return ticket

    def open_service(
        self,
        session: Session,
        facility_id: int,
        fault: str,
        *,
        title: str,
        skill: str,
        sla: str,
        priority: str,
        at: datetime,
    ) -> Ticket | None:
        """Open a preventive-maintenance ticket that fell due at ``at`` (no device reports
        it: a supervisor confirms it done); None if one is open already."""
        return self._open(
            session,
            Subject.facility(session, facility_id),
            None,
            None,
            fault,
            at=at,
            title=title,
            priority=priority,
            skill=skill,
            sla=sla,
            note="preventive maintenance due",
        )

    def open_root_cause(
        self,
        session: Session,
        subject: Subject,
        fault: str,
        *,
        title: str,
        skill: str,
        sla: str,
        priority: str,
        at: datetime,
        verify_s: float,
        note: str,
    ) -> Ticket | None:
        """Open a ticket for what failed beyond one facility — a zone whose facilities failed
        together, a gateway gone offline — verified by the data (``verify_s``); None if one is
        open already."""
        return self._open(
            session,
            subject,
            None,
            None,
            fault,
            at=at,
            title=title,
            priority=priority,
            skill=skill,
            sla=sla,
            note=note,
            verify_s=verify_s,
        )

    def fault_cleared(self, session: Session, facility_id: int, fault: str, at: datetime) -> None:
        """A device of the facility no longer reports ``fault``; note it on the live
        ticket."""
        ticket = self.live(session, facility_id, fault)
        if ticket is None:
            zone = self.zones.ticket_of(session, facility_id, fault)
            if zone is not None:
                self.zones.cleared(session, zone, facility_id, at)
            return
        if ticket.fault_cleared_at is None:
            ticket.fault_cleared_at = at
            record(session, ticket, "fault_cleared", at=at)

    def fold(self, session: Session, ticket: Ticket, into: Ticket, at: datetime) -> None:
        """Cancel ``ticket``: its facility is one of zone ticket ``into``'s."""
        ticket.linked_id = into.id
        self.move(
            session,
            ticket.id,
            Move.CANCEL,
            RULE,
            at=at,
            note=f"one of the facilities of zone ticket {into.id}: {into.title}",
        )

    # -- by hand --------------------------------------------------------------------------

    def open_by_hand(
        self,
        session: Session,
        facility: Facility,
        fault: str,
        by: By,
        *,
        at: datetime,
        title: str | None = None,
        priority: str | None = None,
        note: str = "",
    ) -> Ticket:
        """Open a ticket for ``fault`` of one of the facility's devices' profiles, or for
        the generic :data:`REPORTED` fault; :class:`TicketError` naming the faults it may
        have if it has no such fault, :class:`TicketConflict` if one is being worked on."""
        if facility.archived_at is not None:
            raise TicketError(f"facility {facility.id} is archived")
        device: Device | None = None
        profile: Profile | None = None
        if fault != REPORTED:
            known: set[str] = set()
            for candidate in facility.devices:
                found = self._catalogue.get(candidate.profile)
                if found is None:
                    continue
                faults = {name for name, spec in found.faults.items() if spec.ticket}
                known |= faults
                if fault in faults and device is None:
                    device, profile = candidate, found
            if device is None:
                listed = ", ".join(sorted(known | {REPORTED}))
                raise TicketError(
                    f"facility {facility.id} has no fault {fault!r}; its faults: {listed}"
                )
        existing = self.live(session, facility.id, fault)
        if existing is not None:
            raise TicketConflict(
                f"ticket {existing.id} for {fault} on this facility is {existing.state}",
                existing.id,
            )
        ticket = self._open(
            session,
            Subject.facility(session, facility.id),
            device.id if device is not None else None,
            profile,
            fault,
            at=at,
            by=by,
            title=title,
            priority=priority,
            note=note,
        )
        if ticket is None:
            raced = self.live(session, facility.id, fault)
            if raced is None:  # opened and closed meanwhile
                raise TicketError(f"a ticket for {fault} came and went meanwhile; try again")
            raise TicketConflict(f"a ticket for {fault} was opened meanwhile", raced.id)
        return ticket

    # -- moves ------------------------------------------------------------------------------

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
        known = session.info.get(_KNOWN)
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
