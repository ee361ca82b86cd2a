"""Facilities of one zone failing together: one zone ticket that lists them, not a ticket
each.

A community's **grouping rules** (site file ``grouping``) each name a facility category,
optionally a zone (none: each zone on its own) and the faults they group (none: every fault
the data shows), with ``at_least`` facilities ``within`` a span — "lighting in zone A: 3 or
more within 5 minutes".

When a fault a rule groups starts on a facility with no ticket for it:

1. if its zone has a live zone ticket of the rule, the facility **joins** it (no ticket of
   its own);
2. else, if ``at_least - 1`` other facilities of the zone and category opened a ticket for
   such a fault within the span, a **zone ticket** opens listing all of them, and their own
   tickets are **folded** into it: cancelled by Linli, linked to the zone ticket, so one
   ticket is worked on;
3. else the facility gets its own ticket as always.

The zone ticket's fault is ``group:<rule>``; its members keep the fault each showed and when
it cleared. When every member's fault has cleared, the zone ticket notes its fault cleared;
its repair is verified by every member's data (:mod:`cloud.repair.witness`). A member whose
fault comes back while the repair is verified reopens the zone ticket.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.db.models import Facility, GroupingRule, Ticket, TicketFacility
from cloud.repair.events import record
from cloud.repair.lifecycle import FINAL, State
from cloud.repair.tickets import Subject

if TYPE_CHECKING:
    from cloud.repair.desk import TicketDesk

GROUP = "group:"
"""The prefix of a zone ticket's fault: ``group:<rule slug>``."""
_LIVE = [s.value for s in State if s not in FINAL]
MEMBERS = "linli.zone_members"
"""session.info: (facility_id, fault) → the live zone ticket listing it, or None"""


@dataclass(frozen=True)
class Grouping:
    """A grouping rule, as the desk applies it."""

    slug: str
    title: str
    category: str
    zone_id: int | None
    faults: frozenset[str]
    at_least: int
    within: timedelta
    skill: str
    sla: str
    priority: str

    @property
    def fault(self) -> str:
        return GROUP + self.slug

    def groups(self, zone_id: int, fault: str) -> bool:
        return (self.zone_id is None or self.zone_id == zone_id) and (
            not self.faults or fault in self.faults
        )


