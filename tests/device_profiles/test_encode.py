"""Encoding canonical state into vendor payloads: the inverse of decoding, for simulators.

Parametrised over every profile in the catalogue (plus ``LINLI_TEST_PROFILES_DIRS``, see
profiles_under_test.py) and every example, so a profile added to the catalogue is
round-tripped without a line written here; the targeted tests at the end pin the vendor
representations and errors on small profiles of their own.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import Decoded, Profile, decode
from device_profiles.encode import EncodeError, default_template, encode
from device_profiles.examples import payload_bytes
from device_profiles.fields import DecodeError, lookup, read_field
from device_profiles.schema import Example, Metric, Scalar
from tests.device_profiles.profiles_under_test import PROFILES

RECEIVED_AT = datetime(2025, 11, 27, tzinfo=UTC)
LATER = RECEIVED_AT + timedelta(days=3)  # the re-decode's receipt time: not the event time

EXAMPLES = [
    pytest.param(profile, example, id=f"{profile.id}/{example.name}")
    for profile in PROFILES
    for example in profile.examples
]
by_profile = pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
by_example = pytest.mark.parametrize(("profile", "example"), EXAMPLES)


# --- helpers -----------------------------------------------------------------------------


def assert_metrics(got: Mapping[str, Scalar], want: Mapping[str, Scalar]) -> None:
    """Equal within the decoder's rounding; booleans, text and ints exactly."""
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert same(got[name], value), f"{name}: {got[name]!r} != {value!r}"


def same(got: Scalar, want: Scalar) -> bool:
    if isinstance(want, (bool, str)) or isinstance(got, (bool, str)):
        return type(got) is type(want) and got == want
    return bool(got == pytest.approx(want, rel=1e-6, abs=1e-9))


def expressible(profile: Profile) -> set[str]:
    """Faults the device itself reports (a fault source can say them)."""
    return {fault for source in profile.decode.faults for fault in source.fault_names()}


def on_first_topic(profile: Profile, example: Example) -> dict[str, str]:
    """The example's placeholder values; skip an example on another topic than the first
    (encode speaks the first topic)."""
    found = profile.topics[0].match(example.topic)
    if found is None:
        pytest.skip("example is on another topic than the profile's first")
    return {name: value for name, value in found.items() if name != "device_id"}


def decode_example(profile: Profile, example: Example) -> Decoded:
    return decode(profile, example.topic, payload_bytes(example.payload), RECEIVED_AT)


def reencode(profile: Profile, example: Example) -> tuple[Decoded, tuple[str, bytes]]:
    """The example decoded, and its state encoded again on the example's own payload."""
    placeholders = on_first_topic(profile, example)
    decoded = decode_example(profile, example)
    encoded = encode(
        profile,
        decoded.device_id,
        decoded.metrics,
        decoded.faults,
        decoded.ts,
        placeholders=placeholders,
        template=example.payload,
    )
    return decoded, encoded


def assert_decodes_back(
    profile: Profile,
    topic: str,
    payload: bytes,
    metrics: Mapping[str, Scalar],
    faults: Iterable[str],
    ts: datetime,
) -> Decoded:
    again = decode(profile, topic, payload, LATER)
    assert_metrics(again.metrics, metrics)
    assert set(again.faults) == set(faults) & expressible(profile)
    if profile.decode.timestamp is not None:
        assert abs((again.ts - ts).total_seconds()) < 1.0
    return again


