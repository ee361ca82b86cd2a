"""Batch identities, readings and data-gap records, each stored once: the idempotent half
of the writer.

A group's batch identities ``(gateway, epoch, seq)``, readings and data-gap records go in
with one ``INSERT … ON CONFLICT DO NOTHING`` each, run for all rows at once. In the common
case — nothing in the group was stored before — every row goes in, which the count of rows
affected shows; then nothing more is asked. When the count falls short, something was
stored before (a batch sent again, a reading in a new batch): :class:`Recheck` rolls the
group back, and the writer does it again *carefully*, learning exactly which identities,
readings and data-gap records are new (``RETURNING``), batch by batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    exists,
    or_,
    select,
    tuple_,
    update,
)

from cloud.db.bulk import Codec, insert_ignoring_conflicts
from cloud.db.models import DataGap, Gateway, IngestedBatch, Reading
from device_profiles.wire import SomeBatch, SomeItem
from device_profiles.wire import SomeGap as GapRecord

log = logging.getLogger(__name__)

BATCHES = cast(Table, IngestedBatch.__table__)
READINGS = cast(Table, Reading.__table__)
GATEWAYS = cast(Table, Gateway.__table__)
GAPS = cast(Table, DataGap.__table__)

_GAP_COLUMNS = (
    "id",
    "gateway_id",
    "device_id",
    "first_ts",
    "last_ts",
    "items",
    "reason",
    "epoch",
    "seq",
    "received_at",
)

ReadingKey = tuple[str, datetime]
"""(item id, event time as stamped): what a reading is stored once by"""

_CHUNK = 400


class Recheck(Exception):
    """Some of a group was stored before: store it again, carefully."""


class Claims:
    """Gateways, batch identities and readings of groups of batches, for one database."""

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        dialect = codec.dialect
        self._heard: set[str] = set()
        """gateways whose first batch this process has stored"""
        batch_order = ("gateway_id", "epoch", "seq", "ingested_at", "items")
        self._claim = codec.statement(
            insert_ignoring_conflicts(dialect, BATCHES).values(
                {name: bindparam(name) for name in batch_order}
            ),
            batch_order,
        )
        self._claim_returning = insert_ignoring_conflicts(dialect, BATCHES).returning(
            BATCHES.c.gateway_id, BATCHES.c.epoch, BATCHES.c.seq
        )
        reading_order = (
            "id",
            "device_pk",
            "ts",
            "received_at",
            "profile_version",
            "metrics",
            "faults",
            "ts_suspect",
        )
        self.reading_columns = reading_order
        self._store = codec.inserting(READINGS, reading_order)
        self._store_returning = insert_ignoring_conflicts(dialect, READINGS)
        self._gap = codec.statement(
            insert_ignoring_conflicts(dialect, GAPS).values(
                {name: bindparam(name) for name in _GAP_COLUMNS}
            ),
            _GAP_COLUMNS,
        )
        self._gap_returning = insert_ignoring_conflicts(dialect, GAPS)
        last_seq = GATEWAYS.c.last_seq
        self._advance = (
            update(GATEWAYS)
            .where(GATEWAYS.c.id == bindparam("b_id"), GATEWAYS.c.epoch == bindparam("b_epoch"))
            .values(
                last_seq=case(
                    (or_(last_seq.is_(None), last_seq < bindparam("b_seq")), bindparam("b_seq")),
                    else_=last_seq,
                ),
                heard_at=bindparam("b_now"),
            )
        )

    def heard(self, connection: Connection, gateway_ids: Iterable[str], now: datetime) -> None:
        """A provisioned gateway that never sent a status is online from its first batch
        (so that its devices' silence counts); read once per gateway and process."""
        new = sorted(set(gateway_ids) - self._heard)
        if new:
            connection.execute(
                update(GATEWAYS)
                .where(
                    GATEWAYS.c.id.in_(new),
                    GATEWAYS.c.status_at.is_(None),
                    GATEWAYS.c.online.is_(False),
                )
                .values(online=True)
            )

    def known_gateways(self, gateway_ids: Iterable[str]) -> None:
        """After the commit: these gateways were heard."""
        self._heard.update(gateway_ids)

    def advance(self, connection: Connection, batches: Sequence[SomeBatch], now: datetime) -> None:
        """Move each gateway's (epoch, last_seq) on for the batches claimed, and note it
        heard at ``now``. An epoch seen for the first time is the gateway's new one (it lost
        its data and started afresh); a late batch of an earlier epoch is stored but moves
        nothing."""
        seqs: dict[tuple[str, str], list[int]] = {}
        for batch in batches:
            seqs.setdefault((batch.gateway_id, batch.epoch), []).append(batch.seq)
        for (gateway_id, epoch), numbers in sorted(seqs.items()):  # rows locked in one order
            top = max(numbers)
            moved = connection.execute(
                self._advance,
                {"b_id": gateway_id, "b_epoch": epoch, "b_seq": top, "b_now": now},
            )
            if moved.rowcount:
                continue
            seen_before = connection.scalar(
                select(
                    exists().where(
                        BATCHES.c.gateway_id == gateway_id,
                        BATCHES.c.epoch == epoch,
                        BATCHES.c.seq.not_in(numbers),
                    )
                )
            )
            if not seen_before:
                connection.execute(
                    update(GATEWAYS)
                    .where(GATEWAYS.c.id == gateway_id)
                    .values(epoch=epoch, last_seq=top, heard_at=now)
                )

    # ------------------------------------------------------------------ batch identities

    def claim(self, connection: Connection, batches: Sequence[SomeBatch], now: datetime) -> None:
        """Claim every batch's identity; :class:`Recheck` if any was claimed before."""
        ingested = self._codec.time(now)
        rows = [(b.gateway_id, b.epoch, b.seq, ingested, len(b.items)) for b in batches]
        if self._claim.run(connection, rows) != len(rows):
            raise Recheck

    def claim_carefully(
        self, connection: Connection, batches: Sequence[SomeBatch], now: datetime
    ) -> list[bool]:
        """Claim every batch's identity: for each batch, whether it is claimed now (a batch
        sent again, or twice in the group, is not)."""
        rows = [
            {
                "gateway_id": b.gateway_id,
                "epoch": b.epoch,
                "seq": b.seq,
                "ingested_at": now,
                "items": len(b.items),
            }
            for b in batches
        ]
        claimed: set[tuple[str, str, int]] = set()
        for start in range(0, len(rows), _CHUNK):
            returned = connection.execute(
                self._claim_returning.values(rows[start : start + _CHUNK])
            )
            claimed.update(tuple(row) for row in returned)
        found = []
        for batch in batches:
            identity = (batch.gateway_id, batch.epoch, batch.seq)
            found.append(identity in claimed)
            claimed.discard(identity)  # a second batch of that identity is a duplicate
        return found

    # ------------------------------------------------------------------ data gaps

    def gaps(self, connection: Connection, batches: Sequence[SomeBatch], now: datetime) -> None:
        """Store the data-gap records the batches carry; :class:`Recheck` if any was stored
        before (or comes twice in the group)."""
        time = self._codec.time
        received = time(now)
        rows = [
            (
                gap.id,
                batch.gateway_id,
                gap.device_id,
                time(gap.first_ts),
                time(gap.last_ts),
                gap.items,
                gap.reason,
                batch.epoch,
                batch.seq,
                received,
            )
            for batch in batches
            for gap in batch.gaps
        ]
        if rows and self._gap.run(connection, rows) != len(rows):
            raise Recheck

    def gaps_carefully(
        self, connection: Connection, batches: Sequence[SomeBatch], now: datetime
    ) -> list[tuple[str, GapRecord]]:
        """Store the data-gap records the batches carry: those stored now (each record once,
        the first batch bringing it stores it), with their gateways."""
        rows: dict[str, dict[str, Any]] = {}
        records: dict[str, tuple[str, GapRecord]] = {}
        for batch in batches:
            for gap in batch.gaps:
                if gap.id in rows:
                    continue
                records[gap.id] = (batch.gateway_id, gap)
                rows[gap.id] = {
                    "id": gap.id,
                    "gateway_id": batch.gateway_id,
                    "device_id": gap.device_id,
                    "first_ts": gap.first_ts,
                    "last_ts": gap.last_ts,
                    "items": gap.items,
                    "reason": gap.reason,
                    "epoch": batch.epoch,
                    "seq": batch.seq,
                    "received_at": now,
                }
        wanted = list(rows.values())
        new: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            statement = self._gap_returning.values(wanted[start : start + _CHUNK])
            new.update(row[0] for row in connection.execute(statement.returning(GAPS.c.id)))
        return [records[gap_id] for gap_id in rows if gap_id in new]

    # ------------------------------------------------------------------ readings

    def store(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Store readings (rows in :attr:`reading_columns` order); :class:`Recheck` if any
        was stored before."""
        if self._store.run(connection, rows) != len(rows):
            raise Recheck

    def store_carefully(
        self, connection: Connection, items: Sequence[tuple[SomeItem, int, bool]]
    ) -> set[ReadingKey]:
        """Store readings — (item, device_pk, ts_suspect) each — and say which are new."""
        rows = [
            {
                "id": item.id,
                "device_pk": device_pk,
                "ts": item.ts,
                "received_at": item.received_at,
                "profile_version": item.profile_version,
                "metrics": dict(item.metrics),
                "faults": list(item.faults),
                "ts_suspect": suspect,
            }
            for item, device_pk, suspect in items
        ]
        new: set[ReadingKey] = set()
        for start in range(0, len(rows), _CHUNK):
            statement = self._store_returning.values(rows[start : start + _CHUNK])
            returned = connection.execute(statement.returning(READINGS.c.id, READINGS.c.ts))
            new.update((row[0], row[1]) for row in returned)
        return new

    def stored(self, connection: Connection, keys: set[ReadingKey]) -> set[ReadingKey]:
        """Which of ``keys`` are stored already, each looked up by the readings' unique
        index on (ts, id). (SQLite does not use an index for a row value ``IN`` list: it
        would read the whole table, so there each key is an ``OR``-ed pair of equalities.)"""
        found: set[ReadingKey] = set()
        wanted = list(keys)
        ts, item_id = READINGS.c.ts, READINGS.c.id
        pair = tuple_(ts, item_id)
        sqlite = self._codec.dialect.name == "sqlite"
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            condition = (
                or_(*(and_(ts == key_ts, item_id == key_id) for key_id, key_ts in chunk))
                if sqlite
                else pair.in_([(key_ts, key_id) for key_id, key_ts in chunk])
            )
            query = select(item_id, ts).where(condition)
            found.update((row[0], row[1]) for row in connection.execute(query))
        return found


def reading_key(item: SomeItem) -> ReadingKey:
    return (item.id, item.ts)


def warn_identity_reused(batch: SomeBatch) -> None:
    log.warning(
        "batch %s/%s/%d came again with readings not stored before: the gateway reused a "
        "batch identity for other items; storing them",
        batch.gateway_id,
        batch.epoch,
        batch.seq,
    )