class ZoneGrouping:
    """The communities' grouping rules, read every ``keep_s`` seconds, and what they do."""

    def __init__(self, keep_s: float = 5.0) -> None:
        self._keep_s = keep_s
        self._read_at: float | None = None
        self._rules: dict[tuple[int, str], list[Grouping]] = {}

    def rules(self, session: Session, community_id: int, category: str) -> list[Grouping]:
        if self._read_at is None or time.monotonic() - self._read_at >= self._keep_s:
            rules: dict[tuple[int, str], list[Grouping]] = defaultdict(list)
            for row in session.scalars(select(GroupingRule).order_by(GroupingRule.slug)):
                rules[(row.community_id, row.category)].append(
                    Grouping(
                        row.slug,
                        row.title,
                        row.category,
                        row.zone_id,
                        frozenset(row.faults),
                        row.at_least,
                        timedelta(seconds=row.within_s),
                        row.skill,
                        row.sla,
                        row.priority,
                    )
                )
            self._rules = dict(rules)
            self._read_at = time.monotonic()
        return self._rules.get((community_id, category), [])

    def forget(self) -> None:
        self._read_at = None

    # -- members --------------------------------------------------------------------------

    @staticmethod
    def preload(session: Session, facility_ids: list[int]) -> None:
        """Read at once the live zone tickets listing any of ``facility_ids``."""
        known: dict[tuple[int, str], Ticket | None] = session.info.setdefault(MEMBERS, {})
        for start in range(0, len(facility_ids), 500):
            rows = session.execute(
                select(TicketFacility.facility_id, TicketFacility.fault, Ticket)
                .join(Ticket, Ticket.id == TicketFacility.ticket_id)
                .where(
                    TicketFacility.facility_id.in_(facility_ids[start : start + 500]),
                    Ticket.state.in_(_LIVE),
                )
            )
            for facility_id, fault, ticket in rows.tuples():
                known[(facility_id, fault)] = ticket

    @staticmethod
    def ticket_of(session: Session, facility_id: int, fault: str) -> Ticket | None:
        """The live zone ticket listing the facility for ``fault``, if any."""
        known: dict[tuple[int, str], Ticket | None] | None = session.info.get(MEMBERS)
        if known is not None and (facility_id, fault) in known:
            return known[(facility_id, fault)]
        found = session.scalar(
            select(Ticket)
            .join(TicketFacility, TicketFacility.ticket_id == Ticket.id)
            .where(
                TicketFacility.facility_id == facility_id,
                TicketFacility.fault == fault,
                Ticket.state.in_(_LIVE),
            )
        )
        if known is not None:
            known[(facility_id, fault)] = found
        return found

    @staticmethod
    def again(session: Session, ticket: Ticket, facility_id: int, at: datetime) -> None:
        """A member's fault is reported again: it is failing (again)."""
        member = session.get(TicketFacility, (ticket.id, facility_id))
        if member is not None and member.cleared_at is not None:
            member.cleared_at = None
            ticket.fault_cleared_at = None
            ticket.occurrences += 1
        if at > ticket.last_seen_at:
            ticket.last_seen_at = at

    @staticmethod
    def cleared(session: Session, ticket: Ticket, facility_id: int, at: datetime) -> None:
        """A member's fault cleared; once all have, the zone ticket's has."""
        member = session.get(TicketFacility, (ticket.id, facility_id))
        if member is None or member.cleared_at is not None:
            return
        member.cleared_at = at
        session.flush()
        failing = session.scalar(
            select(func.count()).where(
                TicketFacility.ticket_id == ticket.id, TicketFacility.cleared_at.is_(None)
            )
        )
        if not failing and ticket.fault_cleared_at is None:
            ticket.fault_cleared_at = at
            record(session, ticket, "fault_cleared", at=at)

    # -- grouping ---------------------------------------------------------------------------

    def consider(
        self,
        desk: TicketDesk,
        session: Session,
        facility_id: int,
        device_pk: int,
        fault: str,
        *,
        at: datetime,
        verify_s: float,
    ) -> Ticket | None:
        """The zone ticket ``fault`` starting on the facility joins or opens; None if no rule
        groups it (then it gets a ticket of its own)."""
        facility = session.get(Facility, facility_id)
        if facility is None or facility.zone_id is None or facility.community_id is None:
            return None
        zone_id, community_id = facility.zone_id, facility.community_id
        for rule in self.rules(session, community_id, facility.category):
            if not rule.groups(zone_id, fault):
                continue
            subject = Subject.zone(community_id, zone_id)
            live = desk.live_of(session, subject.key, rule.fault)
            if live is not None:
                self._join(session, live, facility_id, device_pk, fault, at)
                return live
            recent = self._recent(session, rule, zone_id, facility_id, at)
            if len({t.facility_id for t in recent}) + 1 < rule.at_least:
                continue
            ticket = desk.open_root_cause(
                session,
                subject,
                rule.fault,
                title=rule.title,
                skill=rule.skill,
                sla=rule.sla,
                priority=rule.priority,
                at=at,
                verify_s=verify_s,
                note=f"{len(recent) + 1} {rule.category} facilities of the zone failed within "
                f"{rule.within.total_seconds():g} s",
            )
            if ticket is None:  # another worker opened it meanwhile
                ticket = desk.live_of(session, subject.key, rule.fault)
                if ticket is None:
                    return None
            for own in recent:
                assert own.facility_id is not None
                self._join(
                    session, ticket, own.facility_id, own.device_pk, own.fault, own.opened_at
                )
                desk.fold(session, own, ticket, at)
            self._join(session, ticket, facility_id, device_pk, fault, at)
            return ticket
        return None

    @staticmethod
    def _recent(
        session: Session, rule: Grouping, zone_id: int, facility_id: int, at: datetime
    ) -> list[Ticket]:
        """Live tickets of the zone's facilities of the rule's category opened for a fault it
        groups within its span before ``at`` (the facility's own left out)."""
        query = (
            select(Ticket)
            .join(Facility, Facility.id == Ticket.facility_id)
            .where(
                Ticket.zone_id == zone_id,
                Ticket.state.in_(_LIVE),
                Ticket.state.not_in([State.VERIFYING.value, State.RESOLVED.value]),
                Ticket.device_pk.is_not(None),
                Ticket.opened_at >= at - rule.within,
                Ticket.facility_id != facility_id,
                Facility.category == rule.category,
            )
            .order_by(Ticket.opened_at, Ticket.id)
        )
        if rule.faults:
            query = query.where(Ticket.fault.in_(sorted(rule.faults)))
        return list(session.scalars(query))

    @staticmethod
    def _join(
        session: Session,
        ticket: Ticket,
        facility_id: int,
        device_pk: int | None,
        fault: str,
        at: datetime,
    ) -> None:
        member = session.get(TicketFacility, (ticket.id, facility_id))
        if member is None:
            session.add(
                TicketFacility(
                    ticket=ticket,
                    facility_id=facility_id,
                    device_pk=device_pk,
                    fault=fault,
                    joined_at=at,
                )
            )
            session.flush()
        elif member.cleared_at is not None:
            member.cleared_at = None
            ticket.fault_cleared_at = None
        if at > ticket.last_seen_at:
            ticket.last_seen_at = at
        known: dict[tuple[int, str], Ticket | None] | None = session.info.get(MEMBERS)
        if known is not None:
            known[(facility_id, fault)] = ticket
