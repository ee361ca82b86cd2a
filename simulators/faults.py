"""Fault injection: the control messages, their parsing, and random fault picking.

Control messages arrive as JSON on :data:`CONTROL_TOPIC` of the devices' broker::

    {"action": "fault", "device_id": "gate-01", "fault": "motor_jammed", "duration_s": 60}
    {"action": "garbage", "device_id": "light-a-03"}
    {"action": "silence", "device_id": "sos-02", "duration_s": 120}
    {"action": "event", "event": {"zone": "zone-a", "category": "lighting",
                                  "fault": "power_loss", "for": "15m"}}

``silence`` makes a device fall silent: it stops reporting, and in per-device connection
mode its connection is cut without a DISCONNECT, so the broker publishes its last will.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from simulators.device import SimulatedDevice, SimulatorError

CONTROL_TOPIC = "linli/sim/control"
DEFAULT_FAULT_DURATION_S = 60.0
RANDOM_DURATION_S = (30.0, 90.0)
MAX_FAULT_DURATION_S = 7 * 24 * 3600.0


class ControlError(SimulatorError):
    """A control message that is not valid JSON or not a known action."""


class InvalidDuration(SimulatorError):
    """A fault duration that is not a positive number of seconds."""


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultCommand(_Command):
    """Put ``device_id`` into ``fault`` for ``duration_s`` seconds, then back to normal."""

    action: Literal["fault"] = "fault"
    device_id: str = Field(min_length=1)
    fault: str = Field(min_length=1)
    duration_s: float = Field(
        default=DEFAULT_FAULT_DURATION_S, gt=0, le=MAX_FAULT_DURATION_S, allow_inf_nan=False
    )


class GarbageCommand(_Command):
    """Make ``device_id`` publish one malformed payload on its own topic."""

    action: Literal["garbage"] = "garbage"
    device_id: str = Field(min_length=1)


class SilenceCommand(_Command):
    """Make ``device_id`` fall silent (and drop its connection) for ``duration_s`` seconds."""

    action: Literal["silence"] = "silence"
    device_id: str = Field(min_length=1)
    duration_s: float = Field(
        default=DEFAULT_FAULT_DURATION_S, gt=0, le=MAX_FAULT_DURATION_S, allow_inf_nan=False
    )


class EventCommand(_Command):
    """Any fault the simulator can make, now: ``event`` is one scenario event without its
    ``at`` (see :mod:`simulators.scenario`), e.g. ``{"zone": "zone-a", "category":
    "lighting", "fault": "power_loss", "for": "15m"}``. Checked when it is carried out."""

    action: Literal["event"] = "event"
    event: dict[str, Any]


AnyCommand: TypeAlias = FaultCommand | GarbageCommand | SilenceCommand | EventCommand
ControlCommand = Annotated[AnyCommand, Field(discriminator="action")]


class _Control(RootModel[ControlCommand]):
    """Any control message (a root model: mypy cannot type a TypeAdapter over a union)."""


def parse_control(payload: bytes) -> AnyCommand:
    """The command in a control message; ControlError says what is wrong with a bad one."""
    try:
        return _Control.model_validate_json(payload).root
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'message'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ControlError(f"bad control message: {problems}") from None


def encode_control(command: AnyCommand) -> bytes:
    """The JSON control message for ``command``."""
    return command.model_dump_json().encode()


def check_duration(duration_s: float) -> float:
    """``duration_s`` if it is a usable fault duration, else InvalidDuration."""
    if not 0 < duration_s <= MAX_FAULT_DURATION_S:
        raise InvalidDuration(
            f"fault duration must be in (0, {MAX_FAULT_DURATION_S:.0f}] seconds, got {duration_s}"
        )
    return duration_s


@dataclass(frozen=True)
class FaultChoice:
    device_id: str
    fault: str
    duration_s: float


def pick_random_fault(
    rng: random.Random,
    candidates: Sequence[SimulatedDevice],
    duration_range: tuple[float, float] = RANDOM_DURATION_S,
) -> FaultChoice | None:
    """A random device among ``candidates`` that can fail, one of its faults and a duration."""
    eligible = [device for device in candidates if device.faults]
    if not eligible:
        return None
    device = rng.choice(eligible)
    fault = rng.choice(device.faults)
    low, high = duration_range
    return FaultChoice(device.device_id, fault, rng.uniform(low, high))
