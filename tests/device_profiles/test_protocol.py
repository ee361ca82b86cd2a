"""Wire protocol v1: models round-trip through JSON and reject what the protocol forbids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from device_profiles import Catalogue, decode, evaluate
from device_profiles.protocol import (
    MAX_BATCH_ITEMS,
    UP_FILTER,
    Batch,
    BatchAck,
    Command,
    DataGap,
    GatewayStatus,
    Item,
    ack_topic,
    batch_payload,
    batch_topic,
    command_topic,
    new_item_id,
    parse_up_topic,
    reading_id,
    status_topic,
    wire_json_schema,
)

REPO = Path(__file__).resolve().parents[2]

T0 = datetime(2025, 11, 27, 8, 0, tzinfo=UTC)


def item(**changes: Any) -> Item:
    fields: dict[str, Any] = {
        "id": "0123456789abcdef0123456789abcdef",
        "device_id": "gate-01",
        "device_type": "access_gate",
        "profile": "acme_access_gate",
        "profile_version": "1.0.0",
        "ts": T0,
        "received_at": T0 + timedelta(milliseconds=40),
        "metrics": {"door_open": True, "cycles": 48212, "motor_current": 0.0},
        "faults": ("motor_jammed",),
        "alarm": True,
    }
    fields.update(changes)
    return Item(**fields)


def batch(**changes: Any) -> Batch:
    fields: dict[str, Any] = {
        "gateway_id": "gw-sunrise-01",
        "epoch": "5e1f0c2a9b3d4e6f",
        "seq": 17,
        "sent_at": T0 + timedelta(seconds=1),
        "items": [item()],
    }
    fields.update(changes)
    return Batch(**fields)


def gap(**changes: Any) -> DataGap:
    fields: dict[str, Any] = {
        "id": "9f0e1d2c3b4a59687766554433221100",
        "device_id": "light-07",
        "first_ts": T0 - timedelta(days=3),
        "last_ts": T0 - timedelta(days=1),
        "items": 4120,
        "reason": "disk_budget",
    }
    fields.update(changes)
    return DataGap(**fields)


def batch_json(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(batch().model_dump_json())
    document.update(changes)
    return document


# --- round trips ----------------------------------------------------------------------------


def test_batch_round_trips_through_json() -> None:
    original = batch(items=[item(), item(id="f" * 32, metrics={"s": "text", "b": False})])
    text = original.model_dump_json()
    assert Batch.model_validate_json(text) == original
    assert Batch.model_validate(json.loads(text)) == original


def test_metric_types_survive_the_round_trip() -> None:
    metrics = {"flag": True, "count": 3, "level": 3.0, "label": "3"}
    again = Item.model_validate_json(item(metrics=metrics).model_dump_json())
    assert again.metrics == metrics
    assert [type(v) for v in again.metrics.values()] == [bool, int, float, str]


def test_batch_json_shape() -> None:
    document = json.loads(batch(gaps=[gap()]).model_dump_json())
    assert set(document) == {"v", "gateway_id", "epoch", "seq", "sent_at", "items", "gaps"}
    assert document["v"] == 1
    assert set(document["items"][0]) == {
        "id", "device_id", "device_type", "profile", "profile_version",
        "ts", "received_at", "metrics", "faults", "alarm", "ts_suspect",
    }  # fmt: skip
    assert set(document["gaps"][0]) == {
        "id", "device_id", "first_ts", "last_ts", "items", "reason"
    }  # fmt: skip
    assert document["items"][0]["ts"] == "2025-11-27T08:00:00Z"


def test_timestamps_keep_their_instant() -> None:
    east = datetime(2025, 11, 27, 16, 0, tzinfo=UTC).astimezone()
    again = Item.model_validate_json(item(ts=east).model_dump_json())
    assert again.ts == datetime(2025, 11, 27, 16, 0, tzinfo=UTC)


def test_status_round_trips() -> None:
    for status in (
        GatewayStatus(gateway_id="gw-1", online=True, ts=T0, counters={"outbox": 12}),
        GatewayStatus(gateway_id="gw-1", online=False),  # the last will: no time, no counters
    ):
        assert GatewayStatus.model_validate_json(status.model_dump_json()) == status


def test_command_round_trips() -> None:
    command = Command(id=new_item_id(), device_id="light-07", command="switch", args={"on": True})
    assert Command.model_validate_json(command.model_dump_json()) == command


def test_item_from_decoded_copies_the_reading() -> None:
    profile = Catalogue.load()["acme_access_gate"]
    payload = b'{"ts": 1764201660, "door": 1, "cycles": 48212, "motor_ma": 0, "err": 11}'
    decoded = decode(profile, "acme/gate/gate-01/state", payload, T0)
    made = Item.from_decoded(decoded, T0, alarm=True)
    assert made.model_dump(exclude={"id", "received_at", "alarm", "ts_suspect"}) == (
        decoded.model_dump()
    )
    assert made.alarm is True and made.received_at == T0 and made.ts_suspect is False
    assert Item.from_decoded(decoded, T0, alarm=False, ts_suspect=True).ts_suspect is True
    assert len(made.id) == 32
    assert Item.from_decoded(decoded, T0, alarm=False, item_id="given-id-1").id == "given-id-1"
    assert Item.from_decoded(decoded, T0, alarm=False).id != made.id


def test_new_item_ids_are_unique_and_valid() -> None:
    ids = {new_item_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        item(id=value)


# --- what Batch rejects ---------------------------------------------------------------------


def test_negative_seq_is_rejected() -> None:
    with pytest.raises(ValidationError, match="seq"):
        Batch.model_validate(batch_json(seq=-1))
    assert Batch.model_validate(batch_json(seq=0)).seq == 0


@pytest.mark.parametrize(
    "gateway_id",
    ["", "-gw", ".gw", "gw/1", "gw+1", "gw#", "gw 1", "g" * 65, "gw\n", "网关"],
)
def test_bad_gateway_ids_are_rejected(gateway_id: str) -> None:
    with pytest.raises(ValidationError, match="gateway_id"):
        Batch.model_validate(batch_json(gateway_id=gateway_id))
    with pytest.raises(ValidationError, match="gateway_id"):
        GatewayStatus(gateway_id=gateway_id, online=True)


@pytest.mark.parametrize("gateway_id", ["g", "gw-1", "GW_01.north", "1" * 64])
def test_good_gateway_ids(gateway_id: str) -> None:
    assert Batch.model_validate(batch_json(gateway_id=gateway_id)).gateway_id == gateway_id


def test_too_many_items_are_rejected() -> None:
    one = json.loads(item().model_dump_json())
    assert len(Batch.model_validate(batch_json(items=[one] * MAX_BATCH_ITEMS)).items) == 1000
    with pytest.raises(ValidationError, match="items"):
        Batch.model_validate(batch_json(items=[one] * (MAX_BATCH_ITEMS + 1)))


def test_empty_batch_is_allowed() -> None:
    assert Batch.model_validate(batch_json(items=[])).items == []


@pytest.mark.parametrize(
    ("where", "field"),
    [("batch", "extra"), ("batch", "gateway"), ("item", "value"), ("item", "Id")],
)
def test_unknown_fields_are_rejected(where: str, field: str) -> None:
    document = batch_json()
    target = document if where == "batch" else document["items"][0]
    target[field] = 1
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Batch.model_validate(document)


@pytest.mark.parametrize("v", [0, 2, "1"])
def test_other_protocol_versions_are_rejected(v: Any) -> None:
    with pytest.raises(ValidationError, match="v"):
        Batch.model_validate(batch_json(v=v))


@pytest.mark.parametrize("missing", ["gateway_id", "seq", "sent_at", "items"])
def test_required_batch_fields(missing: str) -> None:
    document = batch_json()
    del document[missing]
    with pytest.raises(ValidationError, match=missing):
        Batch.model_validate(document)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "short"),
        ("id", "x" * 65),
        ("device_id", ""),
        ("ts", "yesterday"),
        ("metrics", {"m": [1, 2]}),
        ("metrics", {"m": None}),
        ("faults", "motor_jammed"),
    ],
)
def test_bad_items_are_rejected(field: str, value: Any) -> None:
    document = batch_json()
    document["items"][0][field] = value
    with pytest.raises(ValidationError):
        Batch.model_validate(document)


def test_models_are_immutable() -> None:
    with pytest.raises(ValidationError):
        batch().seq = 18  # type: ignore[misc]


def test_status_and_command_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        GatewayStatus.model_validate({"gateway_id": "gw-1", "online": True, "load": 3})
    with pytest.raises(ValidationError):
        Command.model_validate({"id": "c" * 16, "device_id": "d", "command": "x", "when": 1})


# --- topics ---------------------------------------------------------------------------------


def test_topic_helpers() -> None:
    assert batch_topic("gw-1") == "linli/v1/gw/gw-1/up/batch"
    assert status_topic("gw-1") == "linli/v1/gw/gw-1/up/status"
    assert command_topic("gw-1") == "linli/v1/gw/gw-1/down/command"
    assert UP_FILTER == "linli/v1/gw/+/up/#"


@pytest.mark.parametrize("gateway_id", ["gw-1", "GW_01.north"])
def test_parse_up_topic_accepts_batch_and_status(gateway_id: str) -> None:
    assert parse_up_topic(batch_topic(gateway_id)) == (gateway_id, "batch")
    assert parse_up_topic(status_topic(gateway_id)) == (gateway_id, "status")


@pytest.mark.parametrize(
    "topic",
    [
        "linli/v1/gw/gw-1/down/command",
        "linli/v1/gw/gw-1/up",
        "linli/v1/gw/gw-1/up/batch/extra",
        "linli/v2/gw/gw-1/up/batch",
        "linli/v1/gateway/gw-1/up/batch",
        "/linli/v1/gw/gw-1/up/batch",
        "linli/v1/local/cmd/gate-01",
        "acme/gate/gate-01/state",
        "",
    ],
)
def test_parse_up_topic_rejects_other_topics(topic: str) -> None:
    assert parse_up_topic(topic) is None


def test_parse_up_topic_leaves_unknown_kinds_to_the_caller() -> None:
    """A kind this version does not know is returned as is; ingest dead-letters it."""
    assert parse_up_topic("linli/v1/gw/gw-1/up/events") == ("gw-1", "events")


# --- the documented example ----------------------------------------------------------------


def test_protocol_doc_example_is_a_valid_batch() -> None:
    """docs/protocol.md's batch example parses, and its alarm flags follow the rules."""
    text = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    example = Batch.model_validate_json(blocks[0])
    catalogue = Catalogue.load()
    for each in example.items:
        profile = catalogue[each.profile]
        assert each.profile_version == profile.version
        assert each.device_type == profile.type
        assert each.alarm == bool(evaluate(profile, each).faults), each.device_id


