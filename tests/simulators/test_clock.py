"""Simulated time, and waiting in real time until an event or a delay."""

from __future__ import annotations

import asyncio
import time

from simulators.clock import SimClock, wait_for_event


def test_simulated_time_runs_speed_times_as_fast() -> None:
    now = [100.0]
    clock = SimClock(60, start=1_700_000_000.0, monotonic=lambda: now[0], wall=lambda: 5.0)
    now[0] += 2
    assert clock.elapsed() == 120
    assert clock.now() == 1_700_000_120.0
    assert clock.wall() == 5.0
    assert clock.real(600) == 10
    assert clock.deadline(60) == 103.0
    assert clock.deadline_at(600) == 110.0


async def test_a_wait_ends_when_the_event_is_set_or_the_delay_passes() -> None:
    event = asyncio.Event()
    started = time.monotonic()
    await wait_for_event(event, 0.05)
    assert 0.04 < time.monotonic() - started < 1
    asyncio.get_running_loop().call_later(0.05, event.set)
    started = time.monotonic()
    await wait_for_event(event, 10)
    assert time.monotonic() - started < 1
    await wait_for_event(event, None)  # set: at once
