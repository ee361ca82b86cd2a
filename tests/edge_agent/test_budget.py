"""The outbox within its disk budget: the oldest telemetry goes first and is said in data
gaps, alarms stay, a full disk is survived, and what was dropped is counted for good."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles.protocol import Batch, DataGap, Item
from edge_agent.budget import Budget
from edge_agent.outbox import Entry, Outbox, OutboxFull
from edge_agent.outbox_db import ROW_OVERHEAD

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(n: int, *, device: str = "x", alarm: bool = False) -> Item:
    return Item(
        id=f"item-{n:06d}",
        device_id=device,
        device_type="access_gate",
        profile="acme_access_gate",
        profile_version="1.0.0",
        ts=T0 + timedelta(seconds=n),
        received_at=T0 + timedelta(seconds=n),
        metrics={"cycles": 100_000 + n},
        alarm=alarm,
    )


ROW = len(item(0).model_dump_json()) + ROW_OVERHEAD
"""What one item of these tests is charged (exact for one-letter device ids)."""
ALARM_ROW = len(item(0, alarm=True).model_dump_json()) + ROW_OVERHEAD


def entries(*items: Item) -> list[Entry]:
    return [Entry(i, None) for i in items]


def ids(bodies: tuple[str, ...]) -> list[str]:
    return [json.loads(body)["id"] for body in bodies]


def gaps_of(bodies: tuple[str, ...]) -> list[DataGap]:
    return [DataGap.model_validate_json(body) for body in bodies]


async def opened(path: Path, rows: float, alarm_share: float = 0.2) -> Outbox:
    """An outbox whose budget holds ``rows`` items of these tests."""
    box = Outbox(path, sync="normal", limits=Budget(int(rows * ROW), alarm_share))
    await box.open()
    return box


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = await opened(tmp_path / "outbox.db", rows=10)  # telemetry may take 8 rows
    yield box
    await box.close()


async def test_past_the_budget_the_oldest_telemetry_goes_and_becomes_a_gap(
    outbox: Outbox,
) -> None:
    await outbox.put(entries(*(item(n, device="a" if n % 2 else "b") for n in range(8))))
    assert outbox.backlog.dropped == 0
    await outbox.put(entries(item(8, device="a"), item(9, device="a"), item(10, device="b")))
    backlog = outbox.backlog
    assert (backlog.bulk, backlog.dropped_disk_budget, backlog.gaps) == (8, 3, 2)
    assert backlog.bulk_bytes == 8 * ROW
    batch = await outbox.next_batch(100)
    assert batch is not None
    assert ids(batch.items) == [f"item-{n:06d}" for n in range(3, 11)]  # 0, 1 and 2 went
    gaps = sorted(gaps_of(batch.gaps), key=lambda g: g.device_id)
    assert [(g.device_id, g.items, g.reason) for g in gaps] == [
        ("a", 1, "disk_budget"),
        ("b", 2, "disk_budget"),
    ]
    assert (gaps[1].first_ts, gaps[1].last_ts) == (T0, T0 + timedelta(seconds=2))
    assert Batch.model_validate_json(batch.payload("gw-1", outbox.epoch, T0)).gaps == gaps_of(
        batch.gaps
    )


async def test_alarms_are_never_dropped_to_make_room_for_telemetry(outbox: Outbox) -> None:
    await outbox.put(entries(*(item(n, alarm=True, device=chr(97 + n)) for n in range(6))))
    await outbox.put(entries(*(item(n) for n in range(6, 20))))
    backlog = outbox.backlog
    # the alarms took 6 of 10 rows: telemetry keeps the other 4, not its share of 8
    assert (backlog.alarms, backlog.bulk, backlog.dropped) == (6, 4, 10)
    await outbox.put(entries(*(item(n, alarm=True, device=chr(77 + n)) for n in range(20, 26))))
    backlog = outbox.backlog
    assert (backlog.alarms, backlog.bulk, backlog.dropped) == (12, 0, 14)  # past the budget
    assert backlog.bytes == 12 * ALARM_ROW
    batch = await outbox.next_batch(100)
    assert batch is not None and batch.alarms == 12


async def test_what_is_in_flight_is_not_dropped(outbox: Outbox) -> None:
    await outbox.put(entries(*(item(n) for n in range(5))))
    sent = await outbox.next_batch(5)
    assert sent is not None
    await outbox.put(entries(*(item(n) for n in range(5, 12))))
    backlog = outbox.backlog
    assert (backlog.in_flight, backlog.bulk, backlog.dropped) == (5, 3, 4)
    (again,) = await outbox.unconfirmed()
    assert again == sent  # the batch sent again is the very same


async def test_a_waiting_gap_grows_one_in_flight_is_fixed(outbox: Outbox) -> None:
    await outbox.put(entries(*(item(n) for n in range(10))))  # 2 dropped
    await outbox.put(entries(item(10), item(11)))  # 2 more, the same waiting record
    first = await outbox.next_batch(2)
    assert first is not None
    (gap,) = gaps_of(first.gaps)
    assert (gap.items, gap.first_ts, gap.last_ts) == (4, T0, T0 + timedelta(seconds=3))
    # 2 in flight, 6 waiting: 3 more make 3 of the waiting go, in a new record
    await outbox.put(entries(item(12), item(13), item(14)))
    second = await outbox.next_batch(2)
    assert second is not None
    (later,) = gaps_of(second.gaps)
    assert later.id != gap.id
    assert (later.items, later.first_ts) == (3, T0 + timedelta(seconds=6))
    assert [b.gaps for b in await outbox.unconfirmed()] == [first.gaps, second.gaps]
    assert await outbox.confirm(first.seq) == 2
    assert (outbox.backlog.gaps, outbox.backlog.gaps_in_flight) == (0, 1)
    assert outbox.backlog.gaps_recorded == 2


async def test_a_batch_of_only_gaps_goes_when_nothing_else_waits(outbox: Outbox) -> None:
    await outbox.put(entries(*(item(n) for n in range(9))))
    everything = await outbox.next_batch(100)
    assert everything is not None and len(everything.gaps) == 1
    assert await outbox.next_batch(100) is None


async def test_drops_are_counted_for_good(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = await opened(path, rows=10)
    await box.put(entries(*(item(n) for n in range(15))))
    batch = await box.next_batch(100)
    assert batch is not None
    await box.confirm(batch.seq)
    await box.close()
    again = await opened(path, rows=10)
    try:
        backlog = again.backlog
        assert (backlog.dropped_disk_budget, backlog.gaps_recorded, backlog.items) == (7, 1, 0)
        assert backlog.bytes == 0
    finally:
        await again.close()


async def test_the_database_file_stays_near_its_budget(tmp_path: Path) -> None:
    """The budget is in bytes on disk: a long overflow leaves the file about that size."""
    budget = Budget(2 * 1024 * 1024, 0.1)
    box = Outbox(tmp_path / "outbox.db", sync="normal", limits=budget)
    await box.open()
    try:
        for start in range(0, 20_000, 500):
            await box.put(
                entries(*(item(n, device=f"d{n % 50}") for n in range(start, start + 500)))
            )
        assert box.backlog.bytes <= budget.max_bytes
        assert box.backlog.gaps == 50
    finally:
        await box.close()
    size = (tmp_path / "outbox.db").stat().st_size
    assert 0.7 * budget.max_bytes < size < 1.3 * budget.max_bytes, size


# --- a full disk --------------------------------------------------------------------------------


async def cap_pages(box: Outbox, pages: int | None = None) -> None:
    """Cap the outbox's database at ``pages`` (None: as many as it has now) — a full disk."""

    def cap() -> None:
        db = box._connection()
        limit = pages or db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {limit}")

    await box._call(cap)


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