def strip_path(document: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = document
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


# --- (a) every example round-trips through its own payload ---------------------------------


@by_example
def test_example_round_trips_with_its_own_payload(profile: Profile, example: Example) -> None:
    decoded, (topic, payload) = reencode(profile, example)

    assert topic == example.topic
    again = assert_decodes_back(
        profile, topic, payload, decoded.metrics, decoded.faults, decoded.ts
    )
    assert again.device_id == decoded.device_id
    assert again.faults == decoded.faults
    if profile.decode.timestamp is not None:
        assert again.ts == decoded.ts


@by_example
def test_reencoding_an_example_reproduces_its_payload(profile: Profile, example: Example) -> None:
    """Nothing the state does not require is changed: the vendor's own values, types and
    noise survive (the timestamp is only added where the example has none)."""
    _, (_, payload) = reencode(profile, example)
    spec = profile.topics[0]
    if spec.format == "csv":
        assert isinstance(example.payload, str)
        cells = [cell.strip() for cell in example.payload.strip().split(",")]
        assert payload.decode() == ",".join(cells)
        return
    original = example.payload if isinstance(example.payload, dict) else json.loads(example.payload)
    produced = json.loads(payload)
    stamp = profile.decode.timestamp
    if stamp is not None and lookup(original, stamp.path) is None:
        strip_path(produced, stamp.path)
    assert json.dumps(produced, sort_keys=True) == json.dumps(original, sort_keys=True)


# --- (b) every example's state through the default template --------------------------------


@by_example
def test_example_state_round_trips_with_the_default_template(
    profile: Profile, example: Example
) -> None:
    placeholders = on_first_topic(profile, example)
    decoded = decode_example(profile, example)

    topic, payload = encode(
        profile,
        decoded.device_id,
        decoded.metrics,
        decoded.faults,
        decoded.ts,
        placeholders=placeholders,
    )

    assert topic == example.topic
    again = decode(profile, topic, payload, LATER)
    # A metric the example leaves out (an optional field) keeps the template's value.
    extra = again.metrics.keys() - decoded.metrics.keys()
    template = default_template(profile)
    assert template is not None
    base = decode(profile, example.topic, payload_bytes(template), RECEIVED_AT)
    for name in extra:
        assert profile.decode.metrics[name].source.optional
        assert again.metrics[name] == base.metrics[name]
    assert_metrics({name: again.metrics[name] for name in decoded.metrics}, decoded.metrics)
    assert again.faults == decoded.faults
    if profile.decode.timestamp is not None:
        assert again.ts == decoded.ts


@by_profile
def test_default_template_is_a_healthy_example(profile: Profile) -> None:
    template = default_template(profile)
    healthy = [e.payload for e in profile.examples if not e.expect.faults]
    assert template is not None and template in healthy


# --- (c) any state within the profile's ranges ----------------------------------------------


def canonical_choices(name: str, metric: Metric) -> list[Scalar]:
    """What each of a mapped metric's vendor values decodes to."""
    out: list[Scalar] = []
    assert metric.source.map is not None
    field = metric.source.model_copy(update={"path": "v"})
    for key in metric.source.map:
        try:
            value = read_field({"v": key}, field, name, metric.unit)
        except DecodeError:
            continue
        if value is not None and value not in out:
            out.append(value)
    return out


def metric_values(name: str, metric: Metric) -> st.SearchStrategy[Scalar]:
    field = metric.source
    if field.map is not None:
        return st.sampled_from(canonical_choices(name, metric))
    if field.type == "bool":
        return st.booleans()
    if field.type == "str":
        return st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True)
    low, high = metric.range if metric.range is not None else (-1e6, 1e6)
    if field.type == "int":
        return st.integers(math.ceil(low), math.floor(high))
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def states(profile: Profile) -> st.SearchStrategy[tuple[dict[str, Scalar], set[str], datetime]]:
    metrics = st.fixed_dictionaries(
        {name: metric_values(name, metric) for name, metric in profile.decode.metrics.items()}
    )
    names = sorted(expressible(profile))
    faults = st.sets(st.sampled_from(names)) if names else st.just(set[str]())
    times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    return st.tuples(metrics, faults, times)


