"""Realistic behaviour of simulated devices: their canonical metrics over simulated time.

A :class:`Behaviour` is one device's model. :meth:`Behaviour.step` returns what the device
measures at a simulated time — every metric its profile declares, typed, in range and on the
vendor's own resolution (whole mA, 0.1 A, 1 kPa...) so that
:func:`device_profiles.encode.encode` can say it — and :meth:`Behaviour.command` applies a
command from the cloud. Pure: no I/O, no asyncio and no clock of its own; time is passed in,
and all randomness comes from the :class:`random.Random` the model was made with, so a seed
replays the same day.

What the models know (the issue's "realism"):

- lights follow dusk and dawn (:mod:`simulators.daylight`) and draw current only when on;
- gate, barrier and elevator traffic peaks at commuting hours (:func:`commuter_traffic`) and
  drives the usage counters that preventive maintenance reads;
- pumps cycle on and off with the water demand of the hour (:func:`water_demand`);
- chargers hold sessions, mostly in the evening and overnight (:func:`ev_arrivals`);
- bins fill through the day and are emptied each morning;
- every other number is the healthy example's value with noise, a slow bounded drift
  (:class:`Drift`) and, where the type's :data:`SIGNALS` say so, a daily rhythm.

Normal behaviour never raises a fault from the profile's rules — numbers are kept well away
from every threshold (:func:`safe_band`) — except usage counters crossing their service
interval, which is exactly what preventive maintenance should see. A device type is data:
:data:`SIGNALS` for the numbers, :class:`Passages` for gates and barriers, and a small model
class where a type has a state of its own (:data:`MODELS`); any other type gets the generic
model, so a profile from a user's own directory works too.

Time of day: ``step(now, tz)`` reads the local clock in ``tz``; ``tz=None`` means UTC.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar, Final, TypeGuard

from device_profiles.encode import default_template
from device_profiles.rules import holds
from device_profiles.schema import Example, Metric, Profile, Scalar
from device_profiles.units import conversion
from simulators.daylight import DEFAULT_LATITUDE, LIGHTS_ON_ALTITUDE, dark_at, half_day
from simulators.device import fault_examples, normal_examples

__all__ = [
    "DEFAULT_LATITUDE",
    "MODELS",
    "SIGNALS",
    "Behaviour",
    "Drift",
    "Passages",
    "Scalar",
    "Signal",
    "behaviour_for",
    "commuter_traffic",
    "discrete_change",
    "diurnal",
    "ev_arrivals",
    "expected_passages",
    "fault_state",
    "poisson",
    "safe_band",
    "water_demand",
]

HOUR: Final = 3600.0
DAY: Final = 86400.0
YEAR: Final = 365.0 * DAY

MARGIN: Final = 0.5
"""How far from a rule's threshold normal values stay: they never go more than this share
of the way from the healthy example's value to the threshold."""

# --- daily rhythms ------------------------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    """A gaussian bump around ``centre`` (hours), wrapping round midnight."""
    distance = (hour - centre + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (distance / width) ** 2)


def _traffic_shape(hour: float) -> float:
    return (
        0.03
        + 1.0 * _bump(hour, 8.25, 0.6)  # morning rush, 07:30-09:00
        + 0.85 * _bump(hour, 18.25, 0.7)  # evening rush, 17:30-19:00
        + 0.3 * _bump(hour, 13.0, 2.6)  # errands, deliveries, school run
        + 0.12 * _bump(hour, 21.0, 1.5)  # evening out and back
    )


def _demand_shape(hour: float) -> float:
    return (
        0.12
        + 0.85 * _bump(hour, 7.25, 1.0)  # morning showers
        + 0.3 * _bump(hour, 12.0, 1.2)  # lunch
        + 0.75 * _bump(hour, 19.75, 1.4)  # cooking, baths, laundry
    )


_GRID = [minute / 60.0 for minute in range(24 * 60)]
_TRAFFIC_PEAK: Final = max(_traffic_shape(h) for h in _GRID)
_TRAFFIC_DAILY: Final = sum(_traffic_shape(h) for h in _GRID) / 60.0 / _TRAFFIC_PEAK
"""Hours at peak rate that one day's traffic adds up to."""
_DEMAND_PEAK: Final = max(_demand_shape(h) for h in _GRID)


def commuter_traffic(hour: float, peak: float = 1.0) -> float:
    """Passages per hour at local ``hour`` for a gate whose morning rush brings ``peak`` an
    hour: a double peak (07:30-09:00 and 17:30-19:00), a moderate midday, a quiet night
    (3 % of the peak). A day adds up to about 5.5 hours at the peak rate."""
    return peak * _traffic_shape(hour) / _TRAFFIC_PEAK


def expected_passages(hour: float, dt: float, peak: float) -> float:
    """How many :func:`commuter_traffic` passages to expect in the ``dt`` seconds that end
    at local ``hour`` (whole days at the daily total, the rest hour by hour)."""
    days, rest = divmod(max(0.0, dt), DAY)
    total = days * peak * _TRAFFIC_DAILY
    while rest > 0.0:
        chunk = min(rest, HOUR)
        total += commuter_traffic(hour - (rest - 0.5 * chunk) / HOUR, peak) * chunk / HOUR
        rest -= chunk
    return total


