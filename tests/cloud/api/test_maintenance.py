"""Maintenance windows through the API: who may set them where, listing the ones under way,
ending one early — and a fault under maintenance opening no ticket until the window ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.access.roles import Role
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, oak_crew
from tests.cloud.helpers import GATE, batch, item


def test_who_may_put_what_under_maintenance(services: Services, catalogue: Catalogue) -> None:
    with oak_crew(services, catalogue) as (ids, zhang, chen, (li, _), _):
        zones = {z["slug"]: z["id"] for z in zhang.get("/api/v1/zones").json()}
        side_gate, elm_gate = ids["oak_side_gate"], ids["elm_side_gate"]
        body = {"for_s": 3600, "reason": "new hinges"}

        by_chen = chen.post(f"/api/v1/zones/{zones['north']}/maintenance", json=body)
        assert by_chen.status_code == 201, by_chen.text
        window = by_chen.json()
        assert (window["zone_id"], window["facility_id"], window["created_by"]) == (
            zones["north"],
            None,
            "chen",
        )
        assert li.post(f"/api/v1/zones/{zones['north']}/maintenance", json=body).status_code == 403
        mine = li.post(f"/api/v1/facilities/{side_gate}/maintenance", json=body)
        assert mine.status_code == 201, "a maintainer, for the facility they work on"
        assert chen.post(f"/api/v1/facilities/{elm_gate}/maintenance", json=body).status_code == 404
        too_long = chen.post(
            f"/api/v1/facilities/{side_gate}/maintenance", json={"for_s": 40 * 86400}
        )
        assert too_long.status_code == 422

        planned = chen.post(
            f"/api/v1/facilities/{side_gate}/maintenance", json={**body, "starts_in_s": 86400}
        ).json()
        under_way = chen.get("/api/v1/maintenance", params={"active": "true"}).json()
        assert {w["id"] for w in under_way} == {window["id"], mine.json()["id"]}
        assert planned["id"] not in {w["id"] for w in under_way}

        ended = chen.post(f"/api/v1/maintenance/{window['id']}/end")
        assert ended.status_code == 200, ended.text
        assert ended.json()["ended_by"] == "chen"
        assert chen.post(f"/api/v1/maintenance/{window['id']}/end").status_code == 409
        with client_as(services, "wei", Role.SUPERVISOR, ids["elm"]) as elm:
            assert elm.post(f"/api/v1/maintenance/{window['id']}/end").status_code == 404
            assert elm.get("/api/v1/maintenance").json() == []


def test_a_fault_under_maintenance_waits_for_its_end(
    services: Services, catalogue: Catalogue
) -> None:
    with oak_crew(services, catalogue) as (ids, _, chen, _, _):
        gate = chen.get(f"/api/v1/tickets/{ids['oak_ticket']}").json()["facility_id"]
        chen.post(f"/api/v1/tickets/{ids['oak_ticket']}/cancel", json={"note": "old"})
        window = chen.post(
            f"/api/v1/facilities/{gate}/maintenance", json={"for_s": 600, "reason": "motor"}
        ).json()

        now = datetime.now(UTC)
        jam = item(catalogue, GATE, "motor_jammed", device_id="g1", ts=now)
        services.writer.write(batch("gw-a", 10, [jam]))
        live = {"facility_id": gate, "state": ["open", "assigned"]}
        assert chen.get("/api/v1/tickets", params=live).json() == []

        chen.post(f"/api/v1/maintenance/{window['id']}/end")
        services.rounds.run(services.sessions, datetime.now(UTC) + timedelta(seconds=1))

        [opened] = chen.get("/api/v1/tickets", params=live).json()
        assert opened["fault"] == "motor_jammed"
        settled = chen.get("/api/v1/maintenance").json()[0]
        assert settled["settled_at"] is not None
