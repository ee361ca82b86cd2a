"""Stores one batch in one transaction, idempotently.

A batch whose identity (gateway, epoch, seq) was stored before is skipped; an item whose id
is already stored is skipped too, so a re-sent item in a new batch is stored once. When
:meth:`BatchWriter.write` returns, the transaction has committed: only then may the batch be
acknowledged to its gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Device, Facility, Gateway, IngestedBatch, Reading
from cloud.health import HealthEngine
from cloud.metrics import CloudMetrics
from device_profiles import Catalogue
from device_profiles.protocol import Batch, GatewayStatus, Item

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WriteResult:
    duplicate_batch: bool
    """The batch's identity was stored before (it was sent again)."""
    stored: int
    """Readings stored now: 0 for a batch sent again, unless its gateway reused the
    identity for other items (then they are stored all the same)."""
    duplicates: int


def _insert_ignoring_conflicts(session: Session, table: Table, rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(rows).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(rows).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {dialect}")


class BatchWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalogue: Catalogue,
        health: HealthEngine,
        metrics: CloudMetrics,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._catalogue = catalogue
        self._health = health
        self._metrics = metrics
        self._clock = clock

    def write(self, batch: Batch) -> WriteResult:
        """Store ``batch``; retried once if a concurrent worker created the same rows."""
        try:
            return self._write_once(batch)
        except IntegrityError:
            return self._write_once(batch)

    def _write_once(self, batch: Batch) -> WriteResult:
        now = self._clock()
        with self._sessions.begin() as session:
            gateway = self._gateway(session, batch.gateway_id, now)
            claimed = session.execute(
                _insert_ignoring_conflicts(
                    session,
                    IngestedBatch.__table__,  # type: ignore[arg-type]
                    [
                        {
                            "gateway_id": batch.gateway_id,
                            "epoch": batch.epoch,
                            "seq": batch.seq,
                            "ingested_at": now,
                            "items": len(batch.items),
                        }
                    ],
                ).returning(IngestedBatch.seq)
            ).first()
            if claimed is not None:
                self._advance(session, gateway, batch)
            elif self._all_stored(session, batch.items):
                self._metrics.batches.labels(result="duplicate").inc()
                self._metrics.items.labels(result="duplicate").inc(len(batch.items))
                return WriteResult(duplicate_batch=True, stored=0, duplicates=len(batch.items))
            else:  # never acknowledge readings as stored that are not: store them
                log.warning(
                    "batch %s/%s/%d came again with readings not stored before: the gateway "
                    "reused a batch identity for other items; storing them",
                    batch.gateway_id,
                    batch.epoch,
                    batch.seq,
                )
                self._metrics.batches.labels(result="identity_reused").inc()
            devices = self._devices(session, batch.gateway_id, batch.items)
            new_ids = self._store_readings(session, batch.items, devices)
            for item in sorted(batch.items, key=lambda i: i.ts):
                if item.id in new_ids:
                    self._health.apply(session, devices[item.device_id], item)
                    devices[item.device_id].last_seen_at = now
        duplicates = len(batch.items) - len(new_ids)
        if claimed is not None:
            self._metrics.batches.labels(result="stored").inc()
        self._metrics.items.labels(result="stored").inc(len(new_ids))
        if duplicates:
            self._metrics.items.labels(result="duplicate").inc(duplicates)
        return WriteResult(
            duplicate_batch=claimed is None, stored=len(new_ids), duplicates=duplicates
        )

    @staticmethod
    def _all_stored(session: Session, items: list[Item]) -> bool:
        """Whether every item of a batch whose identity was stored before is stored too (as
        it is when a gateway sends a batch again, with the same items)."""
        if not items:
            return True
        wanted = {item.id for item in items}
        found = session.scalars(select(Reading.id).where(Reading.id.in_(wanted)))
        return len(set(found)) == len(wanted)

    @staticmethod
    def _advance(session: Session, gateway: Gateway, batch: Batch) -> None:
        """Move the gateway's (epoch, last_seq) on. An epoch seen for the first time is the
        gateway's new one (it lost its data and started afresh); a late batch of an earlier
        epoch is stored but moves nothing."""
        if gateway.epoch == batch.epoch:
            gateway.last_seq = max(gateway.last_seq or 0, batch.seq)
            return
        seen_before = session.scalar(
            select(
                exists().where(
                    IngestedBatch.gateway_id == batch.gateway_id,
                    IngestedBatch.epoch == batch.epoch,
                    IngestedBatch.seq != batch.seq,
                )
            )
        )
        if not seen_before:
            gateway.epoch = batch.epoch
            gateway.last_seq = batch.seq

    def _store_readings(
        self, session: Session, items: list[Item], devices: dict[str, Device]
    ) -> set[str]:
        if not items:
            return set()
        rows = [
            {
                "id": i.id,
                "device_pk": devices[i.device_id].id,
                "ts": i.ts,
                "received_at": i.received_at,
                "profile_version": i.profile_version,
                "metrics": dict(i.metrics),
                "faults": list(i.faults),
            }
            for i in items
        ]
        table = Reading.__table__
        result = session.execute(
            _insert_ignoring_conflicts(session, table, rows).returning(  # type: ignore[arg-type]
                Reading.id
            )
        )
        return set(result.scalars())

    @staticmethod
    def _gateway(session: Session, gateway_id: str, now: datetime) -> Gateway:
        gateway = session.get(Gateway, gateway_id)
        if gateway is None:
            session.execute(
                _insert_ignoring_conflicts(
                    session,
                    Gateway.__table__,  # type: ignore[arg-type]
                    [{"id": gateway_id, "online": True, "counters": {}, "first_seen_at": now}],
                )
            )
            gateway = session.get(Gateway, gateway_id)
            assert gateway is not None
        return gateway

    def _devices(
        self, session: Session, gateway_id: str, items: Iterable[Item]
    ) -> dict[str, Device]:
        """The batch's devices, registering the ones seen for the first time."""
        wanted = {item.device_id: item for item in items}
        found = {
            d.device_id: d
            for d in session.scalars(
                select(Device).where(Device.gateway_id == gateway_id, Device.device_id.in_(wanted))
            )
        }
        for device_id, item in wanted.items():
            if device_id not in found:
                found[device_id] = self._register(session, gateway_id, item)
        return found

    def _register(self, session: Session, gateway_id: str, item: Item) -> Device:
        """First sight of a device: it becomes a facility of its own until an operator
        groups devices into facilities."""
        profile = self._catalogue.get(item.profile)
        now = self._clock()
        facility = Facility(
            gateway_id=gateway_id,
            code=item.device_id,
            name=f"{profile.name if profile else item.device_type} {item.device_id}",
            category=profile.category if profile else item.device_type,
            health="ok",
            health_since=now,
        )
        device = Device(
            gateway_id=gateway_id,
            device_id=item.device_id,
            facility=facility,
            device_type=item.device_type,
            profile=item.profile,
            profile_version=item.profile_version,
            health="ok",
            faults=[],
            rule_state={},
            metrics={},
        )
        session.add_all([facility, device])
        session.flush()
        return device

    def record_status(self, status: GatewayStatus) -> None:
        """A gateway's retained status or last will."""
        now = self._clock()
        with self._sessions.begin() as session:
            gateway = self._gateway(session, status.gateway_id, now)
            if status.online and not gateway.online:
                gateway.online_since = now
            gateway.online = status.online
            gateway.status_at = status.ts or now
            if status.counters:
                gateway.counters = dict(status.counters)
