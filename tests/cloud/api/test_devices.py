"""/api/v1/devices, /api/v1/gateways and /api/v1/dead-letters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloud.services import Services
from device_profiles.protocol import GatewayStatus
from tests.cloud.helpers import EPOCH, at


def test_list_devices_with_latest_state(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get("/api/v1/devices")

    assert response.status_code == 200
    listed = response.json()
    assert [(d["gateway_id"], d["device_id"]) for d in listed] == [
        ("gw-1", "gate-01"),
        ("gw-1", "gate-02"),
        ("gw-1", "light-01"),
        ("gw-1", "light-07"),
        ("gw-1", "sos-02"),
        ("gw-1", "sos-04"),
        ("gw-2", "gate-9"),
    ]
    gate = listed[0]
    assert gate["health"] == "faulty"
    assert gate["faults"] == ["motor_jammed"]
    assert gate["metrics"] == {"door_open": True, "cycles": 48212, "motor_current": 0.0}
    assert gate["profile"] == "acme_access_gate"
    assert gate["last_ts"] == "2025-11-27T00:00:00Z"


def test_filter_devices(client: TestClient, seeded: dict[str, int]) -> None:
    degraded = client.get("/api/v1/devices", params={"health": "degraded"}).json()
    assert [d["device_id"] for d in degraded] == ["gate-02", "sos-04"]

    facility_id = degraded[0]["facility_id"]
    in_facility = client.get("/api/v1/devices", params={"facility_id": facility_id}).json()
    assert [d["device_id"] for d in in_facility] == ["gate-02"]

    assert client.get("/api/v1/devices", params={"health": "bad"}).status_code == 422


def test_get_device_and_404(client: TestClient, seeded: dict[str, int]) -> None:
    first = client.get("/api/v1/devices").json()[0]

    assert client.get(f"/api/v1/devices/{first['id']}").json() == first
    missing = client.get("/api/v1/devices/9999")
    assert missing.status_code == 404
    assert "9999" in missing.json()["detail"]


def test_list_gateways(client: TestClient, services: Services, seeded: dict[str, int]) -> None:
    services.writer.record_status(
        GatewayStatus(gateway_id="gw-2", online=False, ts=at(30), counters={"outbox": 3})
    )

    listed = [g for g in client.get("/api/v1/gateways").json() if g["id"] in ("gw-1", "gw-2")]

    assert [(g["id"], g["online"], g["epoch"], g["last_seq"]) for g in listed] == [
        ("gw-1", True, EPOCH, 1),
        ("gw-2", False, EPOCH, 1),
    ]
    assert listed[1]["status_at"] == "2025-11-27T00:30:00Z"
    assert listed[1]["counters"] == {"outbox": 3}


def test_list_dead_letters_newest_first(client: TestClient, services: Services) -> None:
    services.dead_letters.record("linli/v1/gw/a/up/batch", b"first", "one", "invalid")
    services.dead_letters.record("linli/v1/gw/b/up/batch", b"\xff\x00", "two", "gateway")

    listed = client.get("/api/v1/dead-letters").json()

    assert [
        (d["topic"], d["gateway_id"], d["category"], d["reason"], d["size"]) for d in listed
    ] == [
        ("linli/v1/gw/b/up/batch", "b", "gateway", "two", 2),
        ("linli/v1/gw/a/up/batch", "a", "invalid", "one", 5),
    ]
    assert (listed[0]["payload"], listed[0]["payload_b64"]) == (None, "/wA=")
    assert (listed[1]["payload"], listed[1]["payload_b64"]) == ("first", None)
    assert listed[0]["replayed_at"] is None
    assert len(client.get("/api/v1/dead-letters", params={"limit": 1}).json()) == 1


def test_list_dead_letters_waiting_leaves_out_replayed_ones(
    client: TestClient, services: Services
) -> None:
    first = services.dead_letters.record("linli/v1/gw/a/up/batch", b"1", "one", "invalid")
    services.dead_letters.record("linli/v1/gw/a/up/batch", b"2", "two", "invalid")
    services.dead_letters.note_replay(first, "stored: 1 readings, 0 stored before", replayed=True)

    waiting = client.get("/api/v1/dead-letters", params={"waiting": True}).json()
    every = client.get("/api/v1/dead-letters").json()

    assert [d["reason"] for d in waiting] == ["two"]
    assert [d["reason"] for d in every] == ["two", "one"]
    assert every[1]["replayed_at"] is not None
    assert every[1]["replay_result"].startswith("stored")
