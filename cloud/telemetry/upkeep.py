"""Keeping telemetry: minutes rolled up as ingest marks them, hours from minutes, old data
forgotten after its retention.

:meth:`TelemetryUpkeep.run` takes the minutes ingest marked due (``rollup_due``) once they
have ended, oldest first: for each, every device's raw readings of the minute are rolled up
(state metrics from the value the previous minute ended with), and the hours they fall in
are marked; an hour is rolled up from its minutes once it has ended. A minute that gets
readings later — a gateway's backlog after an outage — is marked again and rolled up again,
and its hour with it; a roll-up is replaced, never added to, so doing one twice changes
nothing. The marks read are removed only if nothing marked them meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.bulk import Codec
from cloud.db.models import RollupDue
from cloud.metrics import CloudMetrics
from cloud.telemetry.marks import RollupMarks
from cloud.telemetry.rollup import combine, roll_readings
from cloud.telemetry.store import (
    HOUR,
    MINUTE,
    RAW,
    TelemetryRejected,
    TelemetryStore,
    TelemetryUnavailable,
)
from plumbing.pacing import Pacer

log = logging.getLogger(__name__)

DUE = cast(Table, RollupDue.__table__)
LOOKBACK = timedelta(days=1)
"""How far back the value in force at a bucket's start is looked for."""


@dataclass(frozen=True)
class Retention:
    """How long each kind of telemetry is kept."""

    raw: timedelta
    minutes: timedelta
    hours: timedelta

    def of(self, step: int) -> timedelta:
        return {RAW: self.raw, MINUTE: self.minutes, HOUR: self.hours}[step]


