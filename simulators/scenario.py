"""Fault scenarios: scripted faults at set times, and random faults by mean time between failures.

A scenario is a YAML file. This module parses and validates it, picks the devices an event
targets and draws the times of random faults; it runs nothing itself. The simulator
(:mod:`simulators.simulator`) carries the events out on its simulated clock
(:class:`simulators.clock.SimClock`), so every time below is *simulated* time.

Format
------

.. code-block:: yaml

    name: A bad evening            # optional; default: the file's name without .yaml
    events:                        # optional (a scenario needs events, random, or both)
      - at: 2m                     # when, counted from the start of the run
        device: gate-01            # the target (see Targets)
        fault: motor_jammed        # a fault of the device's profile, or a special kind
        for: 10m                   # how long; default 1m
      - at: 5m
        zone: zone-a
        category: lighting
        fault: power_loss
        for: 15m
      - at: 10m
        device: pump-01
        fault: flapping
        flap: low_pressure
        period: 30s
        for: 10m
      - at: 12m
        gateway: true
        fault: uplink_loss
        for: 5m
      - at: 25m
        device: light-a-01
        fault: garbage
        count: 20
    random:                        # optional: random faults
      mtbf: 30d                    # each device's mean time between failures
      duration: [10m, 2h]          # a random fault lasts between these; default [30s, 90s]
      kinds: [device_faults, silent]   # default [device_faults]

Events may be listed in any order; they run in order of ``at`` (events with the same
``at`` in the order the file lists them). Unknown keys are errors, so typos are caught.

Durations
    ``at``, ``for``, ``period``, ``mtbf`` and ``duration`` take a number of seconds
    (``90``, ``2.5``) or numbers with units ``d``, ``h``, ``m``, ``s``, largest first:
    ``90s``, ``5m``, ``1.5h``, ``1h30m``, ``2d``. ``at`` may be 0; a fault lasts at most 7
    days (``for`` up to ``7d``, like a control message's ``duration_s``).

Targets
    Exactly one of:

    - ``device: ID`` — one device;
    - ``devices: [ID, ...]`` — these devices;
    - ``zone: NAME`` — every device in the zone;
    - ``profile: ID`` — every device of the profile (e.g. ``acme_access_gate``);
    - ``type: NAME`` — every device of the type, in whatever dialect (e.g. ``street_light``);
    - ``gateway: true`` — the edge gateway the simulated devices sit behind.

    ``category: NAME`` narrows a ``zone``, ``profile`` or ``type`` target to the devices whose
    profile has that category (``lighting``, ``access``, ...).

Faults
    A profile fault (``motor_jammed``) puts each targeted device into it for ``for``; its
    profile must declare the fault and have an example payload showing it. Every device a
    ``device`` or ``devices`` target names must be able to; a zone, profile or type target
    affects those of its devices that can (at least one must). Or one of the special kinds:

    - ``silent`` — the devices stop reporting (and drop their connections) for ``for``;
    - ``power_loss`` — the devices lose power: silent, connections dropped, for ``for``;
    - ``flapping`` — the devices alternate between the fault named by ``flap`` (required)
      and normal: ``period`` (default 20s) in the fault, then ``period`` normal, for
      ``for``; ``period`` must be shorter than ``for``;
    - ``garbage`` — each device sends ``count`` (default 10, at most 10000) malformed
      payloads, all at once, or spread evenly over ``for`` if given;
    - ``uplink_loss`` (``gateway: true`` only) — the gateway loses its uplink to the cloud
      for ``for``; devices go on reporting to it;
    - ``gateway_power_loss`` (``gateway: true`` only) — the gateway loses power for
      ``for``: no uplink, and no device behind it is heard.

    ``flap`` and ``period`` are allowed only with ``flapping``, ``count`` only with
    ``garbage``.

Random faults
    With ``random``, each device fails on average once per ``mtbf``: across a community of
    N devices the next random fault comes after an exponentially distributed time with mean
    ``mtbf / N`` (:meth:`RandomFaults.next_delay`). Each random fault is of one of ``kinds``,
    picked uniformly: ``device_faults`` (one of the device's profile faults), ``silent``, or
    ``flapping`` (one of its profile faults, flapping with the default period), and lasts a
    uniformly drawn time in ``duration``.

Errors
    :class:`ScenarioError` lists every problem, one per line, as ``FILE:LINE: field: what``
    (e.g. ``evening.yaml:12: events[3].for: at most 7d, got 8d``), for bad YAML as much as for
    bad fields. :func:`check_against` then checks the events against the simulated
    community before anything runs: unknown devices, targets that select no device, faults
    no targeted device can show.
"""

