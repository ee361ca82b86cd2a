"""Who repairs it: the dispatch policy, a small interface with one default.

The repair rounds (:mod:`cloud.repair.rounds`) hand a policy what a ticket needs and the
community's maintainers as they stand at that moment — skills, zones, whether they are on
duty by their duty calendar, how much open work they hold — and assign whom it chooses. A
policy that chooses nobody leaves the ticket open; the rounds ask again next time (someone
comes on duty) while the ticket's response target runs and escalates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Maintainer:
    person_id: int
    name: str
    skills: frozenset[str]
    zone_ids: frozenset[int]
    """the zones they work in; empty: the whole community"""
    on_duty: bool
    open_tickets: int
    """tickets assigned to them and not yet repaired"""


@dataclass(frozen=True)
class Need:
    """What a ticket asks of its maintainer."""

    skill: str
    zone_id: int | None
    """where the facility is; None: anywhere in the community"""


class DispatchPolicy(Protocol):
    def choose(self, need: Need, maintainers: Sequence[Maintainer]) -> Maintainer | None:
        """Who gets the ticket; None: nobody now."""
        ...


def qualified(need: Need, maintainer: Maintainer) -> bool:
    """On duty, with the skill, working where the facility is."""
    return (
        maintainer.on_duty
        and need.skill in maintainer.skills
        and (not maintainer.zone_ids or need.zone_id is None or need.zone_id in maintainer.zone_ids)
    )


class LeastLoaded:
    """The default: of the qualified maintainers, the one with the least open work (then
    the one who joined first, so the choice is stable)."""

    def choose(self, need: Need, maintainers: Sequence[Maintainer]) -> Maintainer | None:
        fit = [m for m in maintainers if qualified(need, m)]
        return min(fit, key=lambda m: (m.open_tickets, m.person_id), default=None)