def test_a_batch_made_from_item_texts_is_the_batch_of_those_items() -> None:
    items = [item(), item(id="fedcba9876543210fedcba9876543210", alarm=False, faults=())]
    whole = batch(items=items)
    payload = batch_payload(
        whole.gateway_id,
        whole.epoch,
        whole.seq,
        whole.sent_at,
        [i.model_dump_json() for i in items],
    )
    assert Batch.model_validate_json(payload) == whole
    assert json.loads(payload) == json.loads(whole.model_dump_json(exclude={"gaps"}))
    with_gaps = batch(items=items, gaps=[gap(), gap(id="a" * 32, reason="disk_full")])
    payload = batch_payload(
        with_gaps.gateway_id,
        with_gaps.epoch,
        with_gaps.seq,
        with_gaps.sent_at,
        [i.model_dump_json() for i in items],
        [g.model_dump_json() for g in with_gaps.gaps],
    )
    assert Batch.model_validate_json(payload) == with_gaps


def test_a_batch_without_gaps_is_the_batch_of_before() -> None:
    """Data gaps are optional: a batch as gateways sent it before them is valid, with none."""
    document = batch_json()
    del document["gaps"]
    for each in document["items"]:
        del each["ts_suspect"]
    again = Batch.model_validate(document)
    assert again.gaps == []
    assert again.items[0].ts_suspect is False


