"""Pure health evaluation: which faults a reading makes active, and the health that follows.

The one implementation of every rule kind — threshold (with duration), fault code,
silence, usage counter and rate. The cloud's health engine and the edge agent (to
recognise alarms) both call :func:`evaluate`. No I/O and no clock: time is the reading's
event time, or the ``now`` a caller passes to :func:`silent_faults`.

Rules that need memory (durations, rates, counters) keep it in a :class:`RuleState`, a
small value the caller keeps per device and passes back in (stored as JSON with
:meth:`RuleState.to_json`). The rules themselves are applied by a plan compiled once per
profile (:mod:`device_profiles.rule_plans`), so judging a reading builds no models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from device_profiles.rule_plans import OPERATORS, RulePlan, RuleState, Verdict, plan_for
from device_profiles.schema import Condition, Health, Profile, Rule, Scalar

__all__ = [
    "Observation",
    "RulePlan",
    "RuleState",
    "Verdict",
    "evaluate",
    "health_of",
    "holds",
    "is_news",
    "plan_for",
    "serviced",
    "silent_faults",
    "worst",
]


class Observation(Protocol):
    """Anything carrying a reading's time, metrics and device-reported faults (Decoded, Item)."""

    @property
    def ts(self) -> datetime: ...

    @property
    def metrics(self) -> Mapping[str, Scalar]: ...

    @property
    def faults(self) -> Sequence[str]: ...


def holds(condition: Condition, metrics: Mapping[str, Scalar]) -> bool:
    """Whether ``condition`` holds; a metric missing from the reading never satisfies it."""
    if condition.metric not in metrics:
        return False
    value = metrics[condition.metric]
    try:
        return OPERATORS[condition.op](value, condition.value)
    except TypeError:
        return False


def evaluate(profile: Profile, reading: Observation, state: RuleState | None = None) -> Verdict:
    """Active faults (reported by the device or raised by a rule) and the resulting health.

    A reading older than ``state.last_ts`` (delivered out of order) is judged on its own:
    it can show faults, but it neither advances durations nor counts towards rates.
    The profile's rules are compiled once (:func:`~device_profiles.rule_plans.plan_for`);
    callers that judge many readings may keep the plan and call its ``judge`` directly.
    """
    return plan_for(profile).judge(reading.ts, reading.metrics, reading.faults, state)


def _of_kind(profile: Profile, kind: str) -> list[Rule]:
    return [rule for rule in profile.rules if rule.kind == kind]


def _counter_due(rule: Rule, metrics: Mapping[str, Scalar], bases: Mapping[str, float]) -> bool:
    assert rule.counter is not None
    value = metrics.get(rule.counter.metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value - bases.get(rule.fault, 0.0) >= rule.counter.every


def serviced(
    profile: Profile, state: RuleState, fault: str, metrics: Mapping[str, Scalar]
) -> RuleState:
    """The state after the maintenance that ``fault`` (a counter rule) asked for was done:
    usage counts again from the metric's current value."""
    for rule in _of_kind(profile, "counter"):
        assert rule.counter is not None
        value = metrics.get(rule.counter.metric)
        if rule.fault == fault and isinstance(value, (int, float)) and not isinstance(value, bool):
            bases = {**state.counter_base, fault: float(value)}
            return replace(state, counter_base=bases)
    return state


def silent_faults(profile: Profile, last_seen: datetime, now: datetime) -> tuple[str, ...]:
    """Silence-rule faults active when the device was last heard from at ``last_seen``."""
    quiet_s = (now - last_seen).total_seconds()
    found = []
    for rule in _of_kind(profile, "silence"):
        assert rule.silence is not None
        if quiet_s >= rule.silence.heartbeats * profile.heartbeat_s:
            found.append(rule.fault)
    return tuple(sorted(found))


def is_news(
    profile: Profile, before: Mapping[str, Scalar] | None, after: Mapping[str, Scalar]
) -> bool:
    """Whether a reading says something the last one forwarded did not: a metric with a
    deadband moved by at least that much, or any other metric changed at all. Only
    profiles that declare deadbands are filtered; without one every reading is news."""
    if before is None or not any(m.deadband is not None for m in profile.decode.metrics.values()):
        return True
    if before.keys() != after.keys():
        return True
    for name, value in after.items():
        metric = profile.decode.metrics.get(name)
        old = before[name]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, value))
        if metric is not None and metric.deadband is not None and numeric:
            if abs(float(value) - float(old)) >= metric.deadband:
                return True
        elif value != old:
            return True
    return False


def health_of(profile: Profile, faults: set[str] | tuple[str, ...]) -> Health:
    """The worst health any of ``faults`` implies; OK when none is active."""
    worst = Health.OK
    for name in faults:
        health = Health.from_severity(profile.faults[name].severity)
        if health.rank > worst.rank:
            worst = health
    return worst


def worst(healths: list[Health]) -> Health:
    """The worst of several healths (a facility is as healthy as its worst device)."""
    return max(healths, key=lambda h: h.rank, default=Health.OK)
