"""Gates, barriers and elevators: traffic that peaks at commuting hours and drives the
usage counters preventive maintenance reads."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from device_profiles.schema import Profile, Scalar
from simulators.behaviour.base import Behaviour, _arg, _is_number, _number_arg
from simulators.behaviour.rhythms import HOUR, commuter_traffic, expected_passages, poisson

# --- gates and barriers -------------------------------------------------------------------


@dataclass(frozen=True)
class Passages:
    """Traffic through a gate or barrier.

    Each passage adds one to ``counter`` and holds ``open_flag`` true for about ``hold_s``;
    ``present_flag`` (someone on the loop) is true in its middle; ``motor`` draws current
    only during the ``move_s`` of opening and of closing. ``peak_per_hour`` passages come in
    the morning rush (:func:`commuter_traffic`), each device 0.6-1.4 times that. An ``open``
    command holds open for its ``hold_s`` argument (else ``hold_s``), at most ``max_hold_s``.
    """

    counter: str
    open_flag: str
    present_flag: str | None = None
    motor: str | None = None
    peak_per_hour: float = 120.0
    hold_s: float = 5.0
    move_s: float = 1.0
    max_hold_s: float = 60.0

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics a passage model computes."""
        named = (self.counter, self.open_flag, self.present_flag, self.motor)
        return tuple(name for name in named if name is not None)


class PassageModel(Behaviour):
    """Gates and barriers: :class:`Passages` by the time of day."""

    spec: ClassVar[Passages]

    @classmethod
    def fits(cls, profile: Profile) -> bool:
        spec = cls.spec
        metrics = profile.decode.metrics
        counter, flag = metrics.get(spec.counter), metrics.get(spec.open_flag)
        return (
            counter is not None
            and counter.source.type in ("int", "float")
            and counter.source.map is None
            and flag is not None
            and flag.source.type == "bool"
        )

    def _setup(self) -> None:
        rng = self.rng
        spec = self.spec
        self._peak = spec.peak_per_hour * rng.uniform(0.6, 1.4)
        self._open_from = self._open_to = -math.inf
        self._present_from = self._present_to = -math.inf
        self._mode = "normal"
        self._motor = 0.0
        if spec.motor is not None and self._has(spec.motor):
            running = [value for value in self._healthy_values(spec.motor) if value > 0.0]
            motor = (running[0] if running else 1.0) * rng.uniform(0.9, 1.1)
            self._motor = min(motor, self._plans[spec.motor].safe_high / 1.2)

    def _open(self, start: float, hold: float, *, vehicle: bool) -> None:
        self._open_from, self._open_to = start, start + hold
        move = self.spec.move_s
        if vehicle and hold > 2.0 * move:
            self._present_from, self._present_to = start + move, start + hold - 0.5 * move
        else:
            self._present_from = self._present_to = -math.inf

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        spec = self.spec
        rng = self.rng
        if self._mode == "normal" and dt > 0.0:
            recent = min(dt, spec.hold_s)
            fresh_mean = commuter_traffic(hour, self._peak) / HOUR * recent
            expected = expected_passages(hour, dt, self._peak)
            earlier = poisson(rng, max(0.0, expected - fresh_mean))
            fresh = poisson(rng, fresh_mean)
            if fresh:
                start = now - rng.random() * recent
                self._open(start, spec.hold_s * rng.uniform(0.8, 1.25), vehicle=True)
            self._add(spec.counter, earlier + fresh)
        is_open = self._mode == "free" or self._open_from <= now < self._open_to
        self._set(spec.open_flag, is_open)
        if spec.present_flag is not None:
            self._set(spec.present_flag, self._present_from <= now < self._present_to)
        if spec.motor is not None:
            moving = self._open_from <= now < self._open_to and (
                now - self._open_from < spec.move_s or self._open_to - now < spec.move_s
            )
            current = self._motor * (1.0 + rng.gauss(0.0, 0.04)) if moving else 0.0
            self._set(spec.motor, max(0.0, current))

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        spec = self.spec
        if name == "open":
            hold = _number_arg(args, "hold_s")
            if hold is None:
                default = _arg(self.profile, name, args, "hold_s")
                hold = float(default) if _is_number(default) else spec.hold_s
            hold = min(max(hold, 1.0), spec.max_hold_s)
            if not self._open_from <= now < self._open_to:
                self._add(spec.counter, 1)
            self._open(now, hold, vehicle=False)
            return True
        if name == "close":
            if self._present_from <= now < self._present_to:
                return False  # refused: a vehicle is under the boom
            self._open_to = min(self._open_to, now)
            return True
        if name == "self_test":
            self._add(spec.counter, 1)
            self._open(now, 2.0 * spec.move_s + 0.5, vehicle=False)
            return True
        if name == "set_mode":
            mode = args.get("mode")
            if mode not in ("normal", "free", "locked"):
                return False
            assert isinstance(mode, str)
            if mode == "free" and self._mode != "free":
                self._add(spec.counter, 1)
            self._mode = mode
            return True
        return super()._command(name, args, now)


