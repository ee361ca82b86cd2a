"""Street lights: on from dusk to dawn, drawing current only when on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from device_profiles.schema import Scalar
from simulators.behaviour.base import Behaviour
from simulators.daylight import LIGHTS_ON_ALTITUDE, dark_at, half_day


class StreetLight(Behaviour):
    """On from dusk to dawn (each photocell a little different); a ``switch`` command
    overrides the schedule until the next dusk or dawn. Draws its rated current (with
    noise) when on, after a warm-up of a few seconds; exactly nothing when off."""

    requires: ClassVar[Mapping[str, str]] = {"on": "bool"}
    owns: ClassVar[tuple[str, ...]] = ("on", "current")

    def _setup(self) -> None:
        rng = self.rng
        self._altitude = LIGHTS_ON_ALTITUDE + rng.uniform(-1.0, 1.0)
        rated = [value for value in self._healthy_values("current") if value >= 0.1]
        self._rated = (rated[0] if rated else 0.42) * rng.uniform(0.97, 1.03)
        self._warm_up_s = rng.uniform(5.0, 25.0)
        self._override: tuple[bool, bool] | None = None  # (on, dark when it was given)
        self._on: bool | None = None
        self._on_since = -math.inf
        self._half_day: tuple[int, float] = (-1, 0.0)

    def _dark(self, hour: float, day: int) -> bool:
        if self._half_day[0] != day:
            self._half_day = (day, half_day(day, self.latitude, self._altitude))
        return dark_at(hour, self._half_day[1])

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        dark = self._dark(hour, day)
        if self._override is not None and self._override[1] != dark:
            self._override = None
        on = self._override[0] if self._override is not None else dark
        self._switch(on, now)
        self._set("on", on)
        if not on:
            current = 0.0
        elif now - self._on_since < self._warm_up_s:
            current = self.rng.uniform(0.008, 0.03)
        else:
            rated = self._rated
            current = min(max(self.rng.gauss(rated, 0.01 * rated), 0.9 * rated), 1.1 * rated)
        self._set("current", current)

    def _switch(self, on: bool, now: float) -> None:
        if on and self._on is False:
            self._on_since = now
        self._on = on

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        if name != "switch":
            return super()._command(name, args, now)
        on = args.get("on")
        if not isinstance(on, bool):
            return False
        hour, day = self._local(now, self._tz)
        self._override = (on, self._dark(hour, day))
        if self._on is None:
            self._on = not on  # before the first step: the lamp was the other way
        self._switch(on, now)
        return True
