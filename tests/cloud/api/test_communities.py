"""/api/v1/communities: operator admins create, change and archive them; everyone else reads
their own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities

BIRCH = {"slug": "birch", "name": "Birch Court", "time_zone": "Asia/Shanghai", "address": "1 Rd"}


def test_an_operator_creates_reads_changes_and_archives_a_community(client: TestClient) -> None:
    made = client.post("/api/v1/communities", json=BIRCH)
    assert made.status_code == 201, made.text
    birch = made.json()
    assert {k: birch[k] for k in BIRCH} == BIRCH
    assert birch["archived_at"] is None
    assert client.get(f"/api/v1/communities/{birch['id']}").json() == birch

    again = client.post("/api/v1/communities", json={**BIRCH, "name": "Another"})
    assert again.status_code == 409
    assert "birch" in again.json()["detail"]

    changed = client.patch(
        f"/api/v1/communities/{birch['id']}", json={"name": "Birch Gardens", "time_zone": "UTC"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["time_zone"]) == ("Birch Gardens", "UTC")
    assert changed.json()["address"] == "1 Rd", "what a change leaves out is kept"
    unknown = client.patch(f"/api/v1/communities/{birch['id']}", json={"time_zone": "Mars/Base"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("body.time_zone: unknown time zone 'Mars/Base'")

    # a community with a gateway in service is not archived: the gateway is retired first
    gateway = {"id": "gw-birch", "community_id": birch["id"]}
    assert client.post("/api/v1/gateways", json=gateway).status_code == 201
    refused = client.post(f"/api/v1/communities/{birch['id']}/archive")
    assert refused.status_code == 409
    assert "retire" in refused.json()["detail"]
    assert client.post("/api/v1/gateways/gw-birch/retire").status_code == 200

    archived = client.post(f"/api/v1/communities/{birch['id']}/archive")
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    in_use = [c["slug"] for c in client.get("/api/v1/communities").json()]
    assert "birch" not in in_use
    gone = client.get("/api/v1/communities", params={"archived": True}).json()
    assert [c["slug"] for c in gone] == ["birch"]
    frozen = client.patch(f"/api/v1/communities/{birch['id']}", json={"name": "x"})
    assert frozen.status_code == 409
    zone = client.post(
        "/api/v1/zones", json={"community_id": birch["id"], "slug": "north", "name": "North"}
    )
    assert zone.status_code == 409, "nothing is added to an archived community"
    assert client.get("/api/v1/communities/999999").status_code == 404


def test_communities_come_a_page_at_a_time(client: TestClient) -> None:
    total = int(client.get("/api/v1/communities").headers["X-Total-Count"])
    for slug in ("c1", "c2", "c3"):
        assert client.post("/api/v1/communities", json={"slug": slug, "name": slug}).status_code
    page = client.get("/api/v1/communities", params={"limit": 2, "offset": 1})
    assert page.headers["X-Total-Count"] == str(total + 3)
    everything = [c["slug"] for c in client.get("/api/v1/communities").json()]
    assert [c["slug"] for c in page.json()] == everything[1:3]
    assert client.get("/api/v1/communities", params={"limit": 1001}).status_code == 422


def test_others_read_their_own_community_and_change_none(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    oak, elm = ids["oak"], ids["elm"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, oak) as zhang:
        assert zhang.get(f"/api/v1/communities/{oak}").json()["slug"] == "oak"
        assert zhang.get(f"/api/v1/communities/{elm}").status_code == 404
        assert [c["slug"] for c in zhang.get("/api/v1/communities").json()] == ["oak"]
        assert zhang.post("/api/v1/communities", json=BIRCH).status_code == 403
        assert zhang.patch(f"/api/v1/communities/{oak}", json={"name": "x"}).status_code == 403
        assert zhang.post(f"/api/v1/communities/{oak}/archive").status_code == 403
    with client_as(services, "wang", Role.MAINTAINER, oak) as wang:
        assert wang.get(f"/api/v1/communities/{oak}").status_code == 200
        assert wang.post("/api/v1/communities", json=BIRCH).status_code == 403
