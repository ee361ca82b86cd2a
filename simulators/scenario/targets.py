"""Which simulated devices a scenario event affects, and whether they can show its fault.

:func:`select` picks the devices a :class:`Target` names; :func:`check_against` checks a
whole scenario against the simulated community before anything runs, listing every event
that could not: unknown devices, targets that select nothing, faults no device can show.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

from device_profiles.schema import Profile
from plumbing.issues import Issue
from simulators.device import fault_examples
from simulators.scenario.model import (
    FLAPPING,
    SPECIAL_KINDS,
    Scenario,
    ScenarioError,
    ScriptedFault,
    Target,
)


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
    issues: list[Issue] = []
    known = {device.device_id for device in devices}

    def problem(event: ScriptedFault, key: str, message: str) -> None:
        issues.append(Issue(scenario.source, event.line, f"{event.field}.{key}", message))

    for event in scenario.events:
        target = event.target
        if target.gateway:
            continue
        if target.device is not None or target.devices is not None:
            named = [target.device] if target.device is not None else list(target.devices or ())
            missing = [name for name in named if name not in known]
            for name in missing:
                problem(event, target.key, f"no simulated device {name!r}{_suggest(name, known)}")
            if missing:
                continue
        selected = select(target, devices)
        if not selected:
            problem(event, target.key, _nothing_selected(target, devices))
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


def _nothing_selected(target: Target, devices: Sequence[DeviceLike]) -> str:
    """Why a zone, profile or type target selects nothing, and what it could select."""
    key = target.key
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