from __future__ import annotations

import difflib
import math
import random as _random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from device_profiles.catalogue import dotted, line_of
from device_profiles.schema import Profile
from simulators.device import SimulatorError, fault_examples
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

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_DURATION = re.compile(r"\s*".join(rf"(?:(?P<{unit}>{_NUMBER})\s*{unit})?" for unit in _UNITS))
_PLAIN_NUMBER = re.compile(rf"[+-]?(?:{_NUMBER})(?:[eE][+-]?\d+)?")
_FAULT_NAME = r"^[a-z][a-z0-9_]*$"


# --------------------------------------------------------------------------------------
# Durations


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration: a number of seconds (``90``, ``2.5``, ``"90"``) or numbers with
    units, largest first (``"90s"``, ``"5m"``, ``"1.5h"``, ``"1h30m"``, ``"2d"``).

    ValueError, saying what is accepted, for anything else, and for negative or infinite ones.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"a duration must be a number of seconds or text like 5m, got {text!r}")
    if isinstance(text, (int, float)):
        try:
            seconds = float(text)
        except OverflowError:
            raise ValueError("a duration must be a finite number, this one is too long") from None
        return _checked(seconds, text)
    stripped = text.strip()
    if _PLAIN_NUMBER.fullmatch(stripped):
        return _checked(float(stripped), text)
    units = _with_units(stripped)
    if units is None and stripped.startswith("-") and _with_units(stripped[1:].lstrip()):
        raise ValueError(f"a duration must not be negative, got {text!r}")
    if units is None:
        raise ValueError(
            f"not a duration: {text!r} (give seconds, or numbers with units d, h, m, s, "
            "largest first: 90s, 5m, 1h30m, 2d)"
        )
    return _checked(sum(float(value) * _UNITS[unit] for unit, value in units.items()), text)


def _with_units(text: str) -> dict[str, str] | None:
    """``{"h": "1", "m": "30"}`` for ``1h30m``; None if ``text`` is not numbers with units."""
    matched = _DURATION.fullmatch(text)
    if matched is None:
        return None
    found = {unit: value for unit, value in matched.groupdict().items() if value is not None}
    return found or None


