"""/api/v1/people: a community's property managers and operator admins add, change and archive
its people, and may give them a login account; archiving one disables it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import BusinessCalendar
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities
from tests.cloud.conftest import log_in

PASSWORD = "mei-has-a-long-password"


def test_a_person_made_with_an_account_logs_in_until_archived(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    oak = ids["oak"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, oak) as zhang:
        zones = {z["slug"]: z["id"] for z in zhang.get("/api/v1/zones").json()}
        made = zhang.post(
            "/api/v1/people",
            json={
                "slug": "mei",
                "name": "Mei",
                "role": "supervisor",
                "email": "mei@example.org",
                "phone": "+86 21 5555 0101",
                "skills": ["electrical"],
                "zone_ids": [zones["north"]],
                "account": {"username": "mei", "password": PASSWORD},
            },
        )
        assert made.status_code == 201, made.text
        mei = made.json()
        assert (mei["community_id"], mei["username"], mei["zone_ids"]) == (
            oak,
            "mei",
            [zones["north"]],
        )
        assert zhang.get(f"/api/v1/people/{mei['id']}").json() == mei
        with TestClient(create_app(services)) as login:
            log_in(login, "mei", PASSWORD)
            me = login.get("/api/v1/auth/me").json()
            assert (me["role"], me["community_id"]) == ("supervisor", oak)

            changed = zhang.patch(
                f"/api/v1/people/{mei['id']}",
                json={"role": "maintainer", "zone_ids": [zones["b1"]], "email": None},
            )
            assert changed.status_code == 200, changed.text
            after = changed.json()
            assert (after["role"], after["zone_ids"], after["email"]) == (
                "maintainer",
                [zones["b1"]],
                None,
            )
            assert after["phone"] == "+86 21 5555 0101", "what a change leaves out is kept"
            assert login.get("/api/v1/auth/me").json()["role"] == "maintainer"

            archived = zhang.post(f"/api/v1/people/{mei['id']}/archive")
            assert archived.status_code == 200 and archived.json()["archived_at"]
            assert login.get("/api/v1/auth/me").status_code == 401, "their session ended"
        with TestClient(create_app(services)) as again:
            refused = again.post(
                "/api/v1/auth/login", json={"username": "mei", "password": PASSWORD}
            )
            assert refused.status_code == 401
        assert [p["slug"] for p in zhang.get("/api/v1/people").json()] == ["li"]
        gone = zhang.get("/api/v1/people", params={"archived": True})
        assert ([p["slug"] for p in gone.json()], gone.headers["X-Total-Count"]) == (["mei"], "1")
        frozen = zhang.patch(f"/api/v1/people/{mei['id']}", json={"name": "x"})
        assert frozen.status_code == 409


def test_what_a_person_names_must_hold(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    oak, elm = ids["oak"], ids["elm"]
    with client_as(services, "admin", Role.OPERATOR_ADMIN, None) as admin:
        elm_zone = admin.get("/api/v1/zones", params={"community_id": elm}).json()[0]["id"]
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, oak) as zhang:
        person = {"slug": "ann", "name": "Ann", "role": "maintainer"}
        account = {"username": "ann", "password": PASSWORD}

        def refused(body: dict[str, object], status: int, reason: str) -> None:
            answer = zhang.post("/api/v1/people", json=body)
            assert answer.status_code == status, answer.text
            assert reason in answer.json()["detail"], answer.json()

        refused({**person, "slug": "li"}, 409, "'li'")
        refused({**person, "account": {**account, "username": "zhang"}}, 409, "'zhang'")
        refused({**person, "zone_ids": [elm_zone]}, 409, f"zone {elm_zone} is not a zone of")
        refused({**person, "account": {**account, "password": "short"}}, 422, "10 characters")
        refused({**person, "role": "operator_admin"}, 422, "body.role")
        refused({**person, "email": "not-an-address"}, 422, "body.email")
        refused({**person, "community_id": elm}, 403, "own community")
        assert [p["slug"] for p in zhang.get("/api/v1/people").json()] == ["li"]

        li = zhang.get("/api/v1/people").json()[0]
        foreign = zhang.patch(f"/api/v1/people/{li['id']}", json={"zone_ids": [elm_zone]})
        assert foreign.status_code == 409
        assert zhang.get(f"/api/v1/people/{li['id']}").json()["zone_ids"] == li["zone_ids"]

        issued = zhang.post(
            "/api/v1/auth/tokens", json={"name": "hr", "scopes": ["register:write"]}
        ).json()
    with TestClient(create_app(services)) as hr:
        bearer = {"Authorization": f"Bearer {issued['token']}"}
        with_login = hr.post("/api/v1/people", json={**person, "account": account}, headers=bearer)
        assert with_login.status_code == 403, "a token gives no one a login"
        plain = hr.post("/api/v1/people", json=person, headers=bearer)
        assert (plain.status_code, plain.json()["community_id"]) == (201, oak)


def test_readers_change_no_one(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        [li] = chen.get("/api/v1/people").json()
        body = {"slug": "x", "name": "X", "role": "maintainer"}
        assert chen.post("/api/v1/people", json=body).status_code == 403
        assert chen.patch(f"/api/v1/people/{li['id']}", json={"name": "x"}).status_code == 403
        assert chen.post(f"/api/v1/people/{li['id']}/archive").status_code == 403


def test_a_persons_duty_calendar_and_current_load(services: Services, catalogue: Catalogue) -> None:
    """Duty hours are one of the community's calendars, set where skills are (null: always
    on duty); the load is the tickets assigned to them and not yet repaired."""
    ids = two_communities(services, catalogue)
    with services.sessions.begin() as session:
        days = {
            slug: BusinessCalendar(
                community_id=ids[slug], slug="day", hours={"mon": "08:00-17:00"}, holidays=[]
            )
            for slug in ("oak", "elm")
        }
        session.add_all(days.values())
        session.flush()
        oak_day, elm_day = days["oak"].id, days["elm"].id
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        [li] = zhang.get("/api/v1/people").json()
        assert (li["duty_calendar_id"], li["open_tickets"]) == (None, 0)

        wu = {"slug": "wu", "name": "Wu", "role": "maintainer"}
        made = zhang.post("/api/v1/people", json={**wu, "duty_calendar_id": oak_day})
        assert made.status_code == 201, made.text
        assert made.json()["duty_calendar_id"] == oak_day
        for calendar in (elm_day, 99999):
            refused = zhang.post(
                "/api/v1/people", json={**wu, "slug": "wu2", "duty_calendar_id": calendar}
            )
            assert refused.status_code == 409
            assert f"calendar {calendar} is not a calendar of community" in refused.json()["detail"]
        assert zhang.post("/api/v1/people", json={**wu, "duty_calendar_id": 0}).status_code == 422

        path = f"/api/v1/people/{li['id']}"
        assert zhang.patch(path, json={"duty_calendar_id": oak_day}).json()["duty_calendar_id"] == (
            oak_day
        )
        kept = zhang.patch(path, json={"skills": ["access-control"]}).json()
        assert kept["duty_calendar_id"] == oak_day, "what a change leaves out is kept"
        assert zhang.patch(path, json={"duty_calendar_id": elm_day}).status_code == 409
        cleared = zhang.patch(path, json={"duty_calendar_id": None})
        assert cleared.json()["duty_calendar_id"] is None, "null: always on duty"

        ticket = ids["oak_ticket"]
        zhang.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee_id": li["id"]})
        assert zhang.get(path).json()["open_tickets"] == 1
        zhang.post(f"/api/v1/tickets/{ticket}/start")
        listed = {p["slug"]: p["open_tickets"] for p in zhang.get("/api/v1/people").json()}
        assert listed == {"li": 1, "wu": 0}
        zhang.post(f"/api/v1/tickets/{ticket}/resolve")
        assert zhang.get(path).json()["open_tickets"] == 0, "repaired: verifying"


def test_a_person_of_the_site_file_is_given_a_login(
    services: Services, catalogue: Catalogue
) -> None:
    """Li came from the site file, without an account: the property manager gives one, Li
    logs in as a maintainer of their zones; a second account, another community's person,
    or a taken user name are refused."""
    ids = two_communities(services, catalogue)
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        [li] = [p for p in zhang.get("/api/v1/people").json() if p["slug"] == "li"]
        assert li["username"] is None
        login = {"username": "li.oak", "password": PASSWORD}

        given = zhang.post(f"/api/v1/people/{li['id']}/account", json=login)
        assert given.status_code == 201, given.text
        assert given.json()["username"] == "li.oak"
        with TestClient(create_app(services)) as client:
            log_in(client, "li.oak", PASSWORD)
            me = client.get("/api/v1/auth/me").json()
            assert (me["role"], me["community_id"]) == ("maintainer", ids["oak"])

        again = zhang.post(f"/api/v1/people/{li['id']}/account", json={**login, "username": "x"})
        assert again.status_code == 409 and "already" in again.json()["detail"]
        with client_as(services, "wei", Role.PROPERTY_MANAGER, ids["elm"]) as wei:
            [elm_li] = [p for p in wei.get("/api/v1/people").json() if p["slug"] == "li"]
            assert (
                zhang.post(f"/api/v1/people/{elm_li['id']}/account", json=login).status_code == 404
            )
            taken = wei.post(f"/api/v1/people/{elm_li['id']}/account", json=login)
            assert taken.status_code == 409, "li.oak is taken"
        with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
            assert chen.post(f"/api/v1/people/{li['id']}/account", json=login).status_code == 403
