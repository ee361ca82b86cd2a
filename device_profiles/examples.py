"""Running a profile's examples: the same code for the catalogue test, the CLI and tools."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from device_profiles.decode import Decoded, decode
from device_profiles.rules import RuleState, Verdict, evaluate, health_of, silent_faults
from device_profiles.schema import Example, Profile


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
