"""Every simulated device speaks its profile's dialect: its payloads decode to what it means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.decode import DecodeError, decode
from device_profiles.rules import evaluate
from device_profiles.schema import Health
from simulators.community import Community
from simulators.device import SimulatedDevice, UnknownFault, fault_examples, is_night, render

NIGHT = datetime(2025, 11, 27, 22, 30, tzinfo=UTC).timestamp()
DAY = datetime(2025, 11, 27, 10, 15, tzinfo=UTC).timestamp()


def _every_device(catalogue: Catalogue) -> list[SimulatedDevice]:
    counts = {profile.id: 3 for profile in catalogue}
    return list(Community.generate(catalogue, counts, seed=7))


def test_every_profile_is_simulated(catalogue: Catalogue) -> None:
    devices = _every_device(catalogue)
    assert {d.profile_id for d in devices} == {p.id for p in catalogue}


@pytest.mark.parametrize("now", [NIGHT, DAY], ids=["night", "day"])
def test_normal_payloads_decode_healthy(catalogue: Catalogue, now: float) -> None:
    for device in _every_device(catalogue):
        payload = device.payload(None, now, UTC)
        reading = decode(device.profile, device.topic, payload, datetime.now(UTC))
        verdict = evaluate(device.profile, reading)
        assert reading.device_id == device.device_id
        assert verdict.faults == ()
        assert verdict.health is Health.OK
        if device.profile.decode.timestamp is not None:
            assert reading.ts == datetime.fromtimestamp(round(now), UTC), device.device_id


def test_every_fault_payload_decodes_to_that_fault(catalogue: Catalogue) -> None:
    checked = 0
    for device in _every_device(catalogue):
        assert device.faults, f"{device.profile_id} has no simulable fault"
        for fault in device.faults:
            expected = fault_examples(device.profile)[fault].expect
            # a faulty device keeps reporting its fault; a duration rule needs it held
            held_s = max((r.for_s for r in device.profile.rules if r.fault == fault), default=0)
            state = None
            for now in (NIGHT, NIGHT + held_s) if held_s else (NIGHT,):
                payload = device.payload(fault, now, UTC)
                reading = decode(device.profile, device.topic, payload, datetime.now(UTC))
                verdict = evaluate(device.profile, reading, state)
                state = verdict.state
                assert reading.device_id == device.device_id
                assert reading.ts == datetime.fromtimestamp(round(now), UTC)
            assert verdict.faults == (fault,), (device.device_id, fault)
            assert verdict.health is expected.health
            checked += 1
    assert checked > 0


def test_lights_are_on_at_night_and_off_by_day(catalogue: Catalogue) -> None:
    light = next(d for d in _every_device(catalogue) if d.profile_id == "brightway_street_light")
    assert is_night(NIGHT, UTC)
    assert not is_night(DAY, UTC)
    at_night = decode(
        light.profile, light.topic, light.payload(None, NIGHT, UTC), datetime.now(UTC)
    )
    by_day = decode(light.profile, light.topic, light.payload(None, DAY, UTC), datetime.now(UTC))
    assert at_night.metrics["on"] is True
    assert by_day.metrics["on"] is False


def test_csv_timestamp_column_is_refreshed(catalogue: Catalogue) -> None:
    button = next(d for d in _every_device(catalogue) if d.profile_id == "safecall_alarm_button")
    text = button.payload("help_requested", 1_800_000_000.4, UTC).decode()
    assert text == "1800000000,80,1,0"


def test_timestamp_respects_field_scale(catalogue: Catalogue) -> None:
    gate = catalogue["acme_access_gate"]
    assert gate.decode.timestamp is not None
    in_ms = gate.decode.model_copy(
        update={"timestamp": gate.decode.timestamp.model_copy(update={"scale": 0.001})}
    )
    profile = gate.model_copy(update={"decode": in_ms})
    payload = render(profile, profile.examples[0], 1_800_000_000.25)
    reading = decode(profile, "acme/gate/gate-01/state", payload, datetime.now(UTC))
    assert reading.ts.timestamp() == pytest.approx(1_800_000_000.25, abs=0.001)


def test_the_rest_of_the_example_is_kept(catalogue: Catalogue) -> None:
    gate = next(d for d in _every_device(catalogue) if d.profile_id == "acme_access_gate")
    reading = decode(gate.profile, gate.topic, gate.payload(None, DAY), datetime.now(UTC))
    assert reading.metrics == dict(gate.profile.examples[0].expect.metrics)


def test_garbage_never_decodes(catalogue: Catalogue) -> None:
    for device in _every_device(catalogue):
        with pytest.raises(DecodeError):
            decode(device.profile, device.topic, device.garbage(DAY), datetime.now(UTC))


def test_fault_without_example_is_refused(catalogue: Catalogue) -> None:
    gate = catalogue["acme_access_gate"]
    faults = dict(gate.faults)
    faults["power_loss"] = faults["motor_jammed"].model_copy(update={"title": "No power"})
    profile = gate.model_copy(update={"faults": faults})
    device = next(iter(Community.generate(Catalogue([profile]), {gate.id: 1})))
    assert "power_loss" not in device.faults
    with pytest.raises(UnknownFault, match="no example payload"):
        device.payload("power_loss", DAY)
    with pytest.raises(UnknownFault, match="declares no such fault"):
        device.payload("melted", DAY)


def test_rendering_leaves_the_profile_examples_as_they_were(catalogue: Catalogue) -> None:
    """Only the dicts on the timestamp's path are copied; the examples must not change."""
    for profile in catalogue:
        before = [example.model_dump() for example in profile.examples]
        for example in profile.examples:
            render(profile, example, NIGHT)
        assert [example.model_dump() for example in profile.examples] == before, profile.id
