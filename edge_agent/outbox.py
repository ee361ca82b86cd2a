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


class MemoryOutbox:
    """An :class:`Outbox` in memory, bounded to ``max_items``.

    It does NOT survive a restart: whatever is queued when the process ends is lost.
    When full, the oldest waiting non-alarm item is dropped to make room (counted in
    ``dropped``); only when no non-alarm item waits does an alarm go, the incoming
    item if it is not an alarm, else the oldest waiting alarm.
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
        (self._alarms if item.alarm else self._bulk).append(_Entry(item, self._clock()))

    def _count_drop(self) -> None:
        self._dropped += 1
        if self._dropped <= _LOUD_FIRST or self._dropped % _LOUD_EVERY == 0:
            log.warning(
                "outbox full (%d items): dropped an item, %d so far", self.max_items, self._dropped
            )

    def take(self, limit: int) -> list[Item]:
        queue = self._alarms if self._alarms else self._bulk
        taken: list[Item] = []
        while queue and len(taken) < limit:
            entry = queue.popleft()
            self._taken[entry.item.id] = entry
            taken.append(entry.item)
        return taken

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