class AccessGate(PassageModel):
    spec: ClassVar[Passages] = Passages(
        counter="cycles",
        open_flag="door_open",
        motor="motor_current",
        peak_per_hour=180.0,
        hold_s=4.0,
        move_s=0.8,
        max_hold_s=60.0,
    )
    owns: ClassVar[tuple[str, ...]] = spec.metrics


class VehicleBarrier(PassageModel):
    spec: ClassVar[Passages] = Passages(
        counter="opens",
        open_flag="arm_up",
        present_flag="vehicle_present",
        peak_per_hour=60.0,
        hold_s=10.0,
        move_s=2.5,
        max_hold_s=120.0,  # well under the 10 minutes that make a barrier "stuck open"
    )
    owns: ClassVar[tuple[str, ...]] = spec.metrics


# --- elevators ----------------------------------------------------------------------------


class Elevator(Behaviour):
    """Trips by the time of day (residents leave in the morning, come home in the evening):
    doors open at the origin, the car runs (about 1.5 s a floor), doors open at the
    destination. Mostly between the lobby (the healthy example's floor) and the upper
    floors; each building 6-18 floors high."""

    requires: ClassVar[Mapping[str, str]] = {"trips": "number"}
    owns: ClassVar[tuple[str, ...]] = ("trips", "running", "floor", "door_open")

    PEAK_PER_HOUR: ClassVar[float] = 50.0
    DOOR_S: ClassVar[float] = 6.0
    START_S: ClassVar[float] = 2.5
    PER_FLOOR_S: ClassVar[float] = 1.5

    def _setup(self) -> None:
        rng = self.rng
        self._peak = self.PEAK_PER_HOUR * rng.uniform(0.6, 1.4)
        low, high = -5, 99
        if self._has("floor"):
            plan = self._plans["floor"]
            low, high = (
                math.ceil(plan.low) if math.isfinite(plan.low) else -5,
                (math.floor(plan.high) if math.isfinite(plan.high) else 99),
            )
        self._lobby = int(min(max(self._number("floor", 1.0), low), high))
        self._top = max(self._lobby + 1, min(self._lobby + rng.randint(5, 17), high))
        self._floor = self._lobby
        self._trip: tuple[float, int, int] | None = None  # (start, origin, destination)

    def _next_floor(self, origin: int) -> int:
        rng = self.rng
        if origin != self._lobby and rng.random() < 0.8:
            return self._lobby
        choices = self._top - self._lobby
        floor = self._lobby + 1 + rng.randrange(choices) if choices > 0 else self._lobby
        return floor if floor != origin else self._lobby

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        if dt > 0.0:
            longest = (
                2.0 * self.DOOR_S + self.START_S + self.PER_FLOOR_S * (self._top - self._lobby)
            )
            recent = min(dt, longest)
            fresh_mean = commuter_traffic(hour, self._peak) / HOUR * recent
            expected = expected_passages(hour, dt, self._peak)
            earlier = poisson(rng, max(0.0, expected - fresh_mean))
            fresh = poisson(rng, fresh_mean)
            for _ in range(min(earlier, 3)):
                self._floor = self._next_floor(self._floor)
            if fresh:
                destination = self._next_floor(self._floor)
                self._trip = (now - rng.random() * recent, self._floor, destination)
                self._floor = destination
            self._add("trips", earlier + fresh)
        running, door, floor = False, False, self._floor
        if self._trip is not None:
            start, origin, destination = self._trip
            elapsed = now - start
            run_s = self.START_S + self.PER_FLOOR_S * abs(destination - origin)
            if elapsed < self.DOOR_S:
                door, floor = True, origin
            elif elapsed < self.DOOR_S + run_s:
                running = True
                share = (elapsed - self.DOOR_S) / run_s
                floor = round(origin + (destination - origin) * share)
            elif elapsed < 2.0 * self.DOOR_S + run_s:
                door = True
            else:
                self._trip = None
        self._set("running", running)
        self._set("door_open", door)
        self._set("floor", floor)
