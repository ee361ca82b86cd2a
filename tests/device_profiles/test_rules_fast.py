"""The compiled rule plans judge exactly as the rules did before them.

``reference_evaluate`` below is ``device_profiles.rules.evaluate`` as it was before the rules
were compiled into plans (commit bf395ea), kept here verbatim but for the types it builds.
It is kept as code rather than as recorded results so that it also judges what no recording
holds: every example of every profile in the catalogue under test (built-in and a site's, see
profiles_under_test.py) as it is today, and long generated sequences of readings, out of
order too, for every profile. The new path must agree with it on every verdict — faults,
health and the state passed on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import Profile, decode
from device_profiles.examples import payload_bytes
from device_profiles.rule_plans import RuleState, Verdict, plan_for
from device_profiles.rules import Observation, evaluate, health_of, holds
from device_profiles.schema import Rule, Scalar
from tests.device_profiles.profiles_under_test import PROFILES
from tests.sample_profiles import pump

RECEIVED_AT = datetime(2025, 11, 27, 0, 0, tzinfo=UTC)


# ----------------------------------------------------------------- the reference (verbatim)


def reference_evaluate(
    profile: Profile, reading: Observation, state: RuleState | None = None
) -> Verdict:
    state = state or RuleState()
    ts = reading.ts
    in_order = state.last_ts is None or ts >= state.last_ts
    active = set(reading.faults) & profile.faults.keys()
    holding = dict(state.holding_since)
    for rule in _of_kind(profile, "threshold"):
        if not all(holds(cond, reading.metrics) for cond in rule.conditions()):
            if in_order:
                holding.pop(rule.fault, None)
            continue
        since = holding.setdefault(rule.fault, ts) if in_order else ts
        if (ts - since).total_seconds() >= rule.for_s:
            active.add(rule.fault)
    for rule in _of_kind(profile, "counter"):
        if _counter_due(rule, reading.metrics, state.counter_base):
            active.add(rule.fault)
    onsets = dict(state.onsets)
    for rule in _of_kind(profile, "rate"):
        assert rule.rate is not None
        window = timedelta(seconds=rule.rate.window_s)
        times = [t for t in onsets.get(rule.fault, ()) if ts - t <= window]
        started = rule.rate.fault in active and rule.rate.fault not in state.active
        if in_order and started:
            times.append(ts)
        if in_order:
            onsets[rule.fault] = tuple(times)
        if len(times) >= rule.rate.count:
            active.add(rule.fault)
    faults = tuple(sorted(active))
    if not in_order:
        return Verdict(faults=faults, health=health_of(profile, active), state=state)
    new_state = RuleState(
        last_ts=ts,
        active=faults,
        holding_since=holding,
        onsets={fault: times for fault, times in onsets.items() if times},
        counter_base=state.counter_base,
    )
    return Verdict(faults=faults, health=health_of(profile, active), state=new_state)


def _of_kind(profile: Profile, kind: str) -> list[Rule]:
    return [rule for rule in profile.rules if rule.kind == kind]


def _counter_due(rule: Rule, metrics: Any, bases: Any) -> bool:
    assert rule.counter is not None
    value = metrics.get(rule.counter.metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value - bases.get(rule.fault, 0.0) >= rule.counter.every


# ----------------------------------------------------------------- catalogue examples

EXAMPLES = [
    pytest.param(profile, example, id=f"{profile.id}/{example.name}")
    for profile in [*PROFILES, pump()]
    for example in profile.examples
]


@pytest.mark.parametrize(("profile", "example"), EXAMPLES)
def test_every_example_is_judged_as_before(profile: Any, example: Any) -> None:
    """Each step of the example's history and its payload, with the state threaded through
    each path on its own: every verdict equal, faults, health and state."""
    new_state: RuleState | None = None
    old_state: RuleState | None = None
    steps = [(step.payload, step.before_s) for step in example.history]
    steps.append((example.payload, 0.0))
    for payload, before_s in steps:
        at = RECEIVED_AT - timedelta(seconds=before_s)
        reading = decode(profile, example.topic, payload_bytes(payload), at)
        new = evaluate(profile, reading, new_state)
        old = reference_evaluate(profile, reading, old_state)
        assert new == old
        new_state, old_state = new.state, old.state
    # the same reading once more, and late: out of order leaves the state alone
    late = reading.model_copy(update={"ts": reading.ts - timedelta(hours=1)})
    assert evaluate(profile, late, new_state) == reference_evaluate(profile, late, old_state)


def test_the_catalogue_has_rules_of_every_kind_to_compare() -> None:
    kinds = {rule.kind for profile in PROFILES for rule in profile.rules}
    assert {"threshold", "counter", "rate", "silence"} <= kinds
    assert any(rule.for_s > 0 for profile in PROFILES for rule in profile.rules)


# ----------------------------------------------------------------- generated sequences


class _Reading:
    """An observation made up by the generator."""

    __slots__ = ("faults", "metrics", "ts")

    def __init__(self, ts: datetime, metrics: dict[str, Scalar], faults: tuple[str, ...]):
        self.ts = ts
        self.metrics = metrics
        self.faults = faults


def _values(profile: Profile) -> dict[str, list[Scalar]]:
    """For each metric a rule reads or an example shows: the values worth trying — those of
    the examples and of the rules' thresholds, and a little either side of each number."""
    values: dict[str, list[Scalar]] = {}

    def add(metric: str, value: Any) -> None:
        found = values.setdefault(metric, [])
        candidates = [value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            candidates += [value - 1, value + 1, value * 0.5, value * 2 + 1]
        found.extend(c for c in candidates if c not in found)

    for example in profile.examples:
        for metric, value in example.expect.metrics.items():
            add(metric, value)
    for rule in profile.rules:
        for condition in rule.conditions():
            add(condition.metric, condition.value)
        if rule.counter is not None:
            for value in (rule.counter.every, rule.counter.every * 2.5, 3):
                add(rule.counter.metric, value)
    for metric in values:
        values[metric].append("not a number")
    return values


@st.composite
def _sequences(draw: st.DrawFn, profile: Profile) -> list[_Reading]:
    values = _values(profile)
    faults = [*sorted(profile.faults), "not_a_fault_of_this_profile"]
    readings = []
    seconds = 0.0
    for _ in range(draw(st.integers(1, 25))):
        # mostly forward in time, sometimes a repeat of the same instant or a late one
        seconds += draw(st.sampled_from([0, 1, 30, 59, 60, 61, 119, 120, 300, 601, 3600, -90]))
        metrics = {
            metric: draw(st.sampled_from(choices))
            for metric, choices in values.items()
            if draw(st.booleans()) or len(values) == 1
        }
        reported = tuple(sorted(draw(st.sets(st.sampled_from(faults), max_size=2))))
        readings.append(_Reading(RECEIVED_AT + timedelta(seconds=seconds), metrics, reported))
    return readings


@pytest.mark.parametrize("profile", [*PROFILES, pump()], ids=lambda p: p.id)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_sequences_are_judged_as_before(profile: Profile, data: st.DataObject) -> None:
    readings = data.draw(_sequences(profile))
    new_state: RuleState | None = None
    old_state: RuleState | None = None
    plan = plan_for(profile)
    for reading in readings:
        old = reference_evaluate(profile, reading, old_state)
        new = evaluate(profile, reading, new_state)
        assert new == old
        assert plan.judge(reading.ts, reading.metrics, reading.faults, new_state) == old
        new_state, old_state = new.state, old.state


def test_a_plan_is_made_once_per_profile_and_forgotten_with_it() -> None:
    profile = pump()
    assert plan_for(profile) is plan_for(profile)
    assert plan_for(pump()) is not plan_for(profile), "another profile, another plan"
