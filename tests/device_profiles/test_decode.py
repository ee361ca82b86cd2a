"""Targeted tests of the pure decoder: every piece of a field, every way a payload goes wrong.

Each case is decoded by ``decode`` and by the compiled :class:`Decoder` too, which must
answer the same: the same reading, or a DecodeError with the same reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from device_profiles import Catalogue, Decoded, DecodeError, Profile, decode, match_topic
from device_profiles.decode import MAX_PAYLOAD_BYTES
from device_profiles.decoder import Decoder

RECEIVED_AT = datetime(2025, 11, 27, 8, 30, tzinfo=UTC)
TOPIC = "t/dev-1/data"
CSV_TOPIC = "c/dev-1/evt"


def make_profile(
    metrics: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
    timestamp: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> Profile:
    """A minimal profile around the decode pieces under test."""
    faults = {"jammed": {"title": "Jammed"}, "hot": {"title": "Hot", "severity": "minor"}}
    topics: list[dict[str, Any]] = [{"pattern": "t/{device_id}/data"}]
    if columns is not None:
        topics = [{"pattern": "c/{device_id}/evt", "format": "csv", "columns": columns}]
    decoding: dict[str, Any] = {"metrics": metrics or {}, "faults": sources or []}
    if timestamp is not None:
        decoding["timestamp"] = timestamp
    return Profile.model_validate(
        {
            "schema": "linli.profile/v1",
            "id": "test_device",
            "type": "test_device",
            "name": "Test device",
            "category": "test",
            "vendor": "Test",
            "version": "1.2.3",
            "heartbeat_s": 60,
            "topics": topics,
            "decode": decoding,
            "faults": faults,
            "ticket": {"skill": "general"},
            "examples": [
                {"name": "x", "topic": "t/d/data", "payload": {}, "expect": {"device_id": "d"}}
            ],
        }
    )


def run(profile: Profile, payload: dict[str, Any] | str | bytes, topic: str = TOPIC) -> Decoded:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    try:
        decoded = decode(profile, topic, payload, RECEIVED_AT)
    except DecodeError as exc:
        with pytest.raises(DecodeError) as compiled:
            Decoder(profile).decode(topic, payload, RECEIVED_AT)
        assert compiled.value.reason == exc.reason
        raise
    assert Decoder(profile).decode(topic, payload, RECEIVED_AT) == decoded
    return decoded


def fails(profile: Profile, payload: dict[str, Any] | str | bytes, topic: str = TOPIC) -> str:
    with pytest.raises(DecodeError) as caught:
        run(profile, payload, topic)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def one_metric(**source: Any) -> Profile:
    return make_profile({"m": {"source": {"path": "v", **source}}})


# --- the decoded envelope -------------------------------------------------------------------


def test_decoded_names_device_profile_and_version() -> None:
    decoded = run(one_metric(), {"v": 3})
    assert decoded.device_id == "dev-1"
    assert decoded.device_type == "test_device"
    assert decoded.profile == "test_device"
    assert decoded.profile_version == "1.2.3"
    assert decoded.ts == RECEIVED_AT
    assert decoded.metrics == {"m": 3.0}
    assert decoded.faults == ()


def test_other_placeholders_match_one_level_each(builtin_catalogue: Catalogue) -> None:
    light = builtin_catalogue["brightway_street_light"]
    spec, values = match_topic(light, "brightway/zone-a/lamp/light-01/report") or (None, {})
    assert spec is not None
    assert values == {"zone": "zone-a", "device_id": "light-01"}
    assert match_topic(light, "brightway/zone-a/x/lamp/light-01/report") is None
    assert match_topic(light, "brightway/zone-a/lamp/light-01/report/extra") is None


@pytest.mark.parametrize("topic", ["t/dev-1/other", "t/dev-1", "t//data/x", "x/dev-1/data"])
def test_foreign_topic_is_a_decode_error(topic: str) -> None:
    assert "does not match" in fails(one_metric(), {"v": 1}, topic)


# --- numbers: scale, offset, int ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "raw", "value"),
    [
        ({}, 12.5, 12.5),
        ({"scale": 0.001}, 1250, 1.25),
        ({"scale": 0.1, "offset": -40}, 650, 25.0),  # tenths of a degree, offset by 40
        ({"offset": 273.15}, -273.15, 0.0),
        ({"scale": 0.1}, 3, 0.3),  # rounded: not 0.30000000000000004
        ({}, "7.5", 7.5),  # numeric text is fine
        ({"type": "int"}, 42, 42),
        ({"type": "int"}, 42.0, 42),
        ({"type": "int", "scale": 10}, 4.2, 42),
        ({"type": "int"}, "17", 17),
    ],
)
def test_numbers(source: dict[str, Any], raw: Any, value: float) -> None:
    got = run(one_metric(**source), {"v": raw}).metrics["m"]
    assert got == pytest.approx(value) and got == round(value, 9)
    assert type(got) is (int if source.get("type") == "int" else float)


@pytest.mark.parametrize(
    ("source", "raw", "words"),
    [
        ({}, "abc", "not a number"),
        ({}, True, "got a boolean"),
        ({}, [1], "expected a scalar"),
        ({}, {"x": 1}, "expected a scalar"),
        ({}, "NaN", "not a finite number"),
        ({}, "inf", "not a finite number"),
        ({"scale": 1e10}, 1e300, "not a finite number"),  # finite in, infinite after scaling
        ({}, 10**400, "not a number"),  # too big for a float
        ({"type": "int"}, 4.5, "not an integer"),
    ],
    ids=["text", "bool", "list", "object", "nan", "inf", "overflow_on_scale", "huge_int", "frac"],
)
def test_bad_numbers(source: dict[str, Any], raw: Any, words: str) -> None:
    assert words in fails(one_metric(**source), {"v": raw})


def test_nan_and_infinity_literals_in_json_are_rejected() -> None:
    profile = one_metric()
    assert "finite" in fails(profile, b'{"v": NaN}')
    assert "finite" in fails(profile, b'{"v": -Infinity}')


# --- enum map, str, bool ---------------------------------------------------------------------


def test_enum_map() -> None:
    profile = one_metric(type="str", map={"1": "idle", "2": "running", "ERR": "error"})
    assert run(profile, {"v": 1}).metrics["m"] == "idle"
    assert run(profile, {"v": 2.0}).metrics["m"] == "running"  # 2.0 is looked up as "2"
    assert run(profile, {"v": "2"}).metrics["m"] == "running"
    assert run(profile, {"v": "ERR"}).metrics["m"] == "error"
    assert "unknown value 3" in fails(profile, {"v": 3})
    assert "unknown value 'err'" in fails(profile, {"v": "err"})  # keys are case-sensitive


def test_map_then_cast_then_scale() -> None:
    profile = one_metric(map={"LOW": 1, "HIGH": 3}, scale=0.5)
    assert run(profile, {"v": "HIGH"}).metrics["m"] == 1.5


def test_map_to_bool_with_json_booleans_as_keys() -> None:
    profile = one_metric(type="bool", map={"true": False, "false": True})  # inverted logic
    assert run(profile, {"v": True}).metrics["m"] is False
    assert run(profile, {"v": False}).metrics["m"] is True


def test_str_type_keeps_text_and_stringifies_numbers() -> None:
    profile = one_metric(type="str")
    assert run(profile, {"v": "fw-2.1"}).metrics["m"] == "fw-2.1"
    assert run(profile, {"v": 21}).metrics["m"] == "21"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        (" On ", True),
        ("off", False),
        ("yes", True),
        ("No", False),
    ],
)
def test_bool_parsing(raw: Any, value: bool) -> None:
    assert run(one_metric(type="bool"), {"v": raw}).metrics["m"] is value


@pytest.mark.parametrize("raw", [2, -1, "maybe", "y", "t", 0.5, [True]])
def test_bad_bools(raw: Any) -> None:
    reason = fails(one_metric(type="bool"), {"v": raw})
    assert "boolean" in reason or "scalar" in reason


# --- ranges ----------------------------------------------------------------------------------


def ranged(**source: Any) -> Profile:
    return make_profile({"pct": {"source": {"path": "v", **source}, "range": [0, 100]}})


@pytest.mark.parametrize("raw", [0, 100, 55.5])
def test_range_bounds_are_inclusive(raw: float) -> None:
    assert run(ranged(), {"v": raw}).metrics["pct"] == raw


@pytest.mark.parametrize("raw", [-0.01, 100.01, 1e9])
def test_out_of_range_is_a_decode_error_with_reason(raw: float) -> None:
    reason = fails(ranged(), {"v": raw})
    assert reason.startswith("pct=") and "outside valid range [0.0, 100.0]" in reason


def test_range_applies_after_scale() -> None:
    profile = ranged(scale=0.1)
    assert run(profile, {"v": 1000}).metrics["pct"] == 100.0
    assert "outside valid range" in fails(profile, {"v": 1001})


def test_range_does_not_apply_to_text_or_bool() -> None:
    profile = make_profile(
        {
            "s": {"source": {"path": "s", "type": "str"}, "range": [0, 1]},
            "b": {"source": {"path": "b", "type": "bool"}, "range": [5, 6]},
        }
    )
    assert run(profile, {"s": "500", "b": True}).metrics == {"s": "500", "b": True}


# --- missing and optional fields, dotted paths ------------------------------------------------


def test_dotted_path_reads_nested_objects() -> None:
    profile = make_profile({"t": {"source": {"path": "sensors.temp.value"}}})
    assert run(profile, {"sensors": {"temp": {"value": 21.5}}}).metrics == {"t": 21.5}
    assert "missing field 'sensors.temp.value'" in fails(profile, {"sensors": {"temp": 3}})
    assert "missing field" in fails(profile, {"sensors": [1, 2]})


@pytest.mark.parametrize("payload", [{}, {"v": None}, {"v": ""}])
def test_missing_required_field(payload: dict[str, Any]) -> None:
    assert fails(one_metric(), payload) == "missing field 'v' for m"


@pytest.mark.parametrize("payload", [{}, {"v": None}, {"v": ""}])
def test_missing_optional_field_is_left_out(payload: dict[str, Any]) -> None:
    profile = make_profile(
        {
            "m": {"source": {"path": "v", "optional": True}},
            "n": {"source": {"path": "n"}},
        }
    )
    assert run(profile, {**payload, "n": 1}).metrics == {"n": 1.0}


def test_optional_field_present_but_bad_is_still_an_error() -> None:
    assert "not a number" in fails(one_metric(optional=True), {"v": "x"})


def test_extra_payload_fields_are_ignored() -> None:
    assert run(one_metric(), {"v": 1, "extra": {"deep": [1, 2]}}).metrics == {"m": 1.0}


# --- fault sources ---------------------------------------------------------------------------


CODES = {"path": "err", "codes": {"11": "jammed", "E_HOT": "hot"}, "ok": ["0", "OK"]}


@pytest.mark.parametrize(
    ("raw", "faults"),
    [
        (0, ()),
        ("OK", ()),
        (11, ("jammed",)),
        ("11", ("jammed",)),
        (11.0, ("jammed",)),
        ("E_HOT", ("hot",)),
        ([], ()),
        (["E_HOT", 11, 0], ("hot", "jammed")),
        ([11, 11], ("jammed",)),
    ],
)
def test_fault_codes(raw: Any, faults: tuple[str, ...]) -> None:
    assert run(make_profile(sources=[CODES]), {"err": raw}).faults == faults


@pytest.mark.parametrize("raw", [12, "e_hot", [11, 99], ""])
def test_unknown_fault_code_is_a_decode_error(raw: Any) -> None:
    assert "unknown fault code" in fails(make_profile(sources=[CODES]), {"err": raw})


@pytest.mark.parametrize("raw", [{"code": 11}, [[11]], [{"c": 1}]])
def test_fault_code_must_be_scalar(raw: Any) -> None:
    assert "must be a scalar" in fails(make_profile(sources=[CODES]), {"err": raw})


def test_missing_fault_field() -> None:
    assert fails(make_profile(sources=[CODES]), {}) == "missing fault field 'err'"
    assert fails(make_profile(sources=[CODES]), {"err": None}) == "missing fault field 'err'"
    optional = make_profile(sources=[{**CODES, "optional": True}])
    assert run(optional, {}).faults == ()


@pytest.mark.parametrize(
    ("raw", "faults"), [(True, ("jammed",)), (False, ()), (1, ("jammed",)), ("off", ())]
)
def test_fault_flag(raw: Any, faults: tuple[str, ...]) -> None:
    profile = make_profile(sources=[{"path": "stuck", "flag": "jammed"}])
    assert run(profile, {"stuck": raw}).faults == faults


@pytest.mark.parametrize("raw", ["perhaps", 7, [True]])
def test_bad_fault_flag(raw: Any) -> None:
    profile = make_profile(sources=[{"path": "stuck", "flag": "jammed"}])
    assert "is not a boolean" in fails(profile, {"stuck": raw})


# --- csv ------------------------------------------------------------------------------------


def csv_profile() -> Profile:
    return make_profile(
        {"battery": {"source": {"path": "battery"}, "range": [0, 100]}},
        sources=[{"path": "pressed", "flag": "jammed"}],
        timestamp={"path": "ts"},
        columns=["ts", "battery", "pressed"],
    )


def test_csv_columns_are_named_and_trimmed() -> None:
    decoded = run(csv_profile(), " 1764201600 , 87 ,1\n", CSV_TOPIC)
    assert decoded.metrics == {"battery": 87.0}
    assert decoded.faults == ("jammed",)
    assert decoded.ts == datetime(2025, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize(("payload", "count"), [("1764201600,87", 2), ("1,2,3,4", 4), ("", 1)])
def test_csv_column_count_must_match(payload: str, count: int) -> None:
    assert fails(csv_profile(), payload, CSV_TOPIC) == f"expected 3 csv columns, got {count}"


def test_csv_empty_cell_is_a_missing_field() -> None:
    assert "missing field 'battery'" in fails(csv_profile(), "1764201600,,0", CSV_TOPIC)


def test_builtin_csv_dialect_rejects_json(builtin_catalogue: Catalogue) -> None:
    button = builtin_catalogue["safecall_alarm_button"]
    reason = fails(button, {"ts": 1, "battery": 5}, "safecall/sos-1/evt")
    assert "csv columns" in reason


# --- timestamps ------------------------------------------------------------------------------


def stamped(**source: Any) -> Profile:
    return make_profile({"m": {"source": {"path": "v"}}}, timestamp={"path": "ts", **source})


def test_timestamp_in_unix_seconds() -> None:
    decoded = run(stamped(), {"v": 1, "ts": 1764201600.5})
    assert decoded.ts == datetime(2025, 11, 27, 0, 0, 0, 500000, tzinfo=UTC)
    assert decoded.ts.tzinfo is not None


def test_timestamp_in_milliseconds_via_scale() -> None:
    decoded = run(stamped(scale=0.001), {"v": 1, "ts": 1764201600000})
    assert decoded.ts == datetime(2025, 11, 27, tzinfo=UTC)


def test_timestamp_as_numeric_text() -> None:
    assert run(stamped(), {"v": 1, "ts": "1764201600"}).ts == datetime(2025, 11, 27, tzinfo=UTC)


def test_required_timestamp_missing() -> None:
    assert fails(stamped(), {"v": 1}) == "missing field 'ts' for timestamp"


def test_optional_timestamp_falls_back_to_receipt_time() -> None:
    assert run(stamped(optional=True), {"v": 1}).ts == RECEIVED_AT


def test_no_timestamp_in_profile_uses_receipt_time() -> None:
    assert run(one_metric(), {"v": 1, "ts": 5}).ts == RECEIVED_AT


@pytest.mark.parametrize(("raw", "words"), [(1e20, "out of range"), ("noon", "not a number")])
def test_bad_timestamp(raw: Any, words: str) -> None:
    assert words in fails(stamped(), {"v": 1, "ts": raw})


def test_text_timestamp_field_is_not_unix_seconds() -> None:
    assert "is not unix seconds" in fails(stamped(type="str"), {"v": 1, "ts": "2025-11-27"})


# --- the payload as a whole ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"\xff\xfe{}", b'{"v": "\xe9"}', "{}".encode("utf-16")],
    ids=["bom", "latin1", "utf16"],
)
def test_non_utf8_payload(payload: bytes) -> None:
    assert "not UTF-8" in fails(one_metric(), payload)


def test_non_utf8_csv_payload() -> None:
    assert "not UTF-8" in fails(csv_profile(), b"1,\xff,0", CSV_TOPIC)


@pytest.mark.parametrize(
    ("payload", "kind"), [("[1, 2]", "list"), ("42", "int"), ('"v"', "str"), ("null", "NoneType")]
)
def test_json_that_is_not_an_object(payload: str, kind: str) -> None:
    assert fails(one_metric(), payload) == f"JSON payload must be an object, got {kind}"


@pytest.mark.parametrize("payload", [b"", b"{", b"{'v': 1}", b"v=1", b"{}{}"])
def test_not_json(payload: bytes) -> None:
    assert fails(one_metric(), payload).startswith("payload is not JSON")


def test_deeply_nested_json_is_a_decode_error() -> None:
    assert "not JSON" in fails(one_metric(), b"[" * 30_000 + b"]" * 30_000)


def test_huge_integer_literal_is_a_decode_error() -> None:
    assert "not JSON" in fails(one_metric(), b'{"v": ' + b"9" * 5000 + b"}")


def test_oversize_payload() -> None:
    filler = "x" * MAX_PAYLOAD_BYTES
    assert "exceeds" in fails(one_metric(), {"v": 1, "pad": filler})


def test_payload_at_the_size_limit_is_decoded() -> None:
    head = b'{"v": 1, "pad": "'
    payload = head + b"x" * (MAX_PAYLOAD_BYTES - len(head) - 2) + b'"}'
    assert len(payload) == MAX_PAYLOAD_BYTES
    assert run(one_metric(), payload).metrics == {"m": 1.0}


def test_decode_is_pure() -> None:
    profile = one_metric(scale=2)
    payload = json.dumps({"v": 4}).encode()
    assert run(profile, payload) == run(profile, payload)


def test_catalogue_decode_picks_the_profile_by_topic(builtin_catalogue: Catalogue) -> None:
    catalogue = builtin_catalogue
    decoded = catalogue.decode("safecall/sos-9/evt", b"1764201600,50,0,0", RECEIVED_AT)
    assert (decoded.profile, decoded.device_id) == ("safecall_alarm_button", "sos-9")
    with pytest.raises(DecodeError, match="no profile claims"):
        catalogue.decode("unknown/sos-9/evt", b"{}", RECEIVED_AT)
