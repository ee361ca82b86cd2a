"""The telemetry export: a facility's readings or roll-ups over a period, a row each."""

from __future__ import annotations

from collections.abc import Iterator

from cloud.api.exports.table import Column, Table, columns
from cloud.telemetry.charts import Series

VALUE = ("string", "number", "boolean")

TELEMETRY = Table(
    "telemetry",
    columns(
        ("device_pk", "integer", "the device"),
        ("device_id", "string", "its id at its gateway"),
        ("metric", "string", "the metric"),
        ("unit", "string?", "its unit"),
        ("resolution", "string", "raw readings, or buckets of 1m or 1h roll-ups"),
        ("step", "integer?", "the buckets' width, seconds (null for raw readings)"),
        ("t", "time", "the reading's time, or the bucket's start"),
        Column("value", VALUE, "a raw reading's value", nullable=True),
        ("count", "integer?", "readings in the bucket"),
        ("min", "number?", "a number's least in the bucket"),
        ("max", "number?", "a number's greatest"),
        ("mean", "number?", "a number's mean"),
        ("share", "number?", "of a true/false state, the time-weighted share of true"),
        ("covered_s", "number?", "seconds of the bucket the data covers"),
        Column("last", VALUE, "the bucket's last value", nullable=True),
    ),
)


def telemetry_rows(
    series: Series,
    *,
    device_pk: int,
    device_id: str,
    metric: str,
    unit: str | None,
    resolution: str,
    boolean: bool,
) -> Iterator[dict[str, object]]:
    """A series' raw readings or buckets, in time order."""
    own = {
        "device_pk": device_pk,
        "device_id": device_id,
        "metric": metric,
        "unit": unit,
        "resolution": resolution,
        "step": series.step,
    }
    for t, value in series.readings:
        yield {**own, "t": t, "value": value}
    for bucket in series.buckets:
        yield {
            **own,
            "t": bucket.start,
            "count": bucket.count,
            "min": bucket.min,
            "max": bucket.max,
            "mean": bucket.mean,
            "share": (bucket.shares or {}).get("true", 0.0)
            if boolean and bucket.shares is not None
            else None,
            "covered_s": bucket.covered,
            "last": bucket.last,
        }
