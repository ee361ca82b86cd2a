"""Every kind of fault the simulator can inject, end to end: each reaches the cloud as the
right health state (or, for the gateway's own faults, as the gateway's state), as the real
``linli`` processes run it, seen through the cloud's REST API.

One system serves every test here; each test uses its own devices and waits for its own
starting state. The gateway's faults touch every device, so their tests come last.

Silence is judged on real time (heartbeat_s times the silence rule's heartbeats), so the kinds
that silence devices use two site profiles with a 3 s heartbeat (offline after 6 s); the
catalogue's gates and lights (offline only after minutes) serve the faults payloads show.
Durations given to ``linli sim fault`` are simulated time: at --speed 60, 12m is 12 s.

The last test pins down an ordering the edge must keep: an alarm never overtakes its own
device's earlier reading (stamped the same second, it would clear the fault).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plumbing.mqtt import Client
from tests.conftest import require_mosquitto
from tests.e2e.harness import System, eventually, system_with_profiles

pytestmark = pytest.mark.e2e

GATEWAY = "kinds-gw"

QUICK_LIGHT = """\
# A street light on a zoned topic that reports every few seconds: silent → offline in 6 s.
schema: linli.profile/v1
id: e2e_quick_light
type: street_light
name: Quick street light
category: lighting
vendor: E2E
version: 0.1.0
heartbeat_s: 3
topics:
  - pattern: quick/{zone}/lamp/{device_id}/report
decode:
  timestamp: {path: ts, optional: true}
  metrics:
    on: {source: {path: relay, type: bool, map: {"ON": true, "OFF": false}}}
    current: {source: {path: current_mA, scale: 0.001}, unit: A, range: [0, 10]}
    voltage: {source: {path: voltage}, unit: V, range: [0, 400]}
  faults:
    - path: alarms
      codes: {LAMP_FAIL: lamp_failure}
faults:
  lamp_failure: {title: Quick lamp failure, severity: major}
  offline: {title: Quick light not reporting, severity: major}
rules:
  - fault: offline
    silence: {heartbeats: 2}
ticket: {skill: electrical, sla: standard}
examples:
  - name: normal_on
    topic: quick/zone-a/lamp/qlight-01/report
    payload: {ts: 1764201600, relay: "ON", current_mA: 420, voltage: 229.5, alarms: []}
    expect: {device_id: qlight-01, metrics: {on: true, current: 0.42, voltage: 229.5}, health: ok}
  - name: normal_off
    topic: quick/zone-a/lamp/qlight-01/report
    payload: {ts: 1764230400, relay: "OFF", current_mA: 0, voltage: 231, alarms: []}
    expect: {device_id: qlight-01, metrics: {on: false, current: 0.0, voltage: 231.0}, health: ok}
  - name: lamp_failure
    topic: quick/zone-b/lamp/qlight-02/report
    payload: {ts: 1764201600, relay: "ON", current_mA: 380, voltage: 229, alarms: [LAMP_FAIL]}
    expect:
      device_id: qlight-02
      metrics: {on: true, current: 0.38, voltage: 229.0}
      faults: [lamp_failure]
      health: faulty
  - name: offline
    topic: quick/zone-a/lamp/qlight-03/report
    payload: {ts: 1764201600, relay: "ON", current_mA: 430, voltage: 230, alarms: []}
    silent_for_s: 6
    expect:
      device_id: qlight-03
      metrics: {on: true, current: 0.43, voltage: 230.0}
      faults: [offline]
      health: faulty
"""

QUICK_SENSOR = """\
# A sensor that reports every few seconds: silent → offline in 6 s.
schema: linli.profile/v1
id: e2e_quick_sensor
type: quick_sensor
name: Quick sensor
category: monitoring
vendor: E2E
version: 0.1.0
heartbeat_s: 3
topics:
  - pattern: quick/sensor/{device_id}
decode:
  metrics:
    level: {source: {path: level, type: int}, range: [0, 100]}
  faults:
    - {path: stuck, flag: sensor_stuck}
faults:
  sensor_stuck: {title: Quick sensor stuck, severity: major}
  offline: {title: Quick sensor not reporting, severity: major}
rules:
  - fault: offline
    silence: {heartbeats: 2}
