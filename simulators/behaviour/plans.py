"""What a profile allows each metric: its healthy value, valid range, the band that keeps
normal values away from every fault threshold (:func:`safe_band`) and the vendor's
resolution — one plan per metric, shared by the profile's devices."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from device_profiles.encode import default_template
from device_profiles.rules import holds
from device_profiles.schema import Example, Metric, Profile, Scalar
from device_profiles.units import conversion
from simulators.device import normal_examples

MARGIN: Final = 0.5
"""How far from a rule's threshold normal values stay: they never go more than this share
of the way from the healthy example's value to the threshold."""


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
