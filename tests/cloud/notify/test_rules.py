"""The rules of notifications, without a database: which events notify whom, what a person's
channels let through, the signature a receiver checks, the delays between attempts, the
idempotency key, and how the live stream frames and scopes events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cloud.notify.deliveries import RetryPolicy
from cloud.notify.fanout import delivery_key
from cloud.notify.rules import (
    NOTIFYING,
    Channel,
    Team,
    channels_of,
    concerned,
    wanted_by_webhook,
    wants,
)
from cloud.notify.stream import Reach, frame
from cloud.notify.webhooks import new_secret, sign, verify
from cloud.repair.sla import STEPS
from cloud.repair.tickets import DONE
from device_profiles.site import Channels

TEAM = Team(supervisors=(2, 3), property_managers=(4,))
ESCALATION = {"to": [{"person_id": 7, "name": "Wang"}, {"person_id": 2, "name": "Chen"}]}


@pytest.mark.parametrize(
    ("kind", "state", "evidence", "people"),
    [
        ("opened", "open", None, [2, 3, 4]),
        ("assigned", "assigned", {"assignee_id": 7}, [7]),
        ("acknowledged", "acknowledged", None, []),
        ("started", "in_progress", None, []),
        ("held", "on_hold", None, []),
        ("resolved", "verifying", None, []),  # the data verifies it
        ("resolved", "resolved", None, [2, 3]),  # a supervisor must confirm it
        ("verified", "closed", None, [7]),
        ("confirmed", "closed", None, [7]),
        ("reopened", "assigned", None, [7, 2, 3]),
        ("cancelled", "cancelled", None, [7]),
        ("sla_warning", "assigned", {"to": [{"person_id": 7}]}, [7]),
        ("sla_breached", "assigned", ESCALATION, [7, 2]),
        ("escalated", "assigned", ESCALATION, [7, 2]),
        ("reminded", "assigned", ESCALATION, [7, 2]),
        ("reminded", "assigned", None, [7]),  # written before recipients were named
        ("resident_report", "in_progress", None, [7]),
        ("resident_me_too", "in_progress", None, []),  # integrations and streams only
    ],
)
def test_each_event_concerns_whom_the_rule_says(
    kind: str, state: str, evidence: dict[str, object] | None, people: list[int]
) -> None:
    assert kind in NOTIFYING
    found = concerned(kind, state=state, assignee_id=7, evidence=evidence, team=TEAM)
    assert found == people


def test_what_notifies_is_every_move_and_escalation_but_not_the_datas_news() -> None:
    """Every move's event, every escalation step and residents' word notify; ``repeated``
    (per reading, on ingest's hot path), ``fault_cleared`` and ``self_test`` do not."""
    residents = {"resident_report", "resident_me_too"}
    assert set(DONE.values()) | {s.kind for s in STEPS} | {"opened", "reminded"} | residents == (
        NOTIFYING
    )
    assert not {"repeated", "fault_cleared", "self_test"} & NOTIFYING


def test_a_person_is_told_each_time_once_even_if_named_twice() -> None:
    evidence = {"to": [{"person_id": 2}, {"person_id": 2}, {"person_id": "x"}, "junk"]}
    found = concerned("reopened", state="assigned", assignee_id=2, evidence=evidence, team=TEAM)
    assert found == [2, 3]
    assert concerned("escalated", state="open", assignee_id=None, evidence=evidence, team=TEAM)


def test_a_persons_channels_and_kinds() -> None:
    assert channels_of({}) == Channels(email=True, mqtt=False, kinds=None)
    assert channels_of({"email": "not a flag"}) == Channels()  # unreadable: the defaults
    chosen = channels_of({"email": False, "mqtt": True, "kinds": ["assigned", "reminded"]})
    assert (chosen.email, chosen.mqtt) == (False, True)
    assert wants(chosen, "assigned") and not wants(chosen, "opened")
    assert wants(Channels(), "opened")
    assert wanted_by_webhook([], "held") and wanted_by_webhook(["held"], "held")
    assert not wanted_by_webhook(["opened"], "held")


def test_the_signature_is_an_hmac_of_timestamp_and_body_with_the_secret() -> None:
    """As docs/repair-loop.md tells a receiver to check it."""
    import hashlib
    import hmac

    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40 and secret != new_secret()
    body = json.dumps({"kind": "opened", "ticket": {"title": "门禁故障"}}).encode()
    signature = sign(secret, "1764232200", body)
    expected = hmac.new(secret.encode(), b"1764232200." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify(secret, "1764232200", body, signature, now=1764232260, tolerance_s=300)
    assert not verify(secret, "1764232200", body + b" ", signature, now=1764232260, tolerance_s=300)
    assert not verify("whsec_other", "1764232200", body, signature, now=1764232260, tolerance_s=300)
    late = 1764232200 + 301
    assert not verify(secret, "1764232200", body, signature, now=late, tolerance_s=300)
    assert not verify(secret, "soon", body, signature, now=1764232200, tolerance_s=300)


def test_attempts_back_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(first_s=10, max_s=100, max_attempts=8)
    delays = [policy.delay(attempt).total_seconds() for attempt in range(1, 8)]
    assert delays == [10, 20, 40, 80, 100, 100, 100]
    assert policy.delay(60) == timedelta(seconds=100)


def test_the_idempotency_key_names_event_channel_and_target() -> None:
    assert delivery_key(41, Channel.WEBHOOK, "3") == "41:webhook:3"
    assert delivery_key(41, Channel.EMAIL, "person-7") == "41:email:person-7"
    assert delivery_key(41, Channel.MQTT, "community") == "41:mqtt:community"


def test_a_stream_carries_what_the_tickets_list_shows() -> None:
    operator = Reach(None)
    manager = Reach(1)
    maintainer = Reach(1, frozenset({5}), person_id=7)
    assert operator.sees(2, None, None) and manager.sees(1, None, None)
    assert not manager.sees(2, 5, 7)
    assert maintainer.sees(1, 5, None)  # their zone
    assert maintainer.sees(1, 6, 7)  # theirs, elsewhere
    assert not maintainer.sees(1, 6, 8) and not maintainer.sees(2, 5, 7)


def test_an_event_is_framed_with_its_id_kind_and_json() -> None:
    text = frame({"id": 12, "kind": "assigned", "note": "two\nlines"})
    assert text.endswith("\n\n")
    lines = text.splitlines()
    assert lines[:2] == ["id: 12", "event: assigned"]
    assert json.loads(lines[2].removeprefix("data: "))["note"] == "two\nlines"
