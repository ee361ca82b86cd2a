"""One simulated device: who it is, where it publishes, and its profile's example payloads.

The simulator's devices report readings their behaviour makes (:mod:`simulators.live`);
the profile's own example payloads are what a device falls back to when its dialect cannot
say a reading, and what its malformed payloads are cut from. The examples that expect no
fault show the normal state; the example that expects exactly one fault shows that fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from device_profiles.schema import Example, Field_, Profile, TopicSpec

NIGHT_STARTS_HOUR = 18
NIGHT_ENDS_HOUR = 6


class SimulatorError(Exception):
    """A request the simulator cannot carry out; the message says why."""


class UnknownDevice(SimulatorError):
    """No simulated device has this id."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"no simulated device {device_id!r}")
        self.device_id = device_id


class UnknownFault(SimulatorError):
    """The device's profile has no such fault, or no example payload that shows it."""

    def __init__(self, device_id: str, fault: str, reason: str) -> None:
        super().__init__(f"device {device_id!r} cannot simulate fault {fault!r}: {reason}")
        self.device_id = device_id
        self.fault = fault


class ProfileNotSimulable(SimulatorError):
    """A profile without an example of its normal (fault-free) state."""


def normal_examples(profile: Profile) -> tuple[Example, ...]:
    """The examples that show the device working: those that expect no fault."""
    return tuple(example for example in profile.examples if not example.expect.faults)


def fault_examples(profile: Profile) -> dict[str, Example]:
    """For each fault that has one, the example whose payload shows that fault alone.

    Examples that need silence to show their fault are left out: a payload cannot say it.
    An example with a history stays: sending its payload for as long as the history spans
    (a duration rule) shows the fault.
    """
    found: dict[str, Example] = {}
    for example in profile.examples:
        if len(example.expect.faults) == 1 and not example.silent_for_s:
            found.setdefault(example.expect.faults[0], example)
    return found


def is_night(now: float, tz: tzinfo | None = None) -> bool:
    """Whether unix time ``now`` is at night (18:00 to 06:00) in ``tz`` (None: local time)."""
    hour = datetime.fromtimestamp(now, tz=tz).hour
    return hour >= NIGHT_STARTS_HOUR or hour < NIGHT_ENDS_HOUR


def choose_normal(profile: Profile, now: float, tz: tzinfo | None = None) -> Example:
    """The normal-state example to send at ``now``.

    A profile with both ``normal_on`` and ``normal_off`` examples (a light) sends the
    first at night and the second by day; any other profile sends its first normal example.
    """
    normal = normal_examples(profile)
    if not normal:
        raise ProfileNotSimulable(f"profile {profile.id!r} has no example without faults")
    by_name = {example.name: example for example in normal}
    if "normal_on" in by_name and "normal_off" in by_name:
        return by_name["normal_on"] if is_night(now, tz) else by_name["normal_off"]
    return normal[0]


def _timestamp_value(field: Field_, now: float, current: Any) -> int | float | str:
    """``now`` as the raw value the decoder turns back into ``now``, typed like ``current``."""
    raw = (now - field.offset) / field.scale
    whole = field.type == "int" or (
        isinstance(current, (int, str)) and not isinstance(current, bool)
    )
    value: int | float = round(raw) if whole else round(raw, 3)
    return str(value) if isinstance(current, str) else value


def _with_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``value`` at ``path``; only the dicts on the path are
    copied (the rest is shared with ``document``, which is left as it was)."""
    keys = path.split(".")
    top = dict(document)
    node = top
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = {}
        if not isinstance(child, dict):
            return top
        node[key] = child = dict(child)
        node = child
    node[keys[-1]] = value
    return top


def _get_path(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def render(profile: Profile, example: Example, now: float) -> bytes:
    """The bytes of ``example``'s payload with its event timestamp set to ``now``.

    The timestamp is written where ``profile.decode.timestamp`` reads it, undoing the
    field's scale and offset. A timestamp field that maps values cannot be inverted and
    is left as the example has it.
    """
    spec = profile.topics[0]
    stamp = profile.decode.timestamp
    writable = stamp is not None and stamp.map is None and stamp.scale != 0
    if isinstance(example.payload, dict):
        document = example.payload
        if stamp is not None and writable:
            current = _get_path(document, stamp.path)
            document = _with_path(document, stamp.path, _timestamp_value(stamp, now, current))
        return json.dumps(document, separators=(",", ":")).encode()
    text = example.payload
    if stamp is not None and writable and spec.format == "csv" and stamp.path in spec.columns:
        cells = text.strip().split(",")
        if len(cells) == len(spec.columns):
            index = spec.columns.index(stamp.path)
            cells[index] = str(_timestamp_value(stamp, now, cells[index]))
            text = ",".join(cells)
    return text.encode()


def malformed(spec: TopicSpec, valid: bytes) -> bytes:
    """A payload no decoder can accept, shaped like a real transmission error.

    JSON is cut off half-way (the closing brace is always lost); CSV gains a column.
    """
    if spec.format == "csv":
        return valid.rstrip() + b",garbage"
    return valid[: max(1, len(valid) // 2)]


@dataclass(frozen=True)
class SimulatedDevice:
    """A device in the simulated community: identity, profile and where it publishes.

    Immutable; the simulator keeps the device's changing state (its active fault).
    ``phase`` in [0, 1) is the fraction of one report interval before its first report,
    so that devices do not all report at the same moment. ``labels`` are the values of
    the topic's other placeholders (e.g. ``zone``). ``zone`` is the part of the community the
    device is in (scenarios and zone power loss select by it), named in its topic or not.
    """

    device_id: str
    profile: Profile
    topic: str
    labels: Mapping[str, str]
    phase: float
    zone: str | None = None

    @property
    def profile_id(self) -> str:
        return self.profile.id

    @property
    def faults(self) -> tuple[str, ...]:
        """The faults this device can be put into (declared, with an example payload)."""
        examples = fault_examples(self.profile)
        return tuple(name for name in self.profile.faults if name in examples)

    def report_interval(self, speed: float, min_interval_s: float = 0.0) -> float:
        """Seconds between reports: the profile's heartbeat divided by ``speed``, floored."""
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a positive number, got {speed}")
        return max(self.profile.heartbeat_s / speed, min_interval_s)

    def example_for(self, fault: str | None, now: float, tz: tzinfo | None = None) -> Example:
        """The example this device sends at ``now`` while in ``fault`` (None: working)."""
        if fault is None:
            return choose_normal(self.profile, now, tz)
        if fault not in self.profile.faults:
            raise UnknownFault(
                self.device_id, fault, f"profile {self.profile.id!r} declares no such fault"
            )
        example = fault_examples(self.profile).get(fault)
        if example is None:
            raise UnknownFault(
                self.device_id, fault, f"profile {self.profile.id!r} has no example payload for it"
            )
        return example

    def payload(self, fault: str | None, now: float, tz: tzinfo | None = None) -> bytes:
        """What this device publishes at unix time ``now`` while in ``fault``."""
        return render(self.profile, self.example_for(fault, now, tz), now)

    def garbage(self, now: float) -> bytes:
        """A malformed payload on this device's topic (for dead-letter handling)."""
        return malformed(self.profile.topics[0], self.payload(None, now))