async def test_a_full_disk_drops_the_oldest_telemetry_and_the_commit_goes_through(
    tmp_path: Path,
) -> None:
    box = await opened(tmp_path / "outbox.db", rows=1_000_000)  # the disk fills first
    try:
        n = 0
        await box.put(entries(*(item(k, device=f"d{k % 7}") for k in range(2000))))
        await cap_pages(box)
        for n in range(2000, 6000, 200):  # the disk is full from here on
            added = await box.put(
                entries(*(item(k, device=f"d{k % 7}") for k in range(n, n + 200)))
            )
            assert added == 200
        backlog = box.backlog
        assert backlog.dropped_disk_full > 0 and backlog.dropped_disk_budget == 0
        assert backlog.bulk + backlog.dropped == 6000
        kept: list[str] = []
        gaps: list[DataGap] = []
        while (batch := await box.next_batch(1000)) is not None:
            kept += ids(batch.items)
            gaps += gaps_of(batch.gaps)
        assert {g.reason for g in gaps} == {"disk_full"}
        assert sum(g.items for g in gaps) == backlog.dropped
        assert kept == [f"item-{k:06d}" for k in range(backlog.dropped, 6000)]  # oldest went
    finally:
        await box.close()
    assert integrity(tmp_path / "outbox.db") == "ok"


async def test_a_full_disk_with_nothing_to_drop_refuses_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = await opened(path, rows=1_000_000)
    try:
        await box.put(entries(*(item(k, alarm=True, device=f"d{k}") for k in range(500))))
        before = box.backlog
        await cap_pages(box)
        with pytest.raises(OutboxFull):
            for start in range(500, 5000, 100):
                await box.put(
                    entries(
                        *(item(k, alarm=True, device=f"d{k}") for k in range(start, start + 100))
                    )
                )
        assert box.backlog.dropped == 0
        committed = box.backlog.alarms
        assert committed >= before.alarms
        await cap_pages(box, 1_000_000)  # room again
        assert await box.put(entries(item(9999, alarm=True, device="late"))) == 1
        assert box.backlog.alarms == committed + 1
    finally:
        await box.close()
    assert integrity(path) == "ok"
    again = Outbox(path)
    await again.open()
    try:
        assert again.backlog.alarms == committed + 1  # what memory said is what disk holds
    finally:
        await again.close()


# --- an outbox of the first layout --------------------------------------------------------------

FIRST_LAYOUT = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    pos INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, device TEXT NOT NULL,
    alarm INTEGER NOT NULL, queued_at REAL NOT NULL, batch INTEGER, body TEXT NOT NULL
);
CREATE TABLE recent (slot INTEGER PRIMARY KEY, fingerprint BLOB NOT NULL);
INSERT INTO meta VALUES ('epoch', '00112233aabbccdd'), ('next_seq', '7');
"""


async def test_an_outbox_of_the_first_layout_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_LAYOUT)
        body = item(5).model_dump_json(exclude={"ts_suspect"})
        db.execute(
            "INSERT INTO items (id, device, alarm, queued_at, body) VALUES (?, ?, 0, 1.0, ?)",
            ("item-000005", "dev", body),
        )
    box = Outbox(path)
    await box.open()
    try:
        assert box.epoch == "00112233aabbccdd"
        assert (box.backlog.bulk, box.backlog.bulk_bytes) == (1, len(body) + ROW_OVERHEAD)
        batch = await box.next_batch(10)
        assert batch is not None and batch.seq == 7
        assert Item.model_validate_json(batch.items[0]) == item(5)
    finally:
        await box.close()
    with sqlite3.connect(path) as db:
        (at,) = db.execute("SELECT at FROM items").fetchone()
    assert at == pytest.approx((T0 + timedelta(seconds=5)).timestamp())
