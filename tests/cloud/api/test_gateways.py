"""/api/v1/gateways and /unknown-gateways: operator admins provision, change and retire
gateways, and see those heard from without provisioning; everyone reads their community's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.db.models import UnknownGateway
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import batch_topic
from tests.cloud.communities import client_as, two_communities
from tests.cloud.helpers import GATE, at, batch, item


def _heard_of(services: Services, *ids_and_minutes_ago: tuple[str, int]) -> None:
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        for gateway_id, minutes in ids_and_minutes_ago:
            session.add(
                UnknownGateway(
                    id=gateway_id,
                    first_seen_at=now - timedelta(hours=1),
                    last_seen_at=now - timedelta(minutes=minutes),
                    batches=3,
                    readings=30,
                    statuses=1,
                    reason="unknown",
                )
            )


def test_an_operator_provisions_changes_retires_and_provisions_again(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    oak, elm = ids["oak"], ids["elm"]
    _heard_of(services, ("gw-new", 10), ("gw-stray", 1))
    with client_as(services, "root", Role.OPERATOR_ADMIN, None) as admin:
        unknown = admin.get("/api/v1/unknown-gateways")
        assert [g["id"] for g in unknown.json()] == ["gw-stray", "gw-new"], "last heard first"
        assert unknown.headers["X-Total-Count"] == "2"
        assert unknown.json()[0]["batches"] == 3
        second = admin.get("/api/v1/unknown-gateways", params={"limit": 1, "offset": 1}).json()
        assert [g["id"] for g in second] == ["gw-new"]

        zones = {
            z["slug"]: z["id"]
            for z in admin.get("/api/v1/zones").json()
            if z["community_id"] == oak
        }
        body = {
            "id": "gw-new",
            "community_id": oak,
            "name": "North mast",
            "zone_id": zones["north"],
            "new_devices": "own-facility",
        }
        made = admin.post("/api/v1/gateways", json=body)
        assert made.status_code == 201, made.text
        gateway = made.json()
        assert {k: gateway[k] for k in body} == body
        assert gateway["provisioned_at"] and gateway["retired_at"] is None
        assert admin.get("/api/v1/gateways/gw-new").json() == gateway
        assert [g["id"] for g in admin.get("/api/v1/unknown-gateways").json()] == ["gw-stray"]

        again = admin.post("/api/v1/gateways", json=body)
        assert again.status_code == 409 and "PATCH" in again.json()["detail"]
        taken = admin.post("/api/v1/gateways", json={"id": "gw-b", "community_id": oak})
        assert taken.status_code == 409 and "another community" in taken.json()["detail"]
        elm_zone = next(
            z["id"] for z in admin.get("/api/v1/zones", params={"community_id": elm}).json()
        )
        foreign = admin.post(
            "/api/v1/gateways", json={"id": "gw-z", "community_id": oak, "zone_id": elm_zone}
        )
        assert foreign.status_code == 409
        bad = admin.post("/api/v1/gateways", json={"id": "gw new!", "community_id": oak})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("body.id: ")

        changed = admin.patch(
            "/api/v1/gateways/gw-new",
            json={"name": "Mast", "zone_id": None, "new_devices": "unassigned"},
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["name"], changed.json()["zone_id"]) == ("Mast", None)
        assert changed.json()["new_devices"] == "unassigned"

        retired = admin.post("/api/v1/gateways/gw-new/retire")
        assert retired.status_code == 200 and retired.json()["retired_at"]
        assert "gw-new" not in {g["id"] for g in admin.get("/api/v1/gateways").json()}
        listed = admin.get("/api/v1/gateways", params={"retired": True}).json()
        assert [g["id"] for g in listed] == ["gw-new"]
        assert admin.patch("/api/v1/gateways/gw-new", json={"name": "x"}).status_code == 409

        back = admin.post("/api/v1/gateways", json=body)
        assert back.status_code == 201, back.text
        assert back.json()["retired_at"] is None
        assert back.json()["first_seen_at"] == gateway["first_seen_at"]


def test_others_read_their_gateways_and_provision_none(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    _heard_of(services, ("gw-new", 1))
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        assert zhang.get("/api/v1/gateways/gw-a").json()["community_id"] == ids["oak"]
        assert zhang.get("/api/v1/gateways/gw-b").status_code == 404
        listed = zhang.get("/api/v1/gateways")
        assert ([g["id"] for g in listed.json()], listed.headers["X-Total-Count"]) == (
            ["gw-a"],
            "1",
        )
        body = {"id": "gw-new", "community_id": ids["oak"]}
        assert zhang.post("/api/v1/gateways", json=body).status_code == 403
        assert zhang.patch("/api/v1/gateways/gw-a", json={"name": "x"}).status_code == 403
        assert zhang.post("/api/v1/gateways/gw-a/retire").status_code == 403
        assert zhang.get("/api/v1/unknown-gateways").status_code == 403


def test_ingest_hears_a_gateway_once_provisioned_and_no_more_once_retired(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    """Through the API of the same process, at once (elsewhere within the roster's refresh)."""

    def send(seq: int) -> str:
        payload = batch("gw-new", seq, [item(catalogue, GATE, "normal", ts=at(seq))])
        return services.intake.process(
            batch_topic("gw-new"), payload.model_dump_json().encode()
        ).result

    community = client.post("/api/v1/communities", json={"slug": "pine", "name": "Pine"}).json()
    assert send(1) == "unprovisioned"
    provisioned = client.post(
        "/api/v1/gateways", json={"id": "gw-new", "community_id": community["id"]}
    )
    assert provisioned.status_code == 201, provisioned.text
    assert send(1) == "stored"
    assert client.post("/api/v1/gateways/gw-new/retire").status_code == 200
    assert send(2) == "unprovisioned"
    [refused] = client.get("/api/v1/unknown-gateways").json()
    assert (refused["id"], refused["reason"], refused["batches"]) == ("gw-new", "retired", 1)
