"""How a device's numbers wander around their healthy values: noise, a slow bounded
:class:`Drift`, a daily rhythm and a drain (:class:`Signal`), per device type
(:data:`SIGNALS`)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from device_profiles.schema import Profile, Scalar
from simulators.behaviour.plans import _Plan
from simulators.behaviour.rhythms import DAY, HOUR, _busy, _demand_dip, diurnal


class Drift:
    """A slow, bounded random walk: an offset that moves by ``sd`` per √hour and is
    reflected at ±``bound`` (sensor drift, weather)."""

    __slots__ = ("bound", "sd", "value")

    def __init__(self, sd: float, bound: float) -> None:
        self.sd = sd
        self.bound = bound
        self.value = 0.0

    def advance(self, rng: random.Random, dt: float) -> float:
        if dt > 0.0 and self.sd > 0.0:
            value = self.value + rng.gauss(0.0, self.sd * math.sqrt(dt / HOUR))
            bound = self.bound
            if value > bound or value < -bound:
                value = max(-bound, min(bound, 2.0 * math.copysign(bound, value) - value))
            self.value = value
        return self.value


@dataclass(frozen=True)
class Signal:
    """How a number wanders around its healthy value.

    ``noise`` is the sd of each reading's noise; ``drift`` the sd per √hour of a slow walk
    bounded by ±``bound``; ``swing`` times ``daily(hour)`` (in [-1, 1]) a daily rhythm;
    ``follows`` = (metric, gain) adds gain times that metric's departure from its own healthy
    value (humidity falls as the temperature rises); ``drain_per_day`` is lost each day and
    never comes back (a battery). Sizes are fractions of the healthy value when ``relative``,
    else in the metric's unit. Readings are clipped to the metric's :func:`safe_band`.
    """

    noise: float = 0.01
    drift: float = 0.01
    bound: float = 0.05
    swing: float = 0.0
    daily: Callable[[float], float] | None = None
    follows: tuple[str, float] | None = None
    drain_per_day: float = 0.0
    relative: bool = True


DEFAULT_SIGNAL: Final = Signal()
BATTERY_SIGNAL: Final = Signal(noise=0.001, drift=0.0, bound=0.0, drain_per_day=0.0004)
"""Any metric named ``battery...``: steady, slowly draining (about 13 % of its value a year,
never below its safe band)."""

SIGNALS: dict[str, dict[str, Signal]] = {
    "environment_sensor": {
        "temperature": Signal(
            noise=0.08, drift=0.5, bound=2.5, swing=4.0, daily=diurnal, relative=False
        ),
        "humidity": Signal(
            noise=0.8, drift=1.5, bound=6.0, follows=("temperature", -2.5), relative=False
        ),
        "pm25": Signal(noise=0.05, drift=0.08, bound=0.3, swing=0.35, daily=_busy),
        "noise": Signal(noise=1.2, drift=0.5, bound=2.0, swing=6.0, daily=_busy, relative=False),
    },
    "street_light": {
        "voltage": Signal(noise=0.7, drift=1.0, bound=3.0, relative=False),
    },
    "waste_bin": {
        "temperature": Signal(
            noise=0.15, drift=0.5, bound=2.0, swing=3.0, daily=diurnal, relative=False
        ),
    },
    "hydrant_pressure_sensor": {
        "pressure": Signal(
            noise=0.01, drift=0.03, bound=0.1, swing=0.25, daily=_demand_dip, relative=False
        ),
    },
    "smoke_detector": {
        "smoke_density": Signal(noise=0.04, drift=0.02, bound=0.15, relative=False),
    },
    "manhole_cover": {
        "tilt": Signal(noise=0.05, drift=0.05, bound=0.4, relative=False),
    },
    "camera": {
        "bitrate": Signal(noise=0.04, drift=0.02, bound=0.08, swing=0.1, daily=_busy),
    },
}
"""Per device type, how its numbers wander (metrics not listed: :data:`DEFAULT_SIGNAL`, or
:data:`BATTERY_SIGNAL` for a battery)."""


class _Wander:
    """A number's :class:`Signal` applied: its drift, drain and the last value."""

    __slots__ = ("base", "drained", "drift", "follows", "name", "plan", "scale", "signal")

    def __init__(self, plan: _Plan, signal: Signal) -> None:
        self.plan = plan
        self.name = plan.name
        self.base = float(plan.base)
        self.signal = signal
        self.scale = abs(self.base) if signal.relative else 1.0
        self.drift = Drift(signal.drift * self.scale, signal.bound * self.scale)
        self.drained = 0.0
        self.follows = signal.follows

    def value(
        self,
        rng: random.Random,
        dt: float,
        hour: float,
        values: Mapping[str, Scalar],
        bases: Mapping[str, Scalar],
    ) -> float:
        signal = self.signal
        scale = self.scale
        value = self.base + self.drift.advance(rng, dt)
        if signal.daily is not None:
            value += signal.swing * scale * signal.daily(hour)
        if self.follows is not None:
            other, gain = self.follows
            now, base = values.get(other), bases.get(other)
            if isinstance(now, (int, float)) and isinstance(base, (int, float)):
                value += gain * (float(now) - float(base))
        if signal.drain_per_day and dt > 0.0:
            room = max(0.0, self.base - self.plan.safe_low)
            self.drained = min(room, self.drained + signal.drain_per_day * scale * dt / DAY)
            value -= self.drained
        if signal.noise:
            value += rng.gauss(0.0, signal.noise * scale)
        return min(max(value, self.plan.safe_low), self.plan.safe_high)


def _signal_for(profile: Profile, name: str) -> Signal:
    tuned = SIGNALS.get(profile.type, {}).get(name)
    if tuned is not None:
        return tuned
    return BATTERY_SIGNAL if name.startswith("battery") else DEFAULT_SIGNAL
