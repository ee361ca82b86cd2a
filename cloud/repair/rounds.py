"""Linli's own part in the repair loop, done in rounds: dispatch, service levels, and the
verification of repairs by the facility's own data.

Each ticket carries ``wake_at``, when a round must next look at it: at once when it opened
or moved, then at its next escalation step, reminder or the end of its verification. A
round reads only the tickets whose time has come (the index ``ix_tickets_wake_at``), so its
cost follows what is due, not how many tickets are open. For each it:

1. works out its targets' deadlines (:mod:`cloud.repair.sla`) if not yet done;
2. assigns an open ticket without a maintainer, by the dispatch policy
   (:mod:`cloud.repair.dispatch`) — or to the maintainer of the reported ticket it is part
   of; with nobody qualified on duty it stays open, and is offered again a minute later;
3. closes a verifying ticket whose fault stayed away for the profile's ``verify_s``, by
   data from its device since the repair, or reopens it to its maintainer if that data
   still shows the fault (a reading showing it reopens the ticket at once, in ingest); with
   no data since the repair yet, it waits for some;
4. takes the escalation steps and reminders that are due, as ticket events.

Each round first settles the maintenance windows that ended (:mod:`cloud.repair.maintenance`):
the faults still there open their tickets; and opens the preventive services that fell due
(:mod:`cloud.repair.preventive`); the same round then looks at those tickets.

The clock is a parameter (``now``): tests drive days of service levels without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Person, Ticket
from cloud.repair.desk import TicketDesk
from cloud.repair.dispatch import DispatchPolicy, LeastLoaded, Maintainer, Need
from cloud.repair.events import record
from cloud.repair.gateways import GatewayWatch
from cloud.repair.lifecycle import Move, State
from cloud.repair.maintenance import settle_ended
from cloud.repair.preventive import PreventiveSchedule
from cloud.repair.sla import BREACH, STEPS, Level, Phase, Targets, phase_of
from cloud.repair.team import chain, team
from cloud.repair.tickets import LIVE, RULE, InvalidTransition
from cloud.repair.witness import Verdict, verdict

log = logging.getLogger(__name__)

WAIT_FOR_DATA = timedelta(minutes=1)
DISPATCH_AGAIN = timedelta(minutes=1)
PUT_ASIDE = timedelta(minutes=15)
"""How long a ticket a round failed on is left before it is tried again."""
"""How soon an open ticket nobody could be assigned to is offered again."""
"""How soon a verification with no data from its device yet is looked at again."""


@dataclass
class RoundResult:
    looked_at: int = 0
    assigned: int = 0
    verified: int = 0
    reopened: int = 0
    escalations: int = 0
    reminders: int = 0
    maintenance_ended: int = 0
    """maintenance windows that ended, whose facilities' faults opened tickets"""
    services_due: int = 0
    """preventive-maintenance tickets opened, their services having fallen due"""
    gateways_down: int = 0
    """gateway tickets opened, repeated or reopened: gateways not heard"""
    gateways_back: int = 0
    """gateways heard again whose tickets noted it"""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RepairRounds:
    def __init__(
        self, desk: TicketDesk, policy: DispatchPolicy | None = None, *, batch: int = 500
    ) -> None:
        self._desk = desk
        self.policy: DispatchPolicy = policy or LeastLoaded()
        self.preventive = PreventiveSchedule()
        self.gateways = GatewayWatch(desk)
        self._batch = batch

    def run(self, sessions: sessionmaker[Session], now: datetime) -> RoundResult:
        """One round at ``now`` in its own transaction."""
        with sessions.begin() as session:
            return self.round(session, now)

    def round(self, session: Session, now: datetime) -> RoundResult:
        """Look at every ticket due at ``now`` (in ``session``, not committed)."""
        query = (
            select(Ticket)
            .where(Ticket.wake_at <= now, Ticket.state.in_(LIVE))
            .order_by(Ticket.wake_at, Ticket.id)
            .limit(self._batch)
        )
        if session.get_bind().dialect.name == "postgresql":  # rounds in two processes
            query = query.with_for_update(skip_locked=True, of=Ticket)
        result = RoundResult()
        result.maintenance_ended = settle_ended(session, self._desk, now)
        result.services_due = self.preventive.open_due(session, self._desk, now)
        gateways = self.gateways.round(session, now)
        result.gateways_down = gateways.opened + gateways.again
        result.gateways_back = gateways.back
        teams: dict[int, list[Maintainer]] = {}
        for ticket in session.scalars(query).all():
            result.looked_at += 1
            try:
                with session.begin_nested():
                    self._look(session, ticket, now, teams, result)
            except InvalidTransition as refused:  # moved by a person meanwhile
                log.info("ticket %d: %s; looking again next round", ticket.id, refused)
                ticket.wake_at = now
            except (ValueError, LookupError, TypeError, AttributeError):
                # one ticket the rounds cannot handle must not stop them for all the others
                log.exception("ticket %d: the repair round failed on it", ticket.id)
                ticket.wake_at = now + PUT_ASIDE
        return result

    def _look(
        self,
        session: Session,
        ticket: Ticket,
        now: datetime,
        teams: dict[int, list[Maintainer]],
        result: RoundResult,
    ) -> None:
        community = ticket.community_id
        targets = self._desk.books.book(session, community).targets(ticket.sla, ticket.priority)
        since = _aware(ticket.sla_since or ticket.opened_at)
        respond_from = _aware(ticket.respond_from or since)
        if ticket.respond_by is None:
            ticket.respond_by = targets.deadline(respond_from, Phase.RESPOND)
        if ticket.resolve_by is None:
            ticket.resolve_by = targets.deadline(since, Phase.RESOLVE)
        state = State(ticket.state)
        if (
            state is State.OPEN
            and ticket.assignee_id is None
            and community is not None
            and self._dispatch(session, ticket, community, now, teams)
        ):
            result.assigned += 1
            state = State.ASSIGNED
        if state is State.VERIFYING:
            self._verify(session, ticket, now, result)
            return
        phase = phase_of(state)
        wake: datetime | None = None
        if phase is not None:
            start = respond_from if phase is Phase.RESPOND else since
            wake = self._escalate(session, ticket, phase, start, targets, now, result)
        if phase is Phase.RESPOND and ticket.resolve_breached_at is None:
            wake = self._unanswered_past_resolve(session, ticket, targets, since, now, result, wake)
        if state is State.OPEN:  # nobody qualified on duty yet: ask again soon
            wake = min(wake, now + DISPATCH_AGAIN) if wake is not None else now + DISPATCH_AGAIN
        ticket.wake_at = wake

    def _dispatch(
        self,
        session: Session,
        ticket: Ticket,
        community: int,
        now: datetime,
        teams: dict[int, list[Maintainer]],
    ) -> bool:
        maintainers = teams.get(community)
        if maintainers is None:
            maintainers = teams[community] = team(session, community, now)
        chosen: int | None = None
        why = ""
        linked = session.get(Ticket, ticket.linked_id) if ticket.linked_id else None
        if linked is not None and linked.assignee_id is not None:
            chosen, why = linked.assignee_id, f"part of the repair of ticket {linked.id}"
        else:
            need = Need(ticket.skill, ticket.zone_id)
            found = self.policy.choose(need, maintainers)
            if found is not None:
                chosen = found.person_id
                why = f"on duty, {ticket.skill}, {found.open_tickets} open ticket(s)"
        if chosen is None:
            return False
        self._desk.move(session, ticket.id, Move.ASSIGN, RULE, at=now, note=why, assignee_id=chosen)
        teams[community] = [
            replace(m, open_tickets=m.open_tickets + 1) if m.person_id == chosen else m
            for m in maintainers
        ]
        return True

    def _verify(self, session: Session, ticket: Ticket, now: datetime, result: RoundResult) -> None:
        until = ticket.verify_until
        if until is not None and _aware(until) > now:
            ticket.wake_at = until
            return
        resolved = _aware(ticket.resolved_at or now)
        said = verdict(session, ticket, resolved)
        if said.verdict is Verdict.NONE:  # nothing to verify with: a supervisor confirms
            ticket.wake_at = None
            return
        if said.verdict is Verdict.WAIT:  # its data since the repair decides
            ticket.wake_at = now + WAIT_FOR_DATA
            return
        if said.verdict is Verdict.STILL:
            note = f"{ticket.fault} still there {ticket.verify_s:g} s after the repair"
            self._desk.move(
                session, ticket.id, Move.REOPEN, RULE, at=now, note=note, evidence=said.evidence
            )
            result.reopened += 1
            return
        note = f"{ticket.fault} stayed away {ticket.verify_s:g} s after the repair, by the data"
        self._desk.move(
            session, ticket.id, Move.VERIFY, RULE, at=now, note=note, evidence=said.evidence
        )
        result.verified += 1

    def _unanswered_past_resolve(
        self,
        session: Session,
        ticket: Ticket,
        targets: Targets,
        since: datetime,
        now: datetime,
        result: RoundResult,
        wake: datetime | None,
    ) -> datetime | None:
        """The repair's deadline runs from the opening, answered or not: a ticket nobody has
        answered by then has missed it too, and the supervisors hear of it then; else the
        rounds look again by then."""
        deadline = targets.deadline(since, Phase.RESOLVE)
        if deadline > now:
            return deadline if wake is None else min(wake, deadline)
        ticket.resolve_breached_at = deadline
        level = STEPS[BREACH].level
        ticket.escalation = max(ticket.escalation, int(level))
        self._tell(session, ticket, "sla_breached", level, now, Phase.RESOLVE, deadline)
        result.escalations += 1
        return wake

    def _escalate(
        self,
        session: Session,
        ticket: Ticket,
        phase: Phase,
        since: datetime,
        targets: Targets,
        now: datetime,
        result: RoundResult,
    ) -> datetime:
        """Take the steps and reminders due; when the next one is."""
        while ticket.sla_step < len(STEPS):
            due = targets.step_at(since, phase, ticket.sla_step)
            if due > now:
                break
            step = STEPS[ticket.sla_step]
            if phase is Phase.RESOLVE and ticket.sla_step <= BREACH and ticket.resolve_breached_at:
                ticket.sla_step += 1  # missed while nobody answered, and told then
                continue
            if ticket.sla_step == BREACH:
                if phase is Phase.RESPOND:
                    ticket.respond_breached_at = ticket.respond_breached_at or due
                else:
                    ticket.resolve_breached_at = ticket.resolve_breached_at or due
            ticket.escalation = max(ticket.escalation, int(step.level))
            deadline = targets.deadline(since, phase)
            self._tell(session, ticket, step.kind, step.level, now, phase, deadline)
            ticket.sla_step += 1
            ticket.reminded_at = now
            result.escalations += 1
        upcoming = (
            targets.step_at(since, phase, ticket.sla_step) if ticket.sla_step < len(STEPS) else None
        )
        if ticket.sla_step == 0:
            assert upcoming is not None
            return upcoming
        last = _aware(ticket.reminded_at or now)
        reminder = targets.reminder_at(last, phase)
        if reminder <= now:
            level = STEPS[ticket.sla_step - 1].level
            deadline = targets.deadline(since, phase)
            self._tell(session, ticket, "reminded", level, now, phase, deadline)
            ticket.reminded_at = now
            result.reminders += 1
            reminder = targets.reminder_at(now, phase)
        return min(reminder, upcoming) if upcoming is not None else reminder

    def _tell(
        self,
        session: Session,
        ticket: Ticket,
        kind: str,
        level: Level,
        now: datetime,
        phase: Phase,
        deadline: datetime,
    ) -> None:
        """A ticket event naming the target it is about and who hears of it: the ticket's
        maintainer and everyone up the chain to ``level`` (the next issue's notifications
        deliver it)."""
        people: list[Person] = []
        if ticket.assignee is not None:
            people.append(ticket.assignee)
        community = ticket.community_id
        for up in (Level.SUPERVISOR, Level.PROPERTY_MANAGER):
            if up <= level or (up is Level.SUPERVISOR and not people):
                people.extend(chain(session, community, up))
        record(
            session,
            ticket,
            kind,
            at=now,
            note=f"{phase.value} by {deadline.isoformat(timespec='minutes')}",
            evidence={
                "target": phase.value,
                "deadline": deadline.isoformat(),
                "level": level.name.lower(),
                "to": [{"person_id": p.id, "name": p.name, "role": p.role} for p in people],
            },
        )


async def watch_repairs(
    rounds: RepairRounds,
    sessions: sessionmaker[Session],
    every_s: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """A repair round every ``every_s`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            result = await asyncio.to_thread(rounds.run, sessions, clock())
        except Exception:  # the database, or a bug: log it, the rounds go on
            log.exception("repair round failed; trying again in %ss", every_s)
            continue
        if (
            result.assigned
            or result.verified
            or result.reopened
            or result.escalations
            or result.maintenance_ended
            or result.services_due
            or result.gateways_down
            or result.gateways_back
        ):
            log.info("repair round: %s", result)
