"""/api/v1/facilities: worst health first, with open ticket counts."""

from __future__ import annotations

from fastapi.testclient import TestClient

WORST_FIRST = [
    ("gate-01", "faulty", 1),
    ("sos-02", "faulty", 1),
    ("light-07", "faulty", 1),
    ("gate-02", "degraded", 1),
    ("sos-04", "degraded", 1),
    ("gate-9", "ok", 0),
    ("light-01", "ok", 0),
]


def test_list_is_worst_health_first_with_open_tickets(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.get("/api/v1/facilities")

    assert response.status_code == 200
    listed = response.json()
    assert [(f["code"], f["health"], f["open_tickets"]) for f in listed] == WORST_FIRST
    gate = listed[0]
    assert gate["name"] == "Pedestrian access gate gate-01"
    assert gate["category"] == "access"
    assert gate["gateway_id"] == "gw-1"
    assert gate["devices"] == ["gate-01"]
    assert gate["health_since"] == "2025-11-27T00:00:00Z"


def test_open_tickets_count_only_unresolved(client: TestClient, seeded: dict[str, int]) -> None:
    client.post(f"/api/v1/tickets/{seeded['motor_jammed']}/acknowledge")
    client.post(f"/api/v1/tickets/{seeded['help_requested']}/resolve")

    counts = {f["code"]: f["open_tickets"] for f in client.get("/api/v1/facilities").json()}

    assert counts["gate-01"] == 1, "acknowledged is still open work"
    assert counts["sos-02"] == 0


def test_filter_by_health_and_gateway(client: TestClient, seeded: dict[str, int]) -> None:
    def codes(params: object) -> list[str]:
        response = client.get("/api/v1/facilities", params=params)
        assert response.status_code == 200
        return [f["code"] for f in response.json()]

    assert codes({"health": "degraded"}) == ["gate-02", "sos-04"]
    assert codes([("health", "ok"), ("health", "degraded")]) == [
        "gate-02",
        "sos-04",
        "gate-9",
        "light-01",
    ]
    assert codes({"gateway_id": "gw-2"}) == ["gate-9"]
    assert codes({"health": "faulty", "gateway_id": "gw-2"}) == []


def test_bad_health_filter_is_422(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get("/api/v1/facilities", params={"health": "broken"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][:2] == ["query", "health"]
    assert "faulty" in error["msg"]


def test_get_facility_and_404(client: TestClient, seeded: dict[str, int]) -> None:
    listed = client.get("/api/v1/facilities").json()

    one = client.get(f"/api/v1/facilities/{listed[0]['id']}")
    assert one.status_code == 200
    assert one.json() == listed[0]

    missing = client.get("/api/v1/facilities/9999")
    assert missing.status_code == 404
    assert "9999" in missing.json()["detail"]


def test_empty_database_lists_nothing(client: TestClient) -> None:
    assert client.get("/api/v1/facilities").json() == []
