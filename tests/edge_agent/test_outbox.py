"""MemoryOutbox: alarms first, bounded with oldest bulk dropped first, take/confirm/release."""

from __future__ import annotations

from datetime import UTC, datetime

from device_profiles.protocol import Item
from edge_agent.outbox import MemoryOutbox, Outbox

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


def ids(items: list[Item]) -> list[str]:
    return [i.id for i in items]


def test_memory_outbox_satisfies_the_protocol() -> None:
    outbox: Outbox = MemoryOutbox(10)
    assert len(outbox) == 0


def test_alarms_are_taken_before_older_bulk_and_in_a_batch_of_their_own() -> None:
    outbox = MemoryOutbox(100)
    for n in range(3):
        outbox.put(item(n))
    outbox.put(item(10, alarm=True))
    outbox.put(item(11, alarm=True))
    assert ids(outbox.take(50)) == ["item-0010", "item-0011"]
    assert ids(outbox.take(50)) == ["item-0000", "item-0001", "item-0002"]
    assert outbox.take(50) == []


def test_an_alarm_takes_its_own_devices_earlier_telemetry_along_in_order() -> None:
    # a normal reading made just before the fault must not reach the cloud after it (with
    # one-second timestamps it would look newer and clear the fault)
    outbox = MemoryOutbox(100)
    outbox.put(item(1, device="gate-01"))
    outbox.put(item(2, device="gate-02"))
    outbox.put(item(3, device="gate-01"))
    outbox.put(item(4, alarm=True, device="gate-01"))
    outbox.put(item(5, device="gate-01"))  # after the alarm: may wait for its batch
    assert ids(outbox.take(50)) == ["item-0001", "item-0003", "item-0004"]
    assert ids(outbox.take(50)) == ["item-0002", "item-0005"]


def test_an_alarm_batch_stays_within_the_limit() -> None:
    outbox = MemoryOutbox(100)
    for n in range(5):
        outbox.put(item(n, device="gate-01"))
    outbox.put(item(9, alarm=True, device="gate-01"))
    assert ids(outbox.take(3)) == ["item-0000", "item-0001", "item-0009"]
    assert ids(outbox.take(3)) == ["item-0002", "item-0003", "item-0004"]


def test_take_respects_the_limit_and_keeps_order() -> None:
    outbox = MemoryOutbox(100)
    for n in range(5):
        outbox.put(item(n))
    assert ids(outbox.take(2)) == ["item-0000", "item-0001"]
    assert ids(outbox.take(2)) == ["item-0002", "item-0003"]
    assert outbox.pending_bulk == 1
    assert len(outbox) == 5  # taken items are held until confirmed


def test_confirm_forgets_and_release_puts_back_in_front() -> None:
    outbox = MemoryOutbox(100)
    for n in range(4):
        outbox.put(item(n))
    first = outbox.take(2)
    outbox.put(item(9))
    outbox.release(first)
    assert ids(outbox.take(10)) == ["item-0000", "item-0001", "item-0002", "item-0003", "item-0009"]
    outbox.confirm(outbox.take(10))
    assert len(outbox) == 5
    everything = [item(n) for n in (0, 1, 2, 3, 9)]
    outbox.confirm(everything)
    assert len(outbox) == 0


def test_full_outbox_drops_the_oldest_bulk_item_first() -> None:
    outbox = MemoryOutbox(3)
    outbox.put(item(0))
    outbox.put(item(1, alarm=True))
    outbox.put(item(2))
    outbox.put(item(3))
    outbox.put(item(4, alarm=True))
    assert outbox.dropped == 2
    assert len(outbox) == 3
    assert ids(outbox.take(10)) == ["item-0001", "item-0004"]
    assert ids(outbox.take(10)) == ["item-0003"]


def test_full_of_alarms_keeps_alarms_over_bulk_and_drops_the_oldest_alarm() -> None:
    outbox = MemoryOutbox(2)
    outbox.put(item(0, alarm=True))
    outbox.put(item(1, alarm=True))
    outbox.put(item(2))  # no room, and only alarms to drop: the bulk item goes
    outbox.put(item(3, alarm=True))  # the oldest alarm makes room for the newest
    assert outbox.dropped == 2
    assert ids(outbox.take(10)) == ["item-0001", "item-0003"]


def test_oldest_bulk_age_follows_the_clock() -> None:
    now = [100.0]
    outbox = MemoryOutbox(10, clock=lambda: now[0])
    assert outbox.oldest_bulk_age() is None
    outbox.put(item(0))
    now[0] = 101.5
    outbox.put(item(1))
    now[0] = 102.0
    assert outbox.oldest_bulk_age() == 2.0
    taken = outbox.take(1)
    assert outbox.oldest_bulk_age() == 0.5
    outbox.release(taken)
    assert outbox.oldest_bulk_age() == 2.0  # a released item keeps its age
