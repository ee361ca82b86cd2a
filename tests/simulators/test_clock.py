"""Simulated time: speed times as fast as the monotonic clock, and the real time it takes."""

from __future__ import annotations

from simulators.clock import SimClock


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
