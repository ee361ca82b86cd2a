"""/api/v1/zones: a community's property managers and operator admins create, change and
archive its zones and buildings; everyone of the community reads them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities


def test_a_property_manager_keeps_their_communitys_zones(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    oak, elm = ids["oak"], ids["elm"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, oak) as zhang:
        made = zhang.post("/api/v1/zones", json={"slug": "b2", "name": "B 2", "kind": "building"})
        assert made.status_code == 201, made.text
        b2 = made.json()
        assert (b2["community_id"], b2["kind"], b2["archived_at"]) == (oak, "building", None)
        assert zhang.get(f"/api/v1/zones/{b2['id']}").json() == b2

        taken = zhang.post("/api/v1/zones", json={"slug": "b2", "name": "Again"})
        assert taken.status_code == 409
        elsewhere = zhang.post(
            "/api/v1/zones", json={"community_id": elm, "slug": "b9", "name": "B 9"}
        )
        assert elsewhere.status_code == 403

        renamed = zhang.patch(f"/api/v1/zones/{b2['id']}", json={"name": "Building 2"})
        assert (renamed.status_code, renamed.json()["name"]) == (200, "Building 2")
        assert renamed.json()["kind"] == "building"

        buildings = zhang.get("/api/v1/zones", params={"kind": "building"})
        assert [z["slug"] for z in buildings.json()] == ["b1", "b2"]
        assert buildings.headers["X-Total-Count"] == "2"

        archived = zhang.post(f"/api/v1/zones/{b2['id']}/archive")
        assert archived.status_code == 200 and archived.json()["archived_at"]
        assert [z["slug"] for z in zhang.get("/api/v1/zones").json()] == ["b1", "north"]
        gone = zhang.get("/api/v1/zones", params={"archived": True}).json()
        assert [z["slug"] for z in gone] == ["b2"]
        assert zhang.patch(f"/api/v1/zones/{b2['id']}", json={"name": "x"}).status_code == 409

        # a zone with a facility in use is not archived
        north = next(z for z in zhang.get("/api/v1/zones").json() if z["slug"] == "north")
        busy = zhang.post(f"/api/v1/zones/{north['id']}/archive")
        assert busy.status_code == 409
        assert "1 facility(ies) and 0 gateway(s)" in busy.json()["detail"]


def test_readers_read_zones_and_change_none(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        zones = chen.get("/api/v1/zones").json()
        assert {z["community_id"] for z in zones} == {ids["oak"]}
        assert chen.get("/api/v1/zones", params={"community_id": ids["elm"]}).json() == []
        assert chen.post("/api/v1/zones", json={"slug": "x", "name": "X"}).status_code == 403
        zone = zones[0]["id"]
        assert chen.patch(f"/api/v1/zones/{zone}", json={"name": "x"}).status_code == 403
        assert chen.post(f"/api/v1/zones/{zone}/archive").status_code == 403


def test_an_operator_names_the_community(client: TestClient) -> None:
    missing = client.post("/api/v1/zones", json={"slug": "x", "name": "X"})
    assert missing.status_code == 404
    assert "community_id" in missing.json()["detail"]
    unknown = client.post("/api/v1/zones", json={"community_id": 99999, "slug": "x", "name": "X"})
    assert unknown.status_code == 404
    assert "99999" in unknown.json()["detail"]
    community = client.post("/api/v1/communities", json={"slug": "birch", "name": "B"}).json()
    made = client.post(
        "/api/v1/zones", json={"community_id": community["id"], "slug": "x", "name": "X"}
    )
    assert made.status_code == 201
    assert client.get("/api/v1/zones", params={"community_id": community["id"]}).json() == [
        made.json()
    ]
