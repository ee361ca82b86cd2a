"""The outbox's SQLite database: its tables, how it is opened, what it holds, counted, and
the statements that write many rows at once, or read a batch's worth (:func:`next_items`).

Shared by the agent's :class:`~edge_agent.outbox.Outbox` (the only writer) and by
``linli edge status``, which opens the same file read-only while the agent runs or not.

Tables: ``items`` (readings waiting, or in a batch the cloud has not confirmed), ``gaps``
(data-gap records, see :mod:`edge_agent.gaps`), ``recent`` (fingerprints of the last
messages committed, to recognise a redelivery), ``meta`` (epoch, next batch number) and
``totals`` (what was ever dropped: cumulative, it survives restarts).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the layout below (1 had no ``at`` and ``size`` columns, no
gaps and no totals)."""

ROW_OVERHEAD = 200
"""Bytes an item takes on disk besides its JSON: its other columns and its entries in the
indexes, with the slack of pages half filled after deletions (measured: items of about 320
bytes of JSON take 490 bytes a row, 520 in an outbox that has been dropping its oldest)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    alarm INTEGER NOT NULL,
    queued_at REAL NOT NULL,
    batch INTEGER,
    body TEXT NOT NULL,
    at REAL NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_waiting ON items (alarm, pos) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS items_of_device ON items (device, pos) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS items_in_batch ON items (batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS recent (slot INTEGER PRIMARY KEY, fingerprint BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS gaps (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    reason TEXT NOT NULL,
    first REAL NOT NULL,
    last REAL NOT NULL,
    items INTEGER NOT NULL,
    batch INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS gaps_open ON gaps (device, reason) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS gaps_in_batch ON gaps (batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

Sync = Literal["full", "normal"]


class OutboxError(Exception):
    """The outbox database cannot be opened or used; the message says why."""


class OutboxFull(OutboxError):
    """The disk (or the database's page limit) is full and nothing more can be dropped."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the outbox holds, counted: kept by the writer, and read by ``linli edge status``."""

    alarms: int = 0
    """Alarm items waiting to be sent."""
    bulk: int = 0
    """Other items (telemetry) waiting to be sent."""
    in_flight: int = 0
    """Items in batches sent and not confirmed by the cloud yet."""
    gaps: int = 0
    """Data-gap records waiting to be sent."""
    gaps_in_flight: int = 0
    alarm_bytes: int = 0
    """What the alarm items take on disk, waiting or in flight (their JSON and
    :data:`ROW_OVERHEAD` each)."""
    bulk_bytes: int = 0
    """What the other items take, counted the same way."""
    oldest: float | None = None
    """When the oldest item held was queued (Unix time)."""
    oldest_bulk: float | None = None
    """When the oldest waiting telemetry item was queued."""
    dropped_disk_budget: int = 0
    """Items ever dropped to stay within the budget (cumulative)."""
    dropped_disk_full: int = 0
    """Items ever dropped because the disk was full (cumulative)."""
    gaps_recorded: int = 0
    """Data-gap records ever made (cumulative)."""

    @property
    def items(self) -> int:
        """Every item held: waiting or in flight."""
        return self.alarms + self.bulk + self.in_flight

    @property
    def bytes(self) -> int:
        """What every item held takes on disk."""
        return self.alarm_bytes + self.bulk_bytes

    @property
    def dropped(self) -> int:
        """Items ever dropped, for whatever reason."""
        return self.dropped_disk_budget + self.dropped_disk_full


def open_database(path: Path, sync: Sync) -> tuple[sqlite3.Connection, str]:
    """The outbox database at ``path`` (made if missing, brought up to this layout) and its
    epoch; sqlite3.Error or OSError if it cannot be used."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync.upper()}")
        db.execute("PRAGMA journal_size_limit=8388608")  # the WAL shrinks back to 8 MB
        _migrate(db)
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        with transaction(db):
            row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row is None:
                epoch = secrets.token_hex(8)
                db.execute("INSERT INTO meta VALUES ('epoch', ?), ('next_seq', '0')", (epoch,))
            else:
                epoch = str(row[0])
    except BaseException:
        db.close()
        raise
    return db, epoch


def open_read_only(path: Path) -> sqlite3.Connection:
    """The outbox at ``path`` for reading only, while its agent runs or not; sqlite3.Error
    if there is none."""
    if not path.is_file():
        raise sqlite3.OperationalError(f"no outbox at {path}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _migrate(db: sqlite3.Connection) -> None:
    """An outbox of the first layout gets the columns this one adds to its items."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(items)")}
    if not columns or "size" in columns:
        return
    log.info("outbox: adding the columns of layout %d", SCHEMA_VERSION)
    with transaction(db):
        db.execute("ALTER TABLE items ADD COLUMN at REAL NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
        db.execute(
            "UPDATE items SET size = length(CAST(body AS BLOB)) + ?, at = coalesce("
            "(julianday(json_extract(body, '$.ts')) - 2440587.5) * 86400.0, queued_at)",
            (ROW_OVERHEAD,),
        )


def count(db: sqlite3.Connection) -> Backlog:
    """What the outbox holds, counted from its tables (when it opens, and for a status)."""
    waiting = dict(
        db.execute("SELECT alarm, COUNT(*) FROM items WHERE batch IS NULL GROUP BY alarm")
    )
    sizes = dict(db.execute("SELECT alarm, TOTAL(size) FROM items GROUP BY alarm"))
    (in_flight,) = db.execute("SELECT COUNT(*) FROM items WHERE batch IS NOT NULL").fetchone()
    gaps = dict(db.execute("SELECT batch IS NULL, COUNT(*) FROM gaps GROUP BY batch IS NULL"))
    totals = dict(db.execute("SELECT name, value FROM totals"))
    return Backlog(
        alarms=int(waiting.get(1, 0)),
        bulk=int(waiting.get(0, 0)),
        in_flight=int(in_flight),
        gaps=int(gaps.get(1, 0)),
        gaps_in_flight=int(gaps.get(0, 0)),
        alarm_bytes=int(sizes.get(1, 0)),
        bulk_bytes=int(sizes.get(0, 0)),
        oldest=oldest_item(db),
        oldest_bulk=oldest_waiting_bulk(db),
        dropped_disk_budget=int(totals.get("dropped_disk_budget", 0)),
        dropped_disk_full=int(totals.get("dropped_disk_full", 0)),
        gaps_recorded=int(totals.get("gaps_recorded", 0)),
    )


def oldest_item(db: sqlite3.Connection) -> float | None:
    """When the oldest item held was queued; None if the outbox holds none."""
    row = db.execute("SELECT queued_at FROM items ORDER BY pos LIMIT 1").fetchone()
    return None if row is None else float(row[0])


def oldest_waiting_bulk(db: sqlite3.Connection) -> float | None:
    """When the oldest telemetry item that waits to be sent was queued; None if none waits."""
    row = db.execute(
        "SELECT queued_at FROM items WHERE batch IS NULL AND alarm = 0 ORDER BY pos LIMIT 1"
    ).fetchone()
    return None if row is None else float(row[0])


def add_to_totals(db: sqlite3.Connection, amounts: dict[str, int]) -> None:
    """Add to the cumulative totals (within the caller's transaction)."""
    db.executemany(
        "INSERT INTO totals (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        [(name, amount) for name, amount in amounts.items() if amount],
    )


INSERT_ROWS = 500
"""Rows one INSERT statement takes at most (many rows per statement: see :func:`insert_many`)."""


def insert_many(db: sqlite3.Connection, head: str, rows: Sequence[tuple[object, ...]]) -> int:
    """Run ``head`` (``INSERT … VALUES``) for ``rows`` in as few statements as can be; the
    number of rows inserted.

    One statement for many rows rather than ``executemany``: every statement lets go of the
    interpreter's lock while SQLite works and must take it back after, and while the event
    loop's thread is busy, taking it back waits for its switch interval (5 ms), so a
    commit of 500 rows one statement each could take seconds under load."""
    added = 0
    for start in range(0, len(rows), INSERT_ROWS):
        chunk = rows[start : start + INSERT_ROWS]
        marks = "(" + ",".join("?" * len(chunk[0])) + ")"
        sql = f"{head} {','.join([marks] * len(chunk))}"
        added += db.execute(sql, [value for row in chunk for value in row]).rowcount
    return added


def known_before(db: sqlite3.Connection, ids: list[str], now: float) -> list[str]:
    """Which of ``ids`` the outbox held before the items queued at ``now``."""
    known: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        known += [
            i
            for (i,) in db.execute(
                f"SELECT id FROM items WHERE id IN ({marks}) AND queued_at != ?", [*chunk, now]
            )
        ]
    return known


Row = tuple[int, str, int]
"""(position, body, alarm) of an item."""


def next_items(db: sqlite3.Connection, limit: int) -> tuple[list[Row], bool]:
    """The next batch's items, in the order they were queued: waiting alarms with their
    devices' earlier telemetry, or else (and then True) the oldest waiting telemetry."""
    alarms = db.execute(
        "SELECT pos, body, alarm, device FROM items WHERE batch IS NULL AND alarm = 1 "
        "ORDER BY pos LIMIT ?",
        (limit,),
    ).fetchall()
    if not alarms:
        return oldest_bulk(db, limit), True
    last_alarm: dict[str, int] = {}
    for pos, _, _, device in alarms:
        last_alarm[device] = pos
    rows: list[Row] = [(pos, body, alarm) for pos, body, alarm, _ in alarms]
    for device, before in last_alarm.items():
        room = limit - len(rows)
        if room <= 0:
            break
        rows += db.execute(
            "SELECT pos, body, alarm FROM items WHERE batch IS NULL AND alarm = 0 AND device = ? "
            "AND pos < ? ORDER BY pos LIMIT ?",
            (device, before, room),
        ).fetchall()
    rows.sort()
    return rows, False


_SEPARATOR = "\x1e"
"""Between two bodies read in one row: a control character, which JSON text never holds
unescaped."""


def oldest_bulk(db: sqlite3.Connection, limit: int) -> list[Row]:
    """The oldest ``limit`` waiting telemetry items, read in one row: SQLite lets go of the
    interpreter's lock for every row it steps to, and a thread that must take it back
    while the event loop's thread is busy waits up to a switch interval (5 ms) for it — 500
    rows one by one took 46 ms so, one row of 500 bodies 6 ms. The positions come in the
    same row, in the same order as the bodies, whatever order SQLite aggregates in."""
    positions, bodies = db.execute(
        f"SELECT group_concat(pos), group_concat(body, char({ord(_SEPARATOR)})) FROM "
        "(SELECT pos, body FROM items WHERE batch IS NULL AND alarm = 0 ORDER BY pos LIMIT ?)",
        (limit,),
    ).fetchone()
    if positions is None:
        return []
    rows = [
        (int(pos), body, 0)
        for pos, body in zip(positions.split(","), bodies.split(_SEPARATOR), strict=True)
    ]
    rows.sort()
    return rows


class transaction:
    """``with transaction(db):`` BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an error.

    A failed COMMIT is rolled back too; and a transaction SQLite already rolled back by
    itself (as it may on a full disk or an I/O error) is not rolled back again, so the
    error that says what happened is the one raised."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            _roll_back(self._db)
            return
        try:
            self._db.execute("COMMIT")
        except BaseException:
            _roll_back(self._db)
            raise


def _roll_back(db: sqlite3.Connection) -> None:
    if not db.in_transaction:
        return
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:  # the error being raised says more
        log.warning("outbox: rollback failed: %s", exc)
