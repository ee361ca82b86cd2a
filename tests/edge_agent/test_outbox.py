"""The durable outbox: on disk across restarts, alarms first with their device's earlier
readings, batch identity fixed at taking, items gone only when confirmed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles.protocol import Batch, Item
from edge_agent.outbox import RECENT_MESSAGES, Entry, Outbox, OutboxError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def item(n: int, *, alarm: bool = False, device: str | None = None) -> Item:
    return Item(
        id=f"item-{n:04d}",
        device_id=device or f"dev-{n}",
        device_type="access_gate",
        profile="acme_access_gate",
        profile_version="1.0.0",
        ts=NOW,
        received_at=NOW,
        metrics={"cycles": n},
        alarm=alarm,
    )


def entries(*items: Item) -> list[Entry]:
    return [Entry(i, None) for i in items]


def ids(bodies: tuple[str, ...]) -> list[str]:
    return [json.loads(body)["id"] for body in bodies]


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db", sync="normal")
    await box.open()
    yield box
    await box.close()


async def reopened(box: Outbox) -> Outbox:
    await box.close()
    again = Outbox(box.path)
    await again.open()
    return again


async def test_items_survive_a_restart_in_their_order(outbox: Outbox) -> None:
    await outbox.put(entries(item(1), item(2), item(3, alarm=True)))
    again = await reopened(outbox)
    try:
        assert (again.pending_alarms, again.pending_bulk, len(again)) == (1, 2, 3)
        assert again.epoch == outbox.epoch
        batch = await again.next_batch(10)
        assert batch is not None
        assert ids(batch.items) == ["item-0003"]
        batch = await again.next_batch(10)
        assert batch is not None
        assert ids(batch.items) == ["item-0001", "item-0002"]
    finally:
        await again.close()


async def test_alarms_go_first_with_their_own_devices_earlier_readings(outbox: Outbox) -> None:
    await outbox.put(
        entries(
            item(1, device="a"),
            item(2, device="b"),
            item(3, device="a"),
            item(4, alarm=True, device="a"),
            item(5, device="a"),  # after the alarm: waits with the bulk
        )
    )
    first = await outbox.next_batch(10)
    assert first is not None
    assert ids(first.items) == ["item-0001", "item-0003", "item-0004"]
    assert first.alarms == 1
    second = await outbox.next_batch(10)
    assert second is not None
    assert ids(second.items) == ["item-0002", "item-0005"]
    assert second.seq == first.seq + 1
    assert await outbox.next_batch(10) is None


async def test_a_batch_stays_within_its_limit(outbox: Outbox) -> None:
    await outbox.put(entries(*(item(n) for n in range(5)), item(9, alarm=True, device="dev-0")))
    alarm_batch = await outbox.next_batch(2)
    assert alarm_batch is not None
    assert ids(alarm_batch.items) == ["item-0000", "item-0009"]
    bulk = await outbox.next_batch(2)
    assert bulk is not None
    assert ids(bulk.items) == ["item-0001", "item-0002"]


async def test_items_leave_only_when_their_batch_is_confirmed(outbox: Outbox) -> None:
    await outbox.put(entries(item(1), item(2)))
    batch = await outbox.next_batch(10)
    assert batch is not None
    assert (len(outbox), outbox.in_flight, outbox.pending_bulk) == (2, 2, 0)
    assert await outbox.confirm(batch.seq + 1) == 0
    assert await outbox.confirm(batch.seq) == 2
    assert len(outbox) == 0
    assert await outbox.confirm(batch.seq) == 0  # a repeated acknowledgement


async def test_an_unconfirmed_batch_is_the_very_same_batch_after_a_restart(
    outbox: Outbox,
) -> None:
    await outbox.put(entries(item(1, device="a"), item(2, alarm=True, device="a")))
    sent = await outbox.next_batch(10)
    assert sent is not None
    again = await reopened(outbox)
    try:
        (unconfirmed,) = await again.unconfirmed()
        assert unconfirmed == sent
        assert again.in_flight == 2
        assert await again.next_batch(10) is None  # nothing waits: it is all in flight
        payload = unconfirmed.payload("gw-1", again.epoch, NOW)
        batch = Batch.model_validate_json(payload)
        assert (batch.epoch, batch.seq) == (outbox.epoch, sent.seq)
        assert [i.id for i in batch.items] == ["item-0001", "item-0002"]
    finally:
        await again.close()


async def test_the_same_item_is_kept_once(outbox: Outbox) -> None:
    assert await outbox.put(entries(item(1))) == 1
    assert await outbox.put(entries(item(1), item(2), item(2))) == 1
    assert len(outbox) == 2


async def test_recently_committed_messages_are_recognised_across_a_restart(
    outbox: Outbox,
) -> None:
    await outbox.put([Entry(item(1), b"first"), Entry(None, b"second")])
    assert outbox.recently_committed(b"first")
    assert outbox.recently_committed(b"second")
    assert not outbox.recently_committed(b"third")
    again = await reopened(outbox)
    try:
        assert again.recently_committed(b"second")
        await again.put([Entry(None, f"later-{n}".encode()) for n in range(RECENT_MESSAGES)])
        assert not again.recently_committed(b"first")  # the ring has moved on
        assert again.recently_committed(f"later-{RECENT_MESSAGES - 1}".encode())
    finally:
        await again.close()


async def test_a_new_database_is_a_new_epoch(tmp_path: Path) -> None:
    epochs = set()
    for name in ("a", "b"):
        box = Outbox(tmp_path / name / "outbox.db")
        await box.open()
        epochs.add(box.epoch)
        await box.close()
    assert len(epochs) == 2


async def test_the_oldest_waiting_telemetry_has_an_age(outbox: Outbox) -> None:
    assert outbox.oldest_bulk_age() is None
    await outbox.put(entries(item(1, alarm=True)))
    assert outbox.oldest_bulk_age() is None
    await outbox.put(entries(item(2)))
    age = outbox.oldest_bulk_age()
    assert age is not None and age >= 0


async def test_a_file_that_is_not_an_outbox_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_text("not a database at all, " * 100)
    with pytest.raises(OutboxError, match=str(path)):
        await Outbox(path).open()