def _checked(seconds: float, text: object) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"a duration must be a finite number, got {text!r}")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` the way a scenario would write it: ``90s`` → ``1m30s``, ``604800`` → ``7d``."""
    if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in _UNITS.items():
        amount, rest = divmod(rest, int(size))
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


# --------------------------------------------------------------------------------------
# The parsed scenario


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


@dataclass(frozen=True)
class ScriptedFault:
    """One event of a scenario: at ``at_s`` simulated seconds into the run, ``fault`` (a
    profile fault or one of :data:`SPECIAL_KINDS`) happens to ``target`` for ``duration_s``.

    ``flap`` and ``period_s`` are for :data:`FLAPPING`, ``count`` for :data:`GARBAGE` (whose
    ``duration_s`` is the time the burst is spread over; 0: all at once). ``line`` is the
    event's line in the file and ``index`` its position in the file's ``events`` list (0 and
    -1 for an event not read from a file).
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

    def next_delay(self, rng: _random.Random, devices: int) -> float:
        """Simulated seconds until the next random fault anywhere among ``devices`` devices:
        exponentially distributed with mean ``mtbf_s / devices`` (infinite for none)."""
        if devices <= 0:
            return math.inf
        return rng.expovariate(devices / self.mtbf_s)


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in a scenario, at a line of its file (None: the file as a whole)."""

    source: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ScenarioError(SimulatorError):
    """A scenario that cannot run; ``issues`` lists every problem, the message one a line."""

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class Scenario:
    """A parsed, validated scenario: its events sorted by time, and its random faults."""

    name: str
    source: str
    events: tuple[ScriptedFault, ...] = ()
    random: RandomFaults | None = None

    @classmethod
    def load(cls, path: Path) -> Scenario:
        """The scenario in the YAML file at ``path``; ScenarioError listing every problem."""
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ScenarioError(
                [ScenarioIssue(source, None, "", f"cannot read: {reason}")]
            ) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ScenarioError(
                [ScenarioIssue(source, line, "", f"not UTF-8 text: {exc.reason}")]
            ) from None
        return cls.parse(text, source, default_name=path.stem)

    @classmethod
    def parse(cls, text: str, source: str = "<scenario>", *, default_name: str = "") -> Scenario:
        """The scenario in YAML ``text``; ``source`` names it in errors. Without a ``name``
        it is called ``default_name`` (default: ``source``)."""
        document = _load_yaml(text, source)
        return _Parser(document, source).scenario(default_name or source)


# --------------------------------------------------------------------------------------
# Selecting devices


class DeviceLike(Protocol):
    """What a scenario needs of a simulated device (:class:`simulators.device.SimulatedDevice`)."""

    @property
    def device_id(self) -> str: ...

    @property
    def profile(self) -> Profile: ...

    @property
    def zone(self) -> str | None: ...


D = TypeVar("D", bound=DeviceLike)


def select(target: Target, devices: Sequence[D]) -> list[D]:
    """The devices among ``devices`` that ``target`` names, in the order of ``devices``.

    A gateway target names no device (it is about the gateway): the result is empty.
    """
    if target.gateway:
        return []
    if target.device is not None:
        chosen = [d for d in devices if d.device_id == target.device]
    elif target.devices is not None:
        wanted = set(target.devices)
        chosen = [d for d in devices if d.device_id in wanted]
    elif target.zone is not None:
        chosen = [d for d in devices if d.zone == target.zone]
    elif target.profile is not None:
        chosen = [d for d in devices if d.profile.id == target.profile]
    elif target.type is not None:
        chosen = [d for d in devices if d.profile.type == target.type]
    else:
        return []
    if target.category is not None:
        chosen = [d for d in chosen if d.profile.category == target.category]
    return chosen


def can_show(profile: Profile, fault: str) -> str | None:
    """None if a device of ``profile`` can be put into ``fault``, else why not."""
    if fault not in profile.faults:
        return f"profile {profile.id} has no fault {fault!r}"
    if fault not in fault_examples(profile):
        silent = any(e.silent_for_s and list(e.expect.faults) == [fault] for e in profile.examples)
        hint = " (it shows by falling silent: use fault: silent)" if silent else ""
        return f"profile {profile.id} has no example payload showing {fault!r}{hint}"
    return None


def check_against(scenario: Scenario, devices: Sequence[DeviceLike]) -> None:
    """ScenarioError, listing every event at fault with its line, unless every event can run
    on ``devices``: each device it names exists, its target selects at least one device, and
    its fault (for ``flapping``, its ``flap``) is one a device it names can show — every
    device named by ``device``/``devices``, at least one of a zone, profile or type.
    Gateway events are not checked here (the simulator must own the gateway's uplink)."""
    issues: list[ScenarioIssue] = []
    known = {device.device_id for device in devices}

    def problem(event: ScriptedFault, key: str, message: str) -> None:
        issues.append(ScenarioIssue(scenario.source, event.line, f"{event.field}.{key}", message))

    for event in scenario.events:
        target = event.target
        if target.gateway:
            continue
        if target.device is not None or target.devices is not None:
            named = [target.device] if target.device is not None else list(target.devices or ())
            key = "device" if target.device is not None else "devices"
            missing = [name for name in named if name not in known]
            for name in missing:
                problem(event, key, f"no simulated device {name!r}{_suggest(name, known)}")
            if missing:
                continue
        selected = select(target, devices)
        if not selected:
            problem(event, _target_key(target), _nothing_selected(target, devices))
            continue
        fault, key = (event.flap, "flap") if event.fault == FLAPPING else (event.fault, "fault")
        if fault is None or fault in SPECIAL_KINDS:
            continue
        profiles = {device.profile.id: device.profile for device in selected}
        reasons = {pid: can_show(profile, fault) for pid, profile in profiles.items()}
        if target.device is not None or target.devices is not None:
            for device in selected:
                reason = reasons[device.profile.id]
                if reason is not None:
                    problem(
                        event,
                        key,
                        f"device {device.device_id} cannot show {fault!r}: "
                        f"{reason}{_can_show_instead(device.profile)}",
                    )
        elif all(reason is not None for reason in reasons.values()):
            why = "; ".join(str(reason) for reason in reasons.values())
            hint = _can_show_instead(next(iter(profiles.values()))) if len(profiles) == 1 else ""
            problem(event, key, f"no device of {target.describe()} can show {fault!r}: {why}{hint}")
    if issues:
        issues.sort(key=lambda issue: issue.line or 0)
        raise ScenarioError(issues)


def _target_key(target: Target) -> str:
    for key in TARGET_KEYS:
        value = getattr(target, key)
        if value is not None and value is not False:
            return key
    return "target"


def _nothing_selected(target: Target, devices: Sequence[DeviceLike]) -> str:
    """Why a zone, profile or type target selects nothing, and what it could select."""
    key = _target_key(target)
    given = getattr(target, key)
    if target.category is not None:
        group = select(replace(target, category=None), devices)
        if group:
            categories = ", ".join(sorted({d.profile.category for d in group}))
            return f"no {target.category} device in {key} {given!r} (it has: {categories})"
    values: set[str | None]
    if key == "zone":
        values = {d.zone for d in devices}
    elif key == "profile":
        values = {d.profile.id for d in devices}
    else:
        values = {d.profile.type for d in devices}
    listed = ", ".join(sorted(v for v in values if v is not None)) or "none"
    return f"no simulated device of {key} {given!r} (simulated: {listed})"


def _can_show_instead(profile: Profile) -> str:
    examples = fault_examples(profile)
    faults = [name for name in profile.faults if name in examples]
    return f" (it can show: {', '.join(faults)})" if faults else " (it can show no fault)"


def _suggest(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------
# Parsing: YAML → pydantic models (types, unknown keys) → checks across fields → dataclasses


def _duration(value: Any) -> float:
    if value is None:
        raise ValueError("empty: give a duration, like 90s or 5m")
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]
OptionalDuration = Annotated[float | None, BeforeValidator(_duration)]
"""Optional as a field (default None), but a value given must be a duration."""
Name = Annotated[str, Field(min_length=1, strict=True)]
FaultName = Annotated[
    str,
    Field(pattern=_FAULT_NAME, strict=True, description="lower-case letters, digits and _"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _EventModel(_Strict):
    """An event's fields and their types. All optional, so that the other fields are still
    checked when one is missing or bad; :data:`_EVENT_REQUIRED` are required."""

    at: OptionalDuration = None
    device: Name | None = None
    devices: list[Name] | None = None
    zone: Name | None = None
    profile: Name | None = None
    type: Name | None = None
    category: Name | None = None
    gateway: bool | None = None
    fault: FaultName | None = None
    for_: OptionalDuration = Field(default=None, alias="for")
    flap: FaultName | None = None
    period: OptionalDuration = None
    count: Annotated[int, Field(strict=True)] | None = None


_EVENT_REQUIRED = ("at", "fault")


class _RandomModel(_Strict):
    mtbf: OptionalDuration = None
    duration: tuple[Duration, Duration] | None = None
    kinds: list[Name] | None = None


class _ScenarioModel(_Strict):
    name: Name | None = None
    events: list[Any] | None = None
    random: dict[str, Any] | None = None


Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def _load_yaml(text: str, source: str) -> CommentedMap:
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([ScenarioIssue(source, line, "", f"YAML: {problem}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a timestamp out of range
        raise ScenarioError([ScenarioIssue(source, None, "", f"YAML: {exc}")]) from None
    if not isinstance(document, CommentedMap):
        message = "empty file" if document is None else "a scenario must be a YAML mapping"
        raise ScenarioError(
            [ScenarioIssue(source, 1, "", f"{message} (with events and/or random)")]
        )
    return document


class _Parser:
    """Validates one YAML document, collecting every problem with its line."""

    def __init__(self, document: CommentedMap, source: str) -> None:
        self.document = document
        self.source = source
        self.issues: list[ScenarioIssue] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.issues.append(
            ScenarioIssue(self.source, line_of(self.document, loc), dotted(loc), message)
        )

    def validate(
        self, model: type[M], data: dict[str, Any], loc: Loc, required: Sequence[str] = ()
    ) -> M | None:
        """``data`` as ``model``, noting each problem. Fields with a problem are left out (as
        if not given), so the result still serves to check the others; None only if even
        that fails."""
        for key in required:
            if key not in data:
                self.problem((*loc, key), "required")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            bad = set()
            for error in exc.errors():
                self.problem(loc + tuple(error["loc"]), _message(error, model))
                bad.add(error["loc"][0] if error["loc"] else None)
        if None in bad:
            return None
        try:
            return model.model_validate({k: v for k, v in data.items() if k not in bad})
        except ValidationError:
            return None

    def scenario(self, default_name: str) -> Scenario:
        try:
            plain = _plain(self.document, set())
        except _Recursive:
            raise ScenarioError(
                [ScenarioIssue(self.source, None, "", "YAML: an alias refers to itself")]
            ) from None
        top = self.validate(_ScenarioModel, plain, ())
        events: list[ScriptedFault] = []
        random_faults: RandomFaults | None = None
        if top is not None:
            for index, raw in enumerate(top.events or ()):
                event = self.event(index, raw)
                if event is not None:
                    events.append(event)
            if top.random is not None:
                random_faults = self.random(top.random)
            if not self.issues and not top.events and top.random is None:
                self.problem((), "nothing to do: give events, random, or both")
        if self.issues or top is None:
            self.issues.sort(key=lambda issue: issue.line or 0)
            raise ScenarioError(self.issues)
        events.sort(key=lambda event: event.at_s)
        return Scenario(top.name or default_name, self.source, tuple(events), random_faults)

    def event(self, index: int, raw: Any) -> ScriptedFault | None:
        """The event at ``index`` of the file's events, or None after noting its problems."""
        loc: Loc = ("events", index)
        if not isinstance(raw, dict):
            self.problem(loc, "an event must be a mapping (at:, a target, fault:, ...)")
            return None
        before = len(self.issues)
        model = self.validate(_EventModel, raw, loc, _EVENT_REQUIRED)
        if model is None:
            return None
        self.event_checks(loc, raw, model)
        if len(self.issues) > before or model.at is None or model.fault is None:
            return None
        target = Target(
            device=model.device,
            devices=tuple(model.devices) if model.devices is not None else None,
            zone=model.zone,
            profile=model.profile,
            type=model.type,
            category=model.category,
            gateway=bool(model.gateway),
        )
        default_for = 0.0 if model.fault == GARBAGE else DEFAULT_FAULT_DURATION_S
        return ScriptedFault(
            at_s=model.at,
            target=target,
            fault=model.fault,
            duration_s=model.for_ if model.for_ is not None else default_for,
            line=line_of(self.document, loc) or 0,
            flap=model.flap,
            period_s=model.period if model.period is not None else DEFAULT_FLAP_PERIOD_S,
            count=model.count if model.count is not None else DEFAULT_GARBAGE_COUNT,
            index=index,
        )

    def event_checks(self, loc: Loc, raw: Mapping[str, Any], model: _EventModel) -> None:
        """The rules across an event's fields, each problem at the field it is about."""
        targets = [key for key in raw if key in TARGET_KEYS]
        if model.gateway is False:  # said below; not a target
            targets.remove("gateway")
        fault = model.fault
        if not targets and model.gateway is not False:
            self.problem(loc, f"no target: give one of {', '.join(TARGET_KEYS)}")
        for key in targets[1:]:
            self.problem((*loc, key), f"only one target per event, and this one has {targets[0]}")
        if model.gateway is False:
            self.problem((*loc, "gateway"), "must be true (leave it out to target devices)")
        if model.category is not None and (not targets or targets[0] not in GROUP_TARGETS):
            self.problem((*loc, "category"), "narrows only a zone, profile or type target")
        if model.devices is not None:
            if not model.devices:
                self.problem((*loc, "devices"), "must name at least one device")
            seen: set[str] = set()
            for position, device in enumerate(model.devices):
                if device in seen:
                    self.problem((*loc, "devices", position), f"{device!r} is listed twice")
                seen.add(device)
        if len(targets) == 1 and fault is not None:
            if targets[0] == "gateway" and fault not in GATEWAY_KINDS:
                self.problem(
                    (*loc, "fault"),
                    f"the gateway can have only {' or '.join(sorted(GATEWAY_KINDS))}, not {fault}",
                )
            elif targets[0] != "gateway" and fault in GATEWAY_KINDS:
                self.problem(
                    (*loc, "fault"), f"{fault} is a gateway fault: use gateway: true as the target"
                )
        self.options_checks(loc, model)

    def options_checks(self, loc: Loc, model: _EventModel) -> None:
        """The options of the fault kinds, and the durations."""
        fault = model.fault
        if fault == FLAPPING:
            if model.flap is None:
                self.problem((*loc, "flap"), "required with fault: flapping (the fault to flap)")
            elif model.flap in SPECIAL_KINDS:
                self.problem((*loc, "flap"), "must be a fault of the device's profile")
        elif fault is not None:
            for key in ("flap", "period"):
                if getattr(model, key) is not None:
                    self.problem((*loc, key), f"only with fault: {FLAPPING}")
        if fault not in (GARBAGE, None) and model.count is not None:
            self.problem((*loc, "count"), f"only with fault: {GARBAGE}")
        if model.count is not None and not 1 <= model.count <= MAX_GARBAGE_COUNT:
            self.problem((*loc, "count"), f"must be 1 to {MAX_GARBAGE_COUNT}, got {model.count}")
        duration = model.for_
        if duration is not None:
            if duration > MAX_FAULT_DURATION_S:
                self.problem(
                    (*loc, "for"),
                    f"at most {format_duration(MAX_FAULT_DURATION_S)}, "
                    f"got {format_duration(duration)}",
                )
            elif duration == 0 and fault not in (GARBAGE, None):
                self.problem((*loc, "for"), "must be longer than 0")
        period = model.period
        if period is not None:
            if period == 0:
                self.problem((*loc, "period"), "must be longer than 0")
            elif period >= (duration if duration is not None else DEFAULT_FAULT_DURATION_S):
                length = format_duration(duration or DEFAULT_FAULT_DURATION_S)
                self.problem(
                    (*loc, "period"),
                    f"must be shorter than for ({length}{'' if duration else ', the default'}), "
                    "or the device never flaps",
                )

    def random(self, raw: dict[str, Any]) -> RandomFaults | None:
        """The random faults, or None after noting their problems."""
        loc: Loc = ("random",)
        before = len(self.issues)
        model = self.validate(_RandomModel, raw, loc, ("mtbf",))
        if model is None:
            return None
        if model.mtbf == 0:
            self.problem((*loc, "mtbf"), "must be longer than 0")
        duration = model.duration if model.duration is not None else RANDOM_DURATION_S
        low, high = duration
        if low == 0:
            self.problem((*loc, "duration", 0), "must be longer than 0")
        if high > MAX_FAULT_DURATION_S:
            self.problem(
                (*loc, "duration", 1),
                f"at most {format_duration(MAX_FAULT_DURATION_S)}, got {format_duration(high)}",
            )
        if low > high:
            self.problem((*loc, "duration"), "give [shortest, longest]: the first is longer")
        kinds = tuple(model.kinds) if model.kinds is not None else (DEVICE_FAULTS,)
        if not kinds:
            self.problem((*loc, "kinds"), "must name at least one kind")
        for position, kind in enumerate(kinds):
            if kind not in RANDOM_KINDS:
                self.problem(
                    (*loc, "kinds", position),
                    f"unknown kind {kind!r}: use {', '.join(sorted(RANDOM_KINDS))}",
                )
            elif kind in kinds[:position]:
                self.problem((*loc, "kinds", position), f"{kind!r} is listed twice")
        if len(self.issues) > before or model.mtbf is None:
            return None
        return RandomFaults(model.mtbf, duration, kinds)


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    """A pydantic error (from validating ``model``) in the words of a scenario file."""
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = [field.alias or name for name, field in model.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown field ({hint}allowed: {', '.join(allowed)})"
    if kind == "missing":
        return (
            "must be two durations: [shortest, longest]" if loc[:1] == ("duration",) else "required"
        )
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a mapping (key: value lines)"
    if kind == "list_type":
        return "must be a list"
    if kind == "string_type":
        return "must be text"
    if kind == "int_type":
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("tuple_type", "too_short", "too_long") and loc and loc[0] == "duration":
        return "must be two durations: [shortest, longest]"
    if kind == "string_pattern_mismatch":
        return "must be a fault name: lower-case letters, digits and _ (like motor_jammed)"
    return error["msg"].removeprefix("Value error, ")


class _Recursive(Exception):
    pass


def _plain(node: Any, parents: set[int]) -> Any:
    """ruamel's round-trip values as plain Python ones (mapping keys as text)."""
    if isinstance(node, (CommentedMap, CommentedSeq)):
        if id(node) in parents:
            raise _Recursive
        inner = parents | {id(node)}
        if isinstance(node, CommentedMap):
            return {str(key): _plain(value, inner) for key, value in node.items()}
        return [_plain(value, inner) for value in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
