"""What a scenario is: its events (a fault, a target, a time, a duration), its random faults,
and the fault kinds that are not a profile's own.

Plain frozen dataclasses, checked by the parser (:mod:`simulators.scenario.parser`) and
against the simulated community (:mod:`simulators.scenario.targets`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from plumbing.durations import format_duration
from plumbing.issues import IssuesError
from simulators.device import SimulatorError
from simulators.faults import DEFAULT_FAULT_DURATION_S, MAX_FAULT_DURATION_S, RANDOM_DURATION_S

SILENT = "silent"
FLAPPING = "flapping"
POWER_LOSS = "power_loss"
UPLINK_LOSS = "uplink_loss"
GATEWAY_POWER_LOSS = "gateway_power_loss"
GARBAGE = "garbage"
SPECIAL_KINDS = frozenset({SILENT, FLAPPING, POWER_LOSS, UPLINK_LOSS, GATEWAY_POWER_LOSS, GARBAGE})
"""Fault kinds that are not a profile's faults."""
GATEWAY_KINDS = frozenset({UPLINK_LOSS, GATEWAY_POWER_LOSS})
"""Special kinds that happen to the gateway (``gateway: true`` only)."""

DEVICE_FAULTS = "device_faults"
"""A random fault kind: one of the device's own profile faults."""
RANDOM_KINDS = frozenset({DEVICE_FAULTS, SILENT, FLAPPING})
"""What a random fault may be."""

DEFAULT_FLAP_PERIOD_S = 20.0
DEFAULT_GARBAGE_COUNT = 10
MAX_GARBAGE_COUNT = 10_000
TARGET_KEYS = ("device", "devices", "zone", "profile", "type", "gateway")
"""The keys that name an event's target; an event has exactly one."""
GROUP_TARGETS = ("zone", "profile", "type")
"""The targets ``category`` may narrow."""


@dataclass(frozen=True)
class Target:
    """What an event happens to: exactly one of ``device``, ``devices``, ``zone``,
    ``profile``, ``type`` or ``gateway``; ``category`` narrows a zone, profile or type."""

    device: str | None = None
    devices: tuple[str, ...] | None = None
    zone: str | None = None
    profile: str | None = None
    type: str | None = None
    category: str | None = None
    gateway: bool = False

    def describe(self) -> str:
        """In words, for logs and errors: ``device gate-01``, ``lighting devices in zone
        zone-a``, ``the gateway``."""
        if self.gateway:
            return "the gateway"
        if self.device is not None:
            return f"device {self.device}"
        if self.devices is not None:
            return f"devices {', '.join(self.devices)}"
        kind = f"{self.category} devices" if self.category else "devices"
        if self.zone is not None:
            return f"{kind} in zone {self.zone}"
        if self.profile is not None:
            return f"{kind} of profile {self.profile}"
        if self.type is not None:
            return f"{kind} of type {self.type}"
        return "no devices"

    @property
    def key(self) -> str:
        """The key that names this target in a scenario file (``zone``, ``gateway``, ...)."""
        for key in TARGET_KEYS:
            value = getattr(self, key)
            if value is not None and value is not False:
                return key
        return "target"


@dataclass(frozen=True)
class ScriptedFault:
    """One event of a scenario: at ``at_s`` simulated seconds into the run, ``fault`` (a
    profile fault or one of :data:`SPECIAL_KINDS`) happens to ``target`` for ``duration_s``.

    ``flap`` and ``period_s`` are for :data:`FLAPPING`, ``count`` for :data:`GARBAGE` (whose
    ``duration_s`` is the time the burst is spread over; 0: all at once). ``line`` is the
    event's line in the file (0: not read from a file) and ``index`` its position in the
    scenario's ``events`` list (-1: not from a scenario).
    """

    at_s: float
    target: Target
    fault: str
    duration_s: float = DEFAULT_FAULT_DURATION_S
    line: int = 0
    flap: str | None = None
    period_s: float = DEFAULT_FLAP_PERIOD_S
    count: int = DEFAULT_GARBAGE_COUNT
    index: int = -1

    @property
    def field(self) -> str:
        """Where the event is in the file, as a field path: ``events[3]``."""
        return f"events[{self.index}]" if self.index >= 0 else "event"


@dataclass(frozen=True)
class RandomFaults:
    """Random faults: each device fails on average once per ``mtbf_s`` simulated seconds, a
    fault of one of ``kinds`` (:data:`RANDOM_KINDS`) lasting a uniform draw from
    ``duration_s``. ValueError for values that make no sense."""

    mtbf_s: float
    duration_s: tuple[float, float] = RANDOM_DURATION_S
    kinds: tuple[str, ...] = (DEVICE_FAULTS,)

    def __post_init__(self) -> None:
        if not (self.mtbf_s > 0 and math.isfinite(self.mtbf_s)):
            raise ValueError(f"mean time between failures must be positive, got {self.mtbf_s}")
        low, high = self.duration_s
        if not 0 < low <= high <= MAX_FAULT_DURATION_S:
            raise ValueError(
                "random fault duration must be a range 0 < low <= high <= "
                f"{format_duration(MAX_FAULT_DURATION_S)}, got {low}, {high}"
            )
        unknown = [kind for kind in self.kinds if kind not in RANDOM_KINDS]
        if unknown or not self.kinds:
            raise ValueError(
                f"random fault kinds must be some of {', '.join(sorted(RANDOM_KINDS))}, "
                f"got {', '.join(self.kinds) or 'none'}"
            )

    def next_delay(self, rng: random.Random, devices: int) -> float:
        """Simulated seconds until the next random fault anywhere among ``devices`` devices:
        exponentially distributed with mean ``mtbf_s / devices`` (infinite for none)."""
        if devices <= 0:
            return math.inf
        return rng.expovariate(devices / self.mtbf_s)


class ScenarioError(IssuesError, SimulatorError):
    """A scenario that cannot run; ``issues`` lists every problem, the message one a line
    (``FILE:LINE: field: what``)."""


@dataclass(frozen=True)
class Scenario:
    """A parsed, validated scenario: its events sorted by time, and its random faults.

    ``source`` names where it came from in messages: its file, or e.g. ``control message``.
    """

    name: str
    source: str
    events: tuple[ScriptedFault, ...] = ()
    random: RandomFaults | None = None
