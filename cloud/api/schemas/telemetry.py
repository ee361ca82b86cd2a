"""Public shapes of telemetry: raw readings and roll-up buckets of a series."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class TelemetryReading(BaseModel):
    """A raw reading's value of the metric."""

    t: datetime = Field(description="its event time")
    value: float | bool | str = Field(description="the metric's value")


class TelemetryBucket(BaseModel):
    """The metric over ``[t, t + step)``."""

    t: datetime = Field(description="start of the bucket")
    count: int = Field(description="readings in the bucket")
    min: float | None = Field(default=None, description="numbers: the lowest reading")
    max: float | None = Field(default=None, description="numbers: the highest reading")
    mean: float | None = Field(default=None, description="numbers: the mean of the readings")
    share: float | None = Field(
        default=None,
        description="booleans: the fraction of the bucket's known time the value was true "
        "(time-weighted: readings come on change)",
    )
    shares: dict[str, float] | None = Field(
        default=None,
        description="states: for each value, the fraction of the bucket's known time it held",
    )
    covered_s: float = Field(description="states: seconds of the bucket a value was known for")
    last: float | bool | str | None = Field(description="the value in force at the bucket's end")


class TelemetrySeries(BaseModel):
    """One metric of one device over a span: raw readings, or buckets of ``step`` seconds."""

    device_id: int = Field(description="the device's id in the cloud")
    metric: str = Field(description="the metric, as the device's profile names it")
    kind: Literal["number", "state"] = Field(description="numbers, or states (booleans, enums)")
    unit: str | None = Field(description="the metric's unit, if it has one")
    start: datetime = Field(serialization_alias="from", description="where the span starts")
    end: datetime = Field(serialization_alias="to", description="where the span ends")
    resolution: Literal["raw", "1m", "1h"] = Field(
        description="what the series is built from: raw readings, 1-minute or 1-hour roll-ups"
    )
    step: int | None = Field(description="bucket width in seconds; null for raw readings")
    store: str = Field(description="the telemetry store: sql or influxdb")
    readings: list[TelemetryReading] = Field(default=[], description="raw readings, oldest first")
    buckets: list[TelemetryBucket] = Field(default=[], description="buckets, oldest first")
