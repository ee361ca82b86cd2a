"""The gateway's durable outbox: items wait here, on disk, until the cloud has stored them.

A SQLite database in WAL mode (``<data_dir>/outbox.db``). A device message is acknowledged to
the gateway broker only once its item is committed here (:meth:`Outbox.put`), and an item
leaves only when the cloud says it committed the batch that carried it
(:meth:`Outbox.confirm`) — a broker's PUBACK never deletes anything.

- **Batches.** :meth:`Outbox.next_batch` takes the next items — alarms ahead of waiting
  telemetry, each alarm with its own device's earlier readings so that no device's readings
  change order — and gives them their batch identity ``(epoch, seq)`` in the same
  transaction, so a batch sent again after a timeout or a restart is the very same batch.
- **Epoch.** A random id made when the database is created: a gateway whose data directory
  was lost starts a new epoch, and its new batches cannot be mistaken for old ones.
- **Redelivery.** The fingerprints of the last :data:`RECENT_MESSAGES` committed messages
  are kept (on disk, and in memory for a quick look), so that a message the broker delivers
  again after a crash is recognised as one already committed.

Every database call runs in one worker thread of the outbox's own, so the event loop never
waits on the disk; what the forwarder looks at (counts, the oldest waiting item) is kept in
memory and changed only in the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from device_profiles.protocol import Item, batch_payload

log = logging.getLogger(__name__)

RECENT_MESSAGES = 4096
"""Fingerprints of committed messages kept to recognise a redelivery: more than the gateway
broker may deliver ahead of acknowledgements (the local link's receive maximum)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    alarm INTEGER NOT NULL,
    queued_at REAL NOT NULL,
    batch INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_waiting ON items (alarm, pos) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS items_of_device ON items (device, pos) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS items_in_batch ON items (batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS recent (slot INTEGER PRIMARY KEY, fingerprint BLOB NOT NULL);
"""

Sync = Literal["full", "normal"]
T = TypeVar("T")


class OutboxError(Exception):
    """The outbox database cannot be opened or used; the message says why."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What :meth:`Outbox.put` commits for one device message: its item (None when the
    message gave none) and its fingerprint (None when it cannot be delivered again)."""

    item: Item | None
    fingerprint: bytes | None


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    """Items taken for one batch, each as the JSON text it was stored as."""

    seq: int
    items: tuple[str, ...]
    alarms: int

    def payload(self, gateway_id: str, epoch: str, sent_at: datetime) -> bytes:
        """The ``up/batch`` message (a :class:`device_profiles.protocol.Batch`)."""
        return batch_payload(gateway_id, epoch, self.seq, sent_at, self.items)


@dataclass(frozen=True, slots=True)
class _Waiting:
    alarms: int
    bulk: int
    in_flight: int
    oldest_bulk: float | None


class Outbox:
    """The outbox at ``path``; ``await open()`` before use, ``await close()`` after.

    ``sync="full"`` makes every commit durable against a power cut (an fsync per commit);
    ``"normal"`` only against a crash of the process, which is faster on slow storage.
    """

    def __init__(self, path: Path, *, sync: Sync = "full") -> None:
        self.path = path
        self._sync = sync
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self.epoch = ""
        """This outbox's epoch: part of every batch's identity."""
        self._waiting = _Waiting(0, 0, 0, None)
        self._recent: dict[bytes, int] = {}  # fingerprint → how often it is in the ring
        self._ring: deque[bytes] = deque()
        self._next_slot = 0

    # ------------------------------------------------------------------ life

    async def open(self) -> None:
        """Create or open the database; OutboxError if it cannot be used."""
        epoch, waiting, recent, next_slot = await self._call(self._open)
        self.epoch = epoch
        self._waiting = waiting
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
            raise OutboxError(f"outbox {self.path}: {exc}") from None

    def _open(self) -> tuple[str, _Waiting, list[bytes], int]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._sync.upper()}")
            db.executescript(_SCHEMA)
            with _transaction(db):
                row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
                if row is None:
                    epoch = secrets.token_hex(8)
                    db.execute("INSERT INTO meta VALUES ('epoch', ?), ('next_seq', '0')", (epoch,))
                else:
                    epoch = str(row[0])
            rows = db.execute("SELECT slot, fingerprint FROM recent ORDER BY slot").fetchall()
            waiting = _count(db)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot use the outbox {self.path}: {exc}") from None
        except OSError as exc:
            raise OutboxError(f"cannot use the outbox {self.path}: {exc.strerror}") from None
        self._db = db
        return epoch, waiting, [bytes(f) for _, f in rows], (rows[-1][0] + 1 if rows else 0)

    # ------------------------------------------------------------------ what waits

    @property
    def pending_alarms(self) -> int:
        """Alarm items waiting to be sent."""
        return self._waiting.alarms

    @property
    def pending_bulk(self) -> int:
        """Other items waiting to be sent."""
        return self._waiting.bulk

    @property
    def in_flight(self) -> int:
        """Items sent in a batch the cloud has not confirmed yet."""
        return self._waiting.in_flight

    def __len__(self) -> int:
        waiting = self._waiting
        return waiting.alarms + waiting.bulk + waiting.in_flight

    def oldest_bulk_age(self) -> float | None:
        """Seconds the oldest waiting non-alarm item has waited; None if there is none."""
        oldest = self._waiting.oldest_bulk
        if oldest is None or not self._waiting.bulk:
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
        item whose id is there already is the same reading, kept once)."""
        if not entries:
            return 0
        # shielded, like every change: a caller cancelled meanwhile must not leave what is
        # in memory behind what the database holds
        return await asyncio.shield(self._put_now(entries))

    async def _put_now(self, entries: Sequence[Entry]) -> int:
        fingerprints = [e.fingerprint for e in entries if e.fingerprint is not None]
        first_slot = self._next_slot
        self._next_slot += len(fingerprints)
        alarms, bulk, now = await self._call(self._put, entries, fingerprints, first_slot)
        for fingerprint in fingerprints:
            self._remember(fingerprint)
        waiting = self._waiting
        oldest = waiting.oldest_bulk if waiting.bulk else (now if bulk else None)
        self._waiting = _Waiting(
            waiting.alarms + alarms, waiting.bulk + bulk, waiting.in_flight, oldest
        )
        return alarms + bulk

    def _put(
        self, entries: Sequence[Entry], fingerprints: list[bytes], first_slot: int
    ) -> tuple[int, int, float]:
        """Alarms and other items added, and the time they were queued at."""
        db = self._connection()
        now = time.time()
        rows: dict[str, tuple[str, str, int, float, str]] = {}
        for entry in entries:
            item = entry.item
            if item is not None and item.id not in rows:
                rows[item.id] = (
                    item.id,
                    item.device_id,
                    int(item.alarm),
                    now,
                    item.model_dump_json(),
                )
        slots = [(first_slot + n) % RECENT_MESSAGES for n in range(len(fingerprints))]
        with _transaction(db):
            for known in _known_ids(db, list(rows)):
                del rows[known]
            db.executemany(
                "INSERT INTO items (id, device, alarm, queued_at, body) VALUES (?, ?, ?, ?, ?)",
                rows.values(),
            )
            db.executemany(
                "INSERT OR REPLACE INTO recent (slot, fingerprint) VALUES (?, ?)",
                zip(slots, fingerprints, strict=True),
            )
        alarms = sum(row[2] for row in rows.values())
        return alarms, len(rows) - alarms, now

    # ------------------------------------------------------------------ batches

    async def next_batch(self, limit: int) -> OutgoingBatch | None:
        """The next batch of up to ``limit`` items, now in flight; None if nothing waits.

        While alarms wait, only alarms go, each with the telemetry its device queued before
        it (within the limit), in the order they were queued.
        """
        if not (self._waiting.alarms or self._waiting.bulk):
            return None
        return await asyncio.shield(self._next_batch_now(limit))

    async def _next_batch_now(self, limit: int) -> OutgoingBatch | None:
        batch, oldest = await self._call(self._next_batch, limit)
        if batch is not None:
            waiting = self._waiting
            bulk = len(batch.items) - batch.alarms
            self._waiting = _Waiting(
                waiting.alarms - batch.alarms,
                waiting.bulk - bulk,
                waiting.in_flight + len(batch.items),
                oldest,
            )
        return batch

    def _next_batch(self, limit: int) -> tuple[OutgoingBatch | None, float | None]:
        db = self._connection()
        positions = _alarms_first(db, limit)
        if not positions:
            return None, _oldest_waiting_bulk(db)
        with _transaction(db):
            (seq,) = db.execute(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'"
            ).fetchone()
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
            db.executemany(
                "UPDATE items SET batch = ? WHERE pos = ?", [(seq, pos) for pos in positions]
            )
        return _batch(db, seq), _oldest_waiting_bulk(db)

    async def unconfirmed(self) -> list[OutgoingBatch]:
        """Every batch sent and not confirmed yet, oldest first (to send again)."""
        return await self._call(self._unconfirmed)

    def _unconfirmed(self) -> list[OutgoingBatch]:
        db = self._connection()
        seqs = db.execute(
            "SELECT DISTINCT batch FROM items WHERE batch IS NOT NULL ORDER BY batch"
        ).fetchall()
        return [_batch(db, seq) for (seq,) in seqs]

    async def confirm(self, seq: int) -> int:
        """The cloud committed batch ``seq``: forget its items; how many there were."""
        return await asyncio.shield(self._confirm_now(seq))

    async def _confirm_now(self, seq: int) -> int:
        removed = await self._call(self._confirm, seq)
        waiting = self._waiting
        self._waiting = _Waiting(
            waiting.alarms, waiting.bulk, waiting.in_flight - removed, waiting.oldest_bulk
        )
        return removed

    def _confirm(self, seq: int) -> int:
        db = self._connection()
        with _transaction(db):
            removed: int = db.execute("DELETE FROM items WHERE batch = ?", (seq,)).rowcount
        return removed

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"the outbox {self.path} is not open")
        return self._db


