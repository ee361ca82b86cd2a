"""/api/v1/tickets: listing, filtering, detail and state transitions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import batch_topic
from tests.cloud.helpers import GATE, at, batch, item


def test_list_is_most_urgent_first_with_total_count(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.get("/api/v1/tickets")

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    listed = response.json()
    assert [t["fault"] for t in listed] == [
        "help_requested",  # urgent
        "motor_jammed",  # high
        "door_forced",  # normal, opened at minute 2
        "lamp_failure",  # normal, opened at minute 1
        "battery_low",  # low
    ]
    jammed = listed[1]
    assert jammed["id"] == seeded["motor_jammed"]
    assert jammed["title"] == "Gate motor jammed"
    assert jammed["facility_name"] == "Pedestrian access gate gate-01"
    assert jammed["device_id"] == "gate-01"
    assert (jammed["priority"], jammed["skill"], jammed["state"]) == (
        "high",
        "access-control",
        "open",
    )
    assert jammed["opened_at"] == "2025-11-27T00:00:00Z"


def test_total_count_is_all_matches_not_the_page(
    client: TestClient, seeded: dict[str, int]
) -> None:
    page = client.get("/api/v1/tickets", params={"limit": 2, "offset": 1})

    assert page.headers["X-Total-Count"] == "5"
    assert [t["fault"] for t in page.json()] == ["motor_jammed", "door_forced"]


def test_filter_by_state_repeatable(client: TestClient, seeded: dict[str, int]) -> None:
    client.post(f"/api/v1/tickets/{seeded['motor_jammed']}/acknowledge")
    client.post(f"/api/v1/tickets/{seeded['lamp_failure']}/resolve")

    def faults(*states: str) -> tuple[set[str], str]:
        response = client.get("/api/v1/tickets", params=[("state", s) for s in states])
        assert response.status_code == 200
        return {t["fault"] for t in response.json()}, response.headers["X-Total-Count"]

    assert faults("acknowledged") == ({"motor_jammed"}, "1")
    assert faults("resolved") == ({"lamp_failure"}, "1")
    assert faults("open", "acknowledged") == (
        {"help_requested", "motor_jammed", "door_forced", "battery_low"},
        "4",
    )


def test_filter_by_facility_and_priority(client: TestClient, seeded: dict[str, int]) -> None:
    jammed = client.get(f"/api/v1/tickets/{seeded['motor_jammed']}").json()

    by_facility = client.get("/api/v1/tickets", params={"facility_id": jammed["facility_id"]})
    assert [t["id"] for t in by_facility.json()] == [jammed["id"]]
    assert by_facility.headers["X-Total-Count"] == "1"

    normal = client.get("/api/v1/tickets", params={"priority": "normal"})
    assert [t["fault"] for t in normal.json()] == ["door_forced", "lamp_failure"]
    several = client.get("/api/v1/tickets", params=[("priority", "urgent"), ("priority", "low")])
    assert [t["fault"] for t in several.json()] == ["help_requested", "battery_low"]
    none = client.get(
        "/api/v1/tickets", params={"priority": "low", "facility_id": jammed["facility_id"]}
    )
    assert (none.json(), none.headers["X-Total-Count"]) == ([], "0")


def test_bad_filter_value_is_422_with_a_reason(client: TestClient, seeded: dict[str, int]) -> None:
    for params in ({"state": "closed"}, {"priority": "asap"}, {"facility_id": "gate"}):
        response = client.get("/api/v1/tickets", params=params)
        assert response.status_code == 422, params
        [error] = response.json()["errors"]
        assert error["loc"][:2] == ["query", next(iter(params))]
        assert error["msg"] and error["msg"] in response.json()["detail"]
    state_error = client.get("/api/v1/tickets", params={"state": "closed"}).json()["errors"][0]
    assert "open" in state_error["msg"] and "resolved" in state_error["msg"]
    assert client.get("/api/v1/tickets", params={"limit": 0}).status_code == 422


def test_acknowledge_then_resolve_records_events(
    client: TestClient, seeded: dict[str, int]
) -> None:
    ticket_id = seeded["motor_jammed"]

    acked = client.post(f"/api/v1/tickets/{ticket_id}/acknowledge", json={"note": "on my way"})
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_at"] is not None

    resolved = client.post(f"/api/v1/tickets/{ticket_id}/resolve", json={"note": "new motor"})
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"

    detail = client.get(f"/api/v1/tickets/{ticket_id}").json()
    assert detail["state"] == "resolved"
    assert detail["resolved_at"] is not None
    assert [(e["kind"], e["note"]) for e in detail["events"]] == [
        ("opened", ""),
        ("acknowledged", "on my way"),
        ("resolved", "new motor"),
    ]
    assert detail["events"][0]["item_id"]


def test_resolve_straight_from_open_without_body(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.post(f"/api/v1/tickets/{seeded['help_requested']}/resolve")

    assert response.status_code == 200
    assert response.json()["state"] == "resolved"
    assert [e["kind"] for e in response.json()["events"]] == ["opened", "resolved"]


def test_acknowledge_resolved_ticket_is_409_with_reason(
    client: TestClient, seeded: dict[str, int]
) -> None:
    ticket_id = seeded["lamp_failure"]
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve").status_code == 200

    for action in ("acknowledge", "resolve"):
        response = client.post(f"/api/v1/tickets/{ticket_id}/{action}")
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert f"cannot {action}" in detail
        assert "resolved" in detail
    acknowledged = client.post(f"/api/v1/tickets/{seeded['door_forced']}/acknowledge")
    assert acknowledged.status_code == 200
    again = client.post(f"/api/v1/tickets/{seeded['door_forced']}/acknowledge")
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]
    events = client.get(f"/api/v1/tickets/{ticket_id}").json()["events"]
    assert [e["kind"] for e in events] == ["opened", "resolved"], "a refusal records nothing"


def test_unknown_ticket_is_404(client: TestClient, seeded: dict[str, int]) -> None:
    for response in (
        client.get("/api/v1/tickets/9999"),
        client.post("/api/v1/tickets/9999/acknowledge"),
        client.post("/api/v1/tickets/9999/resolve"),
    ):
        assert response.status_code == 404
        assert "9999" in response.json()["detail"]


def test_invalid_action_or_body_is_422(client: TestClient, seeded: dict[str, int]) -> None:
    ticket_id = seeded["motor_jammed"]

    assert client.post(f"/api/v1/tickets/{ticket_id}/close").status_code == 422
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve", json={"nope": 1}).status_code == 422
    too_long = {"note": "x" * 2001}
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve", json=too_long).status_code == 422
    assert client.get(f"/api/v1/tickets/{ticket_id}").json()["state"] == "open"


def test_a_fault_after_a_resolve_through_the_api_opens_a_new_ticket(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    """The e2e story with ingest's device state warm in memory between the steps: a ticket
    opened, the fault cleared and came back (a repeat), the ticket resolved through the
    API, the fault again — a new ticket, whether or not the device reported the fault
    cleared in between."""
    seq = iter(range(1, 100))

    def send(example: str, minute: float) -> None:
        reading = item(catalogue, GATE, example, ts=at(minute), device_id="gate-01")
        outcome = services.intake.process(
            batch_topic("gw-1"), batch("gw-1", next(seq), [reading]).model_dump_json().encode()
        )
        assert outcome.result == "stored"

    def unresolved() -> list[dict[str, Any]]:
        listed = client.get("/api/v1/tickets", params={"state": ["open", "acknowledged"]})
        return [t for t in listed.json() if t["fault"] == "motor_jammed"]

    send("motor_jammed", 0)
    send("normal", 1)
    send("motor_jammed", 2)
    [first] = unresolved()
    assert first["occurrences"] == 2
    assert client.post(f"/api/v1/tickets/{first['id']}/resolve").status_code == 200
    assert unresolved() == []

    send("motor_jammed", 3)  # still jammed: no onset, yet no unresolved ticket

    [second] = unresolved()
    assert second["id"] != first["id"]
    assert client.post(f"/api/v1/tickets/{second['id']}/resolve").status_code == 200
    send("normal", 4)
    send("motor_jammed", 5)  # a fresh onset

    [third] = unresolved()
    assert third["id"] not in (first["id"], second["id"])
    assert third["occurrences"] == 1
