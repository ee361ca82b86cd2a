"""Where items wait between decoding and the cloud's acknowledgement.

The forwarder uses only the :class:`Outbox` protocol: ``put`` an item, ``take`` the next
batch (alarms before bulk telemetry), then ``confirm`` it once the cloud acknowledged it or
``release`` it to be taken again. :class:`MemoryOutbox` is the in-memory implementation; a
durable (SQLite) outbox can replace it behind the same protocol.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from device_profiles.protocol import Item

log = logging.getLogger(__name__)

_LOUD_FIRST = 10
_LOUD_EVERY = 1000


class Outbox(Protocol):
    """A store of items waiting to be forwarded."""

    @property
    def pending_alarms(self) -> int:
        """Alarm items waiting (not taken)."""
        ...

    @property
    def pending_bulk(self) -> int:
        """Non-alarm items waiting (not taken)."""
        ...

    @property
    def dropped(self) -> int:
        """Items discarded because the outbox was full."""
        ...

    def __len__(self) -> int:
        """Items held, waiting or taken."""
        ...

    def put(self, item: Item) -> None:
        """Hold ``item`` until it is confirmed."""
        ...

    def take(self, limit: int) -> list[Item]:
        """Up to ``limit`` waiting items, oldest first: only alarms while any wait."""
        ...

    def oldest_bulk_age(self) -> float | None:
        """Seconds the oldest waiting non-alarm item has waited; None if there is none."""
        ...

    def confirm(self, items: Sequence[Item]) -> None:
        """Forget taken ``items``: the cloud has them."""
        ...

    def release(self, items: Sequence[Item]) -> None:
        """Return taken ``items`` to the front of the queue, to be taken again."""
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    item: Item
    since: float
    order: int
    """Arrival order: a device's items leave in it."""


class MemoryOutbox:
    """An :class:`Outbox` in memory, bounded to ``max_items``.

    It does NOT survive a restart: whatever is queued when the process ends is lost.
    When full, the oldest waiting non-alarm item is dropped to make room (counted in
    ``dropped``); only when no non-alarm item waits does an alarm go, the incoming
    item if it is not an alarm, else the oldest waiting alarm.

    Alarms are taken ahead of waiting telemetry, but never ahead of their own device's:
    an alarm's batch also carries the telemetry its device sent before it, so that the cloud
    sees every device's readings in the order they were made (two readings of one second
    must not swap places).
    """

    def __init__(self, max_items: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._clock = clock
        self._alarms: deque[_Entry] = deque()
        self._bulk: deque[_Entry] = deque()
        self._taken: dict[str, _Entry] = {}
        self._dropped = 0
        self._arrivals = 0

    @property
    def pending_alarms(self) -> int:
        return len(self._alarms)

    @property
    def pending_bulk(self) -> int:
        return len(self._bulk)

    @property
    def dropped(self) -> int:
        return self._dropped

    def __len__(self) -> int:
        return len(self._alarms) + len(self._bulk) + len(self._taken)

    def put(self, item: Item) -> None:
        if len(self) >= self.max_items:
            self._count_drop()
            if self._bulk:
                self._bulk.popleft()
            elif item.alarm and self._alarms:
                self._alarms.popleft()
            else:  # the incoming item is the one to go
                return
        self._arrivals += 1
        entry = _Entry(item, self._clock(), self._arrivals)
        (self._alarms if item.alarm else self._bulk).append(entry)

    def _count_drop(self) -> None:
        self._dropped += 1
        if self._dropped <= _LOUD_FIRST or self._dropped % _LOUD_EVERY == 0:
            log.warning(
                "outbox full (%d items): dropped an item, %d so far", self.max_items, self._dropped
            )

    def take(self, limit: int) -> list[Item]:
        entries: list[_Entry] = []
        if self._alarms:
            while self._alarms and len(entries) < limit:
                entries.append(self._alarms.popleft())
            entries.extend(self._take_earlier_bulk(entries, limit - len(entries)))
            entries.sort(key=lambda entry: entry.order)
        else:
            while self._bulk and len(entries) < limit:
                entries.append(self._bulk.popleft())
        for entry in entries:
            self._taken[entry.item.id] = entry
        return [entry.item for entry in entries]

    def _take_earlier_bulk(self, alarms: list[_Entry], room: int) -> list[_Entry]:
        """Up to ``room`` waiting telemetry items of the alarms' devices that arrived
        before their alarm, oldest first, taken out of the bulk queue."""
        if room <= 0 or not self._bulk:
            return []
        last_alarm: dict[str, int] = {}
        for alarm in alarms:
            last_alarm[alarm.item.device_id] = alarm.order
        earlier: list[_Entry] = []
        rest: deque[_Entry] = deque()
        for entry in self._bulk:
            before = last_alarm.get(entry.item.device_id)
            if before is not None and entry.order < before and len(earlier) < room:
                earlier.append(entry)
            else:
                rest.append(entry)
        if earlier:
            self._bulk = rest
        return earlier

    def oldest_bulk_age(self) -> float | None:
        if not self._bulk:
            return None
        return max(0.0, self._clock() - self._bulk[0].since)

    def confirm(self, items: Sequence[Item]) -> None:
        for item in items:
            self._taken.pop(item.id, None)

    def release(self, items: Sequence[Item]) -> None:
        for item in reversed(items):
            entry = self._taken.pop(item.id, None)
            if entry is not None:
                (self._alarms if item.alarm else self._bulk).appendleft(entry)