def _alarms_first(db: sqlite3.Connection, limit: int) -> list[int]:
    """Positions of the next batch's items: waiting alarms with their devices' earlier
    telemetry, or else the oldest waiting telemetry; in the order they were queued."""
    alarms = db.execute(
        "SELECT pos, device FROM items WHERE batch IS NULL AND alarm = 1 ORDER BY pos LIMIT ?",
        (limit,),
    ).fetchall()
    if not alarms:
        return [
            pos
            for (pos,) in db.execute(
                "SELECT pos FROM items WHERE batch IS NULL AND alarm = 0 ORDER BY pos LIMIT ?",
                (limit,),
            )
        ]
    last_alarm: dict[str, int] = {}
    for pos, device in alarms:
        last_alarm[device] = pos
    positions = [pos for pos, _ in alarms]
    for device, before in last_alarm.items():
        room = limit - len(positions)
        if room <= 0:
            break
        positions += [
            pos
            for (pos,) in db.execute(
                "SELECT pos FROM items WHERE batch IS NULL AND alarm = 0 AND device = ? "
                "AND pos < ? ORDER BY pos LIMIT ?",
                (device, before, room),
            )
        ]
    return sorted(positions)


def _batch(db: sqlite3.Connection, seq: int) -> OutgoingBatch:
    rows = db.execute("SELECT body, alarm FROM items WHERE batch = ? ORDER BY pos", (seq,))
    bodies, alarms = [], 0
    for body, alarm in rows:
        bodies.append(body)
        alarms += alarm
    return OutgoingBatch(seq, tuple(bodies), alarms)


def _count(db: sqlite3.Connection) -> _Waiting:
    """What waits, counted (once, when the outbox opens)."""
    waiting = dict(
        db.execute("SELECT alarm, COUNT(*) FROM items WHERE batch IS NULL GROUP BY alarm")
    )
    (in_flight,) = db.execute("SELECT COUNT(*) FROM items WHERE batch IS NOT NULL").fetchone()
    return _Waiting(
        int(waiting.get(1, 0)), int(waiting.get(0, 0)), int(in_flight), _oldest_waiting_bulk(db)
    )


def _oldest_waiting_bulk(db: sqlite3.Connection) -> float | None:
    oldest = db.execute(
        "SELECT queued_at FROM items WHERE batch IS NULL AND alarm = 0 ORDER BY pos LIMIT 1"
    ).fetchone()
    return None if oldest is None else float(oldest[0])


def _known_ids(db: sqlite3.Connection, ids: list[str]) -> list[str]:
    """Which of ``ids`` the outbox holds already."""
    known: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        known += [i for (i,) in db.execute(f"SELECT id FROM items WHERE id IN ({marks})", chunk)]
    return known


class _transaction:
    """``with _transaction(db):`` BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
