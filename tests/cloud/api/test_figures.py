"""/api/v1/figures/repairs: the caller's community only (an operator chooses), a maintainer's
zones only, filters and groups by zone and category, the period; on SQLite and PostgreSQL.
The figures' arithmetic is tests/cloud/repair/test_figures.py's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, oak_crew, two_communities

FIGURES = "/api/v1/figures/repairs"
SINCE = "2025-11-26T00:00:00Z"
"""Before the gates jammed (2025-11-27 00:00 UTC)."""


def _until() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def figures(client: TestClient, **params: Any) -> dict[str, Any]:
    answer = client.get(FIGURES, params={"from": SINCE, "to": _until(), **params})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_community_sees_its_own_figures_and_an_operator_chooses(
    services: Services, catalogue: Catalogue
) -> None:
    """Oak's supervisor sees oak's two gates and its ticket, never elm's, even when asking
    for elm; Lin, a maintainer of oak's north zone, its side gate alone (no ticket); an
    operator every community, or the one chosen."""
    with (
        oak_crew(services, catalogue) as (ids, _zhang, chen, (lin, _), _wu),
        client_as(services, "root", Role.OPERATOR_ADMIN, None) as root,
    ):
        oak = figures(chen)
        assert (oak["community_id"], oak["facilities"], oak["tickets"]) == (ids["oak"], 2, 1)
        assert [f["name"] for f in oak["most_failing"]] == ["oak gate"]
        assert (oak["mtbf"]["failures"], oak["mtbf"]["facilities_without_failure"]) == (1, 1)
        assert oak["from"] == SINCE and "to" in oak

        elm_asked = figures(chen, community_id=ids["elm"])
        assert (elm_asked["facilities"], elm_asked["tickets"], elm_asked["most_failing"]) == (
            0,
            0,
            [],
        ), "another community's figures never show"
        grouped = figures(chen, group_by="community")
        assert [g["name"] for g in grouped["groups"]] == ["Oak"]

        own = figures(lin)
        assert (own["facilities"], own["tickets"], own["mtbf"]["status"]) == (1, 0, "no_failure")

        everyone = figures(root, group_by="community")
        assert (everyone["community_id"], everyone["tickets"]) == (None, 2)
        assert [(g["name"], g["tickets"]) for g in everyone["groups"]] == [("Elm", 1), ("Oak", 1)]
        elm = figures(root, community_id=ids["elm"])
        assert (elm["community_id"], elm["tickets"]) == (ids["elm"], 1)
        assert [f["name"] for f in elm["most_failing"]] == ["elm gate"]


def test_filters_and_groups_by_zone_category_and_facility(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        north = {z["slug"]: z["id"] for z in zhang.get("/api/v1/zones").json()}["north"]
        gate = next(f for f in zhang.get("/api/v1/facilities").json() if f["name"] == "oak gate")

        by_zone = figures(zhang, group_by="zone")
        assert by_zone["group_by"] == "zone"
        assert [
            (g["key"], g["name"], g["facilities"], g["tickets"]) for g in by_zone["groups"]
        ] == [
            ("none", "(no zone)", 1, 1),
            (str(north), "North", 1, 0),
        ]
        in_north = figures(zhang, zone_id=north)
        assert (in_north["zone_id"], in_north["facilities"], in_north["tickets"]) == (north, 1, 0)

        by_category = figures(zhang, group_by="category")
        categories = {g["key"]: g["tickets"] for g in by_category["groups"]}
        assert categories[gate["category"]] == 1 and sum(categories.values()) == 1
        only = figures(zhang, category=gate["category"])
        assert (only["category"], only["tickets"]) == (gate["category"], 1)
        assert figures(zhang, category="no-such-category")["facilities"] == 0

        by_facility = figures(zhang, group_by="facility", top=1)
        assert {g["key"]: g["tickets"] for g in by_facility["groups"]} == {
            str(gate["id"]): 1,
            str(ids["oak_side_gate"]): 0,
        }


def test_a_repair_closed_on_a_supervisors_word_counts_as_not_data_verified(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    ticket = ids["oak_ticket"]
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        assert figures(chen)["mttr"]["repairs"] == 0
        assert chen.post(f"/api/v1/tickets/{ticket}/resolve").status_code == 200
        assert chen.post(f"/api/v1/tickets/{ticket}/confirm").status_code == 200

        mttr = figures(chen)["mttr"]
        assert (mttr["repairs"], mttr["verified"], mttr["confirmed"]) == (1, 0, 1)
        assert mttr["mttr_s"] > 360 * 86400 and mttr["mttr_verified_s"] is None


def test_the_period_bounds_the_figures(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        before = figures(chen, **{"from": "2025-01-01T00:00:00Z", "to": SINCE})
        assert (before["facilities"], before["tickets"], before["mtbf"]["status"]) == (
            2,
            0,
            "no_failure",
        )
        inverted = figures(chen, **{"from": SINCE, "to": "2025-01-01T00:00:00Z"})
        assert (inverted["facilities"], inverted["tickets"], inverted["groups"]) == (0, 0, [])
        assert inverted["from"] == SINCE and inverted["sla"]["compliance"] is None
        default = chen.get(FIGURES).json()  # the last 30 days: the gates jammed long before
        assert default["tickets"] == 0
        start = datetime.fromisoformat(default["from"])
        end = datetime.fromisoformat(default["to"])
        assert end - start == timedelta(days=30)
