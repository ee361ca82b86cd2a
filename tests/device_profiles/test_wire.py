"""Batches read fast (msgspec) are the batches the protocol's models read: the same fields,
the same outcome for every catalogue example and for a corpus of bad batches."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel, ValidationError

from device_profiles import Catalogue, decode, evaluate, wire
from device_profiles.examples import payload_bytes
from device_profiles.protocol import Batch, DataGap, Item, new_item_id
from tests.device_profiles.test_protocol import batch, gap

PAIRS: list[tuple[type[BaseModel], type[msgspec.Struct]]] = [
    (Batch, wire.Batch),
    (Item, wire.Item),
    (DataGap, wire.DataGap),
]


def read(payload: bytes) -> Batch | str:
    """What the fast reader makes of ``payload``, as the protocol's model (or the error)."""
    try:
        found = wire.read_batch(payload)
    except ValidationError as exc:
        return f"rejected: {exc.error_count()} error(s)"
    if isinstance(found, Batch):
        return found
    return Batch.model_validate(msgspec.to_builtins(found))


def by_models(payload: bytes) -> Batch | str:
    try:
        return Batch.model_validate_json(payload)
    except ValidationError as exc:
        return f"rejected: {exc.error_count()} error(s)"


@pytest.mark.parametrize(("model", "struct"), PAIRS, ids=lambda p: p.__name__)
def test_the_structs_have_the_models_fields_and_defaults(
    model: type[BaseModel], struct: type[msgspec.Struct]
) -> None:
    fields = {field.name: field for field in msgspec.structs.fields(struct)}
    assert set(fields) == set(model.model_fields)
    for name, spec in model.model_fields.items():
        made = fields[name]
        if spec.is_required():
            assert made.required, name
            continue
        default = spec.default_factory() if spec.default_factory else spec.default  # type: ignore[call-arg]
        factory = made.default_factory
        fast = factory() if factory is not msgspec.NODEFAULT else made.default
        assert fast == default, name


def test_every_catalogue_example_is_read_alike_and_fast(builtin_catalogue: Catalogue) -> None:
    now = datetime(2025, 11, 27, 8, 0, tzinfo=UTC)
    items = []
    for profile in builtin_catalogue:
        for example in profile.examples:
            decoded = decode(profile, example.topic, payload_bytes(example.payload), now)
            alarm = bool(evaluate(profile, decoded).faults)
            items.append(Item.from_decoded(decoded, now, alarm=alarm, item_id=new_item_id()))
    assert len(items) > 50
    payload = batch(items=items, gaps=[gap()]).model_dump_json().encode()

    assert isinstance(wire.read_batch(payload), wire.Batch)  # the fast path takes it
    assert read(payload) == by_models(payload)


