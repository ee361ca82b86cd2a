"""The generic model of a simulated device (:class:`Behaviour`), the base of every type's
model; what a device with a fault reports, and which changes it reports at once."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import ClassVar, Final, TypeGuard

from device_profiles.rules import holds
from device_profiles.schema import Profile, Scalar
from simulators.behaviour.plans import _plans, counter_metrics
from simulators.behaviour.rhythms import HOUR, YEAR
from simulators.behaviour.signals import _signal_for, _Wander
from simulators.daylight import DEFAULT_LATITUDE
from simulators.device import fault_examples, normal_examples

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
        for name, every in self.counters.items():
            # devices of one profile were not all installed on the same day: each starts up
            # to half a service interval behind the example, so they come due one by one
            start = self._values[name]
            if _is_number(start) and not isinstance(start, bool):
                self._values[name] = max(0.0, float(start) - rng.uniform(0.0, 0.5) * every)
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
        """Acknowledgements (a reset, an alarm acknowledged) and a self test are acted on:
        the device reports at once. Anything else is ignored."""
        return name in _ACKNOWLEDGE or name == "self_test"

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
