"""Choosing a device's model: the type's own (:data:`MODELS`), else the generic one."""

from __future__ import annotations

import random

from device_profiles.schema import Profile
from simulators.behaviour.base import Behaviour
from simulators.behaviour.charging import EvCharger
from simulators.behaviour.lighting import StreetLight
from simulators.behaviour.traffic import AccessGate, Elevator, VehicleBarrier
from simulators.behaviour.waste import WasteBin
from simulators.behaviour.water import WaterPump
from simulators.daylight import DEFAULT_LATITUDE

MODELS: dict[str, type[Behaviour]] = {
    "street_light": StreetLight,
    "access_gate": AccessGate,
    "vehicle_barrier": VehicleBarrier,
    "elevator": Elevator,
    "water_pump": WaterPump,
    "waste_bin": WasteBin,
    "ev_charger": EvCharger,
}
"""The model of each device type with a state of its own; other types (environment
sensors, detectors, cameras...) are the generic model with their :data:`SIGNALS`."""


def behaviour_for(
    profile: Profile, rng: random.Random, *, latitude: float = DEFAULT_LATITUDE
) -> Behaviour:
    """The model for the profile's ``type``; the generic model for any other type, or for
    a profile that lacks the metrics its type's model needs."""
    model = MODELS.get(profile.type, Behaviour)
    if not model.fits(profile):
        model = Behaviour
    return model(profile, rng, latitude=latitude)
