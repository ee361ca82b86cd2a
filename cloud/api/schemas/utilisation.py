"""Public shapes of the utilisation figures (definitions: docs/figures.md#utilisation,
:mod:`cloud.telemetry.utilisation`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cloud.api.schemas.common import _Public
from cloud.api.schemas.figures import FigureGroup, FigureScope

_USES = (
    "uses its counters counted in the period (passages, trips, openings: the increase of "
    "each reading over the one before; a counter that restarted counts from 0)"
)
_IN_USE = (
    "seconds its states meant in use in the period (lit, charging), added up over its "
    "devices; a device's latest state counts for at most its silence span after it was "
    "last heard"
)


class FacilityUsagePublic(_Public):
    """A facility's use in the period."""

    facility_id: int = Field(description="the facility's id")
    code: str = Field(description="its id in its community's site file")
    name: str = Field(description="what it is called")
    category: str = Field(description="access, lighting, ev_charging...")
    zone_id: int | None = Field(description="the zone or building it is in")
    devices: int = Field(description="its devices whose profile measures use")
    readings: int = Field(description="readings of their measure in the period")
    uses: int | None = Field(description=f"{_USES}; null: it has no counter")
    in_use_s: float | None = Field(description=f"{_IN_USE}; null: it has no state measure")
    in_use_share: float | None = Field(
        description="`in_use_s` over the period's seconds (up to now) times its devices "
        "with a state measure, 0 to 1; null: none"
    )
    idle: bool = Field(
        description="used at most `idle_uses` times and in use at most `idle_s` seconds in "
        "the period (for each kind it measures by)"
    )
    silent: bool = Field(
        description="none of its measuring devices sent a reading in the period: it may be "
        "broken or offline rather than unused"
    )


class MeasurePublic(_Public):
    """One kind of measure of use (a device type's metric), summed over the facilities."""

    device_type: str = Field(description="the devices' type (access_gate, elevator...)")
    metric: str = Field(description="the metric that measures the use")
    kind: Literal["counter", "state"] = Field(
        description="counter: it counts uses; state: its `value` means in use"
    )
    value: bool | int | float | str | None = Field(
        description="the state's value that means in use; null for a counter"
    )
    description: str = Field(description="what is counted, as the profile says")
    devices: int = Field(description="devices measuring so")
    facilities: int = Field(description="the facilities they belong to")
    readings: int = Field(description="their readings of the metric in the period")
    uses: int | None = Field(description="uses counted in the period; null for a state")
    in_use_s: float | None = Field(
        description="seconds in use in the period, added up over the devices; null for a counter"
    )


class UtilisationFigureSet(_Public):
    """The utilisation figures of a set of facilities over a period."""

    facilities: int = Field(description="facilities counted: in use during the period")
    measured: int = Field(
        description="of them, those with a device whose profile measures use (its `usage`)"
    )
    idle: int = Field(description="of the measured facilities, those idle in the period")
    silent: int = Field(
        description="of the measured facilities, those none of whose measuring devices sent a "
        "reading in the period"
    )
    uses: int = Field(description=f"all the facilities' {_USES}")
    in_use_s: float = Field(description=f"all the facilities' {_IN_USE}")
    measures: list[MeasurePublic] = Field(description="the same per kind of measure")
    least_used: list[FacilityUsagePublic] = Field(
        description="the measured facilities, idle ones first, then by category and use; at "
        "most `top`"
    )


class UtilisationFigureGroup(UtilisationFigureSet, FigureGroup):
    pass


class UtilisationFigures(UtilisationFigureSet, FigureScope):
    """Utilisation figures of the caller's community (or the one an operator chose),
    filtered by zone and category, over a period; with ``group_by``, per group as well."""

    idle_uses: int = Field(description="a facility used at most this many times is idle")
    idle_s: float = Field(description="a facility in use at most this many seconds is idle")
    groups: list[UtilisationFigureGroup] = Field(
        description="the same figures per community, zone, category or facility, by name"
    )
