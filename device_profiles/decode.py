"""Pure decoding of a vendor MQTT message into a canonical reading.

No I/O: the caller passes topic, payload bytes and the receipt time. Anything that
cannot be decoded raises :class:`DecodeError` with a reason; nothing else escapes.
The pieces that read one field are in :mod:`device_profiles.fields`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from device_profiles.fields import (
    MAX_PAYLOAD_BYTES,
    DecodeError,
    document_of,
    faults_of,
    lookup,
    payload_text,
    read_field,
    to_datetime,
)
from device_profiles.schema import Profile, Scalar, TopicSpec

__all__ = ["MAX_PAYLOAD_BYTES", "DecodeError", "Decoded", "decode", "match_topic"]


class Decoded(BaseModel):
    """What one vendor message says, in canonical terms."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    device_type: str
    profile: str
    profile_version: str
    ts: datetime
    metrics: dict[str, Scalar]
    faults: tuple[str, ...]


def match_topic(profile: Profile, topic: str) -> tuple[TopicSpec, dict[str, str]] | None:
    """The topic spec of ``profile`` that ``topic`` matches, with its placeholder values."""
    for spec in profile.topics:
        values = spec.match(topic)
        if values is not None:
            return spec, values
    return None


def decode(profile: Profile, topic: str, payload: bytes, received_at: datetime) -> Decoded:
    """Decode one message that arrived on ``topic``; raise DecodeError if it is unusable."""
    matched = match_topic(profile, topic)
    if matched is None:
        raise DecodeError(f"topic {topic!r} does not match profile {profile.id}")
    spec, placeholders = matched
    document = document_of(spec, payload_text(payload))
    metrics: dict[str, Scalar] = {}
    for name, metric in profile.decode.metrics.items():
        value = read_field(document, metric.source, name, metric.unit)
        if value is None:
            continue
        if metric.range is not None and not isinstance(value, (bool, str)):
            low, high = metric.range
            if not low <= value <= high:
                raise DecodeError(f"{name}={value} outside valid range [{low}, {high}]")
        metrics[name] = value
    faults: set[str] = set()
    for source in profile.decode.faults:
        raw = lookup(document, source.path)
        if raw is None:
            if source.optional:
                continue
            raise DecodeError(f"missing fault field {source.path!r}")
        faults.update(faults_of(source, raw))
    ts = received_at
    if profile.decode.timestamp is not None:
        stamp = read_field(document, profile.decode.timestamp, "timestamp")
        if stamp is not None:
            ts = to_datetime(stamp)
    return Decoded(
        device_id=placeholders["device_id"],
        device_type=profile.type,
        profile=profile.id,
        profile_version=profile.version,
        ts=ts,
        metrics=metrics,
        faults=tuple(sorted(faults)),
    )