def assert_inexpressible(
    profile: Profile, error: EncodeError, metrics: Mapping[str, Scalar], faults: set[str]
) -> None:
    """``error`` may only be raised for state the dialect truly cannot say: try every vendor
    value the field can take (map keys, codes, booleans) in the default template, decode
    each, and require that none says what was asked at that field."""
    path = error.path
    assert path is not None, f"EncodeError without a field to blame: {error.reason}"
    spec = profile.topics[0]
    at_path = {n: m for n, m in profile.decode.metrics.items() if m.source.path == path}
    sources = [source for source in profile.decode.faults if source.path == path]
    keys: list[str] = []
    booleanish = any(m.source.type == "bool" for m in at_path.values())
    for metric in at_path.values():
        keys += list(metric.source.map or ())
    for source in sources:
        keys += [*(source.codes or ()), *source.ok]
        booleanish = booleanish or source.flag is not None
    assert keys or booleanish, f"{error.reason}: but {path!r} takes any value"
    values: list[Any] = [*keys, *(int(k) for k in keys if k.lstrip("-").isdigit())]
    if booleanish:
        values += ["true", "false"] if spec.format == "csv" else [True, False]
    if spec.format == "json":
        for source in sources:
            wanted = sorted(faults & source.fault_names())
            per_fault = [[c for c, f in (source.codes or {}).items() if f == w] for w in wanted]
            values += [list(codes) for codes in itertools.product(*per_fault)]
    template = default_template(profile)
    assert template is not None
    names = {fault for source in sources for fault in source.fault_names()}
    topic = spec.topic_for("probe", **{n: "x" for n in spec.placeholders if n != "device_id"})
    for value in values:
        if spec.format == "csv":
            assert isinstance(template, str)
            cells = dict(zip(spec.columns, template.split(","), strict=True))
            cells[path] = str(value)
            payload = ",".join(cells[column] for column in spec.columns).encode()
        else:
            document = copy.deepcopy(template if isinstance(template, dict) else {})
            node = document
            *parents, last = path.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
            payload = json.dumps(document).encode()
        try:
            got = decode(profile, topic, payload, RECEIVED_AT)
        except DecodeError:
            continue
        said_metrics = all(
            name in got.metrics and same(got.metrics[name], metrics[name]) for name in at_path
        )
        said_faults = set(got.faults) & names == faults & names
        assert not (said_metrics and said_faults), (
            f"encode refused ({error.reason}), but {value!r} at {path!r} says it"
        )


@by_profile
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_any_state_round_trips(profile: Profile, data: st.DataObject) -> None:
    metrics, faults, ts = data.draw(states(profile))
    try:
        topic, payload = encode(profile, "sim-0001", metrics, faults, ts)
    except EncodeError as exc:
        assert_inexpressible(profile, exc, metrics, faults)
        return
    assert decode(profile, topic, payload, LATER).device_id == "sim-0001"
    assert_decodes_back(profile, topic, payload, metrics, faults, ts)


@by_profile
def test_rule_raised_faults_are_left_to_the_metrics(profile: Profile) -> None:
    """A fault no payload field says (threshold, silence, ...) is ignored, not an error."""
    ruled = sorted(profile.faults.keys() - expressible(profile))
    example = profile.examples[0]
    on_first_topic(profile, example)
    decoded = decode_example(profile, example)
    topic, payload = encode(profile, "sim-1", decoded.metrics, ruled, decoded.ts)
    assert decode(profile, topic, payload, LATER).faults == ()


@by_profile
def test_unknown_names_are_refused(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="unknown metric 'no_such_metric'"):
        encode(profile, "sim-1", {"no_such_metric": 1}, [], RECEIVED_AT)
    with pytest.raises(EncodeError, match="unknown fault 'no_such_fault'"):
        encode(profile, "sim-1", {}, ["no_such_fault"], RECEIVED_AT)


# --- targeted: vendor representations, on a small profile of our own -----------------------

HEALTHY: dict[str, Any] = {
    "t": 1764201600000,
    "env": {"temp_f": 68},
    "relay": "on",
    "n": 5,
    "st": 0,
    "err": 0,
    "alarms": [],
    "lid": False,
    "fw": "2.1",
}
FAULTY: dict[str, Any] = {**HEALTHY, "err": 21, "alarms": [7]}
HEALTHY_METRICS: dict[str, Scalar] = {"temperature": 20.0, "on": True, "count": 5, "state": "idle"}


