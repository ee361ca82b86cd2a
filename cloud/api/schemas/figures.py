"""Public shapes of the repair figures: MTTR and MTBF, uptime, SLA compliance, repeats,
the facilities that fail most, per group and for the whole scope."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cloud.api.schemas.common import _Public

MtbfStatus = Literal["measured", "no_failure", "no_interval"]
_MTBF_STATUS = (
    "measured (there are intervals between failures), no_failure (nothing failed in the "
    "period: not an infinite MTBF), no_interval (it failed, but never came back up and "
    "failed again within the period)"
)


class RepairTimesPublic(_Public):
    """MTTR: from the fault's start to the recovery the data saw, over repairs closed in the
    period."""

    repairs: int = Field(
        description="repair cycles closed in the period (verified by the data or confirmed "
        "by a supervisor); a reopened ticket has one cycle per failure; cancelled ones never "
        "count"
    )
    verified: int = Field(description="of them, closed by the facility's own data")
    confirmed: int = Field(
        description="of them, closed on a supervisor's word: not data-verified (their "
        "recovery is the maintainer's resolve)"
    )
    mttr_s: float | None = Field(
        description="mean time to repair in seconds: from the fault's start (the reading "
        "that raised it, or the one that reopened a closed ticket) to its recovery (when the "
        "data last saw the fault clear before verification, else the resolve); null: no "
        "repair closed in the period"
    )
    mttr_verified_s: float | None = Field(
        description="the same over the data-verified repairs only; null: none"
    )


class UptimePublic(_Public):
    """MTBF: the up time from a recovery to the next fault start of the same facility."""

    failures: int = Field(
        description="fault starts in the period: tickets opened, and closed tickets reopened "
        "because the fault came back (not cancelled ones)"
    )
    facilities_failed: int = Field(description="facilities with a failure in the period")
    facilities_without_failure: int = Field(description="facilities with no failure in the period")
    intervals: int = Field(
        description="up intervals measured: from a recovery to the same facility's next "
        "fault start, both in the period"
    )
    mtbf_s: float | None = Field(
        description="mean time between failures in seconds: the mean of those intervals "
        "(over every facility here); null: none measured (see `status`)"
    )
    status: MtbfStatus = Field(description=_MTBF_STATUS)


class SlaTargetPublic(_Public):
    due: int = Field(
        description="tickets whose target counts in the period: met in it (done by its "
        "deadline, never breached), or missed in it (its deadline fell due in it unmet or "
        "met late, or it was breached in it)"
    )
    met: int = Field(description="of them, those that met it")
    compliance: float | None = Field(description="met / due, 0 to 1; null: none due")


class CompliancePublic(_Public):
    """SLA compliance: tickets that met their response and resolution targets."""

    tickets: int = Field(description="tickets with a target that counts in the period")
    met: int = Field(description="of them, those that met every target that counts")
    compliance: float | None = Field(description="met / tickets, 0 to 1; null: none")
    respond: SlaTargetPublic = Field(
        description="the response target: acknowledged (or started, or resolved) by "
        "`respond_by`, never breached"
    )
    resolve: SlaTargetPublic = Field(
        description="the resolution target: resolved by `resolve_by`, never breached"
    )


class RepeatsPublic(_Public):
    """Repeat failures: a fault back after its repair reopens the ticket."""

    tickets: int = Field(description="tickets reopened in the period")
    repeats: int = Field(description="reopenings in the period, in all")


class FacilityFailuresPublic(_Public):
    """A facility's failures in the period."""

    facility_id: int = Field(description="the facility's id")
    code: str = Field(description="its id in its community's site file")
    name: str = Field(description="what it is called")
    category: str = Field(description="access, lighting, water...")
    zone_id: int | None = Field(description="the zone or building it is in")
    tickets: int = Field(description="tickets opened for it in the period (not cancelled)")
    failures: int = Field(
        description="its fault starts in the period: tickets opened and reopened after a closure"
    )
    repeats: int = Field(description="its tickets' reopenings in the period")
    down_s: float = Field(
        description="seconds of the period (up to now) it was down: from a fault start to "
        "its recovery"
    )
    mtbf_s: float | None = Field(description="its mean time between failures in seconds")
    status: MtbfStatus = Field(description=_MTBF_STATUS)


class RepairFigureSet(_Public):
    """The repair figures of a set of facilities over a period (definitions: docs/figures.md)."""

    facilities: int = Field(description="facilities counted: in use during the period")
    tickets: int = Field(description="tickets opened in the period (not cancelled)")
    cancelled: int = Field(
        description="tickets cancelled in the period: they count in no other figure"
    )
    mttr: RepairTimesPublic = Field(description="mean time to repair")
    mtbf: UptimePublic = Field(description="mean time between failures")
    sla: CompliancePublic = Field(description="SLA compliance")
    repeats: RepeatsPublic = Field(description="repeat failures")
    most_failing: list[FacilityFailuresPublic] = Field(
        description="the facilities that fail most: by failures, then down time; at most "
        "`top`, only those that failed"
    )


class FigureGroup(_Public):
    """Which group figures are of (repair and utilisation figures alike)."""

    key: str = Field(
        description="the group: a community's, zone's or facility's id (`none`: of none), or "
        "a category"
    )
    name: str = Field(description="the community's, zone's, category's or facility's name")


class FigureScope(_Public):
    """What figures were asked for (repair and utilisation figures alike)."""

    community_id: int | None = Field(
        description="the community they are of; null: every community you see"
    )
    zone_id: int | None = Field(description="only facilities of this zone; null: every zone")
    category: str | None = Field(description="only facilities of this category; null: all")
    start: datetime = Field(serialization_alias="from", description="the period's start")
    end: datetime = Field(
        serialization_alias="to",
        description="the period's end (not included); not after `from`: an empty period, "
        "every figure zero",
    )
    group_by: Literal["community", "zone", "category", "facility"] | None = Field(
        description="how `groups` are made; null: no groups"
    )


class RepairFigureGroup(RepairFigureSet, FigureGroup):
    pass


class RepairFigures(RepairFigureSet, FigureScope):
    """Repair figures of the caller's community (or the one an operator chose), filtered by
    zone and category, over a period; with ``group_by``, per group as well."""

    groups: list[RepairFigureGroup] = Field(
        description="the same figures per community, zone, category or facility, by name"
    )
