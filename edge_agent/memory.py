"""What the agent remembers per device, bounded: the least recently heard go first.

A gateway may hear from any number of device ids — a building's worth after a power cut,
or a misconfigured device making up a new id for every message. What the agent keeps per
device in memory (what its rules remember, its last faults and reading, how to reach it
with a command) therefore lives in a :class:`Recency` map: at most ``max_entries``
entries, and none idle for longer than ``idle_s``. A device forgotten is only forgotten from
memory: its readings stay in the outbox, and the next one it sends starts afresh (its
rules with no history, its next reading forwarded whatever its deadbands say).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

Clock = Callable[[], float]
"""Seconds on a monotonic clock."""


class Recency(Generic[K, V]):
    """A map of at most ``max_entries``, least recently set first; an entry not set for
    ``idle_s`` seconds is forgotten (when the next one is set)."""

    def __init__(self, max_entries: int, idle_s: float, *, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self.idle_s = idle_s
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.forgotten = 0
        """Entries forgotten so far, for their idleness or to stay within max_entries."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def get(self, key: K) -> V | None:
        """The value of ``key`` (without making it more recent); None if not held."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def set(self, key: K, value: V) -> None:
        """Hold ``value`` for ``key`` as the most recent entry; forget what is too old or
        too many."""
        now = self._clock()
        entries = self._entries
        entries[key] = (now, value)
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)
            self.forgotten += 1
        horizon = now - self.idle_s
        while entries:
            oldest = next(iter(entries.values()))
            if oldest[0] >= horizon:
                break
            entries.popitem(last=False)
            self.forgotten += 1

    def clear(self) -> None:
        """Forget everything (it counts as forgotten)."""
        self.forgotten += len(self._entries)
        self._entries.clear()

    def set_within(self, seconds: float) -> int:
        """How many entries were set within the last ``seconds``."""
        horizon = self._clock() - seconds
        found = 0
        for stamp, _ in reversed(self._entries.values()):
            if stamp < horizon:
                break
            found += 1
        return found
