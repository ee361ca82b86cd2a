"""The field pieces decoding and encoding share: payload documents, dotted paths, one field
read (and its number written back), fault codes, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_profiles import fields
from device_profiles.fields import ABSENT, DecodeError, EncodeError
from device_profiles.schema import FaultSource, Field_, TopicSpec

JSON = TopicSpec(pattern="t/{device_id}")
CSV = TopicSpec(pattern="c/{device_id}", format="csv", columns=("ts", "level"))


# --- the payload as a document ------------------------------------------------------------


def test_payload_text_refuses_long_and_non_utf8_payloads() -> None:
    assert fields.payload_text("ünï".encode()) == "ünï"
    with pytest.raises(DecodeError, match="exceeds"):
        fields.payload_text(b" " * (fields.MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(DecodeError, match="not UTF-8: invalid start byte at byte 1"):
        fields.payload_text(b"a\xff")


@pytest.mark.parametrize(
    ("spec", "text", "document"),
    [
        (JSON, '{"a": {"b": 1}}', {"a": {"b": 1}}),
        (CSV, " 1764201600 , 42 \n", {"ts": "1764201600", "level": "42"}),
    ],
)
def test_document_of(spec: TopicSpec, text: str, document: dict[str, Any]) -> None:
    assert fields.document_of(spec, text) == document
    assert fields.as_document(spec, text) == document


@pytest.mark.parametrize(
    ("spec", "text", "reason"),
    [
        (JSON, "{", "payload is not JSON"),
        (JSON, "[1]", "JSON payload must be an object, got list"),
        (JSON, "[" * 100_000, "payload is not JSON"),
        (CSV, "1,2,3", "expected 2 csv columns, got 3"),
    ],
)
def test_document_of_says_why_a_payload_is_none(spec: TopicSpec, text: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        fields.document_of(spec, text)
    assert fields.as_document(spec, text) is None


def test_as_document_takes_a_mapping_itself_for_json_only() -> None:
    payload = {"a": 1}
    assert fields.as_document(JSON, payload) is payload
    assert fields.as_document(CSV, payload) is None
    assert fields.as_document(JSON, [1]) is None


def test_lookup_and_put_follow_a_dotted_path() -> None:
    document: dict[str, Any] = {"a": {"b": 1}, "c": 2}
    assert fields.lookup(document, "a.b") == 1
    assert fields.lookup(document, "a.x") is None
    assert fields.lookup(document, "c.d") is None
    fields.put(document, "a.b", 5)
    fields.put(document, "x.y.z", True)
    assert document == {"a": {"b": 5}, "c": 2, "x": {"y": {"z": True}}}
    fields.put(document, "a.b", ABSENT)
    assert document["a"] == {}
    with pytest.raises(EncodeError, match="'c' in the template is no object") as caught:
        fields.put(document, "c.d", 1)
    assert caught.value.path == "c.d"


# --- one field ----------------------------------------------------------------------------


def test_read_field_applies_map_type_scale_offset_and_unit() -> None:
    field = Field_(path="t", scale=0.1, offset=-40, unit="degF")
    assert fields.read_field({"t": 1120}, field, "temp", "degC") == pytest.approx(200 / 9)
    assert fields.read_field({"t": 1120}, field, "temp") == pytest.approx(72.0)  # no target
    mapped = Field_(path="s", type="bool", map={"ON": True, "OFF": False})
    assert fields.read_field({"s": "OFF"}, mapped, "on") is False
    assert fields.read_field({}, Field_(path="s", optional=True), "x") is None


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        ({}, Field_(path="v"), "missing field 'v' for x"),
        ({"v": ""}, Field_(path="v"), "missing field"),
        ({"v": "DIM"}, Field_(path="v", map={"ON": 1}), "x: unknown value 'DIM' at 'v'"),
        ({"v": [1]}, Field_(path="v"), "expected a scalar"),
        ({"v": "maybe"}, Field_(path="v", type="bool"), "'maybe' is not a boolean"),
        ({"v": True}, Field_(path="v"), "expected a number, got a boolean"),
        ({"v": "7" * 100}, Field_(path="v", scale=1e300), "is not a finite number"),
        ({"v": 1.5}, Field_(path="v", type="int"), "1.5 is not an integer"),
    ],
)
def test_read_field_says_why_a_value_does_not_read(
    document: dict[str, Any], field: Field_, reason: str
) -> None:
    with pytest.raises(DecodeError, match=reason):
        fields.read_field(document, field, "x")


@given(
    value=st.floats(min_value=-1e6, max_value=1e6),
    scale=st.sampled_from([1.0, 0.1, 0.001, 2.5, -1.0]),
    offset=st.sampled_from([0.0, -40.0, 273.15]),
    unit=st.sampled_from([None, ("mA", "A"), ("degF", "degC")]),
)
def test_vendor_number_is_read_field_backwards(
    value: float, scale: float, offset: float, unit: tuple[str, str] | None
) -> None:
    source, target = unit or (None, None)
    field = Field_(path="v", scale=scale, offset=offset, unit=source)
    raw = fields.vendor_number(value, field, target)
    assert raw is not None
    assert fields.read_field({"v": raw}, field, "x", target) == pytest.approx(
        value, rel=1e-9, abs=1e-6
    )


def test_vendor_number_of_a_zero_scale_is_none() -> None:
    assert fields.vendor_number(1.0, Field_(path="v", scale=0), None) is None


@pytest.mark.parametrize(
    ("raw", "key"), [(True, "true"), (11.0, "11"), (11.5, "11.5"), ("E1", "E1"), (7, "7")]
)
def test_as_key_is_the_text_codes_are_written_in(raw: Any, key: str) -> None:
    assert fields.as_key(raw) == key


def test_faults_of_codes_and_flags() -> None:
    codes = FaultSource(path="err", codes={"11": "jammed", "12": "forced"}, ok=("0",))
    assert fields.faults_of(codes, [11, 12.0, 0]) == {"jammed", "forced"}
    assert fields.faults_of(codes, "0") == set()
    with pytest.raises(DecodeError, match="unknown fault code 13 at 'err'"):
        fields.faults_of(codes, 13)
    flag = FaultSource(path="dry", flag="dry_run")
    assert fields.faults_of(flag, "on") == {"dry_run"}
    with pytest.raises(DecodeError, match="fault flag 'dry': 'wet' is not a boolean"):
        fields.faults_of(flag, "wet")


def test_to_datetime() -> None:
    assert fields.to_datetime(1764201600) == datetime(2025, 11, 27, tzinfo=UTC)
    with pytest.raises(DecodeError, match="not unix seconds"):
        fields.to_datetime("yesterday")
    with pytest.raises(DecodeError, match="out of range"):
        fields.to_datetime(1e20)


def test_preview_cuts_long_values_and_survives_huge_numbers() -> None:
    assert fields.preview("short") == "'short'"
    assert fields.preview("x" * 100, limit=10) == "'xxxxxx..."
    assert fields.preview(10**5000) == "a int too long to show"
