"""What a telemetry store keeps and answers: raw readings and their roll-ups, per device.

Two stores serve the same :class:`TelemetryStore` surface: the SQL database (the default; raw
readings are the ``readings`` rows ingest writes in its transaction, roll-ups have their own
table) and InfluxDB through its v1 HTTP API. Device state and tickets stay in SQL either way.

Values are what canonical readings carry: numbers, booleans and text. A *state* metric
(a boolean such as a lamp being on, or a text such as a gate's mode) is rolled up by the share
of time each value held; a number by min, max and mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Value = float | int | bool | str
"""A metric's value in a canonical reading."""

RAW = 0
"""The step of raw readings (no roll-up)."""
MINUTE = 60
HOUR = 3600
STEPS = (MINUTE, HOUR)
"""The roll-ups Linli keeps, by their step in seconds."""


@dataclass(frozen=True, slots=True)
class RawPoint:
    """One reading of one device: every metric it carried, at its event time."""

    device_pk: int
    profile_id: str
    ts: datetime
    metrics: Mapping[str, Value]


@dataclass(slots=True)
class Rollup:
    """One metric of one device over ``[start, start + step)``.

    ``count`` readings fell in the bucket. Numbers have ``min``, ``max`` and ``mean``; state
    metrics have ``shares``: for each value (as text: ``"true"``, ``"open"``), the fraction of
    the bucket's covered time it held, counting the value in force when the bucket began.
    ``covered`` is how many seconds of the bucket a value was known for (a device first heard
    from mid-bucket covers only the rest). ``last`` is the value in force at the bucket's end:
    the next bucket starts from it."""

    device_pk: int
    metric: str
    start: datetime
    step: int
    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    shares: dict[str, float] | None = None
    covered: float = 0.0
    last: Value | None = None


class TelemetryUnavailable(Exception):
    """The telemetry store cannot be reached or cannot serve now (down, timing out, out of
    space): temporary, as the database's own failures are; ingest holds the data and tries
    again."""


class TelemetryRejected(Exception):
    """The telemetry store refused the data or the query itself (a type conflict, a
    malformed request): trying it again will not help."""


class TelemetryStore(Protocol):
    """Raw readings and roll-ups of a cloud's devices."""

    name: str
    """``"sql"`` or ``"influxdb"``."""
    raw_span_s: float
    """The longest span a raw series is served for; longer ones come from roll-ups."""

    def write_readings(self, points: Sequence[RawPoint]) -> None:
        """Store raw readings (idempotent: a reading written again changes nothing).

        The SQL store's readings are written by ingest in its own transaction; its
        implementation does nothing."""

    def readings_between(self, start: datetime, end: datetime) -> Iterable[RawPoint]:
        """Every device's raw readings with ``start <= ts < end``, in time order."""

    def series(
        self, device_pk: int, profile_id: str, metric: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Value]]:
        """One metric's raw values of one device, ``start <= ts < end``, in time order."""

    def write_rollups(self, rollups: Sequence[Rollup]) -> None:
        """Store roll-ups, replacing any of the same device, metric, step and start."""

    def rollups(
        self, device_pk: int, metric: str, step: int, start: datetime, end: datetime
    ) -> list[Rollup]:
        """One metric's roll-ups of one device with ``start <= bucket start < end``, in
        time order."""

    def rollups_between(self, step: int, start: datetime, end: datetime) -> list[Rollup]:
        """Every device's roll-ups of ``step`` with ``start <= bucket start < end``."""

    def values_in_force(
        self, step: int, device_pks: Sequence[int], before: datetime, since: datetime
    ) -> dict[tuple[int, str], Value]:
        """For each device and metric, ``last`` of its latest roll-up of ``step`` that began
        in ``[since, before)``: the value in force at ``before``."""

    def expire(self, step: int, before: datetime) -> None:
        """Forget raw readings (``step`` = :data:`RAW`) or roll-ups of ``step`` older than
        ``before``."""

    def close(self) -> None:
        """Let go of connections."""
