"""Who may do what: logins, CSRF, tokens, roles, and each community's data kept to itself;
on SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.desk import PASSWORD_FILE, AccessError
from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Account, Device, MaintenanceWindow, Person, Ticket, Zone
from cloud.db.notices import Delivery, Notice, Webhook
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, two_communities
from tests.cloud.conftest import ADMIN_PASSWORD, log_in, make_account
from tests.cloud.helpers import GATE, batch, item


@pytest.fixture
def two(services: Services, catalogue: Catalogue) -> dict[str, int]:
    return two_communities(services, catalogue)


@pytest.fixture
def app(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as anonymous:
        yield anonymous


def test_nothing_of_the_api_answers_without_a_login(app: TestClient) -> None:
    """Every operation the OpenAPI document lists, but logging in: 401 for an anonymous
    caller (an anonymous acknowledge once answered 200)."""
    paths = app.get("/openapi.json").json()["paths"]
    operations = [
        (method, path)
        for path, methods in paths.items()
        for method in methods
        if path != "/api/v1/auth/login"
    ]
    assert len(operations) >= 12
    for method, template in operations:
        path = template.replace("{ticket_id}", "1").replace("{action}", "acknowledge")
        path = path.replace("{device_pk}", "1").replace("{facility_id}", "1")
        path = path.replace("{gateway_id}", "gw").replace("{token_id}", "1")
        path = path.replace("{webhook_id}", "1").replace("{delivery_id}", "1")
        path = path.replace("{format}", "csv")
        for name in ("{community_id}", "{zone_id}", "{person_id}"):
            path = path.replace(name, "1")
        answer = app.request(method.upper(), path, params={"metric": "on"}, json={})
        assert answer.status_code == 401, (method, path, answer.text)
    assert app.get("/", follow_redirects=False).headers["location"] == "/login"


def test_a_session_must_echo_its_csrf_token_on_writes(
    services: Services, two: dict[str, int]
) -> None:
    make_account(services, "admin", Role.OPERATOR_ADMIN)
    with TestClient(create_app(services)) as client:
        log_in(client, "admin")
        token = client.headers.pop("X-CSRF-Token")
        ticket = two["oak_ticket"]
        assert client.get(f"/api/v1/tickets/{ticket}").status_code == 200
        assert client.post(f"/api/v1/tickets/{ticket}/acknowledge").status_code == 403
        done = client.post(f"/api/v1/tickets/{ticket}/acknowledge", headers={"X-CSRF-Token": token})
        assert done.status_code == 200
        assert done.json()["events"][-1]["actor"] == "admin"


def test_failed_logins_are_limited(services: Services, app: TestClient) -> None:
    make_account(services, "admin", Role.OPERATOR_ADMIN)
    for _ in range(5):
        wrong = app.post("/api/v1/auth/login", json={"username": "admin", "password": "guess"})
        assert wrong.status_code == 401
    limited = app.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0


def test_a_supervisor_sees_and_acts_on_their_own_community_only(
    services: Services, two: dict[str, int]
) -> None:
    with client_as(services, "chen", Role.SUPERVISOR, two["oak"]) as chen:
        facilities = chen.get("/api/v1/facilities").json()
        assert {f["name"] for f in facilities} == {"oak gate", "oak side gate"}
        assert [t["id"] for t in chen.get("/api/v1/tickets").json()] == [two["oak_ticket"]]
        assert {d["gateway_id"] for d in chen.get("/api/v1/devices").json()} == {"gw-a"}
        assert [g["id"] for g in chen.get("/api/v1/gateways").json()] == ["gw-a"]
        elm_ticket = two["elm_ticket"]
        assert chen.get(f"/api/v1/tickets/{elm_ticket}").status_code == 404
        assert chen.post(f"/api/v1/tickets/{elm_ticket}/acknowledge").status_code == 404
        assert chen.get("/api/v1/gateways/gw-b/gaps").status_code == 404
        assert chen.get("/api/v1/dead-letters").status_code == 403
        own = chen.post(f"/api/v1/tickets/{two['oak_ticket']}/acknowledge")
        assert own.status_code == 200


def test_a_maintainer_reaches_the_facilities_and_tickets_of_their_zones_only(
    services: Services, two: dict[str, int], catalogue: Catalogue
) -> None:
    """Li works in oak's north zone: of oak, li reads the side gate there, its device and
    its ticket, and acts on that ticket; the main gate (no zone) answers 404 like another
    community's; register writes stay the managers'."""
    services.writer.write(
        batch("gw-a", 10, [item(catalogue, GATE, "motor_jammed", device_id="g2")])
    )
    with services.sessions() as session:
        g2 = session.scalar(select(Device.id).where(Device.device_id == "g2"))
        li = session.scalar(
            select(Person.id).where(Person.slug == "li", Person.community_id == two["oak"])
        )
    with client_as(services, "root", Role.OPERATOR_ADMIN, None) as admin:
        bound = admin.put(
            f"/api/v1/devices/{g2}/facility", json={"facility_id": two["oak_side_gate"]}
        )
        assert bound.status_code == 200, bound.text
        assert (bound.json()["from_facility_id"], bound.json()["actor"]) == (None, "root")
    with services.sessions() as session:
        north_ticket = session.scalar(
            select(Ticket.id).where(Ticket.facility_id == two["oak_side_gate"])
        )
    assert north_ticket, "bound with its jam active, the device opened a ticket there"
    make_account(services, "li", Role.MAINTAINER, two["oak"], person_id=li)
    with TestClient(create_app(services)) as maintainer:
        log_in(maintainer, "li")
        assert [t["id"] for t in maintainer.get("/api/v1/tickets").json()] == [north_ticket]
        facilities = maintainer.get("/api/v1/facilities").json()
        assert [f["id"] for f in facilities] == [two["oak_side_gate"]]
        assert [d["id"] for d in maintainer.get("/api/v1/devices").json()] == [g2]
        assert maintainer.get(f"/api/v1/devices/{g2}").status_code == 200
        for path in (
            f"/api/v1/tickets/{two['oak_ticket']}",
            f"/api/v1/devices/{two['oak_device']}",
            f"/api/v1/facilities/{facilities[0]['id'] + 1000}",
        ):
            assert maintainer.get(path).status_code == 404, path
        gate = maintainer.get(f"/api/v1/tickets/{two['oak_ticket']}/resolve")
        assert gate.status_code in (404, 405)
        assert maintainer.post(f"/api/v1/tickets/{two['oak_ticket']}/resolve").status_code == 404
        acted = maintainer.post(f"/api/v1/tickets/{north_ticket}/acknowledge")
        assert acted.status_code == 200 and acted.json()["events"][-1]["actor"] == "li"
        moved = maintainer.put(
            f"/api/v1/devices/{g2}/facility", json={"facility_id": two["oak_side_gate"]}
        )
        assert moved.status_code == 403


def test_tokens_carry_their_scopes_and_can_be_revoked(
    services: Services, two: dict[str, int]
) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        issued = zhang.post(
            "/api/v1/auth/tokens", json={"name": "bms", "scopes": ["tickets:read"]}
        ).json()
        foreign = zhang.post(
            "/api/v1/auth/tokens",
            json={"name": "x", "scopes": ["tickets:read"], "community_id": two["elm"]},
        )
        assert foreign.status_code == 403
        with TestClient(create_app(services)) as bms:
            bearer = {"Authorization": f"Bearer {issued['token']}"}
            tickets = bms.get("/api/v1/tickets", headers=bearer)
            assert [t["id"] for t in tickets.json()] == [two["oak_ticket"]]
            ticket = two["oak_ticket"]
            act = bms.post(f"/api/v1/tickets/{ticket}/acknowledge", headers=bearer)
            assert act.status_code == 403
            assert bms.get("/api/v1/facilities", headers=bearer).status_code == 403
            assert zhang.delete(f"/api/v1/auth/tokens/{issued['id']}").status_code == 204
            assert bms.get("/api/v1/tickets", headers=bearer).status_code == 401


def test_the_first_start_makes_the_operator_admin_once(services: Services, tmp_path: Path) -> None:
    told = services.access.bootstrap_admin(tmp_path, None, datetime.now(UTC))
    assert told is not None and "log in as 'admin'" in told
    written = tmp_path / PASSWORD_FILE
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    password = written.read_text().strip()
    assert password in told
    assert services.access.bootstrap_admin(tmp_path, None, datetime.now(UTC)) is None
    with TestClient(create_app(services)) as client:
        log_in(client, "admin", password)
        assert client.get("/api/v1/auth/me").json()["role"] == "operator_admin"


def test_a_weak_admin_password_from_the_environment_is_refused(
    services: Services, tmp_path: Path
) -> None:
    with pytest.raises(AccessError, match="at least 10 characters"):
        services.access.bootstrap_admin(tmp_path, "short", datetime.now(UTC))
    with services.sessions() as session:
        assert session.scalar(select(Account.id)) is None


ROLES = [Role.PROPERTY_MANAGER, Role.SUPERVISOR, Role.MAINTAINER]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_no_operation_reaches_another_communitys_objects(
    services: Services, two: dict[str, int], role: Role
) -> None:
    """Every operation of the API, for every role of community oak, on elm's objects:
    403 or 404, never an answer; every list holds only oak's rows."""
    with services.sessions.begin() as session:
        elm_ticket = session.get(Ticket, two["elm_ticket"])
        assert elm_ticket is not None
        at = datetime.now(UTC)
        window = MaintenanceWindow(
            community_id=two["elm"],
            facility_id=elm_ticket.facility_id,
            starts_at=at,
            ends_at=at + timedelta(hours=1),
            created_by="elm's supervisor",
            created_at=at,
        )
        session.add(window)
        session.flush()
        elm_zone = session.scalar(select(Zone.id).where(Zone.community_id == two["elm"]))
        elm_person = session.scalar(select(Person.id).where(Person.community_id == two["elm"]))
        elm_hook = Webhook(
            community_id=two["elm"],
            name="elm's board",
            url="https://board.elm.example/hooks",
            secret="whsec_elm",
            kinds=[],
            created_by="elm's manager",
            created_at=at,
        )
        session.add(elm_hook)
        session.flush()
        elm_notice = session.scalars(
            select(Notice).where(Notice.community_id == two["elm"])
        ).first()
        assert elm_notice is not None
        elm_delivery = Delivery(
            notice_id=elm_notice.id,
            key=f"{elm_notice.event_id}:webhook:{elm_hook.id}",
            channel="webhook",
            target=str(elm_hook.id),
            community_id=two["elm"],
            webhook_id=elm_hook.id,
            address="",
            attempts=10,
            next_attempt_at=at,
            dead_at=at,
            last_error="HTTP 500",
            created_at=at,
        )
        session.add(elm_delivery)
        session.flush()
        elm = {
            "{ticket_id}": str(elm_ticket.id),
            "{device_pk}": str(elm_ticket.device_pk),
            "{facility_id}": str(elm_ticket.facility_id),
            "{gateway_id}": "gw-b",
            "{token_id}": "1",
            "{action}": "acknowledge",
            "{community_id}": str(two["elm"]),
            "{zone_id}": str(elm_zone),
            "{person_id}": str(elm_person),
            "{window_id}": str(window.id),
            "{webhook_id}": str(elm_hook.id),
            "{delivery_id}": str(elm_delivery.id),
        }
    with client_as(services, f"{role.value}-of-oak", role, two["oak"]) as person:
        paths = person.get("/openapi.json").json()["paths"]
        for template, methods in paths.items():
            if not any(name in template for name in elm) or template.startswith("/api/v1/auth"):
                continue
            path = template
            for name, value in elm.items():
                path = path.replace(name, value)
            for method in methods:
                # a body as the operation wants it, so that what answers is the access check
                body: dict[str, object] | None = None
                if path.endswith("/facility"):
                    body = {"facility_id": int(elm["{facility_id}"])}
                elif path.endswith("/maintenance") and method == "post":
                    body = {"for_s": 3600}
                elif path.endswith("/account"):
                    body = {"username": "someone", "password": "a-long-enough-password"}
                elif path.endswith("/channels"):
                    body = {}
                elif method == "patch":
                    body = {"name": "renamed"}  # every change of the register may rename
                answer = person.request(
                    method.upper(), path, params={"metric": "door_open"}, json=body
                )
                assert answer.status_code in (403, 404), (role, method, path, answer.text)
        # what is created names its community in the body: never elm
        elm_id = two["elm"]
        for path, body in {
            "/api/v1/communities": {"slug": "birch", "name": "Birch"},
            "/api/v1/zones": {"community_id": elm_id, "slug": "x", "name": "X"},
            "/api/v1/facilities": {"community_id": elm_id, "code": "x", "name": "X"},
            "/api/v1/people": {
                "community_id": elm_id,
                "slug": "x",
                "name": "X",
                "role": "maintainer",
            },
            "/api/v1/gateways": {"id": "gw-x", "community_id": elm_id},
            "/api/v1/webhooks": {
                "community_id": elm_id,
                "name": "X",
                "url": "https://x.example/hooks",
            },
        }.items():
            answer = person.post(path, json=body)
            assert answer.status_code in (403, 404), (role, path, answer.text)
        facilities = person.get("/api/v1/facilities").json()
        tickets = [t["id"] for t in person.get("/api/v1/tickets").json()]
        devices = {d["gateway_id"] for d in person.get("/api/v1/devices").json()}
        assert [g["id"] for g in person.get("/api/v1/gateways").json()] == ["gw-a"]
        if role is Role.MAINTAINER:  # of no zone: none of oak's facilities either
            assert (facilities, tickets, devices) == ([], [], set())
        else:
            assert facilities and {f["community_id"] for f in facilities} == {two["oak"]}
            assert tickets == [two["oak_ticket"]]
            assert devices == {"gw-a"}
