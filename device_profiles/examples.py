"""Running a profile's examples: the same code for the catalogue test, the CLI and tools."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from device_profiles.decode import Decoded, DecodeError, decode, match_topic
from device_profiles.rules import RuleState, Verdict, evaluate, health_of, silent_faults
from device_profiles.schema import Example, Health, Profile, Scalar
from plumbing.issues import Loc


def payload_bytes(payload: dict[str, Any] | str) -> bytes:
    """An example payload as the device sends it: a mapping as JSON, text as it is."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return text.encode("utf-8")


def run_example(
    profile: Profile, example: Example, received_at: datetime
) -> tuple[Decoded, Verdict]:
    """Feed the example's history, then its payload, then its silence, through the rules.

    The payload is received at ``received_at``; each history step ``before_s`` earlier.
    """
    state: RuleState | None = None
    for step in example.history:
        at = received_at - timedelta(seconds=step.before_s)
        earlier = decode(profile, example.topic, payload_bytes(step.payload), at)
        state = evaluate(profile, earlier, state).state
    decoded = decode(profile, example.topic, payload_bytes(example.payload), received_at)
    verdict = evaluate(profile, decoded, state)
    if example.silent_for_s:
        later = received_at + timedelta(seconds=example.silent_for_s)
        faults = set(verdict.faults) | set(silent_faults(profile, received_at, later))
        verdict = Verdict(
            faults=tuple(sorted(faults)), health=health_of(profile, faults), state=verdict.state
        )
    return decoded, verdict


def example_problems(profile: Profile) -> list[tuple[Loc, str]]:
    """What is wrong with ``profile``'s examples, each with the location of the problem:
    topics that match no pattern, payloads that do not decode, outcomes other than
    expected, faults no example produces, no healthy example."""
    received_at = datetime(2025, 11, 27, tzinfo=UTC)
    problems: list[tuple[Loc, str]] = []
    produced: set[str] = set()
    healthy = False
    ran_all = True
    names: set[str] = set()
    for i, example in enumerate(profile.examples):
        where: Loc = ("examples", i)
        label = f"example {example.name!r}"
        if example.name in names:
            problems.append(((*where, "name"), f"{label}: another example has this name"))
        names.add(example.name)
        if match_topic(profile, example.topic) is None:
            message = f"{label}: topic matches none of the profile's topic patterns"
            problems.append(((*where, "topic"), message))
            ran_all = False
            continue
        try:
            decoded, verdict = run_example(profile, example, received_at)
        except DecodeError as exc:
            problems.append(((*where, "payload"), f"{label} does not decode: {exc.reason}"))
            ran_all = False
            continue
        produced.update(verdict.faults)
        healthy = healthy or verdict.health is Health.OK
        expect = example.expect
        if decoded.device_id != expect.device_id:
            problems.append(
                (
                    (*where, "expect", "device_id"),
                    f"{label}: device id is {decoded.device_id!r}, expected {expect.device_id!r}",
                )
            )
        for name in sorted(expect.metrics.keys() | decoded.metrics.keys()):
            loc: Loc = (*where, "expect", "metrics", name)
            if name not in decoded.metrics:
                problems.append((loc, f"{label}: metric {name!r} is not decoded"))
            elif name not in expect.metrics:
                message = f"{label}: also decodes {name}={decoded.metrics[name]!r}, not expected"
                problems.append((loc, message))
            elif not _same(decoded.metrics[name], expect.metrics[name]):
                got, want = decoded.metrics[name], expect.metrics[name]
                problems.append((loc, f"{label}: {name} decodes to {got!r}, expected {want!r}"))
        if set(verdict.faults) != set(expect.faults):
            got_faults = ", ".join(verdict.faults) or "none"
            want_faults = ", ".join(sorted(expect.faults)) or "none"
            message = f"{label}: active faults are {got_faults}, expected {want_faults}"
            problems.append(((*where, "expect", "faults"), message))
        if verdict.health is not expect.health:
            message = f"{label}: health is {verdict.health.value}, expected {expect.health.value}"
            problems.append(((*where, "expect", "health"), message))
    if ran_all:  # else an example that did not run may be the one missing
        for name in sorted(profile.faults.keys() - produced):
            problems.append((("faults", name), f"no example produces fault {name!r}"))
        if not healthy:
            problems.append((("examples",), "no example decodes to health ok"))
    return problems


def _same(got: Scalar, want: Scalar) -> bool:
    """As the catalogue tests compare: booleans and text exactly, numbers approximately."""
    if isinstance(got, (bool, str)) or isinstance(want, (bool, str)):
        return type(got) is type(want) and got == want
    if isinstance(got, float) or isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12)
    return got == want
