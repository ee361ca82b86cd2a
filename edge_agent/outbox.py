"""The gateway's durable outbox: items wait here, on disk, until the cloud has stored them.

A SQLite database in WAL mode (``<data_dir>/outbox.db``, :mod:`edge_agent.outbox_db`). A
device message is acknowledged to the gateway broker only once its item is committed here
(:meth:`Outbox.put`) — or recorded as dropped in a data gap — and an item leaves only when
the cloud says it committed the batch that carried it (:meth:`Outbox.confirm`); a broker's
PUBACK never deletes anything.

- **Batches.** :meth:`Outbox.next_batch` takes the next items — alarms ahead of waiting
  telemetry, each alarm with its own device's earlier readings so that no device's readings
  change order — with the waiting data-gap records, and gives them their batch identity
  ``(epoch, seq)`` in the same transaction, so a batch sent again after a timeout or a
  restart is the very same batch.
- **Budget.** What the items take on disk is kept within a budget: past it the oldest
  telemetry is dropped and said in data gaps (:mod:`edge_agent.budget`,
  :mod:`edge_agent.gaps`). A full disk does the same; with nothing left to drop, ``put``
  raises :class:`OutboxFull` and nothing is acknowledged until there is room. Whatever
  fails, a transaction commits whole or not at all, so the outbox is never half-written.
- **Epoch.** A random id made when the database is created: a gateway whose data directory
  was lost starts a new epoch, and its new batches cannot be mistaken for old ones.
- **Redelivery.** The fingerprints of the last :data:`RECENT_MESSAGES` committed messages
  are kept (on disk, and in memory for a quick look), so that a message the broker delivers
  again after a crash is recognised as one already committed.

Every database call runs in one worker thread of the outbox's own, so the event loop never
waits on the disk. That thread keeps the counts of what the outbox holds (a
:class:`~edge_agent.outbox_db.Backlog`) and hands each new one to the event loop's thread,
where the forwarder and the status read it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

from device_profiles.protocol import Item, batch_payload
from edge_agent import budget, gaps
from edge_agent.budget import UNLIMITED, Budget
from edge_agent.outbox_db import (
    INSERT_ROWS,
    ROW_OVERHEAD,
    Backlog,
    OutboxError,
    OutboxFull,
    Sync,
    count,
    insert_many,
    known_before,
    next_items,
    oldest_item,
    oldest_waiting_bulk,
    open_database,
    transaction,
)

__all__ = [
    "RECENT_MESSAGES",
    "Entry",
    "Outbox",
    "OutboxError",
    "OutboxFull",
    "OutgoingBatch",
    "Sync",
]

log = logging.getLogger(__name__)

RECENT_MESSAGES = 4096
"""Fingerprints of committed messages kept to recognise a redelivery: more than the gateway
broker may deliver ahead of acknowledgements (the local link's receive maximum)."""

ROOM_ATTEMPTS = 4
"""Times a commit that met a full disk is tried again, each after dropping telemetry."""

T = TypeVar("T")


class Entry(NamedTuple):
    """What :meth:`Outbox.put` commits for one device message: its item (None when the
    message gave none) and its fingerprint (None when it cannot be delivered again). (A
    named tuple: one is made per message, and it is made fastest.)"""

    item: Item | None
    fingerprint: bytes | None


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    """Items taken for one batch, each as the JSON text it was stored as, and the data-gap
    records that go with them."""

    seq: int
    items: tuple[str, ...]
    alarms: int
    gaps: tuple[str, ...] = ()

    def payload(self, gateway_id: str, epoch: str, sent_at: datetime) -> bytes:
        """The ``up/batch`` message (a :class:`device_profiles.protocol.Batch`)."""
        return batch_payload(gateway_id, epoch, self.seq, sent_at, self.items, self.gaps)


class Outbox:
    """The outbox at ``path``; ``await open()`` before use, ``await close()`` after.

    ``sync="full"`` makes every commit durable against a power cut (an fsync per commit);
    ``"normal"`` only against a crash of the process, which is faster on slow storage.
    ``limits`` is the disk budget (none by default).
    """

    def __init__(self, path: Path, *, sync: Sync = "full", limits: Budget = UNLIMITED) -> None:
        self.path = path
        self.limits = limits
        self._sync = sync
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self.epoch = ""
        """This outbox's epoch: part of every batch's identity."""
        self.backlog = Backlog()
        """What the outbox holds, as of its last change (read in the event loop's thread)."""
        self._held = Backlog()  # the same, as the outbox's thread keeps it
        self._recent: dict[bytes, int] = {}  # fingerprint → how often it is in the ring
        self._ring: deque[bytes] = deque()
        self._next_slot = 0

    # ------------------------------------------------------------------ life

    async def open(self) -> None:
        """Create or open the database; OutboxError if it cannot be used."""
        epoch, recent, next_slot = await self._call(self._open)
        self.epoch = epoch
        self.backlog = self._held
        for fingerprint in recent:
            self._remember(fingerprint)
        self._next_slot = next_slot

    async def close(self) -> None:
        """Close the database (waiting for the call in progress, if any)."""
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, db.close)
        self._thread.shutdown(wait=True)

    async def _call(self, call: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, call, *args)
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise OutboxFull(f"outbox {self.path}: {exc}") from None
            raise OutboxError(f"outbox {self.path}: {exc}") from None

    def _open(self) -> tuple[str, list[bytes], int]:
        try:
            db, epoch = open_database(self.path, self._sync)
            rows = db.execute("SELECT slot, fingerprint FROM recent ORDER BY slot").fetchall()
            self._held = count(db)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot use the outbox {self.path}: {exc}") from None
        except OSError as exc:
            raise OutboxError(f"cannot use the outbox {self.path}: {exc.strerror}") from None
        self._db = db
        return epoch, [bytes(f) for _, f in rows], (rows[-1][0] + 1 if rows else 0)

    # ------------------------------------------------------------------ what waits

    @property
    def pending_alarms(self) -> int:
        """Alarm items waiting to be sent."""
        return self.backlog.alarms

    @property
    def pending_bulk(self) -> int:
        """Other items waiting to be sent."""
        return self.backlog.bulk

    @property
    def pending_gaps(self) -> int:
        """Data-gap records waiting to be sent."""
        return self.backlog.gaps

    @property
    def in_flight(self) -> int:
        """Items sent in a batch the cloud has not confirmed yet."""
        return self.backlog.in_flight

    def __len__(self) -> int:
        return self.backlog.items

    def oldest_bulk_age(self) -> float | None:
        """Seconds the oldest waiting non-alarm item has waited; None if there is none."""
        oldest = self.backlog.oldest_bulk
        if oldest is None or not self.backlog.bulk:
            return None
        return max(0.0, time.time() - oldest)

    def recently_committed(self, fingerprint: bytes) -> bool:
        """Whether a message with ``fingerprint`` was among the last ones committed."""
        return fingerprint in self._recent

    def _remember(self, fingerprint: bytes) -> None:
        self._recent[fingerprint] = self._recent.get(fingerprint, 0) + 1
        self._ring.append(fingerprint)
        while len(self._ring) > RECENT_MESSAGES:
            gone = self._ring.popleft()
            if self._recent[gone] == 1:
                del self._recent[gone]
            else:
                self._recent[gone] -= 1

    # ------------------------------------------------------------------ writing

    async def put(self, entries: Sequence[Entry]) -> int:
        """Commit ``entries`` in one transaction; the number of items new to the outbox (an
        item whose id is there already is the same reading, kept once).

        Past the budget, the oldest telemetry is dropped in the same transaction (perhaps
        some of these items) and recorded as data gaps. On a full disk, telemetry is dropped
        to make room and the commit tried again; OutboxFull if nothing is left to drop, and
        OutboxError for any other failure: then nothing was committed.
        """
        if not entries:
            return 0
        # shielded, like every change: a caller cancelled meanwhile must not leave what is
        # in memory behind what the database holds
        return await asyncio.shield(self._put_now(entries))

    async def _put_now(self, entries: Sequence[Entry]) -> int:
        fingerprints = [e.fingerprint for e in entries if e.fingerprint is not None]
        first_slot = self._next_slot
        self._next_slot += len(fingerprints)
        for attempt in range(ROOM_ATTEMPTS + 1):
            try:
                added, self.backlog = await self._call(self._put, entries, fingerprints, first_slot)
                break
            except OutboxFull as exc:
                if attempt == ROOM_ATTEMPTS:
                    raise
                freed, self.backlog = await self._call(self._make_room, len(entries))
                if not freed:
                    raise OutboxFull(f"{exc}, and no telemetry is left to drop") from None
                log.warning("%s: dropped %d bytes of the oldest telemetry", exc, freed)
        for fingerprint in fingerprints:
            self._remember(fingerprint)
        return added

    def _put(
        self, entries: Sequence[Entry], fingerprints: list[bytes], first_slot: int
    ) -> tuple[int, Backlog]:
        """Items added, and the backlog after."""
        db = self._connection()
        now = time.time()
        rows: dict[str, tuple[str, str, int, float, float, int, str]] = {}
        for entry in entries:
            item = entry.item
            if item is not None and item.id not in rows:
                body = item.model_dump_json()
                at = item.received_at if item.ts_suspect else item.ts
                rows[item.id] = (
                    item.id,
                    item.device_id,
                    int(item.alarm),
                    now,
                    at.timestamp(),
                    len(body) + ROW_OVERHEAD,
                    body,
                )
        slots = [(first_slot + n) % RECENT_MESSAGES for n in range(len(fingerprints))]
        with transaction(db):
            added = insert_many(
                db,
                "INSERT OR IGNORE INTO items (id, device, alarm, queued_at, at, size, body) VALUES",
                list(rows.values()),
            )
            if added < len(rows):  # some were there already: the same readings, kept once
                for known in known_before(db, list(rows), now):
                    del rows[known]
            insert_many(
                db,
                "INSERT OR REPLACE INTO recent (slot, fingerprint) VALUES",
                list(zip(slots, fingerprints, strict=True)),
            )
            held = self._added(list(rows.values()), now)
            held = budget.keep_within(db, held, self.limits)
        self._held = held
        return len(rows), held

    def _added(
        self, rows: Sequence[tuple[str, str, int, float, float, int, str]], now: float
    ) -> Backlog:
        held = self._held
        alarms = alarm_bytes = bulk_bytes = 0
        for row in rows:
            if row[2]:
                alarms += 1
                alarm_bytes += row[5]
            else:
                bulk_bytes += row[5]
        bulk = len(rows) - alarms
        return dataclasses.replace(
            held,
            alarms=held.alarms + alarms,
            bulk=held.bulk + bulk,
            alarm_bytes=held.alarm_bytes + alarm_bytes,
            bulk_bytes=held.bulk_bytes + bulk_bytes,
            oldest=held.oldest if held.items or not rows else now,
            oldest_bulk=held.oldest_bulk if held.bulk or not bulk else now,
        )

    def _make_room(self, entries: int) -> tuple[int, Backlog]:
        """On a full disk: drop the oldest telemetry to make room for ``entries`` items;
        the bytes freed (0: nothing was left to drop) and the backlog after."""
        db = self._connection()
        held = self._held
        with transaction(db):
            after = budget.drop_oldest_telemetry(
                db, held, budget.room_for(held, entries), "disk_full"
            )
        self._held = after
        return held.bytes - after.bytes, after

    # ------------------------------------------------------------------ batches

    async def next_batch(self, limit: int) -> OutgoingBatch | None:
        """The next batch of up to ``limit`` items, now in flight; None if nothing waits.

        Every waiting data-gap record goes (up to ``limit`` of them too). While alarms wait,
        only alarms go, each with the telemetry its device queued before it (within the
        limit), in the order they were queued.
        """
        if not (self.backlog.alarms or self.backlog.bulk or self.backlog.gaps):
            return None
        return await asyncio.shield(self._next_batch_now(limit))

    async def _next_batch_now(self, limit: int) -> OutgoingBatch | None:
        batch, self.backlog = await self._call(self._next_batch, limit)
        return batch

    def _next_batch(self, limit: int) -> tuple[OutgoingBatch | None, Backlog]:
        db = self._connection()
        held = self._held
        rows, bulk_only = next_items(db, limit)
        if not rows and not held.gaps:
            return None, held
        with transaction(db):
            (seq,) = db.execute(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'"
            ).fetchone()
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
            if bulk_only and rows:  # the oldest waiting telemetry: every one up to the last
                db.execute(
                    "UPDATE items SET batch = ? WHERE batch IS NULL AND alarm = 0 AND pos <= ?",
                    (seq, rows[-1][0]),
                )
            else:
                for start in range(0, len(rows), INSERT_ROWS):
                    chunk = [row[0] for row in rows[start : start + INSERT_ROWS]]
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"UPDATE items SET batch = ? WHERE pos IN ({marks})", [seq, *chunk])
            taken_gaps = gaps.take(db, seq, limit)
        alarms = sum(row[2] for row in rows)
        batch = OutgoingBatch(
            seq,
            tuple(row[1] for row in rows),
            alarms,
            gaps.of_batch(db, seq) if taken_gaps else (),
        )
        bulk = len(rows) - alarms
        self._held = dataclasses.replace(
            held,
            alarms=held.alarms - alarms,
            bulk=held.bulk - bulk,
            in_flight=held.in_flight + len(rows),
            gaps=held.gaps - taken_gaps,
            gaps_in_flight=held.gaps_in_flight + taken_gaps,
            oldest_bulk=oldest_waiting_bulk(db) if bulk else held.oldest_bulk,
        )
        return batch, self._held

    async def unconfirmed(self) -> list[OutgoingBatch]:
        """Every batch sent and not confirmed yet, oldest first (to send again)."""
        return await self._call(self._unconfirmed)

    def _unconfirmed(self) -> list[OutgoingBatch]:
        db = self._connection()
        seqs = db.execute(
            "SELECT batch FROM items WHERE batch IS NOT NULL "
            "UNION SELECT batch FROM gaps WHERE batch IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [_batch(db, seq) for (seq,) in seqs]

    async def confirm(self, seq: int) -> int:
        """The cloud committed batch ``seq``: forget its items and data-gap records; how
        many items there were."""
        return await asyncio.shield(self._confirm_now(seq))

    async def _confirm_now(self, seq: int) -> int:
        removed, self.backlog = await self._call(self._confirm, seq)
        return removed

    def _confirm(self, seq: int) -> tuple[int, Backlog]:
        db = self._connection()
        with transaction(db):
            sizes = {
                alarm: (int(items), int(size))
                for alarm, items, size in db.execute(
                    "SELECT alarm, COUNT(*), TOTAL(size) FROM items WHERE batch = ? GROUP BY alarm",
                    (seq,),
                )
            }
            db.execute("DELETE FROM items WHERE batch = ?", (seq,))
            removed_gaps = db.execute("DELETE FROM gaps WHERE batch = ?", (seq,)).rowcount
        alarms, alarm_bytes = sizes.get(1, (0, 0))
        bulk, bulk_bytes = sizes.get(0, (0, 0))
        held = self._held
        self._held = dataclasses.replace(
            held,
            in_flight=held.in_flight - alarms - bulk,
            alarm_bytes=held.alarm_bytes - alarm_bytes,
            bulk_bytes=held.bulk_bytes - bulk_bytes,
            gaps_in_flight=held.gaps_in_flight - removed_gaps,
            oldest=oldest_item(db) if alarms + bulk else held.oldest,
        )
        return alarms + bulk, self._held

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"the outbox {self.path} is not open")
        return self._db


def _batch(db: sqlite3.Connection, seq: int) -> OutgoingBatch:
    rows = db.execute("SELECT body, alarm FROM items WHERE batch = ? ORDER BY pos", (seq,))
    bodies, alarms = [], 0
    for body, alarm in rows:
        bodies.append(body)
        alarms += alarm
    return OutgoingBatch(seq, tuple(bodies), alarms, gaps.of_batch(db, seq))
