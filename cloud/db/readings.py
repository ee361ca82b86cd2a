"""Tables of what gateways send: readings as ingested, the batches already stored (the
idempotency record), the gaps a gateway declared, dead letters, and the roll-ups of
readings kept for charts and figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, Timestamp


class Reading(Base):
    """One canonical reading as ingested; ``id`` is the item id stamped on the edge.

    A reading is stored once: ``(ts, id)`` is unique. An item is fixed where it is made —
    a gateway sends it again with the same id and the same event time — so this is the
    item id's uniqueness, held by an index that grows at its time end. (A unique index on
    the random id alone cost a page write per reading in SQLite, whose log writes whole
    pages: see docs/performance.md.) ``pk`` is the storage order.
    """

    __tablename__ = "readings"
    __table_args__ = (Index("uq_readings_ts_id", "ts", "id", unique=True),)

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(64))
    device_pk: Mapped[int] = mapped_column(Integer)
    """The device's ``devices.id``; not checked by a foreign key, which on PostgreSQL was most
    of the server's work per reading stored: devices are never deleted, and ingest takes the
    device of each reading from the same transaction (docs/performance.md)."""
    ts: Mapped[datetime] = mapped_column(Timestamp)
    """Event time as the device (or the edge) stamped it, even when it could not be trusted."""
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    profile_version: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    faults: Mapped[list[str]] = mapped_column(default=list)
    ts_suspect: Mapped[bool] = mapped_column(default=False, server_default=false())
    """``ts`` lay beyond the allowed clock skew in the future (as the gateway or the cloud
    saw it): the reading was judged at its receipt time instead."""


class IngestedBatch(Base):
    """A batch the cloud has stored; a batch sent again (same gateway, epoch and seq) is
    acknowledged as a duplicate and not stored twice. Batches stored before epochs existed
    have the epoch ``''``, which no gateway can send."""

    __tablename__ = "ingested_batches"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ingested_at: Mapped[datetime] = mapped_column(Timestamp)
    items: Mapped[int] = mapped_column(Integer)


class DataGap(Base):
    """Readings a gateway had to drop (its outbox reached its disk budget, or the disk was
    full), as the gateway reported them: one record per device and stretch of time, stored
    once by its id (a batch sent again stores nothing twice). The device is named as the
    gateway knows it; a device whose every reading was dropped may have no row yet."""

    __tablename__ = "data_gaps"
    __table_args__ = (
        Index("ix_data_gaps_device", "gateway_id", "device_id", "last_ts"),
        Index("ix_data_gaps_gateway", "gateway_id", "last_ts"),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(64), unique=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    first_ts: Mapped[datetime] = mapped_column(Timestamp)
    last_ts: Mapped[datetime] = mapped_column(Timestamp)
    items: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    """the batch that brought it"""
    received_at: Mapped[datetime] = mapped_column(Timestamp)


class DeadLetter(Base):
    """An MQTT message the cloud could not ingest, kept whole (topic and payload bytes) with
    the reason, so that it can be replayed once its cause is fixed."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    topic: Mapped[str] = mapped_column(Text)
    gateway_id: Mapped[str | None] = mapped_column(String(64))
    """The gateway the topic names, if it names one."""
    category: Mapped[str] = mapped_column(String(32))
    """Why, in one word: ``invalid``, ``gateway``, ``topic``, ``error`` (``unknown`` before
    categories were kept)."""
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    replayed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When a replay stored it (or found it stored already); None while it waits."""
    replay_result: Mapped[str | None] = mapped_column(Text)


class TelemetryRollup(Base):
    """One metric of one device over a minute or an hour (``step`` seconds from ``start``),
    as Linli rolls raw readings up (``cloud.telemetry``); kept longer than raw readings.

    Numbers have ``min``, ``max`` and ``mean``; state metrics have ``shares``, the fraction of
    ``covered`` seconds each value held; ``last`` is the value in force at the bucket's end."""

    __tablename__ = "telemetry_rollups"
    __table_args__ = (Index("ix_telemetry_rollups_step_start", "step", "start"),)

    device_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min: Mapped[float | None] = mapped_column()
    max: Mapped[float | None] = mapped_column()
    mean: Mapped[float | None] = mapped_column()
    shares: Mapped[dict[str, Any] | None] = mapped_column()
    covered: Mapped[float] = mapped_column()
    last: Mapped[Any | None] = mapped_column(JSON)


class RollupDue(Base):
    """A bucket whose data changed since it was last rolled up: a minute (``step`` 60) as an
    ingest writer marked it, or an hour (``step`` 3600) as the roll-up job marked it after
    rolling up its minutes; ``start`` counts seconds since 1970 (UTC). Each writer marks its
    own rows, so that writers never wait for each other's transactions; ``marks`` grows with
    each new mark, so that the job removes a mark only if none came after it read it."""

    __tablename__ = "rollup_due"

    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    writer: Mapped[str] = mapped_column(String(64), primary_key=True)
    marks: Mapped[int] = mapped_column(BigInteger)
