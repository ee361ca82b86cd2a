"""The simulator's timetable: due entries in order, wakeups, and looks made stale."""

from __future__ import annotations

import random

from device_profiles.catalogue import Catalogue
from simulators.behaviour import behaviour_for
from simulators.community import Community
from simulators.live import LiveDevice
from simulators.schedule import Event, Schedule


def test_due_entries_come_in_order_of_time_then_of_pushing() -> None:
    schedule = Schedule()
    schedule.push(2.0, Event.TICK, "b")
    schedule.push(1.0, Event.GARBAGE, "a")
    schedule.push(2.0, Event.FAULT_END, "c", token=3)
    assert schedule.next_when() == 1.0
    assert schedule.pop_due(0.5) is None
    due = [schedule.pop_due(5.0) for _ in range(3)]
    assert [(d.device_id, d.kind) for d in due if d] == [
        ("a", Event.GARBAGE),
        ("b", Event.TICK),
        ("c", Event.FAULT_END),
    ]
    assert schedule.pop_due(5.0) is None
    assert schedule.next_when() is None


def test_every_push_wakes_the_loop() -> None:
    schedule = Schedule()
    assert not schedule.wakeup.is_set()
    schedule.push(1.0, Event.RANDOM_FAULT)
    assert schedule.wakeup.is_set()


def test_a_look_now_makes_the_earlier_looks_stale(catalogue: Catalogue) -> None:
    device = next(iter(Community.generate(catalogue, {"acme_access_gate": 1})))
    live = LiveDevice(device, behaviour_for(device.profile, random.Random(1)))
    schedule = Schedule()
    schedule.push(0.0, Event.TICK, live.device_id, live.tick_token)
    schedule.tick_now(live)
    assert live.force
    first, now = schedule.pop_due(float("inf")), schedule.pop_due(float("inf"))
    assert first is not None and now is not None
    assert first.token != live.tick_token and now.token == live.tick_token
