"""Data-gap records: every reading the outbox drops is said, per device, to the cloud.

When the outbox has to drop readings (:mod:`edge_agent.budget`) it records, in the same
transaction, one :class:`~device_profiles.protocol.DataGap` per device and reason: how many
readings, and the event times of the first and the last. While that record waits to be
sent, later drops of the same device for the same reason extend it (readings are dropped
oldest first, so the span only grows forward), so an outage makes one record per device,
not one per reading. Once a record is in a batch it is fixed — a batch sent again carries
the very same records — and a later drop starts a new one.

Gap records go in the next batch, whatever else it holds, ahead of waiting bulk telemetry
as alarms do, and leave the outbox with that batch's acknowledgement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime

from device_profiles.protocol import DataGap, GapReason, new_item_id


class Drop:
    """The readings of one device dropped at once: how many, and their first and last
    event times (Unix time)."""

    __slots__ = ("first", "items", "last")

    def __init__(self, at: float) -> None:
        self.items = 1
        self.first = at
        self.last = at

    def add(self, at: float) -> None:
        self.items += 1
        if at < self.first:
            self.first = at
        elif at > self.last:
            self.last = at


def record(db: sqlite3.Connection, drops: Mapping[str, Drop], reason: GapReason) -> int:
    """Record ``drops`` (device → what was dropped) within the caller's transaction; the
    number of new gap records (the others extended a waiting one)."""
    before = waiting(db)
    db.executemany(
        "INSERT INTO gaps (id, device, reason, first, last, items) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (device, reason) WHERE batch IS NULL DO UPDATE SET "
        "first = min(first, excluded.first), last = max(last, excluded.last), "
        "items = items + excluded.items",
        [
            (new_item_id(), device, reason, drop.first, drop.last, drop.items)
            for device, drop in drops.items()
        ],
    )
    return waiting(db) - before


def waiting(db: sqlite3.Connection) -> int:
    """Gap records not yet in a batch."""
    (count,) = db.execute("SELECT COUNT(*) FROM gaps WHERE batch IS NULL").fetchone()
    return int(count)


def take(db: sqlite3.Connection, seq: int, limit: int) -> int:
    """Put up to ``limit`` waiting gap records, oldest first, in batch ``seq`` (within the
    caller's transaction); how many."""
    return db.execute(
        "UPDATE gaps SET batch = ? WHERE pos IN "
        "(SELECT pos FROM gaps WHERE batch IS NULL ORDER BY pos LIMIT ?)",
        (seq, limit),
    ).rowcount


def of_batch(db: sqlite3.Connection, seq: int) -> tuple[str, ...]:
    """The gap records of batch ``seq``, as the JSON of their DataGap."""
    rows = db.execute(
        "SELECT id, device, reason, first, last, items FROM gaps WHERE batch = ? ORDER BY pos",
        (seq,),
    )
    return tuple(
        DataGap(
            id=gap_id,
            device_id=device,
            reason=reason,
            first_ts=datetime.fromtimestamp(first, UTC),
            last_ts=datetime.fromtimestamp(last, UTC),
            items=items,
        ).model_dump_json()
        for gap_id, device, reason, first, last, items in rows
    )