def water_demand(hour: float) -> float:
    """Relative water demand (0-1) at local ``hour``: morning (~07:15) and evening (~19:45)
    peaks, lunch, and a low night (about an eighth of the peak)."""
    return _demand_shape(hour) / _DEMAND_PEAK


def ev_arrivals(hour: float) -> float:
    """Cars arriving per hour at a free residential charging point at local ``hour``:
    mostly on the way home (17:00-21:00), a few by day, hardly any at night."""
    return 0.01 + 0.4 * _bump(hour, 19.0, 1.6) + 0.03 * _bump(hour, 11.0, 2.5)


def diurnal(hour: float, low: float = 5.0, high: float = 15.0) -> float:
    """The daily temperature swing in [-1, 1]: -1 at ``low`` o'clock (before dawn), 1 at
    ``high`` o'clock (mid afternoon), half-cosines in between."""
    h = hour % 24.0
    rise = (high - low) % 24.0 or 24.0
    since_low = (h - low) % 24.0
    if since_low < rise:
        return -math.cos(math.pi * since_low / rise)
    return math.cos(math.pi * (since_low - rise) / (24.0 - rise))


def _busy(hour: float) -> float:
    """Traffic as a swing in [-1, 1] (-1 at night, 1 at the morning rush)."""
    return 2.0 * commuter_traffic(hour) - 1.0


def _demand_dip(hour: float) -> float:
    """The drop of a mains pressure with demand, in [-1, 0]."""
    return -water_demand(hour)


# --- random pieces ------------------------------------------------------------------------


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: how many events happen in an interval that expects ``mean``."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:
        return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


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


# --- what a profile allows ----------------------------------------------------------------


def healthy_example(profile: Profile) -> Example | None:
    """The example a device starts from: the profile's first that expects no fault — the
    first of those that meets no rule's condition, if any does not (a lamp caught warming
    up is healthy only for a while)."""
    normal = normal_examples(profile)
    thresholds = [rule for rule in profile.rules if rule.when is not None]
    for example in normal:
        metrics = example.expect.metrics
        if not any(all(holds(c, metrics) for c in rule.conditions()) for rule in thresholds):
            return example
    return normal[0] if normal else None


def counter_metrics(profile: Profile) -> dict[str, float]:
    """Usage metrics read by counter rules, with their service interval (``every``)."""
    found: dict[str, float] = {}
    for rule in profile.rules:
        if rule.counter is not None:
            every = found.get(rule.counter.metric)
            found[rule.counter.metric] = min(every or math.inf, rule.counter.every)
    return found


def safe_band(profile: Profile, name: str, base: float) -> tuple[float, float]:
    """Where metric ``name`` may wander without raising a fault: its valid range, narrowed
    away from every threshold that its healthy value ``base`` does not reach, to at most
    :data:`MARGIN` of the way from ``base`` to the threshold. (A condition that ``base``
    already meets, e.g. ``power < 0.1`` for an idle charger, is left to the rule's other
    conditions.)"""
    metric = profile.decode.metrics[name]
    low, high = metric.range if metric.range is not None else (-math.inf, math.inf)
    for rule in profile.rules:
        for condition in rule.conditions():
            value = condition.value
            if condition.metric != name or isinstance(value, (bool, str)):
                continue
            if holds(condition, {name: base}):
                continue
            threshold = float(value)
            if condition.op in ("<", "<="):
                low = max(low, threshold + MARGIN * (base - threshold))
            elif condition.op in (">", ">="):
                high = min(high, threshold - MARGIN * (threshold - base))
    return low, high


def _raw_field(profile: Profile, path: str) -> Any:
    """The vendor's value at ``path`` in the payload encode() starts from."""
    template = default_template(profile)
    if isinstance(template, str):
        columns = profile.topics[0].columns
        cells = [cell.strip() for cell in template.strip().split(",")]
        return dict(zip(columns, cells, strict=False)).get(path)
    node: Any = template
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _raw_step(raw: Any) -> float:
    """The resolution a vendor writes a number with, judged from one value it sent: whole
    numbers stay whole, decimals get one more digit."""
    if raw is None or isinstance(raw, bool):
        return 0.0
    if isinstance(raw, int):
        return 1.0
    text = repr(raw) if isinstance(raw, float) else str(raw).strip()
    try:
        float(text)
    except ValueError:
        return 0.0
    if "e" in text.lower() or "n" in text.lower():
        return 0.0
    if "." not in text:
        return 1.0
    return 10.0 ** -(len(text.split(".", 1)[1]) + 1)


