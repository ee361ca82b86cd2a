"""Preventive maintenance by the calendar: a site file's plans (``preventive:``) service every
facility of a category every so often — a lift monthly, a pump station every quarter —
beside the profiles' usage counters, which count cycles or running hours.

A facility's service falls due ``every`` after its last one was done (its ticket closed,
or cancelled: skipped), or after the plan was made if it never was; then a ticket opens,
dated when it fell due, with the plan's title, skill, SLA class and priority, and goes
through the repair loop like any other. No device reports a service, so a supervisor
confirms it done. One live ticket per facility and plan, as for faults: its fault is
``preventive:<plan>``.

The repair rounds ask :meth:`PreventiveSchedule.open_due` each round; it looks at the plans
at most every ``check_s`` seconds (services fall due by the day, not the second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import Facility, PreventivePlan, Ticket
from cloud.repair.lifecycle import FINAL, State

if TYPE_CHECKING:
    from cloud.repair.desk import TicketDesk

PREFIX = "preventive:"


def fault_of(plan: PreventivePlan) -> str:
    """The fault name of a plan's tickets."""
    return f"{PREFIX}{plan.slug}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class PreventiveSchedule:
    def __init__(self, check_s: float = 600.0) -> None:
        self._check = timedelta(seconds=check_s)
        self._checked_at: datetime | None = None

    def open_due(self, session: Session, desk: TicketDesk, now: datetime) -> int:
        """Open the services due by ``now`` (in ``session``); how many opened."""
        checked = self._checked_at
        if checked is not None and checked <= now < checked + self._check:
            return 0
        self._checked_at = now
        opened = 0
        for plan in session.scalars(select(PreventivePlan).order_by(PreventivePlan.id)):
            opened += self._open_plan(session, desk, plan, now)
        return opened

    @staticmethod
    def _open_plan(session: Session, desk: TicketDesk, plan: PreventivePlan, now: datetime) -> int:
        fault = fault_of(plan)
        facilities = session.scalars(
            select(Facility.id).where(
                Facility.community_id == plan.community_id,
                Facility.category == plan.category,
                Facility.archived_at.is_(None),
            )
        ).all()
        if not facilities:
            return 0
        live: set[int] = set()
        done: dict[int, datetime] = {}
        final = [s.value for s in FINAL]
        for facility_id, state, closed_at, cancelled_at in session.execute(
            select(Ticket.facility_id, Ticket.state, Ticket.closed_at, Ticket.cancelled_at).where(
                Ticket.fault == fault, Ticket.facility_id.in_(facilities)
            )
        ).tuples():
            if facility_id is None:
                continue
            if state not in final:
                live.add(facility_id)
                continue
            ended = closed_at if state == State.CLOSED.value else cancelled_at
            if ended is not None:
                ended = _aware(ended)
                done[facility_id] = max(done.get(facility_id, ended), ended)
        every = timedelta(seconds=plan.every_s)
        since = _aware(plan.since)
        opened = 0
        for facility_id in facilities:
            if facility_id in live:
                continue
            due = done.get(facility_id, since) + every
            if due > now:
                continue
            ticket = desk.open_service(
                session,
                facility_id,
                fault,
                title=plan.title,
                skill=plan.skill,
                sla=plan.sla,
                priority=plan.priority,
                at=due,
            )
            opened += ticket is not None
        return opened
