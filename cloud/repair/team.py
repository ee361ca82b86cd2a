"""Who works in a community, as the repair loop reads it from the register: its SLA classes
on their clocks (:class:`SlaBooks`), its maintainers as dispatch sees them (:func:`team`),
and the people an escalation goes to (:func:`chain`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.access.roles import Role
from cloud.db.models import (
    BusinessCalendar,
    Community,
    Person,
    PersonZone,
    SlaClass,
    Ticket,
)
from cloud.repair.calendar import OpeningHours
from cloud.repair.dispatch import Maintainer
from cloud.repair.lifecycle import UNDER_REPAIR
from cloud.repair.sla import Level, SlaBook, SlaClassSpec

CHAIN_ROLES = {Level.SUPERVISOR: Role.SUPERVISOR, Level.PROPERTY_MANAGER: Role.PROPERTY_MANAGER}


class SlaBooks:
    """Each community's :class:`SlaBook`, read from the register and kept ``keep_s``
    seconds (a changed site file takes effect within that)."""

    def __init__(self, keep_s: float = 30.0) -> None:
        self._keep_s = keep_s
        self._books: dict[int | None, tuple[float, SlaBook]] = {}

    def book(self, session: Session, community_id: int | None) -> SlaBook:
        kept = self._books.get(community_id)
        if kept is not None and time.monotonic() - kept[0] < self._keep_s:
            return kept[1]
        book = _read_book(session, community_id)
        self._books[community_id] = (time.monotonic(), book)
        return book


def _read_book(session: Session, community_id: int | None) -> SlaBook:
    if community_id is None:  # a facility of no community: the shipped classes, in UTC
        return SlaBook("UTC", {})
    community = session.get(Community, community_id)
    time_zone = community.time_zone if community is not None else "UTC"
    calendars = {
        c.id: c
        for c in session.scalars(
            select(BusinessCalendar).where(BusinessCalendar.community_id == community_id)
        )
    }
    classes: dict[str, SlaClassSpec] = {}
    for row in session.scalars(select(SlaClass).where(SlaClass.community_id == community_id)):
        calendar = calendars.get(row.calendar_id) if row.calendar_id is not None else None
        classes[row.slug] = SlaClassSpec(
            acknowledge_s=row.acknowledge_s,
            resolve_s=row.resolve_s,
            by_priority=row.by_priority or {},
            reopen_s=row.reopen_s,
            hours=calendar.hours if calendar is not None else None,
            holidays=tuple(calendar.holidays) if calendar is not None else (),
        )
    return SlaBook(time_zone, classes)


def team(session: Session, community_id: int, now: datetime) -> list[Maintainer]:
    """The community's maintainers (not archived) at ``now``: on duty or not, with their
    skills, zones and open work."""
    people = session.scalars(
        select(Person).where(
            Person.community_id == community_id,
            Person.role == Role.MAINTAINER.value,
            Person.archived_at.is_(None),
        )
    ).all()
    if not people:
        return []
    ids = [p.id for p in people]
    zones: dict[int, set[int]] = defaultdict(set)
    for person_id, zone_id in session.execute(
        select(PersonZone.person_id, PersonZone.zone_id).where(PersonZone.person_id.in_(ids))
    ):
        zones[person_id].add(zone_id)
    load = open_work(session, ids)
    community = session.get(Community, community_id)
    time_zone = community.time_zone if community is not None else "UTC"
    on_duty: dict[int, bool] = {}
    for calendar_id in {p.duty_calendar_id for p in people if p.duty_calendar_id is not None}:
        calendar = session.get(BusinessCalendar, calendar_id)
        try:
            hours = OpeningHours(time_zone, calendar.hours, calendar.holidays) if calendar else None
        except ValueError:  # a calendar with no hours: never on duty
            hours = None
        on_duty[calendar_id] = hours is not None and hours.is_open(now)
    found = []
    for person in people:
        duty = person.duty_calendar_id
        found.append(
            Maintainer(
                person_id=person.id,
                name=person.name,
                skills=frozenset(person.skills),
                zone_ids=frozenset(zones[person.id]),
                on_duty=True if duty is None else on_duty[duty],
                open_tickets=load.get(person.id, 0),
            )
        )
    return found


def open_work(session: Session, person_ids: Sequence[int]) -> dict[int, int]:
    """How many tickets each person holds under repair (assigned, acknowledged, in progress,
    on hold); a person with none is not in it."""
    if not person_ids:
        return {}
    found: dict[int, int] = {}
    for person_id, count in session.execute(
        select(Ticket.assignee_id, func.count())
        .where(
            Ticket.assignee_id.in_(sorted(set(person_ids))),
            Ticket.state.in_([s.value for s in UNDER_REPAIR]),
        )
        .group_by(Ticket.assignee_id)
    ).tuples():
        if person_id is not None:
            found[person_id] = count
    return found


def chain(session: Session, community_id: int | None, level: Level) -> list[Person]:
    """Who an escalation to ``level`` goes to: the community's supervisors or property
    managers (not archived)."""
    role = CHAIN_ROLES.get(level)
    if role is None or community_id is None:
        return []
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.community_id == community_id,
                Person.role == role.value,
                Person.archived_at.is_(None),
            )
            .order_by(Person.id)
        )
    )