ticket: {skill: general-repair, sla: standard}
examples:
  - name: normal
    topic: quick/sensor/qsensor-01
    payload: {level: 40, stuck: false}
    expect: {device_id: qsensor-01, metrics: {level: 40}, health: ok}
  - name: sensor_stuck
    topic: quick/sensor/qsensor-01
    payload: {level: 40, stuck: true}
    expect: {device_id: qsensor-01, metrics: {level: 40}, faults: [sensor_stuck], health: faulty}
  - name: offline
    topic: quick/sensor/qsensor-01
    payload: {level: 40, stuck: false}
    silent_for_s: 6
    expect: {device_id: qsensor-01, metrics: {level: 40}, faults: [offline], health: faulty}
"""

SIM_ARGS = [
    "--seed", "11", "--gates", "4", "--lights", "2", "--buttons", "0",
    "--count", "e2e_quick_light=6", "--count", "e2e_quick_sensor=2",
]  # fmt: skip
GATES = ["gate-01", "gate-02", "gate-03", "gate-04"]  # acme_access_gate; gate-01, -02 in zone-a
LIGHTS = ["light-a-01", "light-b-01"]  # brightway_street_light
ZONE_A_QUICK_LIGHTS = ["qlight-a-01", "qlight-a-02", "qlight-a-03"]
ZONE_B_QUICK_LIGHTS = ["qlight-b-01", "qlight-b-02", "qlight-b-03"]
QUICK_SENSORS = ["qsensor-01", "qsensor-02"]  # qsensor-01 in zone-a, category monitoring
QUICK = [*ZONE_A_QUICK_LIGHTS, *ZONE_B_QUICK_LIGHTS, *QUICK_SENSORS]
"""Devices judged offline within seconds of falling silent."""
ALL_DEVICES = [*GATES, *LIGHTS, *QUICK]
HEARD_OFTEN = [*GATES, *QUICK]
"""Devices that report every second (the catalogue's lights every 5 s)."""

SETTINGS = {
    "LINLI_CLOUD_SILENCE_CHECK_S": "1",  # look for silent devices every second (default 5)
    "LINLI_EDGE_STATUS_INTERVAL_S": "1",  # gateway status with counters every second (30)
    "LINLI_EDGE_RECONNECT_MAX_S": "1",  # back on the uplink within a second of its return
}
SILENCE = "12m"
"""How long silences last: 12 s, twice a quick device's 6 s expiry."""
GATEWAY_OUTAGE = "10m"
"""How long the gateway's faults last: 10 s; the edge agent may take up to its connect
timeout (10 s) longer to be back, as attempts made while the uplink was cut hang."""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    require_mosquitto()
    workdir = tmp_path_factory.mktemp("fault-kinds")
    profiles = {"e2e_quick_light.yaml": QUICK_LIGHT, "e2e_quick_sensor.yaml": QUICK_SENSOR}
    with system_with_profiles(
        workdir,
        profiles,
        gateway_id=GATEWAY,
        sim_args=SIM_ARGS,
        env=SETTINGS,
        new_devices="own-facility",  # gate-99, ours alone, is a facility of its own
    ) as system:
        eventually(
            system,
            lambda: set(_devices(system.api)) >= set(ALL_DEVICES),
            "every simulated device reporting",
        )
        yield system


# ------------------------------------------------------------------------------ API helpers


def _devices(api: httpx.Client) -> dict[str, dict[str, Any]]:
    response = api.get("/api/v1/devices")
    response.raise_for_status()
    return {d["device_id"]: d for d in response.json()}


def _device(api: httpx.Client, device_id: str) -> dict[str, Any]:
    return _devices(api)[device_id]


LIVE = ["open", "assigned", "acknowledged", "in_progress", "on_hold", "resolved", "verifying"]
"""The states of a ticket not yet closed or cancelled."""
DISPATCH = ("assigned", "sla_warning", "sla_breached", "escalated", "reminded")
"""Events the repair rounds add beside those of the data (their own tests are elsewhere)."""


def _tickets(
    api: httpx.Client,
    device_id: str | None = None,
    fault: str | None = None,
    *,
    unresolved: bool = True,
) -> list[dict[str, Any]]:
    params = {"state": LIVE} if unresolved else {}
    response = api.get("/api/v1/tickets", params={**params, "limit": 1000})
    response.raise_for_status()
    return [
        t
        for t in response.json()
        if (device_id is None or t["device_id"] == device_id)
        and (fault is None or t["fault"] == fault)
    ]


def _ticket(api: httpx.Client, ticket_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/tickets/{ticket_id}")
    response.raise_for_status()
    return response.json()


def _gateway(api: httpx.Client) -> dict[str, Any] | None:
    found = [g for g in api.get("/api/v1/gateways").json() if g["id"] == GATEWAY]
    return found[0] if found else None


def _at(text: str) -> datetime:
    """An API timestamp as an aware datetime (SQLite hands back naive UTC ones)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _healthy(api: httpx.Client, device_ids: list[str]) -> bool:
    devices = _devices(api)
    return all(devices[d]["health"] == "ok" and not devices[d]["faults"] for d in device_ids)


def _offline_record(api: httpx.Client) -> list[tuple[int, str, int]]:
    """Every offline ticket ever opened, with its occurrences: a device judged offline again
    either opens one or adds an occurrence to its unresolved one."""
    return sorted(
        (t["id"], t["device_id"], t["occurrences"])
        for t in _tickets(api, fault="offline", unresolved=False)
    )


def _reported_since(api: httpx.Client, device_ids: list[str], since: datetime) -> bool:
    """Whether the cloud has ingested a reading of each device after ``since``."""
    devices = _devices(api)
    return all(
        devices[d]["last_seen_at"] and _at(devices[d]["last_seen_at"]) > since for d in device_ids
    )


def _gateway_ready(system: System) -> dict[str, Any]:
    return eventually(
        system,
        lambda: (g := _gateway(system.api)) is not None and g["online"] and g,
        "the gateway online in the cloud",
    )


# ------------------------------------------------------------------------------ profile faults


@pytest.mark.parametrize(
    ("device_id", "fault", "health"),
    [
        ("gate-01", "motor_jammed", "faulty"),  # the controller's error code; critical
        ("light-a-01", "overvoltage", "degraded"),  # the lamp's alarm list; minor
        ("gate-03", "motor_overcurrent", "faulty"),  # raised by a threshold rule on the current
    ],
)
def test_a_profile_fault_is_the_device_health_for_its_duration(
    system: System, device_id: str, fault: str, health: str
) -> None:
    api = system.api
    eventually(system, lambda: _healthy(api, [device_id]), f"{device_id} healthy")
    assert not _tickets(api, device_id, unresolved=False)

    ends = _now() + timedelta(seconds=6)
    system.sim("fault", device_id, fault, "--for", "6m")
    faulty = eventually(
        system,
        lambda: (d := _device(api, device_id))["faults"] == [fault] and d,
        f"{device_id} showing {fault}",
    )
    assert faulty["health"] == health
    [ticket] = eventually(system, lambda: _tickets(api, device_id, fault), f"a {fault} ticket")
    assert ticket["state"] in ("open", "assigned")  # the repair rounds dispatch it

    # six simulated minutes later the device works again; the ticket notes it and stays open
    eventually(
        system,
        lambda: _healthy(api, [device_id]) and _at(_device(api, device_id)["last_ts"]) > ends,
        f"{device_id} healthy after {fault}",
    )
    cleared = _ticket(api, ticket["id"])
    assert cleared["fault_cleared_at"] is not None
    assert cleared["state"] in ("open", "assigned")
    kinds = [e["kind"] for e in cleared["events"] if e["kind"] not in DISPATCH]
    assert kinds == ["opened", "fault_cleared"]
    assert cleared["occurrences"] == 1
    assert len(_tickets(api, device_id, unresolved=False)) == 1


# ------------------------------------------------------------------------------ silent


def test_a_silent_device_goes_offline_and_comes_back(system: System) -> None:
    api = system.api
    eventually(system, lambda: _healthy(api, QUICK_SENSORS), "quick sensors healthy")
    assert not _tickets(api, "qsensor-01", "offline", unresolved=False)

    system.sim("fault", "qsensor-01", "silent", "--for", SILENCE)
    offline = eventually(
        system,
        lambda: (d := _device(api, "qsensor-01"))["faults"] == ["offline"] and d,
        "qsensor-01 judged offline",
    )
    assert offline["health"] == "faulty"
    [ticket] = _tickets(api, "qsensor-01", "offline")
    assert ticket["title"] == "Quick sensor not reporting"
    assert _healthy(api, ["qsensor-02"]), "the other sensor of the profile is not silent"

    eventually(system, lambda: _healthy(api, ["qsensor-01"]), "qsensor-01 reporting again")
    assert _ticket(api, ticket["id"])["fault_cleared_at"] is not None
    assert len(_tickets(api, "qsensor-01", unresolved=False)) == 1


# ------------------------------------------------------------------------------ flapping


def test_flapping_keeps_one_ticket_and_raises_the_rate_fault(system: System) -> None:
    api = system.api
    eventually(system, lambda: _healthy(api, ["gate-02"]), "gate-02 healthy")
    assert not _tickets(api, "gate-02", unresolved=False)

    # door_forced for 2 simulated minutes, then 2 normal, ...: onsets at 0, 4, 8 and 12 s
    started = _now()
    system.sim(
        "fault", "gate-02", "flapping", "--flap", "door_forced", "--period", "2m", "--for", "13m"
    )
    [forced] = eventually(
        system,
        lambda: [t for t in _tickets(api, "gate-02", "door_forced") if t["occurrences"] >= 3],
        "door_forced come and gone three times on one ticket",
    )
    # acme_access_gate: door_forced 3 times within 600 s raises door_forced_repeatedly
    [repeatedly] = _tickets(api, "gate-02", "door_forced_repeatedly")
    assert repeatedly["priority"] == "high"
    assert "door_forced_repeatedly" in _device(api, "gate-02")["faults"]

    # flapping over (a reading after its 13 s): door_forced cleared, and the rate fault
    # holds while its 600 s window does
    over = started + timedelta(seconds=14)
    settled = eventually(
        system,
        lambda: (
            (d := _device(api, "gate-02"))["last_ts"]
            and _at(d["last_ts"]) > over
            and d["faults"] == ["door_forced_repeatedly"]
            and d
        ),
        "gate-02 done flapping",
    )
    assert settled["health"] == "faulty"
    tickets = _tickets(api, "gate-02", unresolved=False)
    assert sorted(t["fault"] for t in tickets) == ["door_forced", "door_forced_repeatedly"]
    assert _ticket(api, repeatedly["id"])["occurrences"] == 1
    detail = _ticket(api, forced["id"])
    assert detail["state"] in ("open", "assigned")
    assert detail["fault_cleared_at"] is not None
    assert detail["occurrences"] >= 4
    kinds = [e["kind"] for e in detail["events"] if e["kind"] not in DISPATCH]
    assert kinds[0] == "opened"
    assert kinds.count("repeated") == detail["occurrences"] - 1
    assert kinds.count("fault_cleared") == detail["occurrences"]


# ------------------------------------------------------------------------------ power loss


def test_power_loss_in_a_zone_takes_its_lights_offline_only(system: System) -> None:
    api = system.api
    quick_lights = [*ZONE_A_QUICK_LIGHTS, *ZONE_B_QUICK_LIGHTS]
    eventually(system, lambda: _healthy(api, quick_lights), "quick lights healthy")
    offline_before = _offline_record(api)

    cut = _now()
    system.sim("fault", "zone:zone-a", "power_loss", "--category", "lighting", "--for", SILENCE)

    def zone_a_lights_offline() -> dict[str, dict[str, Any]] | None:
        devices = _devices(api)
        wrongly = [d for d in ZONE_B_QUICK_LIGHTS if "offline" in devices[d]["faults"]]
        assert not wrongly, f"lights of zone-b judged offline: {wrongly}"
        offline = all(devices[d]["faults"] == ["offline"] for d in ZONE_A_QUICK_LIGHTS)
        return devices if offline else None

    devices = eventually(system, zone_a_lights_offline, "every quick light of zone-a offline")
    assert all(devices[d]["health"] == "faulty" for d in ZONE_A_QUICK_LIGHTS)
    # the catalogue's zone-a light lost power too (its offline comes only after 15 minutes)
    assert _at(devices["light-a-01"]["last_ts"]).timestamp() < cut.timestamp() + 1
    # zone-b's lights and zone-a's other devices (gates, the sensor) went on reporting
    assert _reported_since(api, [*ZONE_B_QUICK_LIGHTS, "gate-01", "gate-02", "qsensor-01"], cut)
    assert _healthy(api, [*ZONE_B_QUICK_LIGHTS, "qsensor-01"])
    # the simulated site groups lights failing together (its rule lights-out: 3 within 5
    # minutes): one zone ticket lists them, and none of them has a live ticket of its own
    [zone] = eventually(
        system,
        lambda: [t for t in _tickets(api) if t["scope"] == "zone"],
        "one zone ticket for zone-a's lights",
    )
    listed = {f["facility_id"] for f in _ticket(api, zone["id"])["facilities"]}
    assert {devices[d]["facility_id"] for d in ZONE_A_QUICK_LIGHTS} <= listed
    assert not [t for t in _tickets(api, fault="offline") if t["fault_cleared_at"] is None]

    eventually(system, lambda: _healthy(api, quick_lights), "zone-a's power back")
    new_offline = set(_offline_record(api)) - set(offline_before)
    folded = [_ticket(api, ticket_id) for ticket_id, _, _ in new_offline]
    assert {(t["state"], t["linked_id"]) for t in folded} <= {("cancelled", zone["id"])}
    assert eventually(
        system,
        lambda: _ticket(api, zone["id"])["fault_cleared_at"],
        "the zone ticket noting its lights back",
    )


# ------------------------------------------------------------------------------ garbage


def test_garbage_is_dead_lettered_and_counted_health_unchanged(system: System) -> None:
    api = system.api
    eventually(system, lambda: _healthy(api, ["gate-04"]), "gate-04 healthy")
    before = _gateway_ready(system)["counters"]
    deadletter = system.edge_dir / "deadletter.jsonl"

    def records() -> list[dict[str, Any]]:
        if not deadletter.exists():
            return []
        lines = deadletter.read_text().splitlines()
        return [r for r in map(json.loads, lines) if "gate-04" in r["topic"]]

    assert not records()
    sent = _now()
    system.sim("fault", "gate-04", "garbage", "--count", "5")

    found = eventually(system, lambda: len(records()) == 5 and records(), "5 dead letters")
    assert {r["category"] for r in found} == {"decode"}
    assert all(r["reason"] for r in found)
    counters = eventually(
        system,
        lambda: (
            (c := _gateway(api)["counters"])["dead_letters"] >= before["dead_letters"] + 5 and c
        ),
        "the dead letters counted in the gateway's status",
    )
    assert counters["dead_letters"] == before["dead_letters"] + 5
    assert counters["dead_letters_decode"] == before.get("dead_letters_decode", 0) + 5

    # the device's good readings keep coming, and its health is untouched
    eventually(system, lambda: _reported_since(api, ["gate-04"], sent), "gate-04 reporting on")
    gate = _device(api, "gate-04")
    assert gate["health"] == "ok" and gate["faults"] == []
    assert not _tickets(api, "gate-04", unresolved=False)
    assert api.get("/api/v1/dead-letters").json() == [], "garbage never reaches the cloud"


# ------------------------------------------------------------------------------ the gateway


def _offline_judgements(api: httpx.Client) -> set[tuple[str, str, datetime]]:
    """(device, opened or repeated, when) for every time a device was judged offline."""
    return {
        (ticket["device_id"], event["kind"], _at(event["at"]))
        for ticket in _tickets(api, fault="offline", unresolved=False)
        for event in _ticket(api, ticket["id"])["events"]
        if event["kind"] in ("opened", "repeated")
    }


def _no_device_judged_offline(
    api: httpx.Client, before: set[tuple[str, str, datetime]], up_at: datetime
) -> None:
    """No device judged offline since ``before`` was taken: not while the gateway was
    offline, and not as it came back (its online status arrives ahead of its backlog; the
    cloud counts silence from when the gateway came back)."""
    judged = sorted(_offline_judgements(api) - before)
    assert not judged, f"judged offline (gateway back at {up_at}): {judged}"


def _until_gateway_back(system: System) -> dict[str, Any]:
    """Wait for the gateway to be online again; meanwhile no device may be judged offline."""

    def back() -> dict[str, Any] | None:
        devices = _devices(system.api)
        gateway = _gateway(system.api)
        if gateway and gateway["online"]:
            return gateway
        # still offline after the devices were read: they were read behind an offline gateway
        offline = [d for d, device in devices.items() if "offline" in device["faults"]]
        assert not offline, f"judged offline behind an offline gateway: {offline}"
        return None

    return eventually(system, back, "the gateway back online")


def test_uplink_loss_marks_the_gateway_offline_and_delivers_the_backlog(system: System) -> None:
    api = system.api
    _gateway_ready(system)
    eventually(system, lambda: _healthy(api, [*QUICK, "gate-04"]), "devices healthy")
    offline_before = _offline_judgements(api)
    assert not _tickets(api, "gate-04", "card_reader_fault", unresolved=False)

    system.sim("fault", "gateway", "uplink_loss", "--for", GATEWAY_OUTAGE)
    down = eventually(
        system, lambda: (g := _gateway(api)) and not g["online"] and g, "the gateway offline"
    )
    down_at = _at(down["status_at"])
    # a fault that begins and ends while the cloud cannot hear the gateway
    system.sim("fault", "gate-04", "card_reader_fault", "--for", "3m")

    up = _until_gateway_back(system)
    up_at = _at(up["status_at"])
    assert (up_at - down_at).total_seconds() > 7, "long enough to judge quick devices silent"

    # the edge kept what it could not send: the fault arrives, at its own event times
    [ticket] = eventually(
        system,
        lambda: [t for t in _tickets(api, "gate-04", "card_reader_fault") if t["fault_cleared_at"]],
        "the fault during the outage, delivered",
    )
    # (payload times are whole seconds, rounded: the fault came after down_at, give or take)
    assert down_at - timedelta(seconds=1) < _at(ticket["opened_at"])
    assert _at(ticket["opened_at"]) < _at(ticket["fault_cleared_at"]) < up_at
    eventually(system, lambda: _reported_since(api, HEARD_OFTEN, up_at), "devices heard again")
    assert _healthy(api, QUICK)
    assert _gateway(api)["counters"]["batches_rejected"] == 0
    _no_device_judged_offline(api, offline_before, up_at)


def test_gateway_power_loss_is_the_gateways_fault_not_its_devices(system: System) -> None:
    api = system.api
    _gateway_ready(system)
    eventually(system, lambda: _healthy(api, [*QUICK, "gate-01"]), "devices healthy")
    offline_before = _offline_judgements(api)
    assert not _tickets(api, "gate-01", "card_reader_fault", unresolved=False)

    system.sim("fault", "gateway", "gateway_power_loss", "--for", GATEWAY_OUTAGE)
    down = eventually(
        system, lambda: (g := _gateway(api)) and not g["online"] and g, "the gateway offline"
    )
    # a fault while the gateway is dark: nobody hears it
    system.sim("fault", "gate-01", "card_reader_fault", "--for", "3m")

    up = _until_gateway_back(system)
    up_at = _at(up["status_at"])
    assert (up_at - _at(down["status_at"])).total_seconds() > 7

    eventually(system, lambda: _reported_since(api, HEARD_OFTEN, up_at), "devices heard again")
    assert _healthy(api, QUICK)
    assert not _tickets(api, "gate-01", "card_reader_fault", unresolved=False)
    _no_device_judged_offline(api, offline_before, up_at)


# ------------------------------------------------------------------------------ ordering


async def _publish(port: int, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish as a device would, in order, on one connection (QoS 1)."""
    async with Client("127.0.0.1", port, client_id="e2e-device") as client:
        for topic, payload in messages:
            await client.publish(topic, json.dumps(payload).encode(), qos=1)


def test_a_fault_overtaking_a_reading_of_the_same_second_is_not_cleared_by_it(
    system: System,
) -> None:
    """The edge sends an alarm at once, ahead of telemetry lingering for its batch (0.5 s),
    but with its own device's earlier readings; the cloud orders readings by event time,
    and acme gates stamp whole seconds. A normal reading, then the fault, within one
    second: the fault must stand."""
    api = system.api
    topic = "acme/gate/gate-99/state"  # not a simulated device: its readings are ours alone
    second = int(time.time())
    normal = {"ts": second, "door": 0, "cycles": 100, "motor_ma": 1200, "err": 0}
    jammed = {"ts": second, "door": 1, "cycles": 100, "motor_ma": 0, "err": 11}
    asyncio.run(_publish(system.gateway_port, [(topic, normal), (topic, jammed)]))
    published = _now()
    [ticket] = eventually(system, lambda: _tickets(api, "gate-99", "motor_jammed"), "a ticket")
    # qsensor-02's readings are stamped when the edge gets them and queue behind the normal
    # reading: once the cloud has a later one, it has the normal reading too
    eventually(
        system,
        lambda: _at(_device(api, "qsensor-02")["last_ts"]) > published,
        "the normal reading ingested",
    )
    gate = _device(api, "gate-99")
    detail = _ticket(api, ticket["id"])
    assert [e["kind"] for e in detail["events"] if e["kind"] not in DISPATCH] == ["opened"]
    assert gate["faults"] == ["motor_jammed"]