class _Plan:
    """One metric: its kind, healthy value, valid range, safe band and resolution."""

    __slots__ = (
        "a",
        "b",
        "base",
        "high",
        "kind",
        "low",
        "name",
        "safe_high",
        "safe_low",
        "says",
        "step_",
    )

    def __init__(self, profile: Profile, name: str, metric: Metric, base: Scalar | None) -> None:
        field = metric.source
        self.name = name
        self.says: frozenset[Scalar] | None = (
            frozenset(field.map.values()) if field.map is not None else None
        )
        self.low, self.high = metric.range if metric.range is not None else (-math.inf, math.inf)
        self.kind: str = field.type
        if field.type in ("int", "float") and self.says is not None:
            self.kind = "fixed"  # a number only a map's values can say: keep it
        self.base = _typed_base(self, base, name in counter_metrics(profile))
        self.safe_low, self.safe_high = self.low, self.high
        if self.kind in ("int", "float"):
            self.safe_low, self.safe_high = safe_band(profile, name, float(self.base))
            if self.safe_low > self.safe_high:  # thresholds leave no room: stay put
                self.safe_low = self.safe_high = float(self.base)
        scale, offset = 1.0, 0.0
        if field.unit is not None and metric.unit is not None:
            scale, offset = conversion(field.unit, metric.unit)
        self.a = field.scale * scale
        self.b = field.offset * scale + offset
        step = _raw_step(_raw_field(profile, field.path)) if self.kind == "float" else 0.0
        self.step_ = step if self.a != 0.0 else 0.0

    def emit(self, value: Scalar) -> Scalar:
        """``value`` as the metric reports it: typed, on the vendor's resolution, in range."""
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool) or (self.says is not None and value not in self.says):
                return self.base
            return value
        if kind == "str":
            if not isinstance(value, str) or (self.says is not None and value not in self.says):
                return self.base
            return value
        if kind == "fixed" or isinstance(value, (bool, str)):
            return self.base
        number = float(value)
        if not math.isfinite(number):
            return self.base
        step = self.step_
        if step:
            raw = round((number - self.b) / self.a / step) * step
            number = raw * self.a + self.b
        number = min(max(number, self.low), self.high)
        if kind == "int":
            whole = round(number)
            if whole > self.high:
                whole = math.floor(self.high)
            elif whole < self.low:
                whole = math.ceil(self.low)
            return int(whole)
        return round(number, 9)


def _typed_base(plan: _Plan, value: Scalar | None, counter: bool) -> Scalar:
    """The healthy example's value typed as the metric; a default when it has none (the
    middle of its range; the bottom for a usage counter)."""
    kind = plan.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        return False if plan.says is None or False in plan.says else next(iter(plan.says))
    if kind == "str":
        if isinstance(value, str):
            return value
        return "" if not plan.says else sorted(str(v) for v in plan.says)[0]
    if kind == "fixed":
        if value is not None and plan.says is not None and value in plan.says:
            return value
        numbers = sorted(float(v) for v in plan.says or () if not isinstance(v, str))
        return numbers[0] if numbers else 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        number = float(value)
    elif counter and math.isfinite(plan.low):
        number = plan.low
    elif math.isfinite(plan.low) and math.isfinite(plan.high):
        number = (plan.low + plan.high) / 2.0
    else:
        number = 0.0
    number = min(max(number, plan.low), plan.high)
    return round(number) if kind == "int" else number


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


_PLANS: dict[int, tuple[Profile, dict[str, _Plan]]] = {}


def _plans(profile: Profile) -> dict[str, _Plan]:
    """The plans of ``profile``'s metrics (immutable; shared by its devices)."""
    cached = _PLANS.get(id(profile))
    if cached is not None and cached[0] is profile:
        return cached[1]
    example = healthy_example(profile)
    healthy: Mapping[str, Scalar] = example.expect.metrics if example is not None else {}
    plans = {
        name: _Plan(profile, name, metric, healthy.get(name))
        for name, metric in profile.decode.metrics.items()
    }
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[id(profile)] = (profile, plans)
    return plans


def _signal_for(profile: Profile, name: str) -> Signal:
    tuned = SIGNALS.get(profile.type, {}).get(name)
    if tuned is not None:
        return tuned
    return BATTERY_SIGNAL if name.startswith("battery") else DEFAULT_SIGNAL


# --- the generic model --------------------------------------------------------------------


