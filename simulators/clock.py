"""Simulated time: one clock for the devices, the fault scripts and random faults.

A :class:`SimClock` starts at a simulated unix time (default: now) and runs ``speed`` times
as fast as the monotonic clock. Everything the simulation decides by time reads it: when
it is dark, how busy the gates are, how long a fault lasts, when a scripted event is due,
how often random faults strike. So ``--speed 60`` turns an hour of the community's life
into a minute, and a scenario's ``at: 2h`` happens two simulated hours in.

Event timestamps in the payloads are *not* simulated time: they are the wall clock
(:meth:`SimClock.wall`), because the edge agent and the cloud judge silence and durations
against their own clocks. At speed 1 the two agree.

What waits in real time (the next due event, a replayed message, a reconnect) waits with
:func:`plumbing.tasks.wait_event`, which a stop or a change cuts short.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class SimClock:
    """Simulated time running ``speed`` times as fast as ``monotonic``."""

    def __init__(
        self,
        speed: float = 1.0,
        start: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._wall = wall
        self._origin = monotonic()
        self.start = wall() if start is None else start
        """Simulated unix time when the clock was made."""

    def elapsed(self) -> float:
        """Simulated seconds since the clock was made."""
        return (self._monotonic() - self._origin) * self.speed

    def now(self) -> float:
        """Simulated unix time."""
        return self.start + self.elapsed()

    def wall(self) -> float:
        """Real unix time: what the payloads' event timestamps say."""
        return self._wall()

    def real(self, sim_seconds: float) -> float:
        """How many real seconds ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed

    def deadline(self, sim_seconds: float) -> float:
        """The monotonic time ``sim_seconds`` of simulated time from now."""
        return self._monotonic() + sim_seconds / self.speed

    def deadline_at(self, elapsed_s: float) -> float:
        """The monotonic time at which :meth:`elapsed` reaches ``elapsed_s``."""
        return self._origin + elapsed_s / self.speed
