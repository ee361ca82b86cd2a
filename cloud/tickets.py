"""The ticket desk: faults become repair tickets, one per (facility, fault) while unresolved.

Uniqueness is enforced by the database (a partial unique index), not by a
check-then-insert, so several ingest workers can report the same fault at once.

Ingest reports faults for whole groups of readings: :meth:`TicketDesk.preload` reads the
unresolved tickets of every (facility, fault) a group touches in one query, and the
reports that follow find them in the session instead of asking the database each time.
Tickets opened in a session are counted only once it commits (:meth:`TicketDesk.opened`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloud.db.models import Ticket, TicketEvent, TicketState
from cloud.metrics import CloudMetrics
from device_profiles import Catalogue, Profile, health_of
from device_profiles.rules import RuleState, serviced

_KNOWN = "linli.unresolved_tickets"
"""session.info: (facility_id, fault) → its unresolved ticket, or None for none"""
_OPENED = "linli.tickets_opened"
"""session.info: faults of the tickets opened in the session"""


class TicketError(Exception):
    """A ticket operation that cannot be done; the message says why."""


class TicketNotFound(TicketError):
    pass


class InvalidTransition(TicketError):
    pass


_ALLOWED = {
    "acknowledge": {TicketState.OPEN},
    "resolve": {TicketState.OPEN, TicketState.ACKNOWLEDGED},
}


class TicketDesk:
    def __init__(self, metrics: CloudMetrics, catalogue: Catalogue) -> None:
        self._metrics = metrics
        self._catalogue = catalogue

    def profile(self, profile_id: str) -> Profile | None:
        """The profile tickets of ``profile_id``'s faults are made from, if known."""
        return self._catalogue.get(profile_id)

    @staticmethod
    def unresolved(session: Session, facility_id: int, fault: str) -> Ticket | None:
        known: dict[tuple[int, str], Ticket | None] | None = session.info.get(_KNOWN)
        if known is not None and (facility_id, fault) in known:
            return known[(facility_id, fault)]
        return session.scalar(
            select(Ticket).where(
                Ticket.facility_id == facility_id,
                Ticket.fault == fault,
                Ticket.state != TicketState.RESOLVED.value,
            )
        )

    @staticmethod
    def preload(session: Session, pairs: Iterable[tuple[int, str]]) -> None:
        """Read the unresolved tickets of every (facility, fault) in ``pairs`` at once, so
        that reports in this session need not ask the database one by one."""
        wanted = set(pairs)
        known: dict[tuple[int, str], Ticket | None] = session.info.setdefault(_KNOWN, {})
        facilities = sorted({facility_id for facility_id, _ in wanted})
        for start in range(0, len(facilities), 500):
            query = select(Ticket).where(
                Ticket.facility_id.in_(facilities[start : start + 500]),
                Ticket.state != TicketState.RESOLVED.value,
            )
            for ticket in session.scalars(query):
                known[(ticket.facility_id, ticket.fault)] = ticket
        for pair in wanted:
            known.setdefault(pair, None)

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
    ) -> Ticket:
        """A reading of device ``device_pk`` shows ``fault`` active: open a ticket for its
        facility, or attach to the unresolved one.

        ``onset`` means the fault was not active on the device before this reading; an onset
        on an existing ticket counts as a repeat.
        """
        ticket = self.unresolved(session, facility_id, fault)
        if ticket is None:
            ticket = self._open(
                session, facility_id, device_pk, profile, fault, at=at, item_id=item_id
            )
            if ticket is not None:
                return ticket
            session.info.get(_KNOWN, {}).pop((facility_id, fault), None)
            ticket = self.unresolved(session, facility_id, fault)
            if ticket is None:  # resolved between our insert and this read
                raise TicketError(f"ticket for {fault} vanished while opening it")
            onset = True
        if onset:
            ticket.occurrences += 1
            ticket.fault_cleared_at = None
            session.add(TicketEvent(ticket=ticket, at=at, kind="repeated", item_id=item_id))
        if at > ticket.last_seen_at:
            ticket.last_seen_at = at
        return ticket

    def _open(
        self,
        session: Session,
        facility_id: int,
        device_pk: int,
        profile: Profile,
        fault: str,
        *,
        at: datetime,
        item_id: str | None = None,
    ) -> Ticket | None:
        spec = profile.faults[fault]
        ticket = Ticket(
            facility_id=facility_id,
            device_pk=device_pk,
            fault=fault,
            title=spec.title,
            severity=spec.severity.value,
            priority=(spec.priority or profile.ticket.priority).value,
            skill=profile.ticket.skill,
            sla=profile.ticket.sla,
            state=TicketState.OPEN.value,
            occurrences=1,
            opened_at=at,
            last_seen_at=at,
        )
        try:
            with session.begin_nested():
                session.add(ticket)
                session.flush()
        except IntegrityError:
            return None  # another worker opened it first
        session.add(TicketEvent(ticket=ticket, at=at, kind="opened", item_id=item_id))
        if _KNOWN in session.info:
            session.info[_KNOWN][(facility_id, fault)] = ticket
        session.info.setdefault(_OPENED, []).append(fault)
        return ticket

    def fault_cleared(self, session: Session, facility_id: int, fault: str, at: datetime) -> None:
        """A device of the facility no longer reports ``fault``; note it on the unresolved
        ticket."""
        ticket = self.unresolved(session, facility_id, fault)
        if ticket is not None and ticket.fault_cleared_at is None:
            ticket.fault_cleared_at = at
            session.add(TicketEvent(ticket=ticket, at=at, kind="fault_cleared"))

    def transition(
        self,
        session: Session,
        ticket_id: int,
        action: str,
        *,
        note: str,
        at: datetime,
        actor: str | None = None,
    ) -> Ticket:
        """Apply ``acknowledge`` or ``resolve`` as ``actor`` (who, for the ticket's events);
        InvalidTransition if the state forbids it."""
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound(f"ticket {ticket_id} does not exist")
        allowed = _ALLOWED[action]
        if TicketState(ticket.state) not in allowed:
            raise InvalidTransition(
                f"cannot {action} a ticket that is {ticket.state}; "
                f"allowed from: {', '.join(sorted(s.value for s in allowed))}"
            )
        if action == "acknowledge":
            values: dict[str, object] = {"state": TicketState.ACKNOWLEDGED.value}
            values["acknowledged_at"] = at
            kind = "acknowledged"
        else:
            values = {"state": TicketState.RESOLVED.value, "resolved_at": at}
            kind = "resolved"
        # guarded: of two requests at once, the second finds the state moved on (it waits
        # for the first's row lock, then its WHERE no longer holds) rather than repeating it
        moved: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.state.in_([state.value for state in allowed]))
            .values(values),
            execution_options={"synchronize_session": False},
        )
        if moved.rowcount != 1:
            session.refresh(ticket)
            raise InvalidTransition(f"cannot {action} a ticket that is now {ticket.state}")
        for name, value in values.items():
            set_committed_value(ticket, name, value)
        if kind == "resolved":
            self._maintenance_done(ticket)
        session.add(TicketEvent(ticket=ticket, at=at, kind=kind, note=note, actor=actor))
        known = session.info.get(_KNOWN)
        if known is not None and kind == "resolved":
            known[(ticket.facility_id, ticket.fault)] = None
        return ticket

    def _maintenance_done(self, ticket: Ticket) -> None:
        """Resolving a usage-counter ticket (preventive maintenance) restarts the count from
        the device's current usage, and the fault ends until the next service falls due."""
        device = ticket.device
        profile = self._catalogue.get(device.profile)
        if profile is None or not any(
            rule.counter is not None and rule.fault == ticket.fault for rule in profile.rules
        ):
            return
        state = RuleState.from_json(device.rule_state or {})
        state = serviced(profile, state, ticket.fault, device.metrics)
        device.rule_state = replace(state, last_ts=None).to_json()
        device.faults = [fault for fault in device.faults if fault != ticket.fault]
        device.health = health_of(profile, tuple(device.faults)).value
        if device.facility is not None:
            device.facility.refresh_health(datetime.now(UTC))