class Behaviour:
    """One simulated device's model; the generic one, and the base of every type's model.

    The generic model starts from the profile's first healthy example: each number wanders
    around its value by its :class:`Signal` (a value of exactly 0 stays 0: it usually means
    "none" or "off"), usage counters (metrics a counter rule reads) grow slowly — one service
    interval a year — and booleans and text keep the example's value.

    A type's model (a subclass) computes the metrics it ``owns`` in :meth:`_advance`; the
    generic parts do the rest.
    """

    requires: ClassVar[Mapping[str, str]] = {}
    """Metrics (name → "bool", "str" or "number") a profile needs for this model to fit."""
    owns: ClassVar[tuple[str, ...]] = ()
    """Metrics this model computes itself (those the profile declares)."""

    def __init__(
        self, profile: Profile, rng: random.Random, *, latitude: float = DEFAULT_LATITUDE
    ) -> None:
        self.profile = profile
        self.rng = rng
        self.latitude = latitude
        self._plans = _plans(profile)
        self._bases: dict[str, Scalar] = {name: plan.base for name, plan in self._plans.items()}
        self._values: dict[str, Scalar] = dict(self._bases)
        """Current canonical values (numbers unrounded; counters as floats)."""
        self.counters = counter_metrics(profile)
        owned = set(self.owns)
        self._slow_counters = [
            (name, every / YEAR)
            for name, every in self.counters.items()
            if name not in owned and self._plans[name].kind in ("int", "float")
        ]
        wanders = [
            _Wander(plan, _signal_for(profile, name))
            for name, plan in self._plans.items()
            if plan.kind in ("int", "float")
            and name not in owned
            and name not in self.counters
            and float(plan.base) != 0.0
        ]
        self._wanders = sorted(wanders, key=lambda w: w.follows is not None)
        self._output = list(self._plans.values())
        self._last: float | None = None
        self._tz: tzinfo | None = None
        self._clock: tuple[tzinfo | None, float, float, int, int] | None = None
        self._setup()

    # --- the public interface --------------------------------------------------------------

    def step(self, now: float, tz: tzinfo | None = None) -> dict[str, Scalar]:
        """Canonical metrics (every metric the profile declares, typed and in range) at
        simulated unix time ``now``, local time of day from ``tz`` (None: UTC).

        Calls come with non-decreasing ``now``; what happened since the previous call (usage,
        on/off cycles, drift) advances the state first. The first call starts from the
        profile's first healthy example. A ``now`` earlier than the previous call's is taken
        as no time passing.
        """
        last = self._last
        dt = 0.0 if last is None or now <= last else now - last
        if last is None or now > last:
            self._last = now
        self._tz = tz
        hour, day = self._local(now, tz)
        self._advance(now, dt, hour, day)
        rng = self.rng
        values = self._values
        for name, per_s in self._slow_counters:
            if dt > 0.0:
                values[name] = float(values[name]) + per_s * dt
        bases = self._bases
        for wander in self._wanders:
            values[wander.name] = wander.value(rng, dt, hour, values, bases)
        return {plan.name: plan.emit(values[plan.name]) for plan in self._output}

    def command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        """Apply the profile's command ``name`` (arguments already typed) at ``now``.

        True if the model acted on it (the device then reports at once), False if the model
        ignores it (or the device refuses it, e.g. lowering a barrier onto a car). Never
        raises; an unknown name is ignored. The state is first brought up to ``now``.
        """
        if name not in self.profile.commands:
            return False
        if self._last is not None and now > self._last:
            self.step(now, self._tz)
        try:
            return self._command(name, args, now)
        except (TypeError, ValueError, ArithmeticError):  # arguments the model cannot use
            return False

    def adopt_counters(self, metrics: Mapping[str, Scalar]) -> None:
        """Continue the usage counters from at least the values in ``metrics`` (a reading
        :func:`fault_state` moved a counter forward in), so they never go backwards."""
        for name in self.counters:
            value = metrics.get(name)
            current = self._values.get(name)
            if _is_number(value) and _is_number(current) and value > current:
                self._values[name] = float(value)

    @classmethod
    def fits(cls, profile: Profile) -> bool:
        """Whether ``profile`` declares the metrics this model needs."""
        for name, kind in cls.requires.items():
            metric = profile.decode.metrics.get(name)
            if metric is None:
                return False
            field = metric.source
            if kind == "number":
                if field.type not in ("int", "float") or field.map is not None:
                    return False
            elif field.type != kind:
                return False
        return True

    # --- for the models -------------------------------------------------------------------

    def _setup(self) -> None:
        """Draw the device's own character (rates, offsets) from the rng."""

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        """Bring the owned metrics to ``now``; ``dt`` seconds passed since the last step."""

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        """Acknowledgements (a reset, an alarm acknowledged) are acted on: the device
        reports at once. Anything else is ignored."""
        return name in _ACKNOWLEDGE

    def _has(self, name: str) -> bool:
        return name in self._plans

    def _set(self, name: str, value: Scalar) -> None:
        if name in self._plans:
            self._values[name] = value

    def _add(self, name: str, amount: float) -> None:
        if name in self._plans and amount:
            self._values[name] = float(self._values[name]) + amount

    def _number(self, name: str, default: float) -> float:
        """The healthy example's value of numeric metric ``name``, else ``default``."""
        value = self._bases.get(name)
        if _is_number(value) and name in self._plans and self._plans[name].kind != "fixed":
            return float(value)
        return default

    def _healthy_values(self, name: str) -> list[float]:
        """The numeric values of ``name`` in all the profile's healthy examples."""
        found = []
        for example in normal_examples(self.profile):
            value = example.expect.metrics.get(name)
            if _is_number(value):
                found.append(float(value))
        return found

    def _ceiling(self, name: str, margin: float) -> float:
        """Just under the lowest upper threshold of any rule on ``name`` (or its range)."""
        plan = self._plans[name]
        top = plan.high
        base = float(plan.base) if plan.kind in ("int", "float") else 0.0
        for rule in self.profile.rules:
            for condition in rule.conditions():
                value = condition.value
                if condition.metric != name or isinstance(value, (bool, str)):
                    continue
                if condition.op in (">", ">=") and not holds(condition, {name: base}):
                    top = min(top, float(value) - margin)
        return top

    def _local(self, now: float, tz: tzinfo | None) -> tuple[float, int]:
        """Local clock hour and day of year, recomputed once per local hour."""
        clock = self._clock
        if clock is not None and clock[0] is tz and clock[1] <= now < clock[2]:
            return clock[3] + (now - clock[1]) / HOUR, clock[4]
        moment = datetime.fromtimestamp(now, tz or UTC)
        start = now - (moment.minute * 60 + moment.second + moment.microsecond / 1e6)
        day = moment.timetuple().tm_yday
        self._clock = (tz, start, start + HOUR, moment.hour, day)
        return moment.hour + (now - start) / HOUR, day


_ACKNOWLEDGE: Final = frozenset({"reset", "reset_alarm", "acknowledge", "ack"})


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _arg(profile: Profile, command: str, args: Mapping[str, Scalar], name: str) -> Scalar | None:
    """Argument ``name`` of ``command`` as given, else its declared default."""
    value = args.get(name)
    if value is None:
        spec = profile.commands[command].args.get(name)
        value = spec.default if spec is not None else None
    return value


