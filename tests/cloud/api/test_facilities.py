"""/api/v1/facilities: worst health first, with open ticket counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Zone
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, two_communities

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


def test_open_tickets_count_those_not_closed(client: TestClient, seeded: dict[str, int]) -> None:
    client.post(f"/api/v1/tickets/{seeded['motor_jammed']}/acknowledge")
    resolved = client.post(f"/api/v1/tickets/{seeded['help_requested']}/resolve")
    assert resolved.json()["state"] == "verifying"

    def counts() -> dict[str, int]:
        found = client.get("/api/v1/facilities").json()
        return {f["code"]: f["open_tickets"] for f in found}

    assert counts()["gate-01"] == 1, "acknowledged is still open work"
    assert counts()["sos-02"] == 1, "a repair being verified is not done yet"
    client.post(f"/api/v1/tickets/{seeded['help_requested']}/confirm", json={"note": "seen"})
    assert counts()["sos-02"] == 0


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
    problem = response.json()
    assert problem["detail"].startswith("query.health[0]: ") and "faulty" in problem["detail"]
    [error] = problem["errors"]
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


def test_a_facility_is_created_changed_and_archived(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        zones = {z["slug"]: z["id"] for z in zhang.get("/api/v1/zones").json()}
        lift = {"code": "lift-1", "name": "Lift 1", "category": "lift", "zone_id": zones["b1"]}
        made = zhang.post("/api/v1/facilities", json=lift)
        assert made.status_code == 201, made.text
        facility = made.json()
        assert {k: facility[k] for k in lift} == lift
        assert (facility["community_id"], facility["gateway_id"], facility["health"]) == (
            ids["oak"],
            None,
            "ok",
        )
        assert (facility["devices"], facility["archived_at"]) == ([], None)
        assert zhang.get(f"/api/v1/facilities/{facility['id']}").json() == facility

        assert zhang.post("/api/v1/facilities", json=lift).status_code == 409
        side_gate = zhang.post("/api/v1/facilities", json={**lift, "code": "side-gate"})
        assert side_gate.status_code == 409 and "'side-gate'" in side_gate.json()["detail"]
        with services.sessions() as session:
            elm_zone = session.scalar(select(Zone.id).where(Zone.community_id == ids["elm"]))
        foreign = zhang.post("/api/v1/facilities", json={**lift, "code": "x", "zone_id": elm_zone})
        assert foreign.status_code == 409 and f"zone {elm_zone}" in foreign.json()["detail"]

        changed = zhang.patch(
            f"/api/v1/facilities/{facility['id']}", json={"name": "Lift A", "zone_id": None}
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["name"], changed.json()["zone_id"]) == ("Lift A", None)
        assert changed.json()["category"] == "lift"

        lifts = zhang.get("/api/v1/facilities", params={"category": "lift"})
        assert [f["code"] for f in lifts.json()] == ["lift-1"]
        assert lifts.headers["X-Total-Count"] == "1"
        in_north = zhang.get("/api/v1/facilities", params={"zone_id": zones["north"]}).json()
        assert [f["code"] for f in in_north] == ["side-gate"]
        page = zhang.get("/api/v1/facilities", params={"limit": 1, "offset": 1})
        assert (len(page.json()), page.headers["X-Total-Count"]) == (1, "3")

        gate = next(f for f in zhang.get("/api/v1/facilities").json() if f["code"] == "gate")
        bound = zhang.post(f"/api/v1/facilities/{gate['id']}/archive")
        assert bound.status_code == 409 and "1 device(s)" in bound.json()["detail"]

        archived = zhang.post(f"/api/v1/facilities/{facility['id']}/archive")
        assert archived.status_code == 200 and archived.json()["archived_at"]
        assert "lift-1" not in {f["code"] for f in zhang.get("/api/v1/facilities").json()}
        gone = zhang.get("/api/v1/facilities", params={"archived": True}).json()
        assert [f["code"] for f in gone] == ["lift-1"]
        assert zhang.patch(f"/api/v1/facilities/{facility['id']}", json={}).status_code == 409
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        assert chen.post("/api/v1/facilities", json={**lift, "code": "x"}).status_code == 403
        assert chen.post(f"/api/v1/facilities/{gate['id']}/archive").status_code == 403


def test_a_resident_link_is_read_and_rotated_when_a_printed_one_must_stop(
    services: Services, catalogue: Catalogue
) -> None:
    """A QR code torn off and stuck elsewhere, or posted online, is stopped by a new link:
    the old one leads nowhere at once, the new one to the facility's page."""
    ids = two_communities(services, catalogue)
    side_gate = ids["oak_side_gate"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        first = zhang.get(f"/api/v1/facilities/{side_gate}/resident-link")
        assert first.status_code == 200, first.text
        link = first.json()
        assert link["facility_id"] == side_gate
        assert link["url"].startswith("http://testserver/r/")
        assert zhang.get(f"/api/v1/facilities/{side_gate}/resident-link").json() == link

        rotated = zhang.post(f"/api/v1/facilities/{side_gate}/resident-link/rotate")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["url"]
        assert new != link["url"]
        old_path, new_path = (
            link["url"].removeprefix("http://testserver"),
            new.removeprefix("http://testserver"),
        )
        assert zhang.get(old_path).status_code == 404
        assert zhang.get(new_path).status_code == 200
        assert zhang.get(f"/api/v1/facilities/{side_gate}/resident-link").json()["url"] == new

    with maintainer_li(services, ids) as (li, _):
        assert li.get(f"/api/v1/facilities/{side_gate}/resident-link").status_code == 200
        refused = li.post(f"/api/v1/facilities/{side_gate}/resident-link/rotate")
        assert refused.status_code == 403, "maintainers do not change the register"
    with client_as(services, "wu", Role.PROPERTY_MANAGER, ids["elm"]) as elm:
        assert elm.get(f"/api/v1/facilities/{side_gate}/resident-link").status_code == 404
