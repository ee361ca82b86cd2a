"""Water booster pumps: on/off cycles that follow the water demand of the hour."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar, Final

from device_profiles.schema import Scalar
from device_profiles.units import conversion
from simulators.behaviour.base import Behaviour, _number_arg
from simulators.behaviour.rhythms import HOUR, water_demand


class WaterPump(Behaviour):
    """A booster set holding its outlet pressure: it runs for minutes at a time, more of the
    time the more water is drawn (:func:`water_demand`: about a fifth of the night, nearly
    all of the morning peak). While running the inverter holds the setpoint at 35-50 Hz;
    stopped, the pressure sags a little and the frequency is 0. Running hours grow only
    while it runs. ``set_pressure`` moves the setpoint (the argument is in the vendor's
    unit: kPa, MPa, bar or psi, by its name, else the pressure field's own unit)."""

    requires: ClassVar[Mapping[str, str]] = {"running": "bool"}
    owns: ClassVar[tuple[str, ...]] = ("running", "running_hours", "outlet_pressure", "frequency")

    MIN_ON_S: ClassVar[float] = 120.0
    MIN_OFF_S: ClassVar[float] = 60.0
    SAG: ClassVar[float] = 0.08
    """Share of the setpoint the pressure sags by while the pump is stopped."""

    def _setup(self) -> None:
        rng = self.rng
        self._period = rng.uniform(480.0, 900.0)  # one on/off cycle, seconds
        self._setpoint0 = self._number("outlet_pressure", 3.5) or 3.5
        self._setpoint = self._setpoint0
        running = [value for value in self._healthy_values("frequency") if value > 0.0]
        self._hz0 = min(max(running[0] if running else 45.0, 35.0), 50.0)
        base = self._bases.get("running")
        self._running = base if isinstance(base, bool) else True
        self._next_switch: float | None = None
        self._stopped_since = -math.inf

    def _duration(self, running: bool, hour: float) -> float:
        duty = 0.12 + 0.83 * water_demand(hour)
        if running:
            return max(self.MIN_ON_S, self.rng.expovariate(1.0 / (duty * self._period)))
        return max(self.MIN_OFF_S, self.rng.expovariate(1.0 / ((1.0 - duty) * self._period)))

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        if self._next_switch is None:
            self._next_switch = now + rng.random() * self._duration(self._running, hour)
        t = now - dt
        ran = 0.0
        while self._next_switch <= now:
            switch = max(self._next_switch, t)
            if self._running:
                ran += switch - t
            t = switch
            self._running = not self._running
            if not self._running:
                self._stopped_since = t
            at_hour = (hour - (now - t) / HOUR) % 24.0
            self._next_switch = t + self._duration(self._running, at_hour)
        if self._running:
            ran += now - t
        self._add("running_hours", ran / HOUR)
        demand = water_demand(hour)
        setpoint = self._setpoint
        if self._running:
            pressure = setpoint * (1.0 - 0.02 * demand) + rng.gauss(0.0, 0.01 * setpoint)
            hz = self._hz0 * (0.85 + 0.25 * demand) * math.sqrt(setpoint / self._setpoint0)
            frequency = min(max(hz + rng.gauss(0.0, 0.3), 35.0), 50.0)
        else:
            sag = 1.0 - math.exp(-(now - self._stopped_since) / 90.0)
            pressure = setpoint * (1.0 - self.SAG * sag) + rng.gauss(0.0, 0.005 * setpoint)
            frequency = 0.0
        self._set("running", self._running)
        self._set("outlet_pressure", max(0.0, pressure))
        self._set("frequency", frequency)

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        if name != "set_pressure":
            return super()._command(name, args, now)
        spec = self.profile.commands[name]
        for arg_name, arg in spec.args.items():
            value = _number_arg(args, arg_name)
            if value is None or arg.type not in ("int", "float"):
                continue
            if arg.min is not None:
                value = max(value, arg.min)
            if arg.max is not None:
                value = min(value, arg.max)
            bar = self._to_bar(arg_name, value)
            if bar is None or not bar > 0.0:
                return False
            plan = self._plans.get("outlet_pressure")
            if plan is not None:
                bar = min(max(bar, plan.low), plan.high)
            self._setpoint = bar
            if not self._running:
                self._next_switch = now  # the pressure is below the new setpoint: start
            return True
        return False

    def _to_bar(self, arg_name: str, value: float) -> float | None:
        unit = _PRESSURE_ARGS.get(arg_name.lower())
        metric = self.profile.decode.metrics.get("outlet_pressure")
        target = (metric.unit if metric is not None else None) or "bar"
        if unit is None and metric is not None:
            unit = metric.source.unit or metric.unit
        try:
            scale, offset = conversion(unit or target, target)
        except ValueError:
            return None
        return value * scale + offset


_PRESSURE_ARGS: Final = {"kpa": "kPa", "mpa": "MPa", "bar": "bar", "psi": "psi", "mbar": "mbar"}
