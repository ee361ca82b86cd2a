"""Realistic behaviour of simulated devices: their canonical metrics over simulated time.

A :class:`Behaviour` is one device's model. :meth:`Behaviour.step` returns what the device
measures at a simulated time — every metric its profile declares, typed, in range and on the
vendor's own resolution (whole mA, 0.1 A, 1 kPa...) so that
:func:`device_profiles.encode.encode` can say it — and :meth:`Behaviour.command` applies a
command from the cloud. Pure: no I/O, no asyncio and no clock of its own; time is passed in,
and all randomness comes from the :class:`random.Random` the model was made with, so a seed
replays the same day.

It imports ``device_profiles`` and, of the simulator, only :mod:`simulators.daylight` and
:mod:`simulators.device`: never :mod:`simulators.transport`, the scenarios, the faults or
the loop that drives it (``tests/test_layering.py``).

What the models know (the issue's "realism"):

- lights follow dusk and dawn (:mod:`simulators.daylight`) and draw current only when on;
- gate, barrier and elevator traffic peaks at commuting hours (:func:`commuter_traffic`) and
  drives the usage counters that preventive maintenance reads;
- pumps cycle on and off with the water demand of the hour (:func:`water_demand`);
- chargers hold sessions, mostly in the evening and overnight (:func:`ev_arrivals`);
- bins fill through the day and are emptied each morning;
- every other number is the healthy example's value with noise, a slow bounded drift
  (:class:`Drift`) and, where the type's :data:`SIGNALS` say so, a daily rhythm.

Normal behaviour never raises a fault from the profile's rules — numbers are kept well away
from every threshold (:func:`safe_band`) — except usage counters crossing their service
interval, which is exactly what preventive maintenance should see. A device type is data:
:data:`SIGNALS` for the numbers, :class:`Passages` for gates and barriers, and a small model
class where a type has a state of its own (:data:`MODELS`); any other type gets the generic
model, so a profile from a user's own directory works too.

Time of day: ``step(now, tz)`` reads the local clock in ``tz``; ``tz=None`` means UTC.
"""

from __future__ import annotations

from device_profiles.schema import Scalar
from simulators.behaviour.base import Behaviour, discrete_change, fault_state
from simulators.behaviour.models import MODELS, behaviour_for
from simulators.behaviour.plans import counter_metrics as counter_metrics
from simulators.behaviour.plans import safe_band
from simulators.behaviour.rhythms import (
    commuter_traffic,
    diurnal,
    ev_arrivals,
    expected_passages,
    poisson,
    water_demand,
)
from simulators.behaviour.signals import SIGNALS, Drift, Signal
from simulators.behaviour.traffic import Passages
from simulators.daylight import DEFAULT_LATITUDE

__all__ = [
    "DEFAULT_LATITUDE",
    "MODELS",
    "SIGNALS",
    "Behaviour",
    "Drift",
    "Passages",
    "Scalar",
    "Signal",
    "behaviour_for",
    "commuter_traffic",
    "discrete_change",
    "diurnal",
    "ev_arrivals",
    "expected_passages",
    "fault_state",
    "poisson",
    "safe_band",
    "water_demand",
]