def test_a_data_gap_round_trips_and_refuses_what_it_cannot_be() -> None:
    record = gap()
    assert DataGap.model_validate_json(record.model_dump_json()) == record
    document = json.loads(record.model_dump_json())
    for field, value in (("items", 0), ("reason", "bored"), ("id", "short"), ("device_id", "")):
        with pytest.raises(ValidationError, match=field):
            DataGap.model_validate({**document, field: value})
    with pytest.raises(ValidationError, match="Extra inputs"):
        DataGap.model_validate({**document, "why": "x"})
    with pytest.raises(ValidationError, match="gaps"):
        Batch.model_validate(batch_json(gaps=[document] * (MAX_BATCH_ITEMS + 1)))


def test_a_batch_identity_needs_an_epoch() -> None:
    fields = batch_json()
    del fields["epoch"]
    with pytest.raises(ValidationError, match="epoch"):
        Batch.model_validate(fields)
    with pytest.raises(ValidationError, match="epoch"):
        Batch.model_validate({**batch_json(), "epoch": "NOT-HEX"})


def test_a_batch_ack_round_trips_and_refuses_unknown_results() -> None:
    ack = BatchAck(gateway_id="gw-1", epoch="00ff00ff", seq=3, result="duplicate")
    assert BatchAck.model_validate_json(ack.model_dump_json()) == ack
    assert ack_topic("gw-1") == "linli/v1/gw/gw-1/down/ack"
    with pytest.raises(ValidationError):
        BatchAck.model_validate({**ack.model_dump(), "result": "maybe"})


def test_the_very_same_message_has_the_very_same_reading_id() -> None:
    first = reading_id("gw-1", "acme/gate/g1/state", b'{"ts": 1, "err": 0}')
    assert first == reading_id("gw-1", "acme/gate/g1/state", b'{"ts": 1, "err": 0}')
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    others = {
        reading_id("gw-2", "acme/gate/g1/state", b'{"ts": 1, "err": 0}'),
        reading_id("gw-1", "acme/gate/g2/state", b'{"ts": 1, "err": 0}'),
        reading_id("gw-1", "acme/gate/g1/state", b'{"ts": 2, "err": 0}'),
        # the parts are delimited: moving a byte from topic to payload is another message
        reading_id("gw-1", "acme/gate/g1/stat", b'e{"ts": 1, "err": 0}'),
    }
    assert first not in others
    assert len(others) == 4


def test_the_committed_protocol_schema_is_current_and_names_every_message() -> None:
    from device_profiles.cli import Format, schema_text

    committed = (REPO / "docs" / "protocol.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(Format.PROTOCOL), (
        "docs/protocol.schema.json is stale: regenerate it with `make schema`"
    )
    definitions = wire_json_schema()["$defs"]
    assert {"Batch", "BatchAck", "GatewayStatus", "Command", "Item", "DataGap"} <= set(definitions)
    assert "epoch" in definitions["Batch"]["required"]
