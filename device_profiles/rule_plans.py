"""A profile's health rules compiled once into a plan, and judged per reading without models.

:func:`plan_for` compiles a profile's threshold, counter and rate rules into plain tuples
(each condition's operator looked up once, the health of every fault ranked once) and keeps
the plan for as long as the profile lives. :meth:`RulePlan.judge` then applies them to one
reading: a few comparisons and, for a reading in event-time order, one small
:class:`RuleState`. Both :class:`RuleState` and :class:`Verdict` are plain slotted
dataclasses, values by convention rather than frozen (a frozen dataclass costs four times
as much to make, and one of each is made per reading); pydantic is used only where a state
crosses a JSON boundary (:meth:`RuleState.from_json`, :meth:`RuleState.to_json`).

The semantics are those of :func:`device_profiles.rules.evaluate`, which is this module's
``judge`` under its historical name; ``tests/device_profiles/test_rules_fast.py`` holds the
implementation it replaced and checks that both agree on every catalogue example.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from device_profiles.schema import Health, Profile, Scalar

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(slots=True)
class RuleState:
    """What the rules remember about one device between its readings.

    A value: nothing changes one once made (its mappings included); each reading in order
    makes a new one. (Not frozen only because frozen dataclasses are slow to make.)
    """

    last_ts: datetime | None = None
    active: tuple[str, ...] = ()
    holding_since: dict[str, datetime] = field(default_factory=dict)
    """threshold rules: fault → event time its condition began to hold"""
    onsets: dict[str, tuple[datetime, ...]] = field(default_factory=dict)
    """rate rules: fault → start times of the counted fault within the window"""
    counter_base: dict[str, float] = field(default_factory=dict)
    """counter rules: fault → the usage metric's value at the last service"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> RuleState:
        """A state from its JSON form (text, or the object :meth:`to_json` made)."""
        if isinstance(data, str | bytes):
            model = _RuleStateJson.model_validate_json(data)
        else:
            model = _RuleStateJson.model_validate(data)
        return cls(
            last_ts=model.last_ts,
            active=model.active,
            holding_since=model.holding_since,
            onsets=model.onsets,
            counter_base=model.counter_base,
        )

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON object (times as ISO 8601 text), for storing."""
        model = _RuleStateJson(
            last_ts=self.last_ts,
            active=self.active,
            holding_since=self.holding_since,
            onsets=self.onsets,
            counter_base=self.counter_base,
        )
        return model.model_dump(mode="json")


class _RuleStateJson(BaseModel):
    """The JSON form of a :class:`RuleState` (validated on the way in)."""

    model_config = ConfigDict(extra="forbid")

    last_ts: datetime | None = None
    active: tuple[str, ...] = ()
    holding_since: dict[str, datetime] = {}
    onsets: dict[str, tuple[datetime, ...]] = {}
    counter_base: dict[str, float] = {}


_EMPTY = RuleState()


@dataclass(slots=True)
class Verdict:
    """The faults active after one reading, the device health they imply, and the state
    to pass with the device's next reading."""

    faults: tuple[str, ...]
    health: Health
    state: RuleState = field(default_factory=RuleState)


Condition = tuple[str, Callable[[Any, Any], bool], Scalar]
"""(metric, operator, value)"""


