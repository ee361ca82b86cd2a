"""Repair figures: how well a community's facilities are kept working, measured from the
tickets and their events — the data's times, not times anyone typed in.

Everything is counted over a **period** ``[start, end)``. The figures are pure functions of
rows (:class:`FacilityRow`, :class:`TicketRow` with its :class:`EventRow` s); :func:`load`
reads those rows for a scope, :func:`figures` and :func:`grouped` compute. ``now`` is a
parameter: what has not happened by then (a deadline still ahead, an outage still running)
is not judged.

**Repair cycles.** A ticket's events, in the order the desk wrote them, split it into
repair cycles. A cycle *starts* with the fault's start: the ticket's ``opened`` event (the
event time of the reading that raised it, or when it was opened by hand), or a ``reopened``
event that follows a closure (the fault came back after a verified repair: a new failure).
A ``reopened`` while the repair is being verified (or awaits a supervisor) does not start a
cycle: that repair did not hold, the facility never recovered, and the cycle runs on. A
cycle ends:

- ``verified`` (closed by the facility's data): the **recovery** is the moment the data
  last saw the fault clear in the cycle (its latest ``fault_cleared`` event since the fault
  was last seen — a ``repeated`` or ``reopened`` event undoes an earlier clearing — and not
  after the closure), else the cycle's last ``resolved`` (the maintainer's word), else the
  closure itself;
- ``confirmed`` (closed on a supervisor's word, for a fault the data cannot see, or
  confirmed before the data could verify it): the recovery is the cycle's last
  ``resolved``. These repairs are counted apart as *not data-verified*;
- ``cancelled``: the cycle is as if it never happened — not a failure, not a repair, its
  reopening no repeat, its SLA targets not judged — and is counted only in ``cancelled``.
  (A cancel takes a manager and a note, and the count shows how often it happens.)

A cycle with no end yet is a failure still being repaired.

**MTTR** (mean time to repair): the mean of ``recovery - start`` over the cycles *closed*
(``verified`` or ``confirmed``) in the period; ``mttr_verified_s`` the same over the
data-verified ones alone. Cancelled cycles never count, nor cycles not closed yet.

**MTBF** (mean time between failures), per facility: a facility is *down* from a cycle's
start to its recovery (overlapping cycles of its several faults merge; a cycle not ended
keeps it down), *up* otherwise. Each up interval from a recovery to the facility's next
fault start, both within the period, is one time between failures; the MTBF of a facility,
or of a group of facilities (pooled), is the mean of those intervals. A facility with no
fault start in the period has ``no_failure`` (never "infinite"); one that failed but has no
such interval (it failed once, or never came back up before failing again) ``no_interval``.

**SLA compliance**, per ticket, on its latest SLA round (the ticket row: a reopen starts the
targets over) and the breaches its events keep of earlier rounds. The *response* is the
first of acknowledged, started, resolved (a maintainer may start or resolve without
acknowledging). A target is *met* when it was done by its deadline (``respond_by`` /
``resolve_by``) and never breached, and counts in the period it was done in. It is *missed*
in a period when its deadline fell due in it (by ``now``) and it was done late or not at
all, or was breached — or when a breach of it falls in the period (``respond_breached_at``
/ ``resolve_breached_at``, or an earlier round's ``sla_breached`` event of it). A target
not yet due and not done counts nowhere yet. A ticket complies when it met every target
that counts in the period; the share is taken over the tickets with a target that counts.
Tickets cancelled (their latest round) are left out.

**Repeat failures**: ``reopened`` events in the period (of cycles not cancelled), and the
tickets they belong to — the ``repeats`` the tickets count, within the period.

**The facilities that fail most**: per facility its fault starts (``failures``: tickets
opened plus reopened after a closure), the tickets opened, its repeats and its down time in
the period; ranked by failures, then down time, then id; facilities that did not fail are
not ranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.db.models import Ticket, TicketEvent, TicketFacility
from cloud.register.scope import FacilityRow, GroupBy, Period, Scope, groups, in_scope
from cloud.register.scope import facilities as facilities_of
from cloud.repair.history import (
    KINDS,
    Cycle,
    EventRow,
    TicketRow,
    cycles_of,
    downtime,
    sla_of,
)
from cloud.repair.lifecycle import State
from cloud.repair.tickets import LIVE

MtbfStatus = Literal["measured", "no_failure", "no_interval"]


@dataclass(frozen=True)
class RepairTimes:
    repairs: int = 0
    verified: int = 0
    confirmed: int = 0
    mttr_s: float | None = None
    mttr_verified_s: float | None = None


@dataclass(frozen=True)
class Uptime:
    failures: int = 0
    facilities_failed: int = 0
    facilities_without_failure: int = 0
    intervals: int = 0
    mtbf_s: float | None = None
    status: MtbfStatus = "no_failure"


@dataclass(frozen=True)
class Target:
    due: int = 0
    met: int = 0
    compliance: float | None = None


@dataclass(frozen=True)
class Compliance:
    tickets: int = 0
    met: int = 0
    compliance: float | None = None
    respond: Target = field(default_factory=Target)
    resolve: Target = field(default_factory=Target)


@dataclass(frozen=True)
class Repeats:
    tickets: int = 0
    repeats: int = 0


@dataclass(frozen=True)
class FacilityFailures:
    facility_id: int
    code: str
    name: str
    category: str
    zone_id: int | None
    tickets: int
    failures: int
    repeats: int
    down_s: float
    mtbf_s: float | None
    status: MtbfStatus


@dataclass(frozen=True)
class Figures:
    facilities: int = 0
    tickets: int = 0
    cancelled: int = 0
    mttr: RepairTimes = field(default_factory=RepairTimes)
    mtbf: Uptime = field(default_factory=Uptime)
    sla: Compliance = field(default_factory=Compliance)
    repeats: Repeats = field(default_factory=Repeats)
    most_failing: tuple[FacilityFailures, ...] = ()


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    figures: Figures


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(met: int, of: int) -> float | None:
    return met / of if of else None


def figures(
    facilities: Sequence[FacilityRow],
    tickets: Sequence[TicketRow],
    period: Period,
    now: datetime,
    *,
    top: int = 5,
) -> Figures:
    """The figures of ``facilities`` over ``period`` from their ``tickets`` (see the
    module's docstring); the ``top`` facilities that fail most."""
    if period.empty:
        return Figures()
    ids = {f.id for f in facilities}
    tickets = [t for t in tickets if t.facility_id in ids]
    cycles: dict[int, list[Cycle]] = defaultdict(list)
    for ticket in tickets:
        cycles[ticket.facility_id].extend(cycles_of(ticket))

    repairs = [c for found in cycles.values() for c in found if c.closed and period.holds(c.closed)]
    times = [(c.recovered - c.start).total_seconds() for c in repairs if c.recovered]
    verified = [
        (c.recovered - c.start).total_seconds() for c in repairs if c.recovered and c.verified
    ]
    mttr = RepairTimes(
        repairs=len(repairs),
        verified=len(verified),
        confirmed=len(repairs) - len(verified),
        mttr_s=_mean(times),
        mttr_verified_s=_mean(verified),
    )

    ranked: list[FacilityFailures] = []
    all_intervals: list[float] = []
    failures = failed = cancelled = 0
    opened_tickets: set[int] = set()
    repeat_tickets: set[int] = set()
    repeats: set[tuple[int, datetime]] = set()
    for facility in facilities:
        own = cycles.get(facility.id, [])
        live = [c for c in own if c.cancelled is None]
        cancelled += sum(1 for c in own if period.holds(c.cancelled))
        starts = [c for c in live if period.holds(c.start)]
        opened = sum(1 for c in starts if c.opening)
        reopened = [(c.ticket_id, at) for c in live for at in c.reopens if period.holds(at)]
        intervals, down = downtime(own, period, now)
        all_intervals.extend(intervals)
        failures += len(starts)
        opened_tickets.update(c.ticket_id for c in starts if c.opening)
        repeats.update(reopened)
        repeat_tickets.update(ticket_id for ticket_id, _ in reopened)
        if starts:
            failed += 1
            ranked.append(
                FacilityFailures(
                    facility_id=facility.id,
                    code=facility.code,
                    name=facility.name,
                    category=facility.category,
                    zone_id=facility.zone_id,
                    tickets=opened,
                    failures=len(starts),
                    repeats=len(reopened),
                    down_s=down,
                    mtbf_s=_mean(intervals),
                    status="measured" if intervals else "no_interval",
                )
            )
    ranked.sort(key=lambda f: (-f.failures, -f.down_s, f.facility_id))
    mtbf = Uptime(
        failures=failures,
        facilities_failed=failed,
        facilities_without_failure=len(facilities) - failed,
        intervals=len(all_intervals),
        mtbf_s=_mean(all_intervals),
        status="measured" if all_intervals else ("no_interval" if failed else "no_failure"),
    )

    counted = met = respond_due = respond_met = resolve_due = resolve_met = 0
    judged: set[int] = set()
    for ticket in tickets:
        if ticket.state == State.CANCELLED.value or ticket.id in judged:
            continue  # a zone ticket is judged once, not for each of its facilities
        judged.add(ticket.id)
        respond, resolve = sla_of(ticket, period, now)
        respond_due += respond.counts
        respond_met += respond.counts and not respond.missed
        resolve_due += resolve.counts
        resolve_met += resolve.counts and not resolve.missed
        if respond.counts or resolve.counts:
            counted += 1
            met += not (respond.missed or resolve.missed)
    sla = Compliance(
        tickets=counted,
        met=met,
        compliance=_share(met, counted),
        respond=Target(respond_due, respond_met, _share(respond_met, respond_due)),
        resolve=Target(resolve_due, resolve_met, _share(resolve_met, resolve_due)),
    )
    return Figures(
        facilities=len(facilities),
        tickets=len(opened_tickets),
        cancelled=cancelled,
        mttr=mttr,
        mtbf=mtbf,
        sla=sla,
        repeats=Repeats(len(repeat_tickets), len(repeats)),
        most_failing=tuple(ranked[:top]),
    )


def grouped(
    facilities: Sequence[FacilityRow],
    tickets: Sequence[TicketRow],
    period: Period,
    now: datetime,
    by: GroupBy,
    *,
    top: int = 5,
) -> list[Group]:
    """The figures of each group of ``facilities`` (by community, zone, category or each
    facility), ordered by name then key; a group is made of its facilities, so one with no
    facility in scope does not show."""
    of_facility: dict[int, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        of_facility[ticket.facility_id].append(ticket)
    found = []
    for group_key, name, rows in groups(facilities, by):
        own = [t for f in rows for t in of_facility.get(f.id, [])]
        found.append(Group(group_key, name, figures(rows, own, period, now, top=top)))
    return found


# -- reading the rows ------------------------------------------------------------------------


def load(
    session: Session, scope: Scope, period: Period
) -> tuple[list[FacilityRow], list[TicketRow]]:
    """The facilities of ``scope`` in use in the period (:mod:`cloud.register.scope`), and
    their tickets whose life touches it, with the events the figures read."""
    facilities = facilities_of(session, scope, period)
    if not facilities:
        return [], []
    members = select(TicketFacility.ticket_id).where(
        TicketFacility.facility_id.in_(in_scope(scope, period))
    )
    zone_tickets = select(Ticket.id).where(Ticket.subject.like("zone:%")).scalar_subquery()
    touching = (
        or_(Ticket.facility_id.in_(in_scope(scope, period)), Ticket.id.in_(members)),
        # a ticket folded into a zone ticket: its facility's outage is the zone ticket's
        or_(
            Ticket.state != State.CANCELLED.value,
            Ticket.linked_id.is_(None),
            Ticket.linked_id.not_in(zone_tickets),
        ),
        Ticket.opened_at < period.end,
        or_(
            Ticket.state.in_(LIVE),
            Ticket.closed_at >= period.start,
            Ticket.cancelled_at >= period.start,
        ),
    )
    columns = (
        Ticket.id,
        Ticket.facility_id,
        Ticket.state,
        Ticket.opened_at,
        Ticket.acknowledged_at,
        Ticket.started_at,
        Ticket.resolved_at,
        Ticket.fault_cleared_at,
        Ticket.closed_at,
        Ticket.cancelled_at,
        Ticket.respond_by,
        Ticket.resolve_by,
        Ticket.respond_breached_at,
        Ticket.resolve_breached_at,
    )
    rows = session.execute(select(*columns).where(*touching).order_by(Ticket.id)).all()
    events: dict[int, list[EventRow]] = defaultdict(list)
    found = select(TicketEvent.ticket_id, TicketEvent.id, TicketEvent.at, TicketEvent.kind)
    found = found.add_columns(TicketEvent.evidence).where(
        TicketEvent.ticket_id.in_(select(Ticket.id).where(*touching).scalar_subquery()),
        TicketEvent.kind.in_(KINDS),
    )
    for ticket_id, event_id, at, kind, evidence in session.execute(found.order_by(TicketEvent.id)):
        target = evidence.get("target") if isinstance(evidence, dict) else None
        events[ticket_id].append(EventRow(event_id, at, kind, target))
    tickets = [
        TicketRow(**row._asdict(), events=tuple(events.get(row.id, ())))
        for row in rows
        if row.facility_id is not None
    ]
    grouped_rows = {row.id: row for row in rows if row.facility_id is None}
    if grouped_rows:  # a zone ticket is an outage of each facility it lists, from its joining
        listed = session.execute(
            select(TicketFacility.ticket_id, TicketFacility.facility_id, TicketFacility.joined_at)
            .where(TicketFacility.ticket_id.in_(sorted(grouped_rows)))
            .order_by(TicketFacility.ticket_id, TicketFacility.facility_id)
        ).tuples()
        for ticket_id, facility_id, joined_at in listed:
            row = grouped_rows[ticket_id]._asdict()
            row["facility_id"] = facility_id
            row["opened_at"] = min(row["opened_at"], joined_at)
            tickets.append(TicketRow(**row, events=tuple(events.get(ticket_id, ()))))
    return facilities, tickets