def _number_arg(args: Mapping[str, Scalar], name: str) -> float | None:
    value = args.get(name)
    if not _is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --- street lights ------------------------------------------------------------------------


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


# --- gates and barriers -------------------------------------------------------------------


@dataclass(frozen=True)
class Passages:
    """Traffic through a gate or barrier.

    Each passage adds one to ``counter`` and holds ``open_flag`` true for about ``hold_s``;
    ``present_flag`` (someone on the loop) is true in its middle; ``motor`` draws current
    only during the ``move_s`` of opening and of closing. ``peak_per_hour`` passages come in
    the morning rush (:func:`commuter_traffic`), each device 0.6-1.4 times that. An ``open``
    command holds open for its ``hold_s`` argument (else ``hold_s``), at most ``max_hold_s``.
    """

    counter: str
    open_flag: str
    present_flag: str | None = None
    motor: str | None = None
    peak_per_hour: float = 120.0
    hold_s: float = 5.0
    move_s: float = 1.0
    max_hold_s: float = 60.0

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics a passage model computes."""
        named = (self.counter, self.open_flag, self.present_flag, self.motor)
        return tuple(name for name in named if name is not None)


class PassageModel(Behaviour):
    """Gates and barriers: :class:`Passages` by the time of day."""

    spec: ClassVar[Passages]

    @classmethod
    def fits(cls, profile: Profile) -> bool:
        spec = cls.spec
        metrics = profile.decode.metrics
        counter, flag = metrics.get(spec.counter), metrics.get(spec.open_flag)
        return (
            counter is not None
            and counter.source.type in ("int", "float")
            and counter.source.map is None
            and flag is not None
            and flag.source.type == "bool"
        )

    def _setup(self) -> None:
        rng = self.rng
        spec = self.spec
        self._peak = spec.peak_per_hour * rng.uniform(0.6, 1.4)
        self._open_from = self._open_to = -math.inf
        self._present_from = self._present_to = -math.inf
        self._mode = "normal"
        self._motor = 0.0
        if spec.motor is not None and self._has(spec.motor):
            running = [value for value in self._healthy_values(spec.motor) if value > 0.0]
            motor = (running[0] if running else 1.0) * rng.uniform(0.9, 1.1)
            self._motor = min(motor, self._plans[spec.motor].safe_high / 1.2)

    def _open(self, start: float, hold: float, *, vehicle: bool) -> None:
        self._open_from, self._open_to = start, start + hold
        move = self.spec.move_s
        if vehicle and hold > 2.0 * move:
            self._present_from, self._present_to = start + move, start + hold - 0.5 * move
        else:
            self._present_from = self._present_to = -math.inf

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        spec = self.spec
        rng = self.rng
        if self._mode == "normal" and dt > 0.0:
            recent = min(dt, spec.hold_s)
            fresh_mean = commuter_traffic(hour, self._peak) / HOUR * recent
            expected = expected_passages(hour, dt, self._peak)
            earlier = poisson(rng, max(0.0, expected - fresh_mean))
            fresh = poisson(rng, fresh_mean)
            if fresh:
                start = now - rng.random() * recent
                self._open(start, spec.hold_s * rng.uniform(0.8, 1.25), vehicle=True)
            self._add(spec.counter, earlier + fresh)
        is_open = self._mode == "free" or self._open_from <= now < self._open_to
        self._set(spec.open_flag, is_open)
        if spec.present_flag is not None:
            self._set(spec.present_flag, self._present_from <= now < self._present_to)
        if spec.motor is not None:
            moving = self._open_from <= now < self._open_to and (
                now - self._open_from < spec.move_s or self._open_to - now < spec.move_s
            )
            current = self._motor * (1.0 + rng.gauss(0.0, 0.04)) if moving else 0.0
            self._set(spec.motor, max(0.0, current))

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        spec = self.spec
        if name == "open":
            hold = _number_arg(args, "hold_s")
            if hold is None:
                default = _arg(self.profile, name, args, "hold_s")
                hold = float(default) if _is_number(default) else spec.hold_s
            hold = min(max(hold, 1.0), spec.max_hold_s)
            if not self._open_from <= now < self._open_to:
                self._add(spec.counter, 1)
            self._open(now, hold, vehicle=False)
            return True
        if name == "close":
            if self._present_from <= now < self._present_to:
                return False  # refused: a vehicle is under the boom
            self._open_to = min(self._open_to, now)
            return True
        if name == "self_test":
            self._add(spec.counter, 1)
            self._open(now, 2.0 * spec.move_s + 0.5, vehicle=False)
            return True
        if name == "set_mode":
            mode = args.get("mode")
            if mode not in ("normal", "free", "locked"):
                return False
            assert isinstance(mode, str)
            if mode == "free" and self._mode != "free":
                self._add(spec.counter, 1)
            self._mode = mode
            return True
        return super()._command(name, args, now)


class AccessGate(PassageModel):
    spec: ClassVar[Passages] = Passages(
        counter="cycles",
        open_flag="door_open",
        motor="motor_current",
        peak_per_hour=180.0,
        hold_s=4.0,
        move_s=0.8,
        max_hold_s=60.0,
    )
    owns: ClassVar[tuple[str, ...]] = spec.metrics


class VehicleBarrier(PassageModel):
    spec: ClassVar[Passages] = Passages(
        counter="opens",
        open_flag="arm_up",
        present_flag="vehicle_present",
        peak_per_hour=60.0,
        hold_s=10.0,
        move_s=2.5,
        max_hold_s=120.0,  # well under the 10 minutes that make a barrier "stuck open"
    )
    owns: ClassVar[tuple[str, ...]] = spec.metrics


# --- elevators ----------------------------------------------------------------------------


class Elevator(Behaviour):
    """Trips by the time of day (residents leave in the morning, come home in the evening):
    doors open at the origin, the car runs (about 1.5 s a floor), doors open at the
    destination. Mostly between the lobby (the healthy example's floor) and the upper
    floors; each building 6-18 floors high."""

    requires: ClassVar[Mapping[str, str]] = {"trips": "number"}
    owns: ClassVar[tuple[str, ...]] = ("trips", "running", "floor", "door_open")

    PEAK_PER_HOUR: ClassVar[float] = 50.0
    DOOR_S: ClassVar[float] = 6.0
    START_S: ClassVar[float] = 2.5
    PER_FLOOR_S: ClassVar[float] = 1.5

    def _setup(self) -> None:
        rng = self.rng
        self._peak = self.PEAK_PER_HOUR * rng.uniform(0.6, 1.4)
        low, high = -5, 99
        if self._has("floor"):
            plan = self._plans["floor"]
            low, high = (
                math.ceil(plan.low) if math.isfinite(plan.low) else -5,
                (math.floor(plan.high) if math.isfinite(plan.high) else 99),
            )
        self._lobby = int(min(max(self._number("floor", 1.0), low), high))
        self._top = max(self._lobby + 1, min(self._lobby + rng.randint(5, 17), high))
        self._floor = self._lobby
        self._trip: tuple[float, int, int] | None = None  # (start, origin, destination)

    def _next_floor(self, origin: int) -> int:
        rng = self.rng
        if origin != self._lobby and rng.random() < 0.8:
            return self._lobby
        choices = self._top - self._lobby
        floor = self._lobby + 1 + rng.randrange(choices) if choices > 0 else self._lobby
        return floor if floor != origin else self._lobby

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        if dt > 0.0:
            longest = (
                2.0 * self.DOOR_S + self.START_S + self.PER_FLOOR_S * (self._top - self._lobby)
            )
            recent = min(dt, longest)
            fresh_mean = commuter_traffic(hour, self._peak) / HOUR * recent
            expected = expected_passages(hour, dt, self._peak)
            earlier = poisson(rng, max(0.0, expected - fresh_mean))
            fresh = poisson(rng, fresh_mean)
            for _ in range(min(earlier, 3)):
                self._floor = self._next_floor(self._floor)
            if fresh:
                destination = self._next_floor(self._floor)
                self._trip = (now - rng.random() * recent, self._floor, destination)
                self._floor = destination
            self._add("trips", earlier + fresh)
        running, door, floor = False, False, self._floor
        if self._trip is not None:
            start, origin, destination = self._trip
            elapsed = now - start
            run_s = self.START_S + self.PER_FLOOR_S * abs(destination - origin)
            if elapsed < self.DOOR_S:
                door, floor = True, origin
            elif elapsed < self.DOOR_S + run_s:
                running = True
                share = (elapsed - self.DOOR_S) / run_s
                floor = round(origin + (destination - origin) * share)
            elif elapsed < 2.0 * self.DOOR_S + run_s:
                door = True
            else:
                self._trip = None
        self._set("running", running)
        self._set("door_open", door)
        self._set("floor", floor)


# --- water pumps --------------------------------------------------------------------------


class WaterPump(Behaviour):
    """A booster set holding its outlet pressure: it runs for minutes at a time, more of the
    time the more water is drawn (:func:`water_demand`: about a fifth of the night, nearly
    all of the morning peak). While running the inverter holds the setpoint at 35-50 Hz;
    stopped, the pressure sags a little and the frequency is 0. Running hours grow only
    while it runs. ``set_pressure`` moves the setpoint (the argument is in the vendor's
    unit: kPa, MPa, bar or psi, by its name, else the pressure field's own unit)."""

    requires: ClassVar[Mapping[str, str]] = {"running": "bool"}
    owns: ClassVar[tuple[str, ...]] = ("running", "running_hours", "outlet_pressure", "frequency")

    MIN_ON_S: ClassVar[float] = 120.0
    MIN_OFF_S: ClassVar[float] = 60.0
    SAG: ClassVar[float] = 0.08
    """Share of the setpoint the pressure sags by while the pump is stopped."""

    def _setup(self) -> None:
        rng = self.rng
        self._period = rng.uniform(480.0, 900.0)  # one on/off cycle, seconds
        self._setpoint0 = self._number("outlet_pressure", 3.5) or 3.5
        self._setpoint = self._setpoint0
        running = [value for value in self._healthy_values("frequency") if value > 0.0]
        self._hz0 = min(max(running[0] if running else 45.0, 35.0), 50.0)
        base = self._bases.get("running")
        self._running = base if isinstance(base, bool) else True
        self._next_switch: float | None = None
        self._stopped_since = -math.inf

    def _duration(self, running: bool, hour: float) -> float:
        duty = 0.12 + 0.83 * water_demand(hour)
        if running:
            return max(self.MIN_ON_S, self.rng.expovariate(1.0 / (duty * self._period)))
        return max(self.MIN_OFF_S, self.rng.expovariate(1.0 / ((1.0 - duty) * self._period)))

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        if self._next_switch is None:
            self._next_switch = now + rng.random() * self._duration(self._running, hour)
        t = now - dt
        ran = 0.0
        while self._next_switch <= now:
            switch = max(self._next_switch, t)
            if self._running:
                ran += switch - t
            t = switch
            self._running = not self._running
            if not self._running:
                self._stopped_since = t
            at_hour = (hour - (now - t) / HOUR) % 24.0
            self._next_switch = t + self._duration(self._running, at_hour)
        if self._running:
            ran += now - t
        self._add("running_hours", ran / HOUR)
        demand = water_demand(hour)
        setpoint = self._setpoint
        if self._running:
            pressure = setpoint * (1.0 - 0.02 * demand) + rng.gauss(0.0, 0.01 * setpoint)
            hz = self._hz0 * (0.85 + 0.25 * demand) * math.sqrt(setpoint / self._setpoint0)
            frequency = min(max(hz + rng.gauss(0.0, 0.3), 35.0), 50.0)
        else:
            sag = 1.0 - math.exp(-(now - self._stopped_since) / 90.0)
            pressure = setpoint * (1.0 - self.SAG * sag) + rng.gauss(0.0, 0.005 * setpoint)
            frequency = 0.0
        self._set("running", self._running)
        self._set("outlet_pressure", max(0.0, pressure))
        self._set("frequency", frequency)

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        if name != "set_pressure":
            return super()._command(name, args, now)
        spec = self.profile.commands[name]
        for arg_name, arg in spec.args.items():
            value = _number_arg(args, arg_name)
            if value is None or arg.type not in ("int", "float"):
                continue
            if arg.min is not None:
                value = max(value, arg.min)
            if arg.max is not None:
                value = min(value, arg.max)
            bar = self._to_bar(arg_name, value)
            if bar is None or not bar > 0.0:
                return False
            plan = self._plans.get("outlet_pressure")
            if plan is not None:
                bar = min(max(bar, plan.low), plan.high)
            self._setpoint = bar
            if not self._running:
                self._next_switch = now  # the pressure is below the new setpoint: start
            return True
        return False

    def _to_bar(self, arg_name: str, value: float) -> float | None:
        unit = _PRESSURE_ARGS.get(arg_name.lower())
        metric = self.profile.decode.metrics.get("outlet_pressure")
        target = (metric.unit if metric is not None else None) or "bar"
        if unit is None and metric is not None:
            unit = metric.source.unit or metric.unit
        try:
            scale, offset = conversion(unit or target, target)
        except ValueError:
            return None
        return value * scale + offset


_PRESSURE_ARGS: Final = {"kpa": "kPa", "mpa": "MPa", "bar": "bar", "psi": "psi", "mbar": "mbar"}


# --- waste bins ---------------------------------------------------------------------------


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


# --- EV chargers --------------------------------------------------------------------------


class EvCharger(Behaviour):
    """Charging sessions, mostly in the evening (:func:`ev_arrivals`): a car plugs in and
    charges at the point's rated power until it has what it needs (5-35 kWh), then waits
    (``suspended_ev``, no power) until its driver leaves — the next morning if it came in
    the evening. The session's energy grows only while charging; it is 0 when the point is
    free. The charger warms up while charging."""

    requires: ClassVar[Mapping[str, str]] = {"state": "str", "power": "number"}
    owns: ClassVar[tuple[str, ...]] = ("state", "power", "session_energy", "temperature")

    @classmethod
    def fits(cls, profile: Profile) -> bool:
        if not super().fits(profile):
            return False
        states = profile.decode.metrics["state"].source.map
        return states is None or {"available", "charging"} <= set(states.values())

    def _setup(self) -> None:
        rng = self.rng
        rated = [value for value in self._healthy_values("power") if value > 0.5]
        power_plan = self._plans["power"]
        self._rated = min((rated[0] if rated else 7.0) * rng.uniform(0.97, 1.01), power_plan.high)
        self._ambient = self._number("temperature", 18.0)
        warm = [value for value in self._healthy_values("temperature") if value > self._ambient]
        self._rise = max(warm) - self._ambient if warm else 20.0
        self._temperature = self._ambient
        states = self._plans["state"].says
        self._words = {
            phase: next((word for word in choices if states is None or word in states), "available")
            for phase, choices in {
                "available": ("available",),
                "charging": ("charging",),
                "suspended_ev": ("suspended_ev", "finishing", "available"),
                "unavailable": ("unavailable", "available"),
            }.items()
        }
        self._phase = "available"
        self._energy = 0.0
        self._need = 0.0
        self._depart = math.inf
        self._retire = False  # out of service once the session ends

    def _leave(self) -> None:
        self._phase = "unavailable" if self._retire else "available"
        self._retire = False
        self._energy = 0.0
        self._depart = math.inf

    def _arrive(self, at: float, hour: float) -> None:
        rng = self.rng
        self._phase = "charging"
        self._energy = 0.0
        energy = self._plans.get("session_energy")
        self._need = min(rng.uniform(5.0, 35.0), energy.high if energy is not None else 200.0)
        if hour >= 16.0 or hour < 5.0:
            self._depart = at + ((rng.uniform(7.0, 9.0) - hour) % 24.0) * HOUR
        else:
            self._depart = at + rng.uniform(1.0, 4.0) * HOUR

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        t = now - dt
        for _ in range(1000):  # a bound on the events within one step
            if self._phase == "available":
                arrived = None
                while t < now:
                    end = min(now, t + 600.0)
                    at_hour = (hour - (now - 0.5 * (t + end)) / HOUR) % 24.0
                    if rng.random() < 1.0 - math.exp(-ev_arrivals(at_hour) * (end - t) / HOUR):
                        arrived = t + rng.random() * (end - t)
                        break
                    t = end
                if arrived is None:
                    break
                t = arrived
                self._arrive(t, (hour - (now - t) / HOUR) % 24.0)
            elif self._phase == "charging":
                full = t + max(0.0, self._need - self._energy) / self._rated * HOUR
                end = min(full, self._depart)
                if end > now:
                    self._energy += self._rated * (now - t) / HOUR
                    break
                self._energy = min(self._need, self._energy + self._rated * (end - t) / HOUR)
                t = end
                if self._depart <= full:
                    self._leave()
                else:
                    self._phase = "suspended_ev"
            elif self._phase == "suspended_ev":
                if self._depart > now:
                    break
                t = self._depart
                self._leave()
            else:
                break
        charging = self._phase == "charging"
        power = min(self._rated * (1.0 + rng.gauss(0.0, 0.005)), self._plans["power"].high)
        self._set("state", self._words[self._phase])
        self._set("power", max(1.0, power) if charging else 0.0)
        self._set("session_energy", self._energy)
        target = self._ambient + 3.0 * diurnal(hour) + (self._rise if charging else 0.0)
        self._temperature += (target - self._temperature) * (1.0 - math.exp(-dt / 1200.0))
        self._set("temperature", self._temperature + rng.gauss(0.0, 0.1))

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        in_session = self._phase in ("charging", "suspended_ev")
        if name == "set_available":
            available = args.get("available")
            if not isinstance(available, bool):
                return False
            if available:
                self._retire = False
                if self._phase == "unavailable":
                    self._phase = "available"
            elif in_session:
                self._retire = True  # OCPP: scheduled for when the transaction ends
            else:
                self._phase = "unavailable"
            return True
        if name == "unlock_connector":
            if not in_session:
                return False
            self._leave()
            return True
        if name == "reset":
            if _arg(self.profile, name, args, "kind") == "Hard" and in_session:
                self._leave()
            return True
        return super()._command(name, args, now)


# --- choosing a model ---------------------------------------------------------------------

MODELS: dict[str, type[Behaviour]] = {
    "street_light": StreetLight,
    "access_gate": AccessGate,
    "vehicle_barrier": VehicleBarrier,
    "elevator": Elevator,
    "water_pump": WaterPump,
    "waste_bin": WasteBin,
    "ev_charger": EvCharger,
}
"""The model of each device type with a state of its own; other types (environment
sensors, detectors, cameras...) are the generic model with their :data:`SIGNALS`."""


def behaviour_for(
    profile: Profile, rng: random.Random, *, latitude: float = DEFAULT_LATITUDE
) -> Behaviour:
    """The model for the profile's ``type``; the generic model for any other type, or for
    a profile that lacks the metrics its type's model needs."""
    model = MODELS.get(profile.type, Behaviour)
    if not model.fits(profile):
        model = Behaviour
    return model(profile, rng, latitude=latitude)


# --- faults and changes -------------------------------------------------------------------


def fault_state(
    profile: Profile, fault: str, metrics: Mapping[str, Scalar]
) -> tuple[dict[str, Scalar], tuple[str, ...]]:
    """What a device with ``fault`` reports, and the faults to pass to encode().

    The metrics are ``metrics`` with those of the profile's example of this fault alone
    (:func:`simulators.device.fault_examples`) pinned on top — except usage counters (the
    metrics counter rules read), which keep their running value so counters never go
    backwards. A counter rule's own fault (maintenance due) moves its counter forward to
    at least the example's value; call :meth:`Behaviour.adopt_counters` with the result so
    the device carries on from there. The faults are ``(fault,)`` when a fault field of the
    payload can say it, else ``()`` (a rule raises it from the metrics).

    Raises KeyError if the profile has no example of ``fault`` alone.
    """
    example = fault_examples(profile).get(fault)
    if example is None:
        raise KeyError(f"profile {profile.id!r} has no example of fault {fault!r} alone")
    own_counters = {
        rule.counter.metric
        for rule in profile.rules
        if rule.counter is not None and rule.fault == fault
    }
    counters = counter_metrics(profile)
    pinned = dict(metrics)
    for name, value in example.expect.metrics.items():
        if name not in counters:
            pinned[name] = value
            continue
        running = metrics.get(name)
        if not _is_number(running):
            pinned[name] = value
        elif name in own_counters and _is_number(value) and value > running:
            pinned[name] = value  # maintenance due: the counter moves on to show it
    said = any(fault in source.fault_names() for source in profile.decode.faults)
    return pinned, ((fault,) if said else ())


def discrete_change(before: Mapping[str, Scalar], after: Mapping[str, Scalar]) -> bool:
    """Whether a bool or text metric changed (a device reports such a change at once:
    report by exception). A numeric change never counts; one appearing or vanishing does
    if it is a bool or text."""
    for name, value in after.items():
        if isinstance(value, (bool, str)):
            old = before.get(name)
            if old is None or type(old) is not type(value) or old != value:
                return True
    return any(
        isinstance(value, (bool, str)) and name not in after for name, value in before.items()
    )
