"""What a ticket's history says, for the repair figures (:mod:`cloud.repair.figures`): its
repair cycles — from the fault's start to its recovery, by the data's times — the down time
they make, and whether its service-level targets were met. Pure functions of rows; the
definitions are in :mod:`cloud.repair.figures`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from cloud.register.scope import Period
from cloud.repair.lifecycle import State

KINDS = (
    "opened",
    "repeated",
    "fault_cleared",
    "resolved",
    "verified",
    "confirmed",
    "reopened",
    "cancelled",
    "sla_breached",
)
"""The ticket events the figures read (reminders and warnings are not needed)."""


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    kind: str
    target: str | None = None
    """of an escalation step: the target it was for (respond, resolve)"""


@dataclass(frozen=True)
class TicketRow:
    id: int
    facility_id: int
    state: str
    opened_at: datetime
    acknowledged_at: datetime | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    fault_cleared_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    respond_by: datetime | None = None
    resolve_by: datetime | None = None
    respond_breached_at: datetime | None = None
    resolve_breached_at: datetime | None = None
    events: tuple[EventRow, ...] = ()


@dataclass(frozen=True)
class Cycle:
    """One repair cycle of a ticket: from the fault's start to its recovery."""

    ticket_id: int
    facility_id: int
    start: datetime
    reopens: tuple[datetime, ...] = ()
    """its ``reopened`` events: the one that began it (after a closure) and those during
    verification"""
    recovered: datetime | None = None
    closed: datetime | None = None
    verified: bool = False
    """closed by the data (else on a supervisor's word)"""
    cancelled: datetime | None = None
    opening: bool = True
    """the ticket's first cycle (it began with the ticket's opening, not a reopen)"""


def cycles_of(ticket: TicketRow) -> list[Cycle]:
    """The ticket's repair cycles, from its events (see the module's docstring)."""
    found: list[Cycle] = []
    start = ticket.opened_at
    opening = True
    reopens: list[datetime] = []
    cleared: datetime | None = None
    resolved: datetime | None = None
    running = True

    def end(
        recovered: datetime | None = None,
        closed: datetime | None = None,
        verified: bool = False,
        cancelled: datetime | None = None,
    ) -> None:
        found.append(
            Cycle(
                ticket.id,
                ticket.facility_id,
                start,
                tuple(reopens),
                recovered,
                closed,
                verified,
                cancelled,
                opening,
            )
        )

    for event in sorted(ticket.events, key=lambda e: e.id):
        kind = event.kind
        if kind == "repeated":
            cleared = None
        elif kind == "fault_cleared":
            cleared = event.at
        elif kind == "resolved":
            resolved = event.at
        elif kind == "reopened":
            if not running:  # back after a closure: a new failure
                start, opening, reopens, running = event.at, False, [], True
            reopens.append(event.at)
            cleared = resolved = None
        elif kind in ("verified", "confirmed") and running:
            verified = kind == "verified"
            recovery = resolved or event.at
            if verified and cleared is not None and cleared <= event.at:
                recovery = cleared
            end(recovered=max(recovery, start), closed=event.at, verified=verified)
            running, cleared, resolved = False, None, None
        elif kind == "cancelled" and running:
            end(cancelled=event.at)
            running = False
    if running:  # events missing (should not be): the row's word
        if ticket.state == State.CANCELLED.value and ticket.cancelled_at is not None:
            end(cancelled=ticket.cancelled_at)
        elif ticket.state == State.CLOSED.value and ticket.closed_at is not None:
            recovery = ticket.fault_cleared_at or ticket.resolved_at or ticket.closed_at
            end(recovered=max(min(recovery, ticket.closed_at), start), closed=ticket.closed_at)
        else:
            end()
    return found


# -- figures ---------------------------------------------------------------------------------


def downtime(cycles: Iterable[Cycle], period: Period, now: datetime) -> tuple[list[float], float]:
    """One facility's up intervals between failures within the period (seconds, see the
    module's docstring) and its down time in the period up to ``now``, from its cycles not
    cancelled."""
    spans = sorted(
        (c.start, c.recovered if c.closed is not None else None)
        for c in cycles
        if c.cancelled is None
    )
    merged: list[tuple[datetime, datetime | None]] = []
    for start, until in spans:
        if merged:
            first, last = merged[-1]
            if last is None or start <= last:
                merged[-1] = (first, None if last is None or until is None else max(last, until))
                continue
        merged.append((start, until))
    intervals = [
        (nxt - last).total_seconds()
        for (_, last), (nxt, _) in pairwise(merged)
        if last is not None and last >= period.start and nxt < period.end
    ]
    horizon = max(period.start, min(period.end, now))
    down = 0.0
    for start, until in merged:
        begin = max(start, period.start)
        finish = min(until or horizon, horizon)
        if finish > begin:
            down += (finish - begin).total_seconds()
    return intervals, down


@dataclass(frozen=True)
class Judged:
    """How one target of a ticket counts in a period."""

    counts: bool
    missed: bool


def judge(
    due: datetime | None,
    done: datetime | None,
    breached: datetime | None,
    earlier: Sequence[datetime],
    period: Period,
    now: datetime,
) -> Judged:
    """A target of deadline ``due`` (the latest round's), done at ``done``, missed at
    ``breached`` in the latest round and at ``earlier`` in the rounds before it. A met
    target counts where it was met, a missed one where it fell due or was breached."""
    met = due is not None and done is not None and done <= due and breached is None
    missed = breached is not None or (
        due is not None and due <= now and (done is None or done > due)
    )
    breach_in_it = any(period.holds(b) for b in (breached, *earlier))
    missed_in_it = breach_in_it or (missed and period.holds(due))
    return Judged(missed_in_it or (met and period.holds(done)), missed_in_it)


def sla_of(ticket: TicketRow, period: Period, now: datetime) -> tuple[Judged, Judged]:
    """How the ticket's respond and resolve targets count in the period."""
    ordered = sorted(ticket.events, key=lambda e: e.id)
    reopens = [n for n, e in enumerate(ordered) if e.kind == "reopened"]
    before = ordered[: reopens[-1]] if reopens else []  # the rounds before the latest
    earlier: dict[str, list[datetime]] = {"respond": [], "resolve": []}
    for event in before:
        if event.kind == "sla_breached" and event.target in earlier:
            earlier[event.target].append(event.at)
    responded = [
        t for t in (ticket.acknowledged_at, ticket.started_at, ticket.resolved_at) if t is not None
    ]
    respond = judge(
        ticket.respond_by,
        min(responded) if responded else None,
        ticket.respond_breached_at,
        earlier["respond"],
        period,
        now,
    )
    resolve = judge(
        ticket.resolve_by,
        ticket.resolved_at,
        ticket.resolve_breached_at,
        earlier["resolve"],
        period,
        now,
    )
    return respond, resolve
