"""The SQL database as the telemetry store (the default).

Raw readings are the ``readings`` rows ingest writes in its own transaction, read here by
their time index; roll-ups are rows of ``telemetry_rollups``, keyed by device, metric, step
and start. The readings table has no index by device (each one cost ingest a page write per
reading, see docs/performance.md), so one device's raw series is read from the time index
over all devices' readings of the span: raw readings are served for short spans only
(:attr:`SqlTelemetry.raw_span_s`), roll-ups for longer ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Device, Reading, TelemetryRollup
from cloud.telemetry.store import RAW, RawPoint, Rollup, Value
from plumbing.pacing import Pacer

ROLLUPS = cast(Table, TelemetryRollup.__table__)
_CHUNK = 500
_READ_BATCH = 5000
"""A pause between slices of roll-up work, for ingest in the same process."""
_COLUMNS = ("count", "min", "max", "mean", "shares", "covered", "last")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SqlTelemetry:
    """Telemetry in the cloud's SQL database."""

    name = "sql"
    raw_span_s = 3600.0
    """The longest span a raw series is served for (longer ones come from roll-ups)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        # the roll-ups read and write through it beside ingest, in the same process
        self._pace = Pacer()

    def close(self) -> None:
        """Nothing to let go of: the sessions belong to the cloud process."""

    def write_readings(self, points: Sequence[RawPoint]) -> None:
        """Nothing to do: ingest stores raw readings in its own transaction."""

    def readings_between(self, start: datetime, end: datetime) -> Iterator[RawPoint]:
        query = (
            select(Reading.device_pk, Device.profile, Reading.ts, Reading.metrics)
            .join(Device, Device.id == Reading.device_pk)
            .where(Reading.ts >= start, Reading.ts < end)
            .order_by(Reading.ts)
        )
        with self._sessions() as session:
            result = session.execute(query.execution_options(yield_per=_READ_BATCH))
            pace = self._pace
            for rows in result.partitions():
                for n, (device_pk, profile, ts, metrics) in enumerate(rows):
                    if not n & 255:
                        pace()
                    yield RawPoint(device_pk, profile, _aware(ts), metrics)

    def series(
        self, device_pk: int, profile_id: str, metric: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Value]]:
        query = (
            select(Reading.ts, Reading.metrics)
            .where(Reading.ts >= start, Reading.ts < end, Reading.device_pk == device_pk)
            .order_by(Reading.ts)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [(_aware(ts), metrics[metric]) for ts, metrics in rows if metric in metrics]

    def write_rollups(self, rollups: Sequence[Rollup]) -> None:
        if not rollups:
            return
        dialect = self._sessions.kw["bind"].dialect
        insert: Any = (postgresql if dialect.name == "postgresql" else sqlite).insert(ROLLUPS)
        upsert = insert.on_conflict_do_update(
            index_elements=["device_pk", "metric", "step", "start"],
            set_={name: insert.excluded[name] for name in _COLUMNS},
        )
        rows = [
            {
                "device_pk": r.device_pk,
                "metric": r.metric,
                "step": r.step,
                "start": r.start,
                "count": r.count,
                "min": r.min,
                "max": r.max,
                "mean": r.mean,
                "shares": r.shares,
                "covered": r.covered,
                "last": r.last,
            }
            for r in sorted(rollups, key=lambda r: (r.device_pk, r.metric, r.start))
        ]
        # a short transaction each: ingest, which shares the database (and, on SQLite,
        # its one writer), waits for none of them long
        for first in range(0, len(rows), _CHUNK):
            with self._sessions.begin() as session:
                session.execute(upsert, rows[first : first + _CHUNK])
            self._pace()

    def rollups(
        self, device_pk: int, metric: str, step: int, start: datetime, end: datetime
    ) -> list[Rollup]:
        query = (
            select(TelemetryRollup)
            .where(
                TelemetryRollup.device_pk == device_pk,
                TelemetryRollup.metric == metric,
                TelemetryRollup.step == step,
                TelemetryRollup.start >= start,
                TelemetryRollup.start < end,
            )
            .order_by(TelemetryRollup.start)
        )
        with self._sessions() as session:
            return [_rollup(row) for row in session.scalars(query)]

    def rollups_between(self, step: int, start: datetime, end: datetime) -> list[Rollup]:
        query = select(TelemetryRollup).where(
            TelemetryRollup.step == step,
            TelemetryRollup.start >= start,
            TelemetryRollup.start < end,
        )
        with self._sessions() as session:
            return [_rollup(row) for row in session.scalars(query)]

    def values_in_force(
        self, step: int, device_pks: Sequence[int], before: datetime, since: datetime
    ) -> dict[tuple[int, str], Value]:
        found: dict[tuple[int, str], Value] = {}
        wanted = sorted(set(device_pks))
        latest = (
            select(
                TelemetryRollup.device_pk,
                TelemetryRollup.metric,
                func.max(TelemetryRollup.start).label("start"),
            )
            .where(
                TelemetryRollup.step == step,
                TelemetryRollup.start >= since,
                TelemetryRollup.start < before,
            )
            .group_by(TelemetryRollup.device_pk, TelemetryRollup.metric)
        )
        with self._sessions() as session:
            for first in range(0, len(wanted), _CHUNK):
                chunk = latest.where(
                    TelemetryRollup.device_pk.in_(wanted[first : first + _CHUNK])
                ).subquery()
                query = select(
                    TelemetryRollup.device_pk, TelemetryRollup.metric, ROLLUPS.c.last
                ).join(
                    chunk,
                    and_(
                        TelemetryRollup.device_pk == chunk.c.device_pk,
                        TelemetryRollup.metric == chunk.c.metric,
                        TelemetryRollup.start == chunk.c.start,
                        TelemetryRollup.step == step,
                    ),
                )
                for device_pk, metric, last in session.execute(query):
                    if last is not None:
                        found[(device_pk, metric)] = last
        return found

    def expire(self, step: int, before: datetime) -> None:
        if step == RAW:
            statement = delete(Reading).where(Reading.ts < before)
        else:
            statement = delete(TelemetryRollup).where(
                TelemetryRollup.step == step, TelemetryRollup.start < before
            )
        with self._sessions.begin() as session:
            session.execute(statement)


def _rollup(row: TelemetryRollup) -> Rollup:
    return Rollup(
        device_pk=row.device_pk,
        metric=row.metric,
        start=_aware(row.start),
        step=row.step,
        count=row.count,
        min=row.min,
        max=row.max,
        mean=row.mean,
        shares=row.shares,
        covered=row.covered,
        last=row.last,
    )
