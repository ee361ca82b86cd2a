"""Simulated devices behave like the real thing: lights follow the sun, traffic peaks at rush
hour, pumps cycle with demand, counters only grow, and normal running raises no fault."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.decode import decode
from device_profiles.encode import encode
from device_profiles.rules import RuleState, evaluate
from device_profiles.schema import Profile, Scalar
from simulators.behaviour import (
    DEFAULT_LATITUDE,
    Behaviour,
    behaviour_for,
    commuter_traffic,
    counter_metrics,
    discrete_change,
    fault_state,
)
from simulators.daylight import dawn_and_dusk, is_dark
from simulators.device import fault_examples

CST = timezone(timedelta(hours=8))  # the community's local time
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
MIDSUMMER = 172
MIDWINTER = 355


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=CST).timestamp()


START = local(2025, 11, 27)  # a Thursday, midnight local time


def make(catalogue: Catalogue, profile_id: str, seed: int = 1) -> Behaviour:
    return behaviour_for(catalogue[profile_id], random.Random(seed))


def num(value: Scalar) -> float:
    assert not isinstance(value, (bool, str)), value
    return float(value)


def run(
    model: Behaviour, start: float, hours: float, every: float = MINUTE
) -> list[dict[str, Any]]:
    """Readings every ``every`` seconds from ``start`` for ``hours`` hours, with their time."""
    readings = []
    for k in range(int(hours * HOUR / every)):
        now = start + k * every
        readings.append({"_t": now, **model.step(now, CST)})
    return readings


def hour_of(reading: Mapping[str, Scalar]) -> float:
    moment = datetime.fromtimestamp(float(reading["_t"]), CST)
    return moment.hour + moment.minute / 60.0


# --- street lights ------------------------------------------------------------------------


def test_lights_are_on_at_night_and_off_at_noon(catalogue: Catalogue) -> None:
    for seed in range(5):
        light = make(catalogue, "brightway_street_light", seed)
        for day in (START, local(2025, 6, 21)):
            by_hour = {hour_of(r): r["on"] for r in run(light, day, 24, every=30 * MINUTE)}
            assert by_hour[3.0] is True and by_hour[23.0] is True, seed
            assert by_hour[12.0] is False, seed


def test_dusk_is_later_in_june_than_in_december() -> None:
    june_dawn, june_dusk = dawn_and_dusk(MIDSUMMER, DEFAULT_LATITUDE)
    december_dawn, december_dusk = dawn_and_dusk(MIDWINTER, DEFAULT_LATITUDE)
    assert june_dusk > december_dusk + 1.5  # about 19:15 against 17:15 at 31° north
    assert june_dawn < december_dawn - 1.5
    assert 18.5 < june_dusk < 20.0 and 16.5 < december_dusk < 18.0
    half_past_six_june, half_past_six_december = (
        local(2025, 6, 21, 18, 30),
        local(2025, 12, 21, 18, 30),
    )
    assert not is_dark(half_past_six_june, CST, DEFAULT_LATITUDE)
    assert is_dark(half_past_six_december, CST, DEFAULT_LATITUDE)


def test_a_light_draws_current_only_when_on(catalogue: Catalogue) -> None:
    light = make(catalogue, "brightway_street_light")
    readings = run(light, START, 48)
    on = [r for r in readings if r["on"]]
    off = [r for r in readings if not r["on"]]
    assert on and off
    assert all(r["current"] == 0.0 for r in off)
    # the first reading after switching on may catch the warm-up; none after it
    warmed = [b for a, b in itertools.pairwise(readings) if a["on"] and b["on"]]
    assert all(r["current"] > 0.3 for r in warmed)
    assert len({r["current"] for r in warmed}) > 5  # noise: not one fixed value
    assert all(220 < r["voltage"] < 240 for r in readings)


def test_switch_overrides_the_schedule_until_the_next_dusk_or_dawn(catalogue: Catalogue) -> None:
    light = make(catalogue, "brightway_street_light")
    noon = local(2025, 11, 27, 12)
    assert light.step(noon, CST)["on"] is False
    assert light.command("switch", {"on": True}, noon + 60) is True
    assert light.step(noon + 60, CST)["on"] is True
    assert light.step(noon + 2 * HOUR, CST)["on"] is True  # still overridden
    assert light.step(local(2025, 11, 27, 23), CST)["on"] is True  # dark now anyway
    assert light.command("switch", {"on": False}, local(2025, 11, 27, 23, 1)) is True
    assert light.step(local(2025, 11, 28, 3), CST)["on"] is False  # off until dawn...
    assert light.step(local(2025, 11, 28, 12), CST)["on"] is False
    assert light.step(local(2025, 11, 28, 23), CST)["on"] is True  # ...then the schedule again


# --- traffic: gates, barriers, elevators ---------------------------------------------------

TRAFFIC = [
    ("acme_access_gate", "cycles"),
    ("turnix_access_gate", "cycles"),
    ("parkline_vehicle_barrier", "opens"),
    ("liftsafe_elevator", "trips"),
]


def test_commuter_traffic_has_two_rush_hours() -> None:
    assert commuter_traffic(8.25) == pytest.approx(1.0, abs=0.05)
    assert commuter_traffic(18.25) > 0.8
    assert commuter_traffic(3.0) < 0.05
    assert 0.2 < commuter_traffic(13.0) < 0.5
    assert commuter_traffic(8.25, peak=120.0) == pytest.approx(120.0 * commuter_traffic(8.25))


@pytest.mark.parametrize(("profile_id", "counter"), TRAFFIC)
def test_usage_peaks_in_the_morning_rush(
    catalogue: Catalogue, profile_id: str, counter: str
) -> None:
    model = make(catalogue, profile_id, seed=3)
    rush = night = 0
    for day in range(3):
        readings = {hour_of(r): r[counter] for r in run(model, START + day * DAY, 24)}
        rush += readings[9.0] - readings[7.0]
        night += readings[4.0] - readings[2.0]
    assert rush > 5 * max(night, 1), (rush, night)


def test_barrier_opens_on_command_and_closes_again(catalogue: Catalogue) -> None:
    barrier = make(catalogue, "parkline_vehicle_barrier")
    at = local(2025, 11, 27, 3)
    before = barrier.step(at, CST)
    assert barrier.command("open", {}, at + 10) is True
    opened = barrier.step(at + 10, CST)
    assert opened["arm_up"] is True
    assert opened["opens"] == num(before["opens"]) + 1
    assert barrier.step(at + 60, CST)["arm_up"] is False  # lowered by itself
    assert barrier.command("open", {}, at + 70) is True
    assert barrier.command("close", {}, at + 71) is True
    assert barrier.step(at + 71, CST)["arm_up"] is False


def test_gate_opens_on_command_for_hold_s(catalogue: Catalogue) -> None:
    gate = make(catalogue, "acme_access_gate")
    at = local(2025, 11, 27, 3)
    gate.step(at, CST)
    assert gate.command("open", {"hold_s": 20}, at) is True
    assert gate.step(at + 10, CST)["door_open"] is True
    assert gate.step(at + 25, CST)["door_open"] is False


# --- pumps --------------------------------------------------------------------------------


def test_pumps_run_more_in_the_morning_peak_than_at_night(catalogue: Catalogue) -> None:
    for profile_id in ("aquaboost_water_pump", "hydropro_water_pump"):
        morning = night = 0
        for seed in range(4):
            for r in run(make(catalogue, profile_id, seed), START, 48):
                hour = hour_of(r)
                if 6.5 <= hour < 8.0:
                    morning += bool(r["running"])
                elif 2.5 <= hour < 4.0:
                    night += bool(r["running"])
        assert morning > 1.5 * night > 0, (profile_id, morning, night)


def test_running_hours_grow_only_while_running(catalogue: Catalogue) -> None:
    for profile_id in ("aquaboost_water_pump", "hydropro_water_pump"):
        readings = run(make(catalogue, profile_id), START, 24)
        grew_idle = 0
        for a, b in itertools.pairwise(readings):
            grown = b["running_hours"] - a["running_hours"]
            assert grown >= 0
            if not a["running"] and not b["running"]:
                grew_idle += grown > 0
                assert b["frequency"] == 0.0
            if a["running"] and b["running"]:
                assert grown == pytest.approx(1 / 60, abs=0.011)  # a minute, in vendor units
        assert grew_idle == 0
        total = readings[-1]["running_hours"] - readings[0]["running_hours"]
        running_share = sum(bool(r["running"]) for r in readings) / len(readings)
        assert total == pytest.approx(24 * running_share, abs=1.0)
        assert all(35 <= r["frequency"] <= 50 for r in readings if r["running"])
        assert all(r["outlet_pressure"] > 2.5 for r in readings)


@pytest.mark.parametrize(
    ("profile_id", "args"),
    [("aquaboost_water_pump", {"kpa": 500}), ("hydropro_water_pump", {"mpa": 0.5})],
)
def test_set_pressure_moves_the_outlet_pressure(
    catalogue: Catalogue, profile_id: str, args: dict[str, Scalar]
) -> None:
    pump = make(catalogue, profile_id)
    at = local(2025, 11, 27, 3)
    before = [r["outlet_pressure"] for r in run(pump, at, 1)]
    assert max(before) < 4.5
    assert pump.command("set_pressure", args, at + HOUR) is True
    assert pump.step(at + HOUR, CST)["outlet_pressure"] == pytest.approx(5.0, abs=0.15)
    after = [r["outlet_pressure"] for r in run(pump, at + HOUR + MINUTE, 2)]
    assert all(4.4 < p < 5.2 for p in after)
    assert pump.command("reset_alarm" if "kpa" in args else "acknowledge", {}, at + 4 * HOUR)


# --- environment, bins, chargers ----------------------------------------------------------


@pytest.mark.parametrize(
    "profile_id", ["airnode_environment_sensor", "climasense_environment_sensor"]
)
def test_environment_follows_the_day(catalogue: Catalogue, profile_id: str) -> None:
    profile = catalogue[profile_id]
    afternoons, dawns, humid_dawn, humid_afternoon = [], [], [], []
    for seed in range(4):
        readings = run(make(catalogue, profile_id, seed), START, 72, every=10 * MINUTE)
        for r in readings:
            for name, metric in profile.decode.metrics.items():
                assert metric.range is not None
                assert metric.range[0] <= r[name] <= metric.range[1]
            if hour_of(r) == 15.0:
                afternoons.append(r["temperature"])
                humid_afternoon.append(r["humidity"])
            elif hour_of(r) == 5.0:
                dawns.append(r["temperature"])
                humid_dawn.append(r["humidity"])
        for name in ("temperature", "humidity", "pm25", "noise"):
            assert len({r[name] for r in readings}) > 10, name  # noise: values vary
        assert max(r["pm25"] for r in readings) < 150 and max(r["noise"] for r in readings) < 70
    assert statistics.mean(afternoons) > statistics.mean(dawns) + 4
    assert statistics.mean(humid_afternoon) < statistics.mean(humid_dawn)


def test_bins_fill_by_day_and_are_emptied_in_the_morning(catalogue: Catalogue) -> None:
    for seed in range(3):
        readings = run(make(catalogue, "binsense_waste_bin", seed), START, 72, every=15 * MINUTE)
        fill = {(int(r["_t"] - START) // int(DAY), hour_of(r)): r["fill_level"] for r in readings}
        for day in range(3):
            before, after, evening = fill[day, 5.75], fill[day, 9.25], fill[day, 21.0]
            assert after < before - 15, (seed, day)  # collected between 06:00 and 09:00
            assert evening > after + 15, (seed, day)  # filled through the day
        assert max(r["fill_level"] for r in readings) < 90  # never "full" for 30 minutes
        assert readings[-1]["battery"] <= readings[0]["battery"]


def test_chargers_charge_mostly_in_the_evening_and_never_without_power(
    catalogue: Catalogue,
) -> None:
    evening_starts = daytime_starts = 0
    for seed in range(4):
        readings = run(make(catalogue, "voltgo_ev_charger", seed), START, 96, every=5 * MINUTE)
        for a, b in itertools.pairwise(readings):
            assert (b["power"] > 1.0) == (b["state"] == "charging")
            if a["state"] == b["state"] == "charging":
                assert b["session_energy"] > a["session_energy"]
            if b["state"] == "available":
                assert b["session_energy"] == 0.0
            if b["state"] == "charging" and a["state"] != "charging":
                if 16 <= hour_of(b) < 24:
                    evening_starts += 1
                elif 6 <= hour_of(b) < 14:
                    daytime_starts += 1
    assert evening_starts > 2 * daytime_starts


# --- every profile: a day of normal running raises no fault --------------------------------


@dataclass(frozen=True)
class Reading:
    ts: datetime
    metrics: Mapping[str, Scalar]
    faults: tuple[str, ...] = ()


def same(decoded: Mapping[str, Scalar], sent: Mapping[str, Scalar]) -> bool:
    """Whether decoding gave back what was encoded (numbers to the decoder's 9 decimals)."""
    if decoded.keys() != sent.keys():
        return False
    for name, value in sent.items():
        got = decoded[name]
        if isinstance(value, (bool, str)) or isinstance(got, (bool, str)):
            if type(got) is not type(value) or got != value:
                return False
        elif got != pytest.approx(value, rel=1e-9, abs=1e-9):
            return False
    return True


def _day(profile: Profile, seed: int, start: float, *, encoded: bool) -> set[str]:
    """Faults raised in a day of ``profile``'s normal running, stepped as the simulator does.

    Every step is judged by the rules as it is (its own carried state). With ``encoded``,
    every report the simulator would send — on the heartbeat, or at once on a discrete
    change — also goes through encode and decode and is judged as the cloud would judge it.
    """
    model = behaviour_for(profile, random.Random(seed))
    counters = counter_metrics(profile)
    raised: set[str] = set()
    canonical = cloud = RuleState()
    sent: dict[str, Scalar] | None = None
    previous: dict[str, Scalar] | None = None
    next_report = start
    every = min(profile.heartbeat_s, MINUTE)
    for k in range(int(DAY / every)):
        now = start + k * every
        metrics = model.step(now, CST)
        ts = datetime.fromtimestamp(now, UTC)
        assert metrics.keys() == profile.decode.metrics.keys()
        verdict = evaluate(profile, Reading(ts, metrics), canonical)
        canonical = verdict.state
        raised.update(verdict.faults)
        if previous is not None:
            for name in counters:
                assert num(metrics[name]) >= num(previous[name]), (profile.id, name)
        previous = metrics
        if encoded and (sent is None or now >= next_report or discrete_change(sent, metrics)):
            topic, payload = encode(profile, "dev-01", metrics, (), ts)
            decoded = decode(profile, topic, payload, ts)
            assert same(decoded.metrics, metrics), (profile.id, decoded.metrics, metrics)
            verdict = evaluate(profile, decoded, cloud)
            cloud = verdict.state
            raised.update(verdict.faults)
            sent = metrics
            next_report = max(next_report, now) + profile.heartbeat_s
    return raised


def _counter_faults(profile: Profile) -> set[str]:
    return {rule.fault for rule in profile.rules if rule.counter is not None}


def test_a_day_of_normal_running_raises_no_fault(catalogue: Catalogue) -> None:
    for profile in catalogue:
        raised = _day(profile, 11, START, encoded=True)
        assert raised <= _counter_faults(profile), (profile.id, raised)


@pytest.mark.parametrize("seed", [12, 13])
def test_normal_running_never_meets_a_fault_condition(catalogue: Catalogue, seed: int) -> None:
    """Midsummer and another device of each profile: no step meets a rule's condition."""
    for profile in catalogue:
        raised = _day(profile, seed, local(2025, 6, 21) + (seed - 12) * DAY, encoded=False)
        assert raised <= _counter_faults(profile), (profile.id, raised)


def test_every_number_moves(catalogue: Catalogue) -> None:
    """Not a replay: every float metric varies over two days (batteries aside: whole percent
    or millivolts hardly move in a day; they are checked over a year)."""
    for profile in catalogue:
        readings = run(behaviour_for(profile, random.Random(5)), START, 48)
        for name, metric in profile.decode.metrics.items():
            if metric.source.type == "float" and not name.startswith("battery"):
                assert len({r[name] for r in readings}) > 1, (profile.id, name)


def test_batteries_drain_slowly_and_stay_clear_of_their_alarm(catalogue: Catalogue) -> None:
    for profile in catalogue:
        batteries = [name for name in profile.decode.metrics if name.startswith("battery")]
        if not batteries:
            continue
        model = behaviour_for(profile, random.Random(6))
        state = RuleState()
        readings = []
        for day in range(0, 366, 5):
            now = START + day * DAY
            readings.append(model.step(now, CST))
            verdict = evaluate(
                profile, Reading(datetime.fromtimestamp(now, UTC), readings[-1]), state
            )
            state = verdict.state
            assert verdict.faults == (), (profile.id, verdict.faults)
        for name in batteries:
            first, last = num(readings[0][name]), num(readings[-1][name])
            assert 0.75 * first < last < first, (profile.id, name)


def test_a_seed_replays_the_same_day(catalogue: Catalogue) -> None:
    for profile in catalogue:
        first = run(behaviour_for(profile, random.Random(9)), START, 6, every=5 * MINUTE)
        again = run(behaviour_for(profile, random.Random(9)), START, 6, every=5 * MINUTE)
        assert first == again, profile.id


# --- commands -----------------------------------------------------------------------------


def _args_for(profile: Profile, command: str) -> dict[str, Scalar]:
    args: dict[str, Scalar] = {}
    for name, arg in profile.commands[command].args.items():
        if arg.default is not None:
            args[name] = arg.default
        elif arg.choices:
            args[name] = arg.choices[-1]
        elif arg.type == "bool":
            args[name] = False
        elif arg.type in ("int", "float"):
            value = arg.max if arg.max is not None else 1
            args[name] = int(value) if arg.type == "int" else float(value)
        else:
            args[name] = "x"
    return args


def test_every_command_is_taken_without_error(catalogue: Catalogue) -> None:
    for profile in catalogue:
        model = behaviour_for(profile, random.Random(2))
        now = START + 8 * HOUR
        model.step(now, CST)
        for command in profile.commands:
            now += 30
            assert isinstance(model.command(command, _args_for(profile, command), now), bool)
            metrics = model.step(now, CST)
            encode(profile, "dev-01", metrics, (), datetime.fromtimestamp(now, UTC))
        assert model.command("no_such_command", {}, now) is False


# --- faults -------------------------------------------------------------------------------


def test_fault_state_shows_each_fault(catalogue: Catalogue) -> None:
    checked = 0
    for profile in catalogue:
        counters = counter_metrics(profile)
        for fault in fault_examples(profile):
            model = behaviour_for(profile, random.Random(4))
            now = START + 8 * HOUR
            for minute in range(10):
                running = model.step(now + minute * MINUTE, CST)
            metrics, faults = fault_state(profile, fault, running)
            for name in counters:
                assert num(metrics[name]) >= num(running[name]), (profile.id, fault, name)
            held_s = max((r.for_s for r in profile.rules if r.fault == fault), default=0.0)
            state = None
            for t in (now, now + held_s / 2, now + held_s) if held_s else (now,):
                ts = datetime.fromtimestamp(t, UTC)
                topic, payload = encode(profile, "dev-01", metrics, faults, ts)
                verdict = evaluate(profile, decode(profile, topic, payload, ts), state)
                state = verdict.state
            assert verdict.faults == (fault,), (profile.id, fault, verdict.faults)
            checked += 1
    assert checked > 60


def test_fault_state_keeps_counters_running(catalogue: Catalogue) -> None:
    gate = catalogue["acme_access_gate"]
    running = {"door_open": False, "cycles": 49000, "motor_current": 0.0}
    jammed, faults = fault_state(gate, "motor_jammed", running)
    assert jammed["cycles"] == 49000  # not the example's 48212
    assert jammed["door_open"] is True and faults == ("motor_jammed",)
    due, faults = fault_state(gate, "maintenance_due", running)
    assert due["cycles"] == 50012 and faults == ()  # moved on to show it; a rule raises it
    later, _ = fault_state(gate, "maintenance_due", {**running, "cycles": 60000})
    assert later["cycles"] == 60000
    with pytest.raises(KeyError):
        fault_state(gate, "offline", running)  # shown by silence, not by a payload


def test_adopted_counters_carry_on(catalogue: Catalogue) -> None:
    model = make(catalogue, "liftsafe_elevator")
    running = model.step(START, CST)
    due, _ = fault_state(model.profile, "maintenance_due", running)
    model.adopt_counters(due)
    later = model.step(START + HOUR, CST)
    assert float(later["trips"]) >= float(due["trips"]) > float(running["trips"])


def test_discrete_change_is_a_bool_or_text_change() -> None:
    before: dict[str, Scalar] = {"on": True, "mode": "normal", "current": 0.42}
    assert not discrete_change(before, {**before, "current": 0.44})
    assert discrete_change(before, {**before, "on": False})
    assert discrete_change(before, {**before, "mode": "inspection"})
    assert discrete_change({"current": 0.4}, {"current": 0.4, "on": True})


# --- any profile --------------------------------------------------------------------------


def test_an_unknown_type_gets_the_generic_model(catalogue: Catalogue) -> None:
    """A profile from a user's own directory, of a type no model knows, still simulates."""
    for source, kind in (("voltgo_ev_charger", "wallbox"), ("aquaboost_water_pump", "booster")):
        profile = catalogue[source].model_copy(update={"type": kind})
        model = behaviour_for(profile, random.Random(1))
        assert type(model) is Behaviour
        readings = run(model, START, 24, every=15 * MINUTE)
        for r in readings:
            metrics = {k: v for k, v in r.items() if k != "_t"}
            encode(profile, "dev-01", metrics, (), datetime.fromtimestamp(r["_t"], UTC))
    # the generic booster: states stay as in the healthy example, numbers wander, the
    # usage counter grows slowly (about one service interval a year)
    assert all(r["running"] is True for r in readings)
    assert len({r["outlet_pressure"] for r in readings}) > 5
    assert all(r["outlet_pressure"] > 2.0 for r in readings)
    grown = readings[-1]["running_hours"] - readings[0]["running_hours"]
    assert 2000 / 365 * 0.9 < grown < 2000 / 365 * 1.1


def test_a_profile_missing_what_its_model_needs_gets_the_generic_model(
    catalogue: Catalogue,
) -> None:
    light = catalogue["brightway_street_light"]
    metrics = {k: v for k, v in light.decode.metrics.items() if k != "on"}
    rules = tuple(r for r in light.rules if "on" not in {c.metric for c in r.conditions()})
    examples = tuple(
        e.model_copy(
            update={
                "expect": e.expect.model_copy(
                    update={"metrics": {k: v for k, v in e.expect.metrics.items() if k != "on"}}
                )
            }
        )
        for e in light.examples
    )
    profile = light.model_copy(
        update={
            "decode": light.decode.model_copy(update={"metrics": metrics}),
            "rules": rules,
            "examples": examples,
        }
    )
    model = behaviour_for(profile, random.Random(1))
    assert type(model) is Behaviour
    assert set(model.step(START, CST)) == {"current", "voltage"}


def test_a_device_does_not_start_from_a_passing_state(catalogue: Catalogue) -> None:
    """A healthy example caught in a rule's condition (a lamp warming up, healthy only for a
    while) is not what a device settles in: it starts from one that meets no condition."""
    light = catalogue["brightway_street_light"]
    starting = next(e for e in light.examples if e.name == "lamp_starting")
    rest = tuple(e for e in light.examples if e is not starting)
    profile = light.model_copy(update={"type": "lamp", "examples": (starting, *rest)})
    model = behaviour_for(profile, random.Random(1))
    assert type(model) is Behaviour  # the generic model: it keeps what it starts from
    state = RuleState()
    for minute in range(30):
        now = START + minute * MINUTE
        reading = Reading(datetime.fromtimestamp(now, UTC), model.step(now, CST))
        verdict = evaluate(profile, reading, state)
        state = verdict.state
        assert verdict.faults == ()
        assert reading.metrics["on"] is True and num(reading.metrics["current"]) > 0.3
