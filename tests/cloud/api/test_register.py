"""/api/v1/communities, /zones, /people, and moving a device: each community's own."""

from __future__ import annotations

from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Community
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities


def test_the_register_is_read_per_community(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "admin", Role.OPERATOR_ADMIN, None) as admin:
        slugs = [c["slug"] for c in admin.get("/api/v1/communities").json()]
        assert [s for s in slugs if s != "tests"] == ["elm", "oak"]  # tests: conftest's own
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        [oak] = chen.get("/api/v1/communities").json()
        assert (oak["slug"], oak["time_zone"]) == ("oak", "Asia/Shanghai")
        zones = chen.get("/api/v1/zones").json()
        assert {(z["slug"], z["kind"]) for z in zones} == {("north", "zone"), ("b1", "building")}
        assert {z["community_id"] for z in zones} == {ids["oak"]}
        [li] = chen.get("/api/v1/people").json()
        north = next(z["id"] for z in zones if z["slug"] == "north")
        assert (li["community_id"], li["role"], li["zone_ids"]) == (
            ids["oak"],
            "maintainer",
            [north],
        )


def test_a_device_moves_within_its_community_and_remembers_it(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    device, target = ids["oak_device"], ids["oak_side_gate"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        moved = zhang.put(f"/api/v1/devices/{device}/facility", json={"facility_id": target})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["to_facility_id"], moved.json()["actor"]) == (target, "zhang")
        assert zhang.get(f"/api/v1/devices/{device}").json()["facility_id"] == target
        side_gate = zhang.get(f"/api/v1/facilities/{target}").json()
        assert side_gate["health"] == "faulty"  # the jammed gate's health came along
        history = zhang.get(f"/api/v1/devices/{device}/moves").json()
        assert [(m["from_facility_id"], m["to_facility_id"]) for m in history] == [
            (moved.json()["from_facility_id"], target)
        ]
        elsewhere = zhang.put(
            f"/api/v1/devices/{device}/facility", json={"facility_id": ids["elm_side_gate"]}
        )
        assert elsewhere.status_code == 404
        foreign = zhang.put(
            f"/api/v1/devices/{ids['elm_device']}/facility", json={"facility_id": target}
        )
        assert foreign.status_code == 404
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        refused = chen.put(f"/api/v1/devices/{device}/facility", json={"facility_id": target})
        assert refused.status_code == 403
    with services.sessions() as session:
        assert session.scalar(select(Community.id).where(Community.slug == "oak")) == ids["oak"]
