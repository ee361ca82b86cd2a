"""Waste bins: filling through the day, emptied by the morning collection round."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from simulators.behaviour.base import Behaviour
from simulators.behaviour.rhythms import _TRAFFIC_DAILY, DAY, HOUR, expected_passages


class WasteBin(Behaviour):
    """Fills through the day with the residents' comings and goings (35-65 % a day per bin,
    slowing as it nears full, never reaching the "full" threshold) and is emptied by the
    collection round each morning (06:00-09:00, each bin at its own time)."""

    requires: ClassVar[Mapping[str, str]] = {"fill_level": "number"}
    owns: ClassVar[tuple[str, ...]] = ("fill_level",)

    def _setup(self) -> None:
        rng = self.rng
        self._per_day = rng.uniform(35.0, 65.0)
        self._collect_at = rng.uniform(6.0, 9.0)
        self._cap = min(self._ceiling("fill_level", 5.0), 95.0)
        self._fill = min(self._number("fill_level", 10.0), self._cap)
        self._next_collection: float | None = None

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        if self._next_collection is None:
            self._next_collection = now + ((self._collect_at - hour) % 24.0) * HOUR
        if now >= self._next_collection:
            self._fill = rng.uniform(0.0, 3.0)
            missed = math.floor((now - self._next_collection) / DAY) + 1
            self._next_collection += missed * DAY
        added = self._per_day * expected_passages(hour, dt, 1.0) / _TRAFFIC_DAILY
        room = self._cap - self._fill
        self._fill = min(self._cap, self._fill + added * min(1.0, max(0.0, room) / 15.0))
        reading = self._fill + rng.gauss(0.0, 0.7)
        self._set("fill_level", min(max(reading, 0.0), self._cap + 1.0))
