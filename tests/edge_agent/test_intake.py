"""A device message without a broker: decoded, judged, an item in the outbox or a dead letter."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from device_profiles import Catalogue, decode
from device_profiles.decode import Decoded
from device_profiles.examples import payload_bytes, run_example
from device_profiles.protocol import Item
from edge_agent import EdgeAgent, EdgeSettings
from edge_agent.intake import ItemError, make_item
from edge_agent.outbox import OutboxError
from tests.edge_agent.helpers import agent_for, dead_letters, example, payload_of
from tests.sample_profiles import pump

RECEIVED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_every_profile_example_becomes_an_item_with_its_metrics_and_alarm_flag(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    ids_of: dict[tuple[str, bytes], set[str]] = {}
    for profile in catalogue:
        for case in profile.examples:
            # a fresh agent per example: examples reuse device ids, and rules remember
            agent = agent_for(tmp_path / f"{profile.id}-{case.name}", catalogue)
            for step in case.history:
                earlier = RECEIVED - timedelta(seconds=step.before_s)
                assert agent.process_device_message(
                    case.topic, payload_bytes(step.payload), earlier
                )
            item = agent.process_device_message(case.topic, payload_of(case), RECEIVED)
            assert item is not None, case.name
            assert item.device_id == case.expect.device_id
            assert item.profile == profile.id
            assert item.metrics == case.expect.metrics
            assert item.received_at == RECEIVED
            # silence is judged by the cloud, which sees the device go quiet; the edge flags
            # every fault the message itself (with what came before) shows
            without_silence = case.model_copy(update={"silent_for_s": 0})
            _, verdict = run_example(profile, without_silence, RECEIVED)
            assert item.alarm is bool(verdict.faults), case.name
            assert re.fullmatch(r"[0-9a-f]{32}", item.id)
            assert agent.counters["dead_letters"] == 0
            ids_of.setdefault((case.topic, payload_of(case)), set()).add(item.id)
    # the very same message is the very same reading wherever the device stamps its time;
    # distinct messages are distinct readings
    all_ids = [i for ids in ids_of.values() for i in ids]
    assert len(all_ids) == len(set(all_ids))


def test_duration_rules_remember_per_device_to_flag_alarms(tmp_path: Path) -> None:
    agent = agent_for(tmp_path, Catalogue([pump()]))

    def low(device: str, seconds: float) -> bool:
        payload = json.dumps({"p": 1.0, "run": True, "h": 1, "dry": False}).encode()
        at = RECEIVED + timedelta(seconds=seconds)
        item = agent.process_device_message(f"test/pump/{device}", payload, at)
        assert item is not None
        return item.alarm

    assert low("p1", 0) is False
    assert low("p2", 100) is False
    assert low("p1", 120) is True  # p1 has held low pressure for 120 s
    assert low("p2", 200) is False  # p2 only for 100 s: its own clock


def test_an_alarm_is_a_change_of_faults_either_way_not_a_fault_that_lasts(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    agent = agent_for(tmp_path, catalogue)
    jammed = example(catalogue, "acme_access_gate", "motor_jammed")
    normal = next(e for e in catalogue["acme_access_gate"].examples if e.expect.health == "ok")
    body = json.loads(payload_of(jammed))

    def alarm(case_body: dict[str, object], seconds: int) -> bool:
        payload = json.dumps({**case_body, "ts": int(body["ts"]) + seconds}).encode()
        item = agent.process_device_message(jammed.topic, payload, RECEIVED)
        assert item is not None
        return item.alarm

    assert alarm(body, 0) is True  # the fault starts
    assert alarm(body, 1) is False  # it goes on
    assert alarm(json.loads(payload_of(normal)), 2) is True  # it clears
    assert alarm(json.loads(payload_of(normal)), 3) is False


def test_a_rule_raised_fault_is_an_alarm_even_when_the_device_reports_none(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    agent = agent_for(tmp_path, catalogue)
    case = example(catalogue, "acme_access_gate", "motor_overcurrent")
    assert json.loads(payload_of(case))["err"] == 0
    item = agent.process_device_message(case.topic, payload_of(case), RECEIVED)
    assert item is not None
    assert item.faults == ()
    assert item.alarm is True


@pytest.mark.parametrize(
    ("topic", "payload", "category", "reason"),
    [
        ("acme/gate/g1/state", b"{not json", "decode", "not JSON"),
        ("acme/gate/g1/state", b'{"door": 0, "cycles": "many", "motor_ma": 1, "err": 0}',
         "decode", "'many' is not a number"),
        ("acme/gate//state", b'{"door": 0, "cycles": 1, "motor_ma": 1, "err": 0}',
         "unknown_topic", "no profile claims"),
        ("safecall/sos-1/evt", b"\xff\xfe\xfd", "decode", "not UTF-8"),
    ],
)  # fmt: skip
def test_an_undecodable_message_is_a_dead_letter_not_an_item(
    tmp_path: Path,
    catalogue: Catalogue,
    topic: str,
    payload: bytes,
    category: str,
    reason: str,
) -> None:
    agent = agent_for(tmp_path, catalogue)
    assert agent.process_device_message(topic, payload, RECEIVED) is None
    assert len(agent.outbox) == 0
    (entry,) = dead_letters(agent)
    assert entry["topic"] == topic
    assert entry["category"] == category
    assert reason in entry["reason"]
    assert agent.counters["dead_letters"] == 1
    assert agent.counters[f"dead_letters_{category}"] == 1


def test_an_unexpected_error_while_decoding_is_a_dead_letter_too(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = agent_for(tmp_path, catalogue)

    def broken(decoder: Any, spec: Any, payload: bytes, received_at: Any) -> Decoded:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr("edge_agent.intake.Decoder.read", broken)
    case = example(catalogue, "acme_access_gate", "normal")
    assert agent.process_device_message(case.topic, payload_of(case), RECEIVED) is None
    (entry,) = dead_letters(agent)
    assert entry["category"] == "internal"
    assert entry["reason"] == "RuntimeError: decoder bug"


def test_a_device_id_the_protocol_rejects_is_a_dead_letter(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    agent = agent_for(tmp_path, catalogue)
    case = example(catalogue, "acme_access_gate", "normal")
    topic = f"acme/gate/{'g' * 200}/state"  # Item.device_id allows at most 128 characters
    assert agent.process_device_message(topic, payload_of(case), RECEIVED) is None
    (entry,) = dead_letters(agent)
    assert entry["category"] == "decode"
    assert "device_id" in entry["reason"]


async def test_a_corrupt_outbox_stops_the_agent_before_it_connects(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    (tmp_path / "outbox.db").write_text("garbage that is not a database")
    with pytest.raises(OutboxError, match="outbox"):
        async with EdgeAgent(EdgeSettings(gateway_id="gw", data_dir=tmp_path), catalogue) as agent:
            await asyncio.wait_for(agent.wait_ready(), 5)


def test_readings_within_the_deadband_wait_for_the_heartbeat(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """Report by exception: the environment sensor declares deadbands, so a reading that
    moved less than them is not forwarded — until half a heartbeat has passed."""
    profile = catalogue["airnode_environment_sensor"]
    case = next(e for e in profile.examples if not e.expect.faults and not e.history)
    assert isinstance(case.payload, dict)
    agent = agent_for(tmp_path, catalogue)

    def send(seconds: float, **changes: float) -> bool:
        payload = json.dumps({**case.payload, **changes}).encode()
        at = RECEIVED + timedelta(seconds=seconds)
        return agent.process_device_message(case.topic, payload, at) is not None

    temperature = float(case.payload["t"])
    assert send(0) is True
    assert send(10, t=temperature + 0.1) is False  # within 0.2 degC
    assert send(20, t=temperature + 0.5) is True  # news
    assert send(30, t=temperature + 0.5) is False
    assert send(30 + profile.heartbeat_s / 2, t=temperature + 0.5) is True  # heartbeat
    assert agent.counters["readings_within_deadband"] == 2
    assert agent.counters["dead_letters"] == 0


def test_a_reading_stamped_far_ahead_is_flagged_and_judged_by_its_receipt(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """A gate whose clock said 2100 once: its item keeps the stamp, flagged, and the rules
    judge it by its receipt — so the gate's later readings still count. Here the third
    forced door within ten minutes raises door_forced_repeatedly, which a state frozen at
    2100 would never let happen (every later reading would look out of order)."""
    agent = agent_for(tmp_path, catalogue, max_clock_skew_s=300)
    topic = catalogue["acme_access_gate"].topics[0].topic_for("gate-9")
    start = int(RECEIVED.timestamp())

    def send(stamp: int, err: int, seconds: int) -> Item:
        body = {"ts": stamp, "door": 0, "cycles": 7, "motor_ma": 1200, "err": err}
        at = RECEIVED + timedelta(seconds=seconds)
        item = agent.process_device_message(topic, json.dumps(body).encode(), at)
        assert item is not None
        return item

    wrong = send(4_102_444_800, 0, 0)  # 2100-01-01
    assert wrong.ts_suspect is True
    assert wrong.ts == datetime(2100, 1, 1, tzinfo=UTC)
    assert '"ts_suspect":true' in wrong.model_dump_json()
    faults = [send(start + s, err, s).faults for s, err in ((10, 12), (20, 0), (30, 12), (40, 0))]
    assert faults == [("door_forced",), (), ("door_forced",), ()]
    third = send(start + 50, 12, 50)
    assert third.alarm is True
    state = agent.intake.devices.get(("acme_access_gate", "gate-9"))
    assert state is not None and "door_forced_repeatedly" in state.faults
    assert send(start + 60 + 299, 0, 60).ts_suspect is False  # within the allowed skew
    assert agent.counters["readings_clock_ahead"] == 1


def test_the_fast_item_is_the_validated_item(catalogue: Catalogue) -> None:
    """make_item skips validating again what decoding validated: it makes the very item
    Item.from_decoded makes, and still refuses a device id the protocol does not allow."""
    for profile in catalogue:
        for case in profile.examples:
            decoded = decode(profile, case.topic, payload_of(case), RECEIVED)
            fast = make_item(decoded, RECEIVED, alarm=True, item_id="0" * 32, suspect=True)
            slow = Item.from_decoded(
                decoded, RECEIVED, alarm=True, item_id="0" * 32, ts_suspect=True
            )
            assert fast.model_dump_json() == slow.model_dump_json(), case.name
            assert Item.model_validate_json(fast.model_dump_json()) == slow
    long_id = decoded.model_copy(update={"device_id": "g" * 129})
    with pytest.raises(ItemError, match="device_id"):
        make_item(long_id, RECEIVED, alarm=False)
