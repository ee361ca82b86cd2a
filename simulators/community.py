"""A simulated community: which devices exist, in which zone, and where they publish.

:class:`Community` is generated from the profile catalogue (every profile, or the counts
asked for); :class:`simulators.simulator.Simulator` runs it.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from device_profiles.catalogue import Catalogue
from device_profiles.decode import match_topic
from device_profiles.schema import Profile
from simulators.device import (
    ProfileNotSimulable,
    SimulatedDevice,
    SimulatorError,
    UnknownDevice,
    normal_examples,
)

log = logging.getLogger(__name__)

DEFAULT_COUNTS: Mapping[str, int] = MappingProxyType(
    {
        "acme_access_gate": 12,
        "turnix_access_gate": 4,
        "parkline_vehicle_barrier": 4,
        "brightway_street_light": 60,
        "safecall_alarm_button": 24,
        "liftsafe_elevator": 8,
        "aquaboost_water_pump": 4,
        "hydropro_water_pump": 2,
        "firewatch_hydrant_pressure": 6,
        "guardian_smoke_detector": 24,
        "coverguard_manhole_cover": 10,
        "voltgo_ev_charger": 8,
        "binsense_waste_bin": 16,
        "airnode_environment_sensor": 4,
        "climasense_environment_sensor": 2,
        "vistacam_camera": 16,
        "aquastop_leak_sensor": 8,
    }
)
"""Devices per built-in profile in the demo community: two zones, 212 devices, 14 types."""
DEFAULT_OTHER_COUNT = 4
"""Devices for any other profile in the catalogue (e.g. from --profiles-dir)."""
DEFAULT_ZONES: tuple[str, ...] = ("zone-a", "zone-b")
_TRAILING_NUMBER = re.compile(r"-?\d+$")


class UnknownProfile(SimulatorError):
    """A device count names a profile the catalogue does not have."""


def _prefix_from_examples(profile: Profile) -> str | None:
    """``gate`` from an example device id like ``gate-01``, if the examples show one."""
    for example in profile.examples:
        stem = _TRAILING_NUMBER.sub("", example.expect.device_id)
        if stem and stem != example.expect.device_id:
            return stem
    return None


def _zone_suffix(zone: str) -> str:
    return zone.removeprefix("zone-").removeprefix("zone_") or zone


def _example_labels(profile: Profile) -> dict[str, str]:
    """Placeholder values (other than device_id) seen in the profile's example topics."""
    for example in profile.examples:
        matched = match_topic(profile, example.topic)
        if matched is not None and matched[0] == profile.topics[0]:
            return {k: v for k, v in matched[1].items() if k != "device_id"}
    return {}


def _split(count: int, parts: int) -> list[int]:
    """``count`` split into ``parts`` near-equal shares, the larger ones first."""
    base, extra = divmod(count, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class Community:
    """The simulated devices of one community, in a stable order."""

    devices: tuple[SimulatedDevice, ...]
    seed: int = 0
    _by_id: Mapping[str, SimulatedDevice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, SimulatedDevice] = {}
        for device in self.devices:
            if device.device_id in by_id:
                raise ValueError(f"two simulated devices share the id {device.device_id!r}")
            by_id[device.device_id] = device
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    @classmethod
    def generate(
        cls,
        catalogue: Catalogue,
        counts: Mapping[str, int] | None = None,
        seed: int = 0,
        *,
        zones: Sequence[str] = DEFAULT_ZONES,
    ) -> Community:
        """Devices for every profile in ``catalogue``.

        ``counts`` maps profile id → number of devices, and then only the profiles it names
        are simulated. Without counts, every profile gets :data:`DEFAULT_COUNTS` (built-in
        profiles) or :data:`DEFAULT_OTHER_COUNT` devices. Device ids
        are ``<prefix>-NN`` where the prefix comes from the profile's example device ids
        (``gate``, ``light``, ``sos``); a profile whose topic has a ``{zone}`` placeholder
        spreads its devices over ``zones`` and its ids name the zone (``light-a-03``).
        The seed fixes each device's report phase, so one seed always gives one community.
        """
        counts = dict(counts or {})
        for profile_id, count in counts.items():
            if catalogue.get(profile_id) is None:
                known = ", ".join(sorted(p.id for p in catalogue))
                raise UnknownProfile(f"no profile {profile_id!r} in the catalogue (have: {known})")
            if count < 0:
                raise ValueError(f"device count for {profile_id!r} is negative: {count}")
        if not zones:
            raise ValueError("at least one zone is needed")
        rng = random.Random(seed)
        devices: list[SimulatedDevice] = []
        used_prefixes: set[str] = set()
        for profile in sorted(catalogue, key=lambda p: p.id):
            explicit = profile.id in counts
            default = DEFAULT_COUNTS.get(profile.id, DEFAULT_OTHER_COUNT)
            count = counts.get(profile.id, 0 if counts else default)
            if count == 0:
                continue
            if not normal_examples(profile):
                message = f"profile {profile.id!r} has no example without faults to send"
                if explicit:
                    raise ProfileNotSimulable(message)
                log.warning("%s; simulating none of its devices", message)
                continue
            prefix = _prefix_from_examples(profile) or profile.type.replace("_", "-")
            if prefix in used_prefixes:
                prefix = profile.id.replace("_", "-")
            used_prefixes.add(prefix)
            devices.extend(_devices_for(profile, prefix, count, zones, rng))
        return cls(tuple(devices), seed)

    def __iter__(self) -> Iterator[SimulatedDevice]:
        return iter(self.devices)

    def __len__(self) -> int:
        return len(self.devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._by_id

    def get(self, device_id: str) -> SimulatedDevice:
        """The device with this id; UnknownDevice if there is none."""
        try:
            return self._by_id[device_id]
        except KeyError:
            raise UnknownDevice(device_id) from None


def _devices_for(
    profile: Profile, prefix: str, count: int, zones: Sequence[str], rng: random.Random
) -> list[SimulatedDevice]:
    spec = profile.topics[0]
    labels = _example_labels(profile)
    groups: list[tuple[str | None, str, int]]
    if "{zone}" in spec.pattern:
        groups = [
            (zone, f"{prefix}-{_zone_suffix(zone)}", share)
            for zone, share in zip(zones, _split(count, len(zones)), strict=True)
        ]
    else:
        groups = [(None, prefix, count)]
    width = max(2, len(str(max(share for _, _, share in groups))))
    # every device lives in a zone (scenarios select by zone), named in its topic or not
    zone_of = [z for z, n in zip(zones, _split(count, len(zones)), strict=True) for _ in range(n)]
    devices = []
    for zone, stem, share in groups:
        for number in range(1, share + 1):
            device_id = f"{stem}-{number:0{width}d}"
            device_labels = dict(labels)
            if zone is not None:
                device_labels["zone"] = zone
            devices.append(
                SimulatedDevice(
                    device_id=device_id,
                    profile=profile,
                    topic=spec.topic_for(device_id, **device_labels),
                    labels=MappingProxyType(device_labels),
                    phase=rng.random(),
                    zone=zone or zone_of[number - 1],
                )
            )
    return devices
