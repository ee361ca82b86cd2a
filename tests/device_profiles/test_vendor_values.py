"""Choosing each field's vendor value: the vendor's dialect, what each writer proposes and
accepts, and the value every writer of a field agrees on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from device_profiles.fields import ABSENT, EncodeError
from device_profiles.schema import Profile
from device_profiles.vendor_values import (
    Dialect,
    fault_writer,
    metric_writer,
    same,
    solve,
    timestamp_writer,
)
from tests.sample_profiles import pump

EXAMPLE = {
    "name": "alarm",
    "topic": "test/pump/p1",
    "payload": {"p": 3, "run": "ON", "h": 10.5, "dry": 0, "err": [11], "ts": 1764201600000},
    "expect": {
        "device_id": "p1",
        "metrics": {"pressure": 3.0, "running": True, "hours": 10.5},
        "faults": ["dry_run_repeatedly"],
        "health": "faulty",
    },
}


def profile() -> Profile:
    """The sample pump, with the vendor's words for booleans, a list of codes and a
    timestamp in milliseconds."""
    decoding = pump().decode.model_dump(mode="json", by_alias=True, exclude_none=True)
    decoding["metrics"]["running"]["source"]["map"] = {"ON": True, "OFF": False}
    decoding["faults"].append(
        {"path": "err", "codes": {"11": "dry_run_repeatedly", "12": "offline"}, "ok": ["0"]}
    )
    decoding["timestamp"] = {"path": "ts", "scale": 0.001}
    return pump(decode=decoding, examples=[EXAMPLE])


def dialect(template: dict[str, Any]) -> Dialect:
    spec = profile().topics[0]
    return Dialect(profile(), spec, template)


def test_the_dialect_reads_the_template_first_then_the_examples() -> None:
    vendor = dialect({"p": 3.5})
    assert vendor.scalar("p") == 3.5
    assert vendor.scalar("run") == "ON"  # the example's
    assert vendor.scalar("err") == 11  # an item of the list the vendor writes there
    assert vendor.is_list("err") and not vendor.is_list("p")
    assert vendor.codes("err") == set()  # the template has none
    assert dialect({"err": [11, 12]}).codes("err") == {"11", "12"}
    assert vendor.probe("a.b", 1) == {"a": {"b": 1}}
    assert vendor.probe("a", ABSENT) == {}


def test_a_metric_is_proposed_in_the_vendors_own_spelling() -> None:
    vendor = dialect({"p": 3, "run": "ON", "h": 10.5})
    metrics = profile().decode.metrics
    running = metric_writer("running", metrics["running"], False, vendor)
    assert set(running.proposals) == {"ON", "OFF"}  # the map's keys, not true or false
    assert {value for value in running.proposals if running.accepts(value)} == {"OFF"}
    pressure = metric_writer("pressure", metrics["pressure"], 4.0, vendor)
    assert pressure.proposals[0] == 4 and isinstance(pressure.proposals[0], int)
    hours = metric_writer("hours", metrics["hours"], 12.0, vendor)
    assert hours.proposals[0] == 12.0 and isinstance(hours.proposals[0], float)


def test_fault_writers_say_codes_as_the_vendor_does() -> None:
    vendor = dialect({"err": [0]})
    source = profile().decode.faults[1]
    none = fault_writer(source, frozenset(), vendor)
    assert none.proposals[0] == []  # the vendor writes a list here
    one = fault_writer(source, frozenset({"offline"}), vendor)
    assert one.proposals[0] == [12]
    assert one.accepts([12]) and one.accepts(12) and not one.accepts([11])


def test_the_timestamp_is_written_in_the_vendors_scale() -> None:
    stamp = profile().decode.timestamp
    assert stamp is not None
    ts = datetime(2025, 11, 27, 0, 0, 1, tzinfo=UTC)
    writer = timestamp_writer(stamp, ts, dialect({"ts": 1}))
    assert writer.proposals[0] == 1764201601000
    assert writer.accepts(writer.proposals[0]) and not writer.accepts(1764201600000)


def test_solve_keeps_the_templates_value_when_it_will_do() -> None:
    vendor = dialect({"p": 3.0})
    metrics = profile().decode.metrics
    writer = metric_writer("pressure", metrics["pressure"], 3, vendor)
    assert solve("p", vendor, [writer], []) == 3.0  # not re-spelt as 3


def test_solve_says_which_writer_no_value_satisfies() -> None:
    vendor = dialect({"run": "ON"})
    running = profile().decode.metrics["running"]
    with pytest.raises(EncodeError, match="no value at 'run' says both") as caught:
        solve(
            "run",
            vendor,
            [
                metric_writer("running", running, True, vendor),
                metric_writer("running", running, False, vendor),
            ],
            [],
        )
    assert caught.value.path == "run"


@pytest.mark.parametrize(
    ("got", "want", "equal"),
    [
        (1.0000000001, 1.0, True),
        (1.001, 1.0, False),
        (1, 1.0, True),
        (True, 1, False),
        ("1", 1, False),
        ("on", "on", True),
    ],
)
def test_same_compares_numbers_within_rounding_and_the_rest_exactly(
    got: Any, want: Any, equal: bool
) -> None:
    assert same(got, want) is equal
