"""Which ticket events notify, and whom they concern: the one place this is decided.

| event | people told (by their own channels) |
|---|---|
| opened | the community's supervisors and property managers |
| assigned | the maintainer it went to |
| acknowledged, started, held | nobody (its maintainer did it); integrations only |
| resolved | the supervisors, when it waits for their confirmation (the data cannot see it) |
| verified, confirmed | its maintainer: the repair held |
| reopened | its maintainer and the supervisors: the repair did not hold |
| cancelled | its maintainer |
| sla_warning, sla_breached, escalated, reminded | whom the event names (``evidence.to``) |
| resident_report | its maintainer: a resident's word on what they are repairing |
| resident_me_too | nobody; integrations and the live streams only |

Every event of these kinds goes to the community's webhooks (each may filter by kind), its
MQTT topic and the live streams, whoever it concerns. ``repeated`` (a fault seen again on a
ticket being worked on, written by ingest for readings), ``fault_cleared`` and ``self_test``
notify nobody: they are the data's news, shown on the ticket, and ``repeated`` would add a
write to ingest's hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_args

from pydantic import ValidationError

from device_profiles.site import Channels, NoticeKind

NOTIFYING: frozenset[str] = frozenset(get_args(NoticeKind))
"""The kinds of ticket event that make a notice (in the event's transaction)."""

_TO_SUPERVISION = frozenset({"opened"})
_TO_ASSIGNEE = frozenset(
    {"assigned", "verified", "confirmed", "reopened", "cancelled", "resident_report"}
)
_TO_SUPERVISORS = frozenset({"reopened"})
_NAMED = frozenset({"sla_warning", "sla_breached", "escalated", "reminded"})
AWAITING_CONFIRMATION = "resolved"
"""The state of a ticket resolved by its maintainer that a supervisor must confirm."""


class Channel(StrEnum):
    """How a notice is delivered (the live stream reads notices; it has no deliveries)."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    MQTT = "mqtt"


@dataclass(frozen=True)
class Team:
    """The people of a community a notice may concern by their role."""

    supervisors: tuple[int, ...] = ()
    property_managers: tuple[int, ...] = ()


def concerned(
    kind: str,
    *,
    state: str,
    assignee_id: int | None,
    evidence: Mapping[str, Any] | None,
    team: Team,
) -> list[int]:
    """The people (ids, each once, in this order) a ticket event of ``kind`` concerns: the
    ticket in ``state`` with ``assignee_id`` just after it, ``evidence`` the event's."""
    found: list[int] = []
    if kind in _TO_SUPERVISION:
        found += [*team.supervisors, *team.property_managers]
    if kind in _TO_ASSIGNEE and assignee_id is not None:
        found.append(assignee_id)
    if kind in _TO_SUPERVISORS or (kind == "resolved" and state == AWAITING_CONFIRMATION):
        found += team.supervisors
    if kind in _NAMED:
        named = (evidence or {}).get("to")
        if isinstance(named, list):
            found += [
                person["person_id"]
                for person in named
                if isinstance(person, dict) and isinstance(person.get("person_id"), int)
            ]
        elif assignee_id is not None:  # an event from before recipients were named
            found.append(assignee_id)
    return list(dict.fromkeys(found))


def channels_of(stored: Mapping[str, Any] | None) -> Channels:
    """A person's channels as stored (``people.channels``); the defaults for nothing stored,
    or for what no longer reads as channels."""
    if not stored:
        return Channels()
    try:
        return Channels.model_validate(stored)
    except ValidationError:
        return Channels()


def wants(channels: Channels, kind: str) -> bool:
    """Whether a person with ``channels`` hears of events of ``kind`` that concern them."""
    return channels.kinds is None or kind in channels.kinds


def wanted_by_webhook(kinds: Iterable[str], kind: str) -> bool:
    """Whether a webhook subscribed to ``kinds`` (empty: all) takes events of ``kind``."""
    listed = list(kinds)
    return not listed or kind in listed
