"""/api/v1/webhooks and /api/v1/deliveries: a community's property managers subscribe URLs
to its ticket events — the signing secret shown once — change and archive them, and see how
deliveries went, trying a dead one again; nobody else does, and nobody across communities."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.db.notices import Delivery
from cloud.notify.notifier import Notifier
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, two_communities

HOOK = {"name": "message board", "url": "https://board.oak.example/linli?x=1"}


@pytest.fixture
def two(services: Services, catalogue: Catalogue) -> dict[str, int]:
    """The two communities; the app's own notifier off (the tests run one by hand)."""
    services.settings = services.settings.model_copy(
        update={"notify_check_s": 0.0, "notify_mqtt": False}
    )
    return two_communities(services, catalogue)


@pytest.fixture
def zhang(services: Services, two: dict[str, int]) -> Iterator[TestClient]:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as client:
        yield client


def test_a_property_manager_keeps_the_communitys_webhooks(
    zhang: TestClient, two: dict[str, int]
) -> None:
    made = zhang.post("/api/v1/webhooks", json={**HOOK, "kinds": ["opened", "opened", "held"]})
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert (hook["community_id"], hook["kinds"], hook["created_by"]) == (
        two["oak"],
        ["opened", "held"],
        "zhang",
    )
    assert made.headers["Location"] == f"/api/v1/webhooks/{hook['id']}"
    shown = zhang.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert "secret" not in shown and shown["url"] == HOOK["url"]
    listed = zhang.get("/api/v1/webhooks")
    assert [w["id"] for w in listed.json()] == [hook["id"]]
    assert listed.headers["X-Total-Count"] == "1"

    changed = zhang.patch(f"/api/v1/webhooks/{hook['id']}", json={"kinds": []})
    assert changed.status_code == 200 and changed.json()["kinds"] == []
    renewed = zhang.post(f"/api/v1/webhooks/{hook['id']}/secret").json()
    assert renewed["secret"] != hook["secret"]

    archived = zhang.post(f"/api/v1/webhooks/{hook['id']}/archive").json()
    assert archived["archived_at"] is not None
    assert zhang.get("/api/v1/webhooks").json() == []
    assert [w["id"] for w in zhang.get("/api/v1/webhooks?archived=true").json()] == [hook["id"]]
    again = zhang.patch(f"/api/v1/webhooks/{hook['id']}", json={"name": "x"})
    assert again.status_code == 409 and "archived" in again.json()["detail"]
    assert zhang.post(f"/api/v1/webhooks/{hook['id']}/secret").status_code == 409


def test_a_webhook_must_be_somewhere_a_request_can_go(zhang: TestClient) -> None:
    bad_port = zhang.post("/api/v1/webhooks", json={**HOOK, "url": "http://board:99999/x"})
    assert bad_port.status_code == 409 and "port" in bad_port.json()["detail"]
    not_http = zhang.post("/api/v1/webhooks", json={**HOOK, "url": "ftp://board.example/x"})
    assert not_http.status_code == 422


def test_only_managers_of_the_community_keep_webhooks(
    services: Services, zhang: TestClient, two: dict[str, int]
) -> None:
    hook = zhang.post("/api/v1/webhooks", json=HOOK).json()
    foreign = zhang.post("/api/v1/webhooks", json={**HOOK, "community_id": two["elm"]})
    assert foreign.status_code == 403
    with client_as(services, "chen", Role.SUPERVISOR, two["oak"]) as chen:
        assert chen.get("/api/v1/webhooks").status_code == 403
        assert chen.post("/api/v1/webhooks", json=HOOK).status_code == 403
        assert chen.get("/api/v1/deliveries").status_code == 403
    with client_as(services, "elm-pm", Role.PROPERTY_MANAGER, two["elm"]) as elm:
        assert elm.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
        assert elm.post(f"/api/v1/webhooks/{hook['id']}/archive").status_code == 404
        assert elm.get("/api/v1/webhooks").json() == []
    with client_as(services, "root", Role.OPERATOR_ADMIN, None) as admin:
        assert admin.post("/api/v1/webhooks", json=HOOK).status_code == 404  # which community?
        made = admin.post("/api/v1/webhooks", json={**HOOK, "community_id": two["elm"]})
        assert made.status_code == 201
        assert len(admin.get("/api/v1/webhooks").json()) == 2


def test_deliveries_are_listed_and_a_dead_one_is_tried_again(
    services: Services, zhang: TestClient, two: dict[str, int]
) -> None:
    """A webhook nobody answers: after its last attempt the delivery is dead; the manager
    sees why, and gives it its attempts again."""
    zhang.post("/api/v1/webhooks", json={**HOOK, "url": "http://127.0.0.1:9/closed"})
    ticket = two["oak_ticket"]
    moved = zhang.post(f"/api/v1/tickets/{ticket}/acknowledge")
    assert moved.status_code == 200
    settings = services.settings.model_copy(update={"notify_max_attempts": 1})
    notifier = Notifier.from_settings(settings, services.sessions, services.metrics)

    async def once() -> None:
        try:
            await notifier.run_once()
        finally:
            await notifier.close()

    asyncio.run(once())
    # the events not yet fanned out when it subscribed: the ticket opened, and acknowledged
    deaths = {d["kind"]: d for d in zhang.get("/api/v1/deliveries?state=dead").json()}
    assert set(deaths) == {"opened", "acknowledged"}
    dead = deaths["acknowledged"]
    assert (dead["kind"], dead["ticket_id"], dead["channel"], dead["attempts"]) == (
        "acknowledged",
        ticket,
        "webhook",
        1,
    )
    assert dead["last_error"].startswith("ConnectError") and dead["dead_at"] is not None
    assert zhang.get("/api/v1/deliveries?state=pending").json() == []
    assert zhang.get(f"/api/v1/deliveries?ticket_id={ticket}&channel=email").json() == []

    retried = zhang.post(f"/api/v1/deliveries/{dead['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    assert zhang.post(f"/api/v1/deliveries/{dead['id']}/retry").status_code == 409
    with services.sessions() as session:
        row = session.get(Delivery, dead["id"])
        assert row is not None and row.dead_at is None
    with client_as(services, "elm-pm", Role.PROPERTY_MANAGER, two["elm"]) as elm:
        assert elm.get("/api/v1/deliveries").json() == []
        assert elm.post(f"/api/v1/deliveries/{dead['id']}/retry").status_code == 404
    with maintainer_li(services, two) as (li, _):
        assert li.get("/api/v1/deliveries").status_code == 403
