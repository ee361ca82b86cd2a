"""Service levels: how soon a ticket must be answered and repaired, and what happens when it
is not.

A ticket's SLA class (named by its profile) and priority give two targets: *respond*
(acknowledge) and *resolve*. They are measured from when the ticket opened (or reopened; the
response also from when it was given to another maintainer) on the class's clock — the
community's business hours where the class names a calendar, else around the clock. Which
target runs depends on the ticket's state, not only on whether someone acknowledged it:

- open, assigned: the response target;
- acknowledged, in progress, on hold: the resolution target;
- resolved, verifying, closed, cancelled: none (the repair is in; the data or a supervisor
  decides).

Each running target escalates in :data:`STEPS`: at three quarters of its time the ticket's
maintainer is warned; when it is missed, the community's supervisors are told; when it is
missed by its own length again, the property managers. After each step, whoever holds the
ticket is reminded every :func:`remind_every` until someone moves it.

A site file's classes override the shipped ones (:data:`SHIPPED`) of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from cloud.repair.calendar import AroundTheClock, BusinessTime, OpeningHours
from cloud.repair.lifecycle import State


class Phase(StrEnum):
    RESPOND = "respond"
    RESOLVE = "resolve"


class Level(IntEnum):
    """Who a ticket's reminders go to: up the chain as targets are missed."""

    MAINTAINER = 0
    SUPERVISOR = 1
    PROPERTY_MANAGER = 2


_PHASES = {
    State.OPEN: Phase.RESPOND,
    State.ASSIGNED: Phase.RESPOND,
    State.ACKNOWLEDGED: Phase.RESOLVE,
    State.IN_PROGRESS: Phase.RESOLVE,
    State.ON_HOLD: Phase.RESOLVE,
}


def phase_of(state: State) -> Phase | None:
    """The target a ticket in ``state`` runs against; None when none does."""
    return _PHASES.get(state)


@dataclass(frozen=True)
class Step:
    """One escalation step of a running target."""

    fraction: float
    """how much of the target's time has passed when it is taken"""
    kind: str
    """the ticket event it leaves"""
    level: Level
    """who hears of it, and of the reminders after it"""


STEPS = (
    Step(0.75, "sla_warning", Level.MAINTAINER),
    Step(1.0, "sla_breached", Level.SUPERVISOR),
    Step(2.0, "escalated", Level.PROPERTY_MANAGER),
)
BREACH = 1
"""the index in :data:`STEPS` of the step at which a target is missed"""
MIN_REMINDER_S = 300.0


def remind_every(target_s: float) -> float:
    """Counted seconds between reminders of a ticket under ``target_s``: a quarter of it, at
    least five minutes."""
    return max(MIN_REMINDER_S, target_s / 4)


@dataclass(frozen=True)
class Targets:
    """The targets of one ticket, on their clock."""

    respond_s: float
    resolve_s: float
    reopen_s: float
    clock: BusinessTime

    def seconds(self, phase: Phase) -> float:
        return self.respond_s if phase is Phase.RESPOND else self.resolve_s

    def deadline(self, since: datetime, phase: Phase) -> datetime:
        return self.clock.add(since, self.seconds(phase))

    def step_at(self, since: datetime, phase: Phase, step: int) -> datetime:
        """When step ``step`` of ``phase``'s target is due for a clock started ``since``."""
        return self.clock.add(since, self.seconds(phase) * STEPS[step].fraction)

    def reminder_at(self, last: datetime, phase: Phase) -> datetime:
        return self.clock.add(last, remind_every(self.seconds(phase)))


DEFAULT_HOURS = {day: "08:30-17:30" for day in ("mon", "tue", "wed", "thu", "fri")}
"""Business hours of the shipped classes that count them, where a site names none."""
WEEK_S = 7 * 86400.0
SHIPPED: dict[str, dict[str, Any]] = {
    "urgent": {
        "acknowledge_s": 15 * 60.0,
        "resolve_s": 4 * 3600.0,
        "by_priority": {"urgent": {"acknowledge_s": 5 * 60.0, "resolve_s": 3600.0}},
        "hours": None,
        "reopen_s": WEEK_S,
    },
    "standard": {
        "acknowledge_s": 4 * 3600.0,
        "resolve_s": 72 * 3600.0,
        "by_priority": {},
        "hours": DEFAULT_HOURS,
        "reopen_s": WEEK_S,
    },
}
"""The classes the catalogue's profiles name, as Linli ships them: an urgent ticket of the
urgent class (a trapped lift) answered within 5 minutes day and night; a standard one (a
corridor light) resolved within 72 business hours."""
FALLBACK = "standard"
"""The class of a ticket whose class neither the site nor :data:`SHIPPED` defines."""


@dataclass(frozen=True)
class SlaClassSpec:
    """An SLA class as stored: targets in seconds, per-priority overrides, and its clock's
    hours (None: around the clock)."""

    acknowledge_s: float
    resolve_s: float
    by_priority: Mapping[str, Mapping[str, float]]
    reopen_s: float
    hours: Mapping[str, str] | None
    holidays: tuple[str, ...] = ()


class SlaBook:
    """The SLA classes of one community: the site's over the shipped ones."""

    def __init__(self, time_zone: str, classes: Mapping[str, SlaClassSpec]) -> None:
        self._time_zone = time_zone
        self._classes = dict(classes)
        self._clocks: dict[str, BusinessTime] = {}

    def targets(self, sla: str, priority: str) -> Targets:
        spec = self._classes.get(sla) or shipped(sla)
        override = spec.by_priority.get(priority, {})
        return Targets(
            respond_s=float(override.get("acknowledge_s", spec.acknowledge_s)),
            resolve_s=float(override.get("resolve_s", spec.resolve_s)),
            reopen_s=spec.reopen_s,
            clock=self._clock(sla, spec),
        )

    def _clock(self, sla: str, spec: SlaClassSpec) -> BusinessTime:
        clock = self._clocks.get(sla)
        if clock is None:
            if spec.hours is None:
                clock = AroundTheClock()
            else:
                clock = OpeningHours(self._time_zone, spec.hours, spec.holidays)
            self._clocks[sla] = clock
        return clock


def shipped(sla: str) -> SlaClassSpec:
    """The shipped class ``sla``, or the fallback class."""
    found = SHIPPED.get(sla) or SHIPPED[FALLBACK]
    return SlaClassSpec(
        acknowledge_s=found["acknowledge_s"],
        resolve_s=found["resolve_s"],
        by_priority=found["by_priority"],
        reopen_s=found["reopen_s"],
        hours=found["hours"],
    )
