"""Maintenance mode: a facility, or every facility of a zone, under maintenance until a set
time. Its faults are recorded — device health and faults as always — but open no tickets,
reopen none and do not reopen a repair being verified: people are working on it. The
window ends by itself; then what is still faulty opens its tickets, as of the window's end
(:func:`settle_ended`, done by the repair rounds).

Ingest asks :meth:`MaintenanceBook.covers` for every fault it would open a ticket for, so
the windows not yet settled are kept in memory, by facility, and read again every
``keep_s`` seconds (a window made in another process takes effect within that).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import Device, Facility, MaintenanceWindow

if TYPE_CHECKING:
    from cloud.repair.desk import TicketDesk


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class MaintenanceBook:
    """The maintenance windows not yet settled, by facility."""

    def __init__(self, keep_s: float = 5.0) -> None:
        self._keep_s = keep_s
        self._read_at: float | None = None
        self._spans: dict[int, list[tuple[datetime, datetime]]] = {}

    def forget(self) -> None:
        """Read the windows again at the next question (one was made or ended here)."""
        self._read_at = None

    def covers(self, session: Session, facility_id: int, at: datetime) -> bool:
        """Whether the facility is under maintenance at ``at``."""
        if self._read_at is None or time.monotonic() - self._read_at >= self._keep_s:
            self._spans = _read_spans(session)
            self._read_at = time.monotonic()
        return any(start <= at < end for start, end in self._spans.get(facility_id, ()))


def _read_spans(session: Session) -> dict[int, list[tuple[datetime, datetime]]]:
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    windows = session.scalars(
        select(MaintenanceWindow).where(MaintenanceWindow.settled_at.is_(None))
    ).all()
    for window in windows:
        span = (_aware(window.starts_at), _aware(window.ends_at))
        for facility_id in facilities_of(session, window):
            spans[facility_id].append(span)
    return dict(spans)


def facilities_of(session: Session, window: MaintenanceWindow) -> list[int]:
    """The facilities a window puts under maintenance: its own, or its zone's."""
    if window.facility_id is not None:
        return [window.facility_id]
    return list(
        session.scalars(
            select(Facility.id).where(
                Facility.zone_id == window.zone_id, Facility.archived_at.is_(None)
            )
        )
    )


def settle_ended(session: Session, desk: TicketDesk, now: datetime) -> int:
    """Open the tickets of what is still faulty on the facilities of windows that ended by
    ``now`` (as of each window's end), and mark the windows settled; how many settled."""
    query = (
        select(MaintenanceWindow)
        .where(MaintenanceWindow.settled_at.is_(None), MaintenanceWindow.ends_at <= now)
        .order_by(MaintenanceWindow.ends_at, MaintenanceWindow.id)
    )
    if session.get_bind().dialect.name == "postgresql":  # rounds in two processes
        query = query.with_for_update(skip_locked=True)
    ended = session.scalars(query).all()
    if not ended:
        return 0
    desk.maintenance.forget()
    for window in ended:
        window.settled_at = now
    session.flush()  # settled: no longer covers its facilities
    desk.maintenance.forget()
    for window in ended:
        at = _aware(window.ends_at)
        for facility_id in facilities_of(session, window):
            devices = session.scalars(select(Device).where(Device.facility_id == facility_id))
            for device in devices:
                profile = desk.profile(device.profile)
                if profile is None:
                    continue
                for fault in device.faults:
                    spec = profile.faults.get(fault)
                    if spec is not None and spec.ticket:
                        desk.report(
                            session, facility_id, device.id, profile, fault, onset=False, at=at
                        )
    return len(ended)