def _document() -> dict[str, Any]:
    payload = batch(gaps=[gap()]).model_dump_json()
    document: dict[str, Any] = json.loads(payload)
    return document


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        target[int(last) if last.isdigit() else last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        del target[last]

    return change


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "as made": lambda document: None,
    "gateway id with a final line break": _set("gateway_id", "gw-sunrise-01\n"),
    "gateway id empty": _set("gateway_id", ""),
    "gateway id starting with a dash": _set("gateway_id", "-gw"),
    "gateway id of 65 characters": _set("gateway_id", "g" * 65),
    "gateway id of 64 characters": _set("gateway_id", "g" * 64),
    "epoch upper case": _set("epoch", "5E1F0C2A9B3D4E6F"),
    "epoch with a final line break": _set("epoch", "5e1f0c2a\n"),
    "epoch too short": _set("epoch", "5e1f0c2"),
    "seq negative": _set("seq", -1),
    "seq beyond 64 bits": _set("seq", 2**70),
    "seq as text": _set("seq", "17"),
    "seq as a whole float": _set("seq", 17.0),
    "seq as a true": _set("seq", True),
    "seq missing": _drop("seq"),
    "sent_at as a number": _set("sent_at", 1_764_230_400),
    "sent_at without an offset": _set("sent_at", "2025-11-27T08:00:01"),
    "sent_at not a time": _set("sent_at", "yesterday"),
    "sent_at with an offset": _set("sent_at", "2025-11-27T16:00:01+08:00"),
    "sent_at a date alone": _set("sent_at", "2025-11-27"),
    "version 2": _set("v", 2),
    "version left out": _drop("v"),
    "an unknown field": _set("extra", 1),
    "items not a list": _set("items", {}),
    "no items": _set("items", []),
    "item id of 7 characters": _set("items.0.id", "0123456"),
    "item id of 65 characters": _set("items.0.id", "0" * 65),
    "device id empty": _set("items.0.device_id", ""),
    "item with an unknown field": _set("items.0.colour", "red"),
    "item missing its profile": _drop("items.0.profile"),
    "item ts as a number": _set("items.0.ts", 1_764_230_400.5),
    "item ts without an offset": _set("items.0.ts", "2025-11-27T08:00:00"),
    "item ts in another zone": _set("items.0.ts", "2025-11-27T09:30:00+01:30"),
    "item ts with nanoseconds": _set("items.0.ts", "2025-11-27T08:00:00.123456789Z"),
    "item ts of seven decimals to round up": _set("items.0.ts", "2025-11-27T08:00:00.9999995Z"),
    "gap time with nanoseconds": _set("gaps.0.last_ts", "2025-11-26T08:00:00.000000999+00:00"),
    "item ts with a decimal comma": _set("items.0.ts", "2025-11-27T08:00:00,5Z"),
    "item ts without seconds": _set("items.0.ts", "2025-11-27T08:00Z"),
    "metrics null": _set("items.0.metrics", None),
    "metrics a list": _set("items.0.metrics", [1]),
    "a metric null": _set("items.0.metrics.door_open", None),
    "a metric nested": _set("items.0.metrics.door_open", {"a": 1}),
    "a metric beyond 64 bits": _set("items.0.metrics.cycles", 2**70),
    "a metric as text": _set("items.0.metrics.cycles", "48212"),
    "a metric written as Infinity": _set("items.0.metrics.motor_current", float("inf")),
    "a metric of many decimals": _set("items.0.metrics.motor_current", 0.123456789012),
    "a metric of text like a time": _set("items.0.metrics.door_open", "08:00:00.1234567"),
    "metrics left out": _drop("items.0.metrics"),
    "faults as numbers": _set("items.0.faults", [1]),
    "faults as text": _set("items.0.faults", "motor_jammed"),
    "alarm as text": _set("items.0.alarm", "true"),
    "alarm as a number": _set("items.0.alarm", 1),
    "ts_suspect left out": _drop("items.0.ts_suspect"),
    "gaps null": _set("gaps", None),
    "gaps left out": _drop("gaps"),
    "gap of no items": _set("gaps.0.items", 0),
    "gap of an unknown reason": _set("gaps.0.reason", "tired"),
    "gap with an unknown field": _set("gaps.0.why", "x"),
    "gap times swapped": _set("gaps.0.first_ts", "2030-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_batch_is_accepted_or_refused_as_the_models_do(
    change: Callable[[dict[str, Any]], None],
) -> None:
    document = copy.deepcopy(_document())
    change(document)
    payload = json.dumps(document).encode()

    assert read(payload) == by_models(payload)


def test_times_to_the_microsecond_and_long_decimals_take_the_fast_path() -> None:
    document = _document()
    document["items"][0]["ts"] = "2025-11-27T08:00:00.123456+08:00"
    document["items"][0]["metrics"]["motor_current"] = 0.123456789012

    assert isinstance(wire.read_batch(json.dumps(document).encode()), wire.Batch)


def test_too_many_items_are_refused_as_the_models_do() -> None:
    document = _document()
    document["items"] = document["items"] * 1001
    payload = json.dumps(document).encode()

    assert read(payload) == by_models(payload)
    assert isinstance(read(payload), str)


@pytest.mark.parametrize("payload", [b"", b"[]", b"{", b"null", b'{"v": 1}', "{}".encode("utf-16")])
def test_what_is_not_a_batch_is_refused_with_the_models_reasons(payload: bytes) -> None:
    with pytest.raises(ValidationError) as fast:
        wire.read_batch(payload)
    with pytest.raises(ValidationError) as models:
        Batch.model_validate_json(payload)
    assert fast.value.errors() == models.value.errors()
