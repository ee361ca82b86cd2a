"""The outbox's disk budget: when it is full, the oldest telemetry goes, and says so.

Items are charged what they take on disk (their JSON and
:data:`~edge_agent.outbox_db.ROW_OVERHEAD`). Telemetry may fill the budget but for a share
kept for alarms (``alarm_share``); alarms may fill all of it. Past either limit, the oldest
telemetry waiting to be sent is dropped, in the same transaction as what made the outbox
overflow, and recorded as data gaps (:mod:`edge_agent.gaps`). Alarms are never dropped to
make room for telemetry, and neither is what is in flight (a batch sent again must carry
the very same items); past the whole budget with nothing else left to drop, alarms are
still kept, and the disk itself is the limit.

A disk that is full before the budget is (or a database capped with ``PRAGMA
max_page_count``) drops the oldest telemetry the same way, with the reason ``disk_full``.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass

from device_profiles.protocol import GapReason
from edge_agent import gaps
from edge_agent.gaps import Drop
from edge_agent.outbox_db import Backlog, add_to_totals, oldest_item, oldest_waiting_bulk

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Budget:
    """The most the outbox's items may take on disk, and the share of it kept for alarms."""

    max_bytes: int
    alarm_share: float = 0.1

    @property
    def telemetry_bytes(self) -> int:
        """The most telemetry may take: the budget less the alarms' share."""
        return int(self.max_bytes * (1 - self.alarm_share))

    def excess(self, backlog: Backlog) -> int:
        """Bytes of telemetry to drop to be within the budget again (0: within it)."""
        return max(backlog.bulk_bytes - self.telemetry_bytes, backlog.bytes - self.max_bytes, 0)


UNLIMITED = Budget(max_bytes=2**62, alarm_share=0.0)


def drop_oldest_telemetry(
    db: sqlite3.Connection, backlog: Backlog, at_least: int, reason: GapReason
) -> Backlog:
    """Delete the oldest telemetry waiting to be sent until ``at_least`` bytes are freed
    (or none waits any more) and record the drops as data gaps, within the caller's
    transaction; the backlog after it."""
    if at_least <= 0 or not backlog.bulk:
        return backlog
    drops: dict[str, Drop] = {}
    freed = dropped = 0
    last = None
    rows = db.execute(
        "SELECT pos, device, at, size FROM items WHERE batch IS NULL AND alarm = 0 ORDER BY pos"
    )
    try:
        for pos, device, at, size in rows:
            drop = drops.get(device)
            if drop is None:
                drops[device] = Drop(at)
            else:
                drop.add(at)
            freed += size
            dropped += 1
            last = pos
            if freed >= at_least:
                break
    finally:
        rows.close()
    if last is None:
        return backlog
    db.execute("DELETE FROM items WHERE batch IS NULL AND alarm = 0 AND pos <= ?", (last,))
    new_gaps = gaps.record(db, drops, reason)
    add_to_totals(db, {f"dropped_{reason}": dropped, "gaps_recorded": new_gaps})
    return dataclasses.replace(
        backlog,
        bulk=backlog.bulk - dropped,
        bulk_bytes=backlog.bulk_bytes - freed,
        gaps=backlog.gaps + new_gaps,
        oldest=oldest_item(db),
        oldest_bulk=oldest_waiting_bulk(db),
        dropped_disk_budget=backlog.dropped_disk_budget + (reason == "disk_budget") * dropped,
        dropped_disk_full=backlog.dropped_disk_full + (reason == "disk_full") * dropped,
        gaps_recorded=backlog.gaps_recorded + new_gaps,
    )


def keep_within(db: sqlite3.Connection, backlog: Backlog, budget: Budget) -> Backlog:
    """Drop the oldest telemetry if the outbox holds more than ``budget`` allows."""
    return drop_oldest_telemetry(db, backlog, budget.excess(backlog), "disk_budget")


def room_for(backlog: Backlog, entries: int) -> int:
    """Bytes to free on a full disk before ``entries`` more items are tried again: twice
    what they should take, or a twentieth of the telemetry held if that is more (so that a
    full disk is not met again at the very next commit)."""
    average = backlog.bytes // backlog.items if backlog.items else 1024
    return max(2 * entries * average, backlog.bulk_bytes // 20)