def widget(**decode_extra: Any) -> Profile:
    decoding: dict[str, Any] = {
        "timestamp": {"path": "t", "scale": 0.001},
        "metrics": {
            "temperature": {
                "source": {"path": "env.temp_f", "unit": "degF"},
                "unit": "degC",
                "range": [-40, 70],
            },
            "on": {"source": {"path": "relay", "type": "bool"}},
            "count": {"source": {"path": "n", "type": "int"}, "range": [0, 1000]},
            "state": {"source": {"path": "st", "type": "str", "map": {"0": "idle", "1": "busy"}}},
        },
        "faults": [
            {"path": "err", "ok": ["0"], "codes": {"11": "jam", "12": "jam", "21": "reader"}},
            {"path": "alarms", "codes": {"7": "hot"}},
            {"path": "lid", "flag": "lid_open"},
        ],
    }
    decoding.update(decode_extra)
    healthy = {"device_id": "w-1", "metrics": HEALTHY_METRICS}
    topic = "demo/north/w-1/up"
    too_hot = {"metric": "temperature", "op": ">", "value": 60}
    return Profile.model_validate(
        {
            "schema": "linli.profile/v1",
            "id": "demo_widget",
            "type": "widget",
            "name": "Widget",
            "category": "test",
            "vendor": "Demo",
            "version": "1.0.0",
            "heartbeat_s": 60,
            "topics": [{"pattern": "demo/{site}/{device_id}/up"}],
            "decode": decoding,
            "faults": {
                name: {"title": name}
                for name in ("jam", "reader", "hot", "lid_open", "too_hot", "mode_oos")
            },
            "rules": [{"fault": "too_hot", "when": too_hot}],
            "ticket": {"skill": "general"},
            "examples": [
                {
                    "name": "faulty",
                    "topic": topic,
                    "payload": FAULTY,
                    "expect": {**healthy, "faults": ["reader", "hot"], "health": "faulty"},
                },
                {"name": "healthy", "topic": topic, "payload": HEALTHY, "expect": healthy},
            ],
        }
    )


WIDGET = widget()
TS = datetime(2025, 11, 27, 0, 0, 0, 250000, tzinfo=UTC)


def encode_doc(profile: Profile, *args: Any, **kwargs: Any) -> dict[str, Any]:
    _, payload = encode(profile, "w-9", *args, **kwargs)
    document = json.loads(payload)
    assert isinstance(document, dict)
    return document


def test_vendor_representations_follow_the_template() -> None:
    topic, payload = encode(
        WIDGET, "w-9", {"on": False, "state": "busy", "temperature": 100 / 9}, ["jam", "hot"], TS
    )
    assert topic == "demo/north/w-9/up"  # {site} from the first example
    assert json.loads(payload) == {
        "t": 1764201600250,  # milliseconds, an int as the vendor sends it
        "env": {"temp_f": 52},  # 11.11 °C → 52 °F, a whole number, not 51.99999999999999
        "relay": "off",  # the template's word for a boolean
        "n": 5,  # not asked for: kept
        "st": 1,  # the map's key, an int like the template's 0
        "err": 11,  # the first code for jam, an int like the template's 0
        "alarms": [7],  # a list as the template's, items typed as in another example
        "lid": False,
        "fw": "2.1",  # vendor noise the profile does not decode: kept
    }


@pytest.mark.parametrize(
    ("sent", "on", "off"),
    [("on", "on", "off"), ("ON", "ON", "OFF"), ("Yes", "Yes", "No"), (1, 1, 0), (True, True, False),
     ("1", "1", "0"), (1.0, True, False)],  # 1.0 is no boolean to the decoder
)  # fmt: skip
def test_booleans_in_the_vendors_words(sent: Any, on: Any, off: Any) -> None:
    template = {**HEALTHY, "relay": sent}
    for value, word in ((True, on), (False, off)):
        relay = encode_doc(WIDGET, {"on": value}, [], TS, template=template)["relay"]
        assert type(relay) is type(word) and relay == word