class RulePlan:
    """One profile's rules, compiled: what :meth:`judge` walks through for each reading."""

    __slots__ = ("_counters", "_known", "_rank", "_rates", "_thresholds", "profile_id")

    def __init__(self, profile: Profile) -> None:
        self.profile_id = profile.id
        self._known = frozenset(profile.faults)
        self._rank: dict[str, tuple[int, Health]] = {}
        for name, fault in profile.faults.items():
            health = Health.from_severity(fault.severity)
            self._rank[name] = (health.rank, health)
        thresholds: list[tuple[str, tuple[Condition, ...], float]] = []
        counters: list[tuple[str, str, float]] = []
        rates: list[tuple[str, str, int, timedelta]] = []
        for rule in profile.rules:
            kind = rule.kind
            if kind == "threshold":
                conditions = tuple((c.metric, OPERATORS[c.op], c.value) for c in rule.conditions())
                thresholds.append((rule.fault, conditions, rule.for_s))
            elif kind == "counter":
                assert rule.counter is not None
                counters.append((rule.fault, rule.counter.metric, rule.counter.every))
            elif kind == "rate":
                assert rule.rate is not None
                window = timedelta(seconds=rule.rate.window_s)
                rates.append((rule.fault, rule.rate.fault, rule.rate.count, window))
        self._thresholds = tuple(thresholds)
        self._counters = tuple(counters)
        self._rates = tuple(rates)

    def judge(
        self,
        ts: datetime,
        metrics: Mapping[str, Scalar],
        reported: Sequence[str],
        state: RuleState | None = None,
    ) -> Verdict:
        """Active faults (reported by the device or raised by a rule) after a reading at
        event time ``ts``, and the resulting health.

        A reading older than ``state.last_ts`` (delivered out of order) is judged on its
        own: it can show faults, but it neither advances durations nor counts towards
        rates, and the state comes back unchanged.
        """
        if state is None:
            state = _EMPTY
        last = state.last_ts
        in_order = last is None or ts >= last
        known = self._known
        active = {fault for fault in reported if fault in known} if reported else set()
        # the state's mappings are shared with the next state until one changes (copy on write)
        holding = state.holding_since
        if self._thresholds:
            copied = False
            for fault, conditions, for_s in self._thresholds:
                if not _all_hold(conditions, metrics):
                    if in_order and fault in holding:
                        if not copied:
                            holding, copied = dict(holding), True
                        del holding[fault]
                    continue
                since = holding.get(fault) if in_order else ts
                if since is None:
                    if not copied:
                        holding, copied = dict(holding), True
                    holding[fault] = since = ts
                if (ts - since).total_seconds() >= for_s:
                    active.add(fault)
        bases = state.counter_base
        for fault, metric, every in self._counters:
            value = metrics.get(metric)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if value - bases.get(fault, 0.0) >= every:
                active.add(fault)
        onsets = state.onsets
        if self._rates:
            changed: dict[str, tuple[datetime, ...]] | None = None
            before = state.active
            for fault, counted, count, window in self._rates:
                recorded = onsets.get(fault, ())
                times = [t for t in recorded if ts - t <= window]
                if in_order:
                    if counted in active and counted not in before:
                        times.append(ts)
                    kept = tuple(times)
                    if kept != recorded:
                        if changed is None:
                            changed = dict(onsets)
                        changed[fault] = kept
                if len(times) >= count:
                    active.add(fault)
            if changed is not None:
                onsets = changed
        if not active:
            faults: tuple[str, ...] = ()
            health = Health.OK
        else:
            faults = tuple(sorted(active))
            health = self.health(faults)
        if not in_order:
            return Verdict(faults, health, state)
        if onsets and not all(onsets.values()):
            onsets = {fault: times for fault, times in onsets.items() if times}
        return Verdict(faults, health, RuleState(ts, faults, holding, onsets, bases))

    def health(self, faults: Sequence[str] | set[str]) -> Health:
        """The worst health any of ``faults`` (all this profile's) implies; OK when none."""
        worst_rank, worst = 0, Health.OK
        rank = self._rank
        for name in faults:
            found = rank[name]
            if found[0] > worst_rank:
                worst_rank, worst = found
        return worst


def _all_hold(conditions: tuple[Condition, ...], metrics: Mapping[str, Scalar]) -> bool:
    """Whether every condition holds; a metric missing from the reading never satisfies one."""
    for metric, op, value in conditions:
        if metric not in metrics:
            return False
        try:
            if not op(metrics[metric], value):
                return False
        except TypeError:
            return False
    return True


_PLANS: dict[int, tuple[weakref.ref[Profile], RulePlan]] = {}


def plan_for(profile: Profile) -> RulePlan:
    """The compiled rules of ``profile``, made on first use and kept while it lives."""
    key = id(profile)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is profile:
        return entry[1]
    plan = RulePlan(profile)

    def forget(_: weakref.ref[Profile], key: int = key) -> None:
        _PLANS.pop(key, None)

    _PLANS[key] = (weakref.ref(profile, forget), plan)
    return plan
