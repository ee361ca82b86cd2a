"""EV chargers: charging sessions, mostly in the evening and overnight."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from device_profiles.schema import Profile, Scalar
from simulators.behaviour.base import Behaviour, _arg
from simulators.behaviour.rhythms import HOUR, diurnal, ev_arrivals


class EvCharger(Behaviour):
    """Charging sessions, mostly in the evening (:func:`ev_arrivals`): a car plugs in and
    charges at the point's rated power until it has what it needs (5-35 kWh), then waits
    (``suspended_ev``, no power) until its driver leaves — the next morning if it came in
    the evening. The session's energy grows only while charging; it is 0 when the point is
    free. The charger warms up while charging."""

    requires: ClassVar[Mapping[str, str]] = {"state": "str", "power": "number"}
    owns: ClassVar[tuple[str, ...]] = ("state", "power", "session_energy", "temperature")

    @classmethod
    def fits(cls, profile: Profile) -> bool:
        if not super().fits(profile):
            return False
        states = profile.decode.metrics["state"].source.map
        return states is None or {"available", "charging"} <= set(states.values())

    def _setup(self) -> None:
        rng = self.rng
        rated = [value for value in self._healthy_values("power") if value > 0.5]
        power_plan = self._plans["power"]
        self._rated = min((rated[0] if rated else 7.0) * rng.uniform(0.97, 1.01), power_plan.high)
        self._ambient = self._number("temperature", 18.0)
        warm = [value for value in self._healthy_values("temperature") if value > self._ambient]
        self._rise = max(warm) - self._ambient if warm else 20.0
        self._temperature = self._ambient
        states = self._plans["state"].says
        self._words = {
            phase: next((word for word in choices if states is None or word in states), "available")
            for phase, choices in {
                "available": ("available",),
                "charging": ("charging",),
                "suspended_ev": ("suspended_ev", "finishing", "available"),
                "unavailable": ("unavailable", "available"),
            }.items()
        }
        self._phase = "available"
        self._energy = 0.0
        self._need = 0.0
        self._depart = math.inf
        self._retire = False  # out of service once the session ends

    def _leave(self) -> None:
        self._phase = "unavailable" if self._retire else "available"
        self._retire = False
        self._energy = 0.0
        self._depart = math.inf

    def _arrive(self, at: float, hour: float) -> None:
        rng = self.rng
        self._phase = "charging"
        self._energy = 0.0
        energy = self._plans.get("session_energy")
        self._need = min(rng.uniform(5.0, 35.0), energy.high if energy is not None else 200.0)
        if hour >= 16.0 or hour < 5.0:
            self._depart = at + ((rng.uniform(7.0, 9.0) - hour) % 24.0) * HOUR
        else:
            self._depart = at + rng.uniform(1.0, 4.0) * HOUR

    def _advance(self, now: float, dt: float, hour: float, day: int) -> None:
        rng = self.rng
        t = now - dt
        for _ in range(1000):  # a bound on the events within one step
            if self._phase == "available":
                arrived = None
                while t < now:
                    end = min(now, t + 600.0)
                    at_hour = (hour - (now - 0.5 * (t + end)) / HOUR) % 24.0
                    if rng.random() < 1.0 - math.exp(-ev_arrivals(at_hour) * (end - t) / HOUR):
                        arrived = t + rng.random() * (end - t)
                        break
                    t = end
                if arrived is None:
                    break
                t = arrived
                self._arrive(t, (hour - (now - t) / HOUR) % 24.0)
            elif self._phase == "charging":
                full = t + max(0.0, self._need - self._energy) / self._rated * HOUR
                end = min(full, self._depart)
                if end > now:
                    self._energy += self._rated * (now - t) / HOUR
                    break
                self._energy = min(self._need, self._energy + self._rated * (end - t) / HOUR)
                t = end
                if self._depart <= full:
                    self._leave()
                else:
                    self._phase = "suspended_ev"
            elif self._phase == "suspended_ev":
                if self._depart > now:
                    break
                t = self._depart
                self._leave()
            else:
                break
        charging = self._phase == "charging"
        power = min(self._rated * (1.0 + rng.gauss(0.0, 0.005)), self._plans["power"].high)
        self._set("state", self._words[self._phase])
        self._set("power", max(1.0, power) if charging else 0.0)
        self._set("session_energy", self._energy)
        target = self._ambient + 3.0 * diurnal(hour) + (self._rise if charging else 0.0)
        self._temperature += (target - self._temperature) * (1.0 - math.exp(-dt / 1200.0))
        self._set("temperature", self._temperature + rng.gauss(0.0, 0.1))

    def _command(self, name: str, args: Mapping[str, Scalar], now: float) -> bool:
        in_session = self._phase in ("charging", "suspended_ev")
        if name == "set_available":
            available = args.get("available")
            if not isinstance(available, bool):
                return False
            if available:
                self._retire = False
                if self._phase == "unavailable":
                    self._phase = "available"
            elif in_session:
                self._retire = True  # OCPP: scheduled for when the transaction ends
            else:
                self._phase = "unavailable"
            return True
        if name == "unlock_connector":
            if not in_session:
                return False
            self._leave()
            return True
        if name == "reset":
            if _arg(self.profile, name, args, "kind") == "Hard" and in_session:
                self._leave()
            return True
        return super()._command(name, args, now)
