"""The ingest path without a broker: validate, store, or keep as a dead letter, and what to
tell the gateway."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from cloud.db.models import DeadLetter, Gateway, Reading, UnknownGateway
from cloud.ingest.acks import MAX_REASON_CHARS, Result, batch_ack, batch_identity
from cloud.ingest.intake import Rejected, parse
from cloud.ingest.roster import GatewayRoster
from cloud.register.gateways import retire_gateway
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import (
    BatchAck,
    GatewayStatus,
    ack_topic,
    batch_topic,
    status_topic,
)
from device_profiles.site import Site
from tests.cloud.helpers import EPOCH, T0, count
from tests.cloud.ingest_support import good_batch_json, sample


def letters(services: Services) -> list[DeadLetter]:
    with services.sessions() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_a_valid_batch_is_stored_and_acknowledged_as_stored(
    services: Services, catalogue: Catalogue
) -> None:
    payload = good_batch_json(catalogue, "gw-1", 1)

    first = services.intake.process(batch_topic("gw-1"), payload)
    again = services.intake.process(batch_topic("gw-1"), payload)

    assert (first.result, first.stored, first.duplicates) == ("stored", 2, 0)
    assert first.ack is not None
    assert first.ack.message() == BatchAck(gateway_id="gw-1", epoch=EPOCH, seq=1, result="stored")
    assert (again.result, again.stored, again.duplicates) == ("duplicate", 0, 2)
    assert again.ack is not None and again.ack.result == "duplicate"
    assert count(services.sessions, Reading) == 2
    assert letters(services) == []


def heard(services: Services) -> set[str]:
    """The gateways something was stored from (a batch or a status)."""
    with services.sessions() as session:
        return set(
            session.scalars(
                select(Gateway.id).where(
                    (Gateway.last_seq.is_not(None)) | (Gateway.status_at.is_not(None))
                )
            )
        )


def test_a_status_is_recorded_without_an_acknowledgement(services: Services) -> None:
    status = GatewayStatus(gateway_id="gw-1", online=True, ts=T0)

    outcome = services.intake.process(status_topic("gw-1"), status.model_dump_json().encode())

    assert (outcome.result, outcome.kind, outcome.ack) == ("stored", "status", None)
    with services.sessions() as session:
        gateway = session.get(Gateway, "gw-1")
        assert gateway is not None and (gateway.online, gateway.status_at) == (True, T0)


@pytest.mark.parametrize(
    ("topic", "payload", "category", "reason_part"),
    [
        (batch_topic("gw-1"), b"\x00not json{", "invalid", "JSON"),
        (batch_topic("gw-1"), b"[1, 2]", "invalid", "payload"),
        (batch_topic("gw-1"), b'{"v": 2, "gateway_id": "gw-1"}', "invalid", "v"),
        ("linli/v1/gw/gw-1/up/telemetry", b"{}", "topic", "unknown message kind"),
        ("linli/v1/gw/gw-1/down/command", b"{}", "topic", "not an edge"),
        (status_topic("gw-1"), b'{"gateway_id": "gw-1"}', "invalid", "online"),
    ],
)
def test_messages_that_break_the_protocol_become_dead_letters(
    services: Services, topic: str, payload: bytes, category: str, reason_part: str
) -> None:
    outcome = services.intake.process(topic, payload)

    [letter] = letters(services)
    assert (outcome.result, outcome.dead_letter, outcome.ack) == ("rejected", letter.id, None)
    assert (letter.topic, letter.payload, letter.category) == (topic, payload, category)
    assert reason_part in letter.reason
    assert letter.replayed_at is None
    assert (
        services.metrics.registry.get_sample_value(
            "linli_ingest_dead_letters_total", {"reason": category}
        )
        == 1
    )
    assert heard(services) == set()


def test_a_rejected_batch_that_says_which_it_is_gets_a_rejected_acknowledgement(
    services: Services, catalogue: Catalogue
) -> None:
    document: dict[str, Any] = json.loads(good_batch_json(catalogue, "gw-1", 4))
    document["items"][1]["received_at"] = "2025-11-27T00:00:00"

    outcome = services.intake.process(batch_topic("gw-1"), json.dumps(document).encode())

    assert outcome.ack is not None
    assert outcome.ack.message() == BatchAck(
        gateway_id="gw-1",
        epoch=EPOCH,
        seq=4,
        result="rejected",
        reason="items.1.received_at: timestamp has no UTC offset",
    )
    assert count(services.sessions, Reading) == 0


def test_a_batch_naming_another_gateway_is_acknowledged_to_the_sender(
    services: Services, catalogue: Catalogue
) -> None:
    outcome = services.intake.process(batch_topic("gw-1"), good_batch_json(catalogue, "gw-2", 3))

    assert outcome.ack is not None
    assert (outcome.ack.gateway_id, outcome.ack.seq, outcome.ack.result) == ("gw-1", 3, "rejected")
    assert "'gw-2' does not match topic" in outcome.reason
    assert heard(services) == set()


def test_a_dead_letter_keeps_every_byte(services: Services) -> None:
    payload = bytes(range(256)) * 1000  # 256 kB, not UTF-8

    services.intake.process(batch_topic("gw-1"), payload)

    [letter] = letters(services)
    assert letter.payload == payload


def test_rejected_without_keeping_stores_nothing(services: Services) -> None:
    outcome = services.intake.process(batch_topic("gw-1"), b"nope", keep_rejected=False)

    assert (outcome.result, outcome.dead_letter) == ("rejected", None)
    assert letters(services) == []


def test_parse_rejects_naive_sent_at(catalogue: Catalogue) -> None:
    document = json.loads(good_batch_json(catalogue, "gw-1", 1))
    document["sent_at"] = "2025-11-27T00:00:00"

    with pytest.raises(Rejected) as raised:
        parse(batch_topic("gw-1"), json.dumps(document).encode())

    assert (raised.value.category, raised.value.reason) == (
        "invalid",
        "sent_at: timestamp has no UTC offset",
    )


@pytest.mark.parametrize(
    ("topic", "payload", "identity"),
    [
        (batch_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": 3}', ("gw-1", EPOCH, 3)),
        (batch_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": 3, "x": [}', None),
        (batch_topic("gw-1"), b'{"epoch": "0123456789ABCDEF", "seq": 3}', None),
        (batch_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": -1}', None),
        (batch_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": true}', None),
        (batch_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": "3"}', None),
        (batch_topic("gw-1"), b'["0123456789abcdef", 3]', None),
        (batch_topic("gw-1"), b"\xff\xfe", None),
        (batch_topic("gw-1"), b"[" * 100_000, None),
        (status_topic("gw-1"), b'{"epoch": "0123456789abcdef", "seq": 3}', None),
        ("linli/v1/gw/bad gateway/up/batch", b'{"epoch": "0123456789abcdef", "seq": 3}', None),
    ],
)
def test_batch_identity_is_read_leniently(
    topic: str, payload: bytes, identity: tuple[str, str, int] | None
) -> None:
    assert batch_identity(topic, payload) == identity


def test_an_acknowledgement_carries_the_beginning_of_a_long_reason() -> None:
    ack = batch_ack("gw-1", EPOCH, 1, "rejected", "x" * 5000)

    assert len(ack.reason) == MAX_REASON_CHARS
    assert ack.reason.endswith("…")


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("stored", ""),
        ("duplicate", ""),
        ("rejected", 'items.0.ts: "quoted", \\ back-slashed, 温度 and a new\nline'),
    ],
)
def test_an_acknowledgement_payload_is_the_protocol_message_as_json(
    result: Result, reason: str
) -> None:
    ack = batch_ack("gw-1.a_b", EPOCH, 2**40, result, reason)

    assert ack.topic == ack_topic("gw-1.a_b")
    assert BatchAck.model_validate_json(ack.payload) == ack.message()
    assert ack.payload == ack.message().model_dump_json().encode()


def test_outcomes_describe_themselves(services: Services, catalogue: Catalogue) -> None:
    payload = good_batch_json(catalogue, "gw-1", 1)

    assert services.intake.process(batch_topic("gw-1"), payload).describe() == (
        "stored: 2 readings, 0 stored before"
    )
    assert services.intake.process(batch_topic("gw-1"), payload).describe() == (
        "duplicate: batch stored before (2 readings)"
    )
    assert services.intake.process(batch_topic("gw-1"), b"{").describe().startswith("rejected: ")


def unknown(services: Services) -> dict[str, tuple[int, int, int, str]]:
    with services.sessions() as session:
        return {
            row.id: (row.batches, row.readings, row.statuses, row.reason)
            for row in session.scalars(select(UnknownGateway))
        }


def test_a_gateway_not_provisioned_is_not_heard_until_it_is(
    services: Services, catalogue: Catalogue
) -> None:
    """Its batches are neither stored nor acknowledged (they stay in its outbox), its status
    is ignored; both are counted and recorded for the operator. Once provisioned, the same
    batch is taken and the gateway leaves the list."""
    payload = good_batch_json(catalogue, "gw-stray", 1)
    status = GatewayStatus(gateway_id="gw-stray", online=True, ts=T0).model_dump_json().encode()

    first = services.intake.process(batch_topic("gw-stray"), payload)
    again = services.intake.process(batch_topic("gw-stray"), payload)
    said = services.intake.process(status_topic("gw-stray"), status)

    assert (first.result, first.ack, again.result, said.result) == (
        "unprovisioned",
        None,
        "unprovisioned",
        "unprovisioned",
    )
    assert "gw-stray is unknown" in first.reason
    assert count(services.sessions, Reading) == 0
    assert letters(services) == []
    assert heard(services) == set()
    assert unknown(services) == {"gw-stray": (2, 4, 1, "unknown")}
    assert sample(services, "linli_ingest_batches_total", result="unprovisioned") == 2
    assert sample(services, "linli_ingest_items_total", result="unprovisioned") == 4

    with services.sessions.begin() as session:
        apply_site(session, stray_site(), datetime.now(UTC), services.tickets)
    services.intake.roster.forget(["gw-stray"])
    taken = services.intake.process(batch_topic("gw-stray"), payload)

    assert (taken.result, taken.stored) == ("stored", 2)
    assert taken.ack is not None and taken.ack.result == "stored"
    assert unknown(services) == {}


def test_a_retired_gateway_is_not_heard_and_shows_as_retired(
    services: Services, catalogue: Catalogue
) -> None:
    with services.sessions.begin() as session:
        apply_site(session, stray_site(), datetime.now(UTC), services.tickets)
    assert (
        services.intake.process(
            batch_topic("gw-stray"), good_batch_json(catalogue, "gw-stray", 1)
        ).result
        == "stored"
    )

    with services.sessions.begin() as session:
        gateway = session.get(Gateway, "gw-stray")
        assert gateway is not None and retire_gateway(gateway, datetime.now(UTC))
    services.intake.roster.forget(["gw-stray"])
    outcome = services.intake.process(
        batch_topic("gw-stray"), good_batch_json(catalogue, "gw-stray", 2)
    )

    assert (outcome.result, outcome.ack) == ("unprovisioned", None)
    assert unknown(services) == {"gw-stray": (1, 2, 0, "retired")}
    assert count(services.sessions, Reading) == 2


def test_the_roster_reads_a_gateway_again_only_after_its_refresh_time(
    services: Services, catalogue: Catalogue
) -> None:
    """Provisioning reaches every worker within ``gateway_roster_refresh_s``; until then a
    worker goes on refusing from what it read (here the time never passes)."""
    roster = GatewayRoster(services.sessions, services.metrics, lambda: T0, refresh_s=3600)
    assert roster.refused(["gw-stray", "gw-1"]) == {"gw-stray": "unknown"}
    with services.sessions.begin() as session:
        apply_site(session, stray_site(), datetime.now(UTC), services.tickets)
    assert roster.refused(["gw-stray"]) == {"gw-stray": "unknown"}
    roster.forget()
    assert roster.refused(["gw-stray"]) == {}


def stray_site() -> Site:
    return Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": "strays", "name": "Strays"},
            "gateways": {"gw-stray": {}},
        }
    )
