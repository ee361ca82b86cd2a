"""The compiled decoder against ``decode`` on every catalogue example, and what it builds
without validation against what validation builds.

(Every targeted decode test and every decode property test also compares the two.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_profiles import Catalogue, Decoded, DecodeError, decode
from device_profiles.decoder import Decoder, unchecked
from device_profiles.examples import payload_bytes

RECEIVED_AT = datetime(2025, 11, 27, 8, 30, tzinfo=UTC)


def test_the_compiled_decoder_decodes_every_example_as_decode_does(
    builtin_catalogue: Catalogue,
) -> None:
    compared = 0
    for profile in builtin_catalogue:
        decoder = Decoder(profile)
        for example in profile.examples:
            payloads = [payload_bytes(step.payload) for step in example.history]
            payloads.append(payload_bytes(example.payload))
            for payload in payloads:
                try:
                    expected = decode(profile, example.topic, payload, RECEIVED_AT)
                except DecodeError as exc:
                    with pytest.raises(DecodeError) as caught:
                        decoder.decode(example.topic, payload, RECEIVED_AT)
                    assert caught.value.reason == exc.reason, example.name
                    continue
                got = decoder.decode(example.topic, payload, RECEIVED_AT)
                assert got == expected, (profile.id, example.name)
                assert got.model_dump_json() == expected.model_dump_json()
                assert type(got.ts) is type(expected.ts)
                for name, value in got.metrics.items():
                    assert type(value) is type(expected.metrics[name]), (example.name, name)
                route = decoder.route(example.topic)
                assert decoder.read(route.spec, payload, RECEIVED_AT) == (
                    got.ts,
                    got.metrics,
                    got.faults,
                )
                compared += 1
    assert compared > 50


def test_a_topic_of_another_profile_is_a_decode_error(builtin_catalogue: Catalogue) -> None:
    first, second = list(builtin_catalogue)[:2]
    topic = second.examples[0].topic
    with pytest.raises(DecodeError, match="does not match profile"):
        Decoder(first).route(topic)


def test_unchecked_makes_what_validation_makes() -> None:
    values = {
        "device_id": "d-1",
        "device_type": "gate",
        "profile": "acme_gate",
        "profile_version": "1.0.0",
        "ts": RECEIVED_AT,
        "metrics": {"open": True, "count": 3, "temp": 21.5, "mode": "auto"},
        "faults": ("jammed",),
    }
    made = unchecked(Decoded, dict(values))
    validated = Decoded.model_validate(values)
    assert made == validated
    assert made.model_dump_json() == validated.model_dump_json()
    assert made.model_fields_set == validated.model_fields_set
    assert repr(made) == repr(validated)
    assert made.model_copy(update={"device_id": "d-2"}).device_id == "d-2"
    with pytest.raises(ValueError, match="frozen"):
        made.device_id = "other"  # type: ignore[misc]