def test_faults_written_and_cleared() -> None:
    faulty = encode_doc(WIDGET, {}, ["reader", "jam", "lid_open"], TS)
    assert faulty["err"] == [11, 21] and faulty["lid"] is True
    kept = encode_doc(WIDGET, {}, ["reader", "hot"], TS, template=FAULTY)
    assert kept["err"] == 21 and kept["alarms"] == [7]
    cleared = encode_doc(WIDGET, {}, [], TS, template=FAULTY)
    assert cleared["err"] == 0 and cleared["alarms"] == []  # the first ok code; an empty list
    # a code the template sends for a fault is kept (12 rather than the first code, 11)
    assert encode_doc(WIDGET, {}, ["jam"], TS, template={**HEALTHY, "err": 12})["err"] == 12
    assert encode_doc(WIDGET, {}, ["jam"], TS, template={**HEALTHY, "err": "0"})["err"] == "11"


def test_absent_metrics_keep_the_template_and_the_caller_keeps_its_template() -> None:
    template = copy.deepcopy(HEALTHY)
    document = encode_doc(WIDGET, {"count": 6}, [], TS, template=template)
    assert template == HEALTHY
    assert {k: v for k, v in document.items() if k not in ("n", "t")} == {
        k: v for k, v in HEALTHY.items() if k not in ("n", "t")
    }


def test_a_payload_built_from_nothing() -> None:
    """Every field written, nested objects created: an empty template will do."""
    metrics: dict[str, Scalar] = {"temperature": -3.5, "on": True, "count": 0, "state": "busy"}
    topic, payload = encode(WIDGET, "w-2", metrics, ["hot"], TS, template={})
    again = assert_decodes_back(WIDGET, topic, payload, metrics, ["hot"], TS)
    assert again.faults == ("hot",)
    assert json.loads(payload)["env"] == {"temp_f": 25.7}


def test_timestamp_precision_and_type() -> None:
    assert encode_doc(WIDGET, {}, [], TS, template={**HEALTHY, "t": 1.5e12})["t"] == 1764201600250.0
    seconds = widget(timestamp={"path": "t"})
    assert encode_doc(seconds, {}, [], TS, template={**HEALTHY, "t": 1})["t"] == 1764201600
    naive = TS.replace(tzinfo=None)  # naive is UTC
    assert encode_doc(WIDGET, {}, [], naive)["t"] == 1764201600250


def test_placeholders() -> None:
    topic, _ = encode(WIDGET, "w-3", {}, [], TS, placeholders={"site": "south"})
    assert topic == "demo/south/w-3/up"
    with pytest.raises(EncodeError, match="no placeholder 'zone'"):
        encode(WIDGET, "w-3", {}, [], TS, placeholders={"zone": "a"})
    with pytest.raises(EncodeError, match="cannot be a topic level"):
        encode(WIDGET, "w/3", {}, [], TS)
    with pytest.raises(EncodeError, match="cannot be a topic level"):
        encode(WIDGET, "w-3", {}, [], TS, placeholders={"site": "+"})


@pytest.mark.parametrize(
    ("metrics", "faults", "message"),
    [
        ({"nope": 1}, [], "unknown metric 'nope'"),
        ({}, ["nope"], "unknown fault 'nope'"),
        ({}, "jam", "not one string"),
        ({"on": 1}, [], "metric on is a bool"),
        ({"count": True}, [], "metric count is a number"),
        ({"count": 1.5}, [], "metric count is an int"),
        ({"count": 1001}, [], r"count=1001 outside valid range \[0.0, 1000.0\]"),
        ({"temperature": math.nan}, [], "not a finite number"),
        ({"state": "broken"}, [], "no value at 'st' decodes to it; its vendor values mean"),
    ],
)
def test_what_cannot_be_said_is_refused(metrics: dict[str, Any], faults: Any, message: str) -> None:
    with pytest.raises(EncodeError, match=message) as caught:
        encode(WIDGET, "w-4", metrics, faults, TS)
    assert isinstance(caught.value, ValueError)


