"""The simulator's timetable: what is due when, in real (monotonic) time.

One heap of :class:`Due` entries serves every device and every fault, so twenty thousand
devices cost no more tasks than ten. An entry carries a token: a newer request for the same
thing (a device's next look, its fault's end) makes an older entry stale (the token no
longer matches) instead of taking it out of the heap.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from enum import Enum
from typing import NamedTuple

from simulators.live import LiveDevice


class Event(Enum):
    """What is due."""

    TICK = "tick"
    """A look at a device's state: it reports if due (or if ``force`` is set)."""
    FAULT_END = "fault_end"
    FLAP = "flap"
    SILENCE_END = "silence_end"
    GARBAGE = "garbage"
    RANDOM_FAULT = "random_fault"
    """The next random fault of ``--fault-every``."""
    MTBF_FAULT = "mtbf_fault"
    """The next random fault by mean time between failures (``detail`` "s": the scenario's)."""
    SCRIPT = "script"
    """A scenario event (``token``: its index)."""
    UPLINK_RESTORE = "uplink_restore"


class Due(NamedTuple):
    """A heap entry; ordered by (when, seq) — seq is unique, so the rest is never compared.
    A tuple, so that the heap compares in C (tens of thousands of entries)."""

    when: float
    seq: int
    kind: Event
    device_id: str = ""
    token: int = 0
    detail: str = ""


class Schedule:
    """Due events in order of their (monotonic) time; ``wakeup`` is set by every push."""

    def __init__(self) -> None:
        self._heap: list[Due] = []
        self._seq = 0
        self.wakeup = asyncio.Event()
        """Set when something was added: the next due time may be sooner."""

    def push(
        self, when: float, kind: Event, device_id: str = "", token: int = 0, detail: str = ""
    ) -> None:
        """``kind`` is due at the monotonic time ``when``."""
        self._seq += 1
        heapq.heappush(self._heap, Due(when, self._seq, kind, device_id, token, detail))
        self.wakeup.set()

    def pop_due(self, now: float) -> Due | None:
        """The earliest entry if it is due at ``now``, taken out; else None."""
        if self._heap and self._heap[0].when <= now:
            return heapq.heappop(self._heap)
        return None

    def next_when(self) -> float | None:
        """When the earliest entry is due (None: nothing scheduled)."""
        return self._heap[0].when if self._heap else None

    def tick_now(self, live: LiveDevice) -> None:
        """Look at the device at once and report whatever its state (earlier looks go stale)."""
        live.force = True
        live.tick_token += 1
        self.push(time.monotonic(), Event.TICK, live.device_id, live.tick_token)
