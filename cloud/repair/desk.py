"""The ticket desk: faults become repair tickets, and tickets move through their lifecycle.

At most one ticket per (facility, fault) is not yet closed: the database enforces it (a
partial unique index), not a check-then-insert, so several ingest workers can report the
same fault at once. A fault that comes back while its ticket is being verified, or within
the reopen window after it closed, reopens that ticket to its maintainer as a repeat
failure, with the reading as evidence; later, a new ticket opens.

Moves through the lifecycle are :mod:`cloud.repair.moves`'s (:meth:`TicketDesk.move`).

Ingest reports faults for whole groups of readings: :meth:`TicketDesk.preload` reads the
live tickets of every (facility, fault) a group touches in one query, and the reports that
follow find them in the session instead of asking the database each time. Tickets opened in
a session are counted only once it commits (:meth:`TicketDesk.opened`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db.models import (
    Device,
    Facility,
    Ticket,
    TicketState,
)
from cloud.metrics import CloudMetrics
from cloud.repair.events import record
from cloud.repair.lifecycle import Move, State
from cloud.repair.maintenance import MaintenanceBook
from cloud.repair.moves import KNOWN as _KNOWN
from cloud.repair.moves import TicketMoves
from cloud.repair.team import SlaBooks
from cloud.repair.tickets import (
    LIVE,
    REPORTED,
    RULE,
    By,
    InvalidTransition,
    Subject,
    TicketConflict,
    TicketError,
)
from cloud.repair.zones import MEMBERS, ZoneGrouping
from device_profiles import Catalogue, Priority, Profile

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
        self.moves = TicketMoves(self.books, catalogue)
        """the lifecycle's moves, each applied by one guarded UPDATE"""
        self.move = self.moves.move
        """make a move on a ticket as someone (:meth:`TicketMoves.move`): the desk's door"""

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
