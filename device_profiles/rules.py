"""Pure health evaluation: which faults a reading makes active, and the health that follows.

The one implementation of every rule: the cloud's health engine and the edge agent
(to recognise alarms) both call :func:`evaluate`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from device_profiles.schema import Condition, Health, Profile, Scalar

_OPS: dict[str, Callable[[Scalar, Scalar], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class Observation(Protocol):
    """Anything carrying a reading's metrics and device-reported faults (Decoded, Item)."""

    @property
    def metrics(self) -> Mapping[str, Scalar]: ...

    @property
    def faults(self) -> Sequence[str]: ...


class Verdict(BaseModel):
    """The faults active after one reading and the device health they imply."""

    model_config = ConfigDict(frozen=True)

    faults: tuple[str, ...]
    health: Health


def holds(condition: Condition, metrics: Mapping[str, Scalar]) -> bool:
    """Whether ``condition`` holds; a metric missing from the reading never satisfies it."""
    if condition.metric not in metrics:
        return False
    value = metrics[condition.metric]
    try:
        return _OPS[condition.op](value, condition.value)
    except TypeError:
        return False


def evaluate(profile: Profile, reading: Observation) -> Verdict:
    """Active faults (reported by the device or raised by a rule) and the resulting health."""
    active = set(reading.faults) & profile.faults.keys()
    for rule in profile.rules:
        if all(holds(cond, reading.metrics) for cond in rule.conditions()):
            active.add(rule.fault)
    return Verdict(faults=tuple(sorted(active)), health=health_of(profile, active))


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
