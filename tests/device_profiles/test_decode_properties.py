"""Property tests: whatever arrives, ``decode`` returns a Decoded or raises DecodeError.

Nothing else may escape: the edge agent decodes untrusted bytes from any device on the
gateway's broker, and one bad message must not take it down. And the compiled
:class:`~device_profiles.decoder.Decoder` the agent uses answers every payload as
``decode`` does: the same reading, or a DecodeError with the same reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import Decoded, DecodeError, Profile, decode, evaluate
from device_profiles.decoder import Decoder
from device_profiles.schema import Example
from tests.device_profiles.profiles_under_test import PROFILES

RECEIVED_AT = datetime(2025, 11, 27, tzinfo=UTC)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# JSON-ish values, including the awkward ones: huge numbers, non-finite floats, nesting.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, 1e308, -0.0])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=5,
)


def example_payload(example: Example) -> bytes:
    if isinstance(example.payload, str):
        return example.payload.encode("utf-8")
    return json.dumps(example.payload).encode("utf-8")


def decode_or_reject(profile: Profile, topic: str, payload: bytes) -> Decoded | None:
    """Decode; a DecodeError is a fine answer, any other exception fails the test."""
    try:
        decoded = decode(profile, topic, payload, RECEIVED_AT)
    except DecodeError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        with pytest.raises(DecodeError) as compiled:
            Decoder(profile).decode(topic, payload, RECEIVED_AT)
        assert compiled.value.reason == exc.reason
        return None
    assert Decoder(profile).decode(topic, payload, RECEIVED_AT) == decoded
    # A reading that decodes must be usable downstream: evaluable, and JSON-encodable
    # without loss (no NaN or infinity that would turn into null).
    evaluate(profile, decoded)
    round_trip = Decoded.model_validate_json(decoded.model_dump_json())
    assert round_trip == decoded
    return decoded


def topics_of(profile: Profile) -> list[str]:
    return sorted({example.topic for example in profile.examples})


by_profile = pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)


@by_profile
@SETTINGS
@given(data=st.data(), payload=st.binary(max_size=256))
def test_arbitrary_bytes(profile: Profile, data: st.DataObject, payload: bytes) -> None:
    topic = data.draw(st.sampled_from(topics_of(profile)))
    decode_or_reject(profile, topic, payload)


@by_profile
@SETTINGS
@given(
    data=st.data(),
    text=st.text(alphabet=st.sampled_from("0123456789,.-+e \n\tnaiNfxtrue"), max_size=40),
)
def test_arbitrary_csv_like_text(profile: Profile, data: st.DataObject, text: str) -> None:
    topic = data.draw(st.sampled_from(topics_of(profile)))
    decode_or_reject(profile, topic, text.encode("utf-8"))


def payload_keys(profile: Profile) -> list[str]:
    """The top-level payload keys a profile reads (so generated objects get past the first)."""
    fields = [metric.source.path for metric in profile.decode.metrics.values()]
    fields += [source.path for source in profile.decode.faults]
    if profile.decode.timestamp is not None:
        fields.append(profile.decode.timestamp.path)
    return sorted({path.split(".")[0] for path in fields})


@by_profile
@SETTINGS
@given(data=st.data())
def test_arbitrary_json_objects(profile: Profile, data: st.DataObject) -> None:
    keys = st.sampled_from(payload_keys(profile)) | st.text(max_size=8)
    document = data.draw(st.dictionaries(keys, json_values, max_size=5))
    topic = data.draw(st.sampled_from(topics_of(profile)))
    try:
        payload = json.dumps(document).encode("utf-8", "surrogatepass")
    except ValueError:  # an integer too long for Python to print
        return
    decode_or_reject(profile, topic, payload)


@by_profile
@SETTINGS
@given(data=st.data())
def test_mutated_example_payloads(profile: Profile, data: st.DataObject) -> None:
    """Examples with one field replaced, removed or added: closer to real vendor mistakes."""
    example = data.draw(st.sampled_from(profile.examples))
    if isinstance(example.payload, str):
        cells = example.payload.split(",")
        index = data.draw(st.integers(0, len(cells) - 1))
        cells[index] = data.draw(
            st.text(max_size=12) | st.integers().map(str) | st.floats().map(str)
        )
        if data.draw(st.booleans()):
            cells = cells[: data.draw(st.integers(0, len(cells)))]
        payload = ",".join(cells).encode("utf-8", "surrogatepass")
    else:
        document = dict(example.payload)
        key = data.draw(st.sampled_from(sorted(document)))
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            document[key] = data.draw(json_values)
        elif action == "remove":
            del document[key]
        else:
            document[data.draw(st.text(max_size=8))] = data.draw(json_values)
        try:
            payload = json.dumps(document).encode("utf-8", "surrogatepass")
        except ValueError:
            return
    decode_or_reject(profile, example.topic, payload)


@by_profile
@SETTINGS
@given(data=st.data())
def test_valid_examples_survive_byte_flips(profile: Profile, data: st.DataObject) -> None:
    example = data.draw(st.sampled_from(profile.examples))
    payload = bytearray(example_payload(example))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(payload) - 1))
        payload[index] = data.draw(st.integers(0, 255))
    decode_or_reject(profile, example.topic, bytes(payload))


@by_profile
@SETTINGS
@given(
    device_id=st.text(
        st.characters(codec="utf-8", exclude_characters="/+#\x00"),
        min_size=1,
        max_size=30,
    )
)
def test_any_device_id_round_trips_through_the_topic(profile: Profile, device_id: str) -> None:
    """The device id decoded is exactly the one in the topic the device published on."""
    example = profile.examples[0]
    topic = profile.topics[0].topic_for(device_id, zone="zone-a")
    decoded = decode_or_reject(profile, topic, example_payload(example))
    assert decoded is not None and decoded.device_id == device_id


@by_profile
@SETTINGS
@given(data=st.data(), topic=st.text(max_size=60))
def test_arbitrary_topics(profile: Profile, data: st.DataObject, topic: str) -> None:
    example = data.draw(st.sampled_from(profile.examples))
    decode_or_reject(profile, topic, example_payload(example))


HOSTILE_VALUES: list[Any] = [
    None, "", " ", True, False, 0, -1, 2**63, 10**400, -(10**400), 1e308, -1e308, 5e-324,
    float("nan"), float("inf"), float("-inf"), "NaN", "inf", "1e999", "0x10", "\u0661\u0662",
    [], [1], [[]], {}, {"a": 1}, "\u0000", "\U0001d7d9", "a" * 1000,
]  # fmt: skip
HOSTILE_CELLS = [
    "", " ", "-1", "NaN", "inf", "-inf", "1e999", "1e308", "9" * 400, "0x10", "\u0661\u0662",
    "\U0001d7d9", "true", "\"", "\u0000", "a" * 1000,
]  # fmt: skip


@by_profile
def test_every_field_of_every_example_with_hostile_values(profile: Profile) -> None:
    """Exhaustive, not random: each payload field (or csv cell) replaced by each hostile value."""
    for example in profile.examples:
        if isinstance(example.payload, str):
            cells = example.payload.split(",")
            for index in range(len(cells)):
                for cell in HOSTILE_CELLS:
                    mutated = [*cells[:index], cell, *cells[index + 1 :]]
                    decode_or_reject(profile, example.topic, ",".join(mutated).encode())
        else:
            for key in example.payload:
                for value in HOSTILE_VALUES:
                    payload = json.dumps({**example.payload, key: value}).encode()
                    decode_or_reject(profile, example.topic, payload)