def test_bad_templates_are_refused() -> None:
    with pytest.raises(EncodeError, match="template must be a JSON object"):
        encode(WIDGET, "w-5", {}, [], TS, template="1,2,3")
    with pytest.raises(EncodeError, match="would not decode: missing field"):
        encode(WIDGET, "w-5", {}, [], TS, template={})
    with pytest.raises(EncodeError, match="'env' in the template is no object"):
        encode(WIDGET, "w-5", {"temperature": 1.0}, [], TS, template={**HEALTHY, "env": 3})


def test_a_metric_and_a_fault_sharing_a_field() -> None:
    """Like an elevator's mode: the field both gives a metric and reports a fault."""
    shared = widget(
        faults=[
            {"path": "st", "ok": ["0"], "codes": {"1": "mode_oos"}},
            {"path": "alarms", "codes": {"7": "hot"}},
        ]
    )
    assert encode_doc(shared, {"state": "busy"}, ["mode_oos"], TS)["st"] == 1
    assert encode_doc(shared, {}, ["mode_oos"], TS)["st"] == 1  # the metric follows the fault
    for metrics, faults in (({"state": "busy"}, []), ({"state": "idle"}, ["mode_oos"])):
        with pytest.raises(EncodeError, match="no value at 'st' says both") as caught:
            encode(shared, "w-6", metrics, faults, TS)
        assert caught.value.path == "st"


# --- targeted: CSV ---------------------------------------------------------------------------


def lane() -> Profile:
    row = "1764201600,0,14,0,0"
    metrics = {"door_open": False, "emergency": False, "current": 1.4}
    return Profile.model_validate(
        {
            "schema": "linli.profile/v1",
            "id": "demo_lane",
            "type": "lane",
            "name": "Lane",
            "category": "test",
            "vendor": "Demo",
            "version": "1.0.0",
            "heartbeat_s": 60,
            "topics": [
                {"pattern": "lane/{device_id}/up", "format": "csv",
                 "columns": ["ts", "flap", "motor_da", "error", "tamper"]}
            ],
            "decode": {
                "timestamp": {"path": "ts"},
                "metrics": {
                    "door_open": {"source": {"path": "flap", "type": "bool",
                                             "map": {"0": False, "1": True, "3": True}}},
                    "emergency": {"source": {"path": "flap", "type": "bool",
                                             "map": {"0": False, "1": False, "3": True}}},
                    "current": {"source": {"path": "motor_da", "scale": 0.1}, "unit": "A"},
                },
                "faults": [
                    {"path": "error", "ok": ["0"], "codes": {"101": "jam", "201": "reader"}},
                    {"path": "tamper", "flag": "tampered"},
                ],
            },
            "faults": {name: {"title": name} for name in ("jam", "reader", "tampered")},
            "ticket": {"skill": "general"},
            "examples": [
                {"name": "ok", "topic": "lane/l-1/up", "payload": row,
                 "expect": {"device_id": "l-1", "metrics": metrics}}
            ],
        }
    )  # fmt: skip


LANE = lane()


def test_csv_cells_in_column_order() -> None:
    metrics: dict[str, Scalar] = {"door_open": True, "emergency": True, "current": 0.3}
    topic, payload = encode(LANE, "l-2", metrics, ["reader", "tampered"], TS)
    assert (topic, payload) == ("lane/l-2/up", b"1764201600,3,3,201,1")
    assert_decodes_back(LANE, topic, payload, metrics, ["reader", "tampered"], TS)
    assert encode(LANE, "l-2", {"door_open": True}, [], TS)[1] == b"1764201600,1,14,0,0"


def test_csv_cannot_say_everything() -> None:
    with pytest.raises(EncodeError, match="a CSV cell holds one code") as caught:
        encode(LANE, "l-3", {}, ["jam", "reader"], TS)
    assert caught.value.path == "error"
    with pytest.raises(EncodeError, match="no value at 'flap' says both") as caught:
        encode(LANE, "l-3", {"door_open": False, "emergency": True}, [], TS)
    assert caught.value.path == "flap"
    with pytest.raises(EncodeError, match="a line of CSV text"):
        encode(LANE, "l-3", {}, [], TS, template={"ts": 1})