@dataclass(frozen=True)
class UpkeepResult:
    minutes: int
    """minutes rolled up"""
    hours: int
    """hours rolled up"""
    rollups: int
    """roll-ups written"""


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class TelemetryUpkeep:
    """Rolls up what ingest marked due; forgets telemetry past its retention."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: TelemetryStore,
        retention: Retention,
        metrics: CloudMetrics | None = None,
        *,
        settle: timedelta = timedelta(seconds=5),
        minutes_per_run: int = 120,
        readings_per_run: int = 200_000,
        expire_every: timedelta = timedelta(hours=1),
    ) -> None:
        self._sessions = sessions
        self._store = store
        self.retention = retention
        self.metrics = metrics or CloudMetrics()
        self._settle = settle
        self._minutes_per_run = minutes_per_run
        self._readings_per_run = readings_per_run
        self._expire_every = expire_every
        self._expired_at: datetime | None = None
        self._pace = Pacer()  # it runs in a thread of a process that ingests too
        self._marks = RollupMarks(Codec(sessions.kw["bind"].dialect), writer="upkeep")
        self._done = (
            delete(DUE)
            .where(
                and_(
                    DUE.c.step == bindparam("b_step"),
                    DUE.c.start == bindparam("b_start"),
                    DUE.c.writer == bindparam("b_writer"),
                    DUE.c.marks == bindparam("b_marks"),
                )
            )
            .execution_options(synchronize_session=False)
        )

    def run(self, now: datetime) -> UpkeepResult:
        """Roll up the minutes marked due that have ended (at most ``minutes_per_run``, and
        no more once ``readings_per_run`` readings were read: a backlog is worked off run by
        run, beside ingest), then the hours marked due that have ended; forget what is past
        its retention (at most once an hour)."""
        due, marked = self._due(MINUTE, now, self._minutes_per_run)
        oldest_raw = (now - self.retention.raw).timestamp()
        written = by_minute = read = 0
        hours: set[int] = set()
        minutes: list[int] = []
        for start in due:
            if read >= self._readings_per_run:
                break
            minutes.append(start)
            if start + MINUTE > oldest_raw:
                rolled, points = self._roll_minute(_moment(start))
                by_minute += rolled
                read += points
                hours.add(start - start % HOUR)
        done = set(minutes)
        minute_marks = [mark for mark in marked if mark["b_start"] in done]
        self.metrics.rollups.labels(step=str(MINUTE)).inc(by_minute)
        with self._sessions.begin() as session:
            connection = session.connection()
            self._marks.mark(connection, HOUR, hours)
            if minute_marks:
                connection.execute(self._done, minute_marks)
        closed, hour_marks = self._due(HOUR, now, self._minutes_per_run)
        for start in closed:
            written += self._roll_hour(_moment(start))
        self.metrics.rollups.labels(step=str(HOUR)).inc(written)
        with self._sessions.begin() as session:
            if hour_marks:
                session.execute(self._done, hour_marks)
            waiting = session.scalar(select(func.min(DUE.c.start)).where(DUE.c.step == MINUTE))
        ended = now.timestamp() - (waiting + MINUTE) if waiting is not None else 0.0
        self.metrics.rollup_lag.set(max(ended, 0.0))
        written += by_minute
        if self._expired_at is None or now - self._expired_at >= self._expire_every:
            self.expire(now)
        return UpkeepResult(len(minutes), len(closed), written)

    def _due(
        self, step: int, now: datetime, most: int
    ) -> tuple[list[int], list[dict[str, int | str]]]:
        """The oldest buckets of ``step`` marked due that ended ``settle`` ago (at most
        ``most``), and their marks as read."""
        ended = int((now - self._settle).timestamp()) - step
        with self._sessions() as session:
            rows = session.execute(
                select(DUE.c.start, DUE.c.writer, DUE.c.marks)
                .where(DUE.c.step == step, DUE.c.start <= ended)
                .order_by(DUE.c.start)
                .limit(most * 4)
            ).all()
        starts = sorted({row.start for row in rows})[:most]
        chosen = set(starts)
        marks: list[dict[str, int | str]] = [
            {"b_step": step, "b_start": row.start, "b_writer": row.writer, "b_marks": row.marks}
            for row in rows
            if row.start in chosen
        ]
        return starts, marks

    def _roll_minute(self, start: datetime) -> tuple[int, int]:
        """Roll-ups written, readings read."""
        end = start + timedelta(minutes=1)
        store = self._store
        points = list(store.readings_between(start, end))
        if not points:
            return 0, 0
        devices = sorted({point.device_pk for point in points})
        in_force = store.values_in_force(MINUTE, devices, start, start - LOOKBACK)
        rollups = roll_readings(points, MINUTE, start, end, in_force, pace=self._pace)
        store.write_rollups(rollups)
        return len(rollups), len(points)

    def _roll_hour(self, start: datetime) -> int:
        end = start + timedelta(seconds=HOUR)
        store = self._store
        minutes = store.rollups_between(MINUTE, start, end)
        if not minutes:
            return 0
        devices = sorted({rollup.device_pk for rollup in minutes})
        in_force = store.values_in_force(MINUTE, devices, start, start - LOOKBACK)
        rollups = combine(minutes, HOUR, start, end, in_force, pace=self._pace)
        store.write_rollups(rollups)
        return len(rollups)

    def expire(self, now: datetime) -> None:
        """Forget raw readings and roll-ups past their retention."""
        for step in (RAW, MINUTE, HOUR):
            self._store.expire(step, now - self.retention.of(step))
        self._expired_at = now


async def keep_telemetry(
    upkeep: TelemetryUpkeep, every_s: float, clock: Callable[[], datetime] | None = None
) -> None:
    """Run the upkeep every ``every_s`` seconds until cancelled; a failure is logged and
    the next run tries again (the marks stay until their minutes are rolled up)."""
    now = clock or (lambda: datetime.now(UTC))
    while True:
        await asyncio.sleep(every_s)
        try:
            result = await asyncio.to_thread(upkeep.run, now())
        except (SQLAlchemyError, TelemetryUnavailable, TelemetryRejected) as exc:
            upkeep.metrics.upkeep_failures.inc()
            log.warning("telemetry upkeep failed, trying again in %ss: %s", every_s, exc)
            continue
        if result.minutes:
            log.debug(
                "rolled up %d minute(s) and %d hour(s): %d roll-up(s)",
                result.minutes,
                result.hours,
                result.rollups,
            )
