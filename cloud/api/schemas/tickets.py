"""Public shapes of tickets: a ticket, its events and facilities, its detail; maintenance
windows; a facility's resident link."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from cloud.api.schemas.common import _Public
from cloud.db.models import TicketState
from cloud.repair.lifecycle import Move
from device_profiles import Priority


class TicketEventPublic(_Public):
    at: datetime = Field(description="when it happened")
    kind: str = Field(
        description="opened, repeated, fault_cleared; a move: assigned, acknowledged, started, "
        "held, resolved, verified, confirmed, reopened, cancelled; self_test (the device was "
        "asked to test itself); sla_warning, sla_breached, escalated, reminded"
    )
    note: str = Field(description="what was said or done")
    item_id: str | None = Field(description="the reading that caused it, if a reading did")
    actor: str | None = Field(description="who did it: a user name or token:<name>; null: Linli")
    actor_kind: str = Field(
        description="what kind of actor: person, token, rule (Linli itself) or resident"
    )
    evidence: dict[str, Any] | None = Field(
        description="what it rests on: the reading that reopened it, whom it was assigned to "
        '(`assignee_id`, `assignee`), whom an escalation went to (`{"level": ..., "to": '
        '[{"person_id", "name", "role"}]}`), the self-test command sent'
    )


Escalation = Literal["maintainer", "supervisor", "property_manager"]
ESCALATIONS: tuple[Escalation, ...] = ("maintainer", "supervisor", "property_manager")
"""The ``escalation`` of a ticket by its level (0, 1, 2)."""


class TicketPublic(_Public):
    id: int = Field(description="the ticket's id")
    scope: Literal["facility", "zone", "gateway"] = Field(
        description="what failed: a facility; a zone whose facilities failed together (its "
        "`facilities` in the detail); a gateway gone offline (its devices are unknown then)"
    )
    name: str = Field(description="the name of what failed: the facility, zone or gateway")
    community_id: int | None = Field(description="the community of what failed")
    zone_id: int | None = Field(
        description="its zone: the facility's, the zone of a zone ticket, the gateway's"
    )
    facility_id: int | None = Field(
        description="the facility that needs repair; null for a zone's or a gateway's ticket"
    )
    facility_name: str | None = Field(description="its name")
    gateway_id: str | None = Field(description="the gateway of a gateway ticket")
    device_id: str | None = Field(
        description="the device that reported the fault, as its gateway names it; null: a "
        "ticket opened by hand for what no device reports (fault `reported`)"
    )
    profile: str | None = Field(
        default=None, description="that device's profile, which names the fault"
    )
    fault: str = Field(
        description="the fault, as the device's profile names it; `reported`: opened by hand "
        "for what no device reports"
    )
    title: str = Field(description="what is wrong, in a line")
    severity: str = Field(description="how bad the fault is, as the profile says")
    priority: Priority = Field(description="how soon it must be handled")
    skill: str = Field(description="the skill the repair needs")
    sla: str = Field(description="the SLA class it is measured by")
    state: TicketState = Field(
        description="open (nobody has it yet), assigned (to a maintainer), acknowledged (they "
        "took it on), in_progress (repair under way), on_hold (waiting: parts, access), "
        "resolved (repaired, waits for a supervisor's confirmation), verifying (repaired, "
        "waits for the facility's own data to show the fault stays away), closed (done; "
        "reopens if the fault returns within `reopen_until`), cancelled (not to be done)"
    )
    observable: bool = Field(
        description="whether the facility's data shows the fault: then a repair is verified "
        "by the data (resolve → verifying), else confirmed by a supervisor (resolve → resolved)"
    )
    linked_id: int | None = Field(
        description="the ticket opened by hand (`reported`) whose repair this one is part of"
    )
    opened_by: str | None = Field(
        description="who opened it by hand: a user name or token:<name>; null: Linli, from the data"
    )
    occurrences: int = Field(description="how often the fault was raised while it was open")
    repeats: int = Field(
        description="how often the fault came back after a repair (a repeat failure reopens it)"
    )
    assignee_id: int | None = Field(
        description="the maintainer who has it (a person's id); null: nobody yet"
    )
    assignee_name: str | None = Field(description="their name")
    opened_at: datetime = Field(description="when it was opened")
    last_seen_at: datetime = Field(description="when the fault was last reported")
    fault_cleared_at: datetime | None = Field(description="when the device last reported it gone")
    assigned_at: datetime | None = Field(description="when it was last assigned")
    acknowledged_at: datetime | None = Field(description="when its maintainer took it on")
    started_at: datetime | None = Field(description="when the repair started")
    resolved_at: datetime | None = Field(description="when its maintainer last said it is repaired")
    verify_until: datetime | None = Field(
        description="verifying: when the data will have shown the repair holds"
    )
    closed_at: datetime | None = Field(description="when it was closed")
    cancelled_at: datetime | None = Field(description="when it was cancelled")
    reopen_until: datetime | None = Field(
        description="closed: until when the fault's return reopens it (a repeat failure) "
        "rather than opening a new ticket"
    )
    respond_by: datetime | None = Field(
        description="when it must be acknowledged by, by its SLA (null until worked out)"
    )
    resolve_by: datetime | None = Field(
        description="when it must be repaired by, by its SLA (null until worked out)"
    )
    respond_breached_at: datetime | None = Field(
        description="when the response target was missed; null: not missed"
    )
    resolve_breached_at: datetime | None = Field(
        description="when the resolution target was missed; null: not missed"
    )
    escalation: Escalation = Field(
        description="how far up missed targets took it: maintainer (not escalated), "
        "supervisor, property_manager"
    )


class ResidentLinkPublic(_Public):
    facility_id: int = Field(description="the facility")
    url: str = Field(
        description="the resident page behind the facility's QR code: anyone with it may "
        "report the facility broken, with no login"
    )
    created_at: datetime = Field(description="when this link was made (rotating makes a new one)")


class TicketFacilityPublic(_Public):
    facility_id: int = Field(description="a facility of the zone that failed")
    name: str = Field(description="its name")
    profile: str | None = Field(
        default=None, description="the profile of the device that showed the fault"
    )
    fault: str = Field(description="the fault it showed")
    joined_at: datetime = Field(description="when it joined the zone ticket")
    cleared_at: datetime | None = Field(description="when its fault cleared; null: failing")


class TicketDetail(TicketPublic):
    events: list[TicketEventPublic] = Field(description="what happened to it, oldest first")
    moves: list[Move] = Field(
        description="the moves you may make on it now (`POST /tickets/{id}/{move}`): by its "
        "state and your role; a maintainer's only on a ticket of theirs, or acknowledge on an "
        "open one nobody has"
    )
    linked: list[int] = Field(
        description="the other tickets of the same repair: the ticket opened by hand it is "
        "part of, the tickets that are part of it, and theirs"
    )
    facilities: list[TicketFacilityPublic] = Field(
        description="a zone ticket: the facilities that failed together, in the order they "
        "joined; empty for the others"
    )


class MaintenancePublic(_Public):
    id: int = Field(description="the window's id")
    community_id: int = Field(description="its community")
    facility_id: int | None = Field(description="the facility under maintenance; null: a zone")
    zone_id: int | None = Field(description="the zone whose facilities are; null: a facility")
    starts_at: datetime = Field(description="when it begins")
    ends_at: datetime = Field(description="when it ends (by itself, or when someone ended it)")
    reason: str = Field(description="what is being done")
    created_by: str = Field(description="who set it")
    created_at: datetime = Field(description="when it was set")
    ended_by: str | None = Field(description="who ended it before its time; null: nobody")
    settled_at: datetime | None = Field(
        description="when, after its end, what was still faulty opened its tickets; null: not "
        "yet (it has not ended, or the next repair round will)"
    )
