"""Rule kinds with memory — durations, rates, usage counters — and silence, evaluated purely."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from device_profiles import Health, Profile
from device_profiles.decode import Decoded
from device_profiles.rules import (
    RuleState,
    Verdict,
    evaluate,
    is_news,
    serviced,
    silent_faults,
)
from tests.sample_profiles import pump

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def reading(
    seconds: float,
    *,
    pressure: float = 3.0,
    running: bool = True,
    hours: float = 10,
    dry: bool = False,
) -> Decoded:
    return Decoded(
        device_id="p1",
        device_type="water_pump",
        profile="test_pump",
        profile_version="1.0.0",
        ts=T0 + timedelta(seconds=seconds),
        metrics={"pressure": pressure, "running": running, "hours": hours},
        faults=("dry_run",) if dry else (),
    )


def feed(profile: Profile, *readings: Decoded, state: RuleState | None = None) -> Verdict:
    verdict = Verdict(faults=(), health=Health.OK, state=state or RuleState())
    for one in readings:
        verdict = evaluate(profile, one, verdict.state)
    return verdict


def test_threshold_fires_only_after_holding_for_its_duration() -> None:
    profile = pump()
    assert feed(profile, reading(0, pressure=1.0)).faults == ()
    assert feed(profile, reading(0, pressure=1.0), reading(119, pressure=1.1)).faults == ()
    held = feed(
        profile, reading(0, pressure=1.0), reading(60, pressure=1.2), reading(120, pressure=1.0)
    )
    assert held.faults == ("low_pressure",)
    assert held.health is Health.FAULTY


def test_threshold_duration_restarts_when_the_condition_breaks() -> None:
    profile = pump()
    broken = feed(
        profile, reading(0, pressure=1.0), reading(100, pressure=3.0), reading(130, pressure=1.0)
    )
    assert broken.faults == ()
    assert broken.state.holding_since == {"low_pressure": T0 + timedelta(seconds=130)}
    # the while-condition counts too: a stopped pump has no pressure to hold
    stopped = feed(profile, reading(0, pressure=1.0), reading(200, pressure=1.0, running=False))
    assert stopped.faults == ()


def test_an_out_of_order_reading_neither_advances_nor_resets_durations() -> None:
    profile = pump()
    started = feed(profile, reading(100, pressure=1.0))
    late = evaluate(profile, reading(50, pressure=3.0), started.state)
    assert late.state == started.state
    assert evaluate(profile, reading(220, pressure=1.0), late.state).faults == ("low_pressure",)


def test_counter_falls_due_every_n_units_since_the_last_service() -> None:
    profile = pump()
    assert feed(profile, reading(0, hours=1999)).faults == ()
    due = feed(profile, reading(0, hours=2000.5))
    assert due.faults == ("service_due",)
    assert due.health is Health.DEGRADED
    after = serviced(profile, due.state, "service_due", {"hours": 2000.5})
    assert after.counter_base == {"service_due": 2000.5}
    assert evaluate(profile, reading(60, hours=2100), after).faults == ()
    assert evaluate(profile, reading(60, hours=4000.5), after).faults == ("service_due",)
    # servicing something that is not a counter fault changes nothing
    assert serviced(profile, due.state, "low_pressure", {"hours": 1}) == due.state


def test_rate_counts_fault_starts_within_the_window() -> None:
    profile = pump()
    flapping = [reading(i * 60, dry=(i % 2 == 0)) for i in range(5)]  # starts at 0, 120, 240 s
    assert "dry_run_repeatedly" in feed(profile, *flapping).faults
    # one long dry run is one start, however many readings report it
    steady = [reading(i * 60, dry=True) for i in range(6)]
    assert "dry_run_repeatedly" not in feed(profile, *steady).faults
    # starts spread wider than the window do not add up
    spread = [reading(i * 400, dry=(i % 2 == 0)) for i in range(5)]  # starts 800 s apart
    assert "dry_run_repeatedly" not in feed(profile, *spread).faults


def test_rate_fault_ends_when_old_starts_leave_the_window() -> None:
    profile = pump()
    flapping = [reading(i * 60, dry=(i % 2 == 0)) for i in range(5)]
    later = feed(profile, *flapping, reading(240 + 601))
    assert "dry_run_repeatedly" not in later.faults


def test_silence_after_the_given_number_of_heartbeats() -> None:
    profile = pump()
    assert silent_faults(profile, T0, T0 + timedelta(seconds=179)) == ()
    assert silent_faults(profile, T0, T0 + timedelta(seconds=180)) == ("offline",)


def test_rule_state_survives_json() -> None:
    profile = pump()
    verdict = feed(profile, reading(0, pressure=1.0, dry=True), reading(60, dry=False))
    restored = RuleState.from_json(json.dumps(verdict.state.to_json()))
    assert restored == verdict.state
    assert RuleState.from_json(verdict.state.to_json()) == verdict.state


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fault": "offline"}, "exactly one of"),
        (
            {
                "fault": "offline",
                "silence": {"heartbeats": 3},
                "counter": {"metric": "hours", "every": 5},
            },
            "found silence, counter",
        ),
        ({"fault": "offline", "silence": {"heartbeats": 3}, "for_s": 10}, "belong to threshold"),
        ({"fault": "service_due", "counter": {"metric": "nope", "every": 5}}, "unknown metric"),
        (
            {"fault": "dry_run_repeatedly", "rate": {"fault": "nope", "count": 3, "window_s": 60}},
            "undeclared fault",
        ),
    ],
)
def test_malformed_rules_are_rejected(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        pump(rules=[rule])


def test_a_change_within_the_deadband_is_no_news() -> None:
    banded = pump()
    metrics = dict(banded.decode.metrics)
    metrics["pressure"] = metrics["pressure"].model_copy(update={"deadband": 0.2})
    banded = banded.model_copy(
        update={"decode": banded.decode.model_copy(update={"metrics": metrics})}
    )
    before = {"pressure": 3.0, "running": True, "hours": 10.0}
    assert not is_news(banded, before, {**before, "pressure": 3.19})
    assert is_news(banded, before, {**before, "pressure": 3.2})
    assert is_news(banded, before, {**before, "running": False})  # no deadband: any change
    assert is_news(banded, before, {**before, "hours": 10.5})
    assert is_news(banded, None, before)
    # a profile without deadbands: every reading is news
    assert is_news(pump(), before, dict(before))
