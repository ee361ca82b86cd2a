"""The built-in web UI: the dashboard and ticket buttons — the moves the viewer may make."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Community, Ticket, TicketState
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import batch_topic
from device_profiles.site import Site
from tests.cloud.communities import client_as, maintainer_li, two_communities
from tests.cloud.conftest import ADMIN_PASSWORD, log_in, make_account
from tests.cloud.helpers import BUTTON, GATE, LIGHT, at, batch, item


def seed(services: Services, catalogue: Catalogue) -> dict[str, int]:
    items = [
        item(catalogue, GATE, "motor_jammed", ts=at(0)),
        item(catalogue, BUTTON, "help_requested", ts=at(1)),
        item(catalogue, LIGHT, "normal_on", ts=at(0)),
    ]
    services.writer.write(batch("gw-1", 1, items))
    with services.sessions() as session:
        return {t.fault: t.id for t in session.scalars(select(Ticket))}


def row(html: str, attribute: str, value: object) -> str:
    found = re.search(rf'<tr {attribute}="{value}">(.*?)</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(1)


def cell(html: str, facility: str) -> str:
    """A facility's cell in the dashboard's zone grid."""
    found = re.search(rf'<a [^>]*data-facility="{facility}"[^>]*>', html, re.S)
    assert found, f"no cell of {facility}"
    return found.group(0)


def form(client: TestClient) -> dict[str, str]:
    """A form's fields as the page gives them: the session's CSRF token."""
    return {"csrf_token": client.headers["X-CSRF-Token"]}


def act(client: TestClient, path: str, **fields: str) -> Response:
    """Press a ticket's button: post its form (with a note or a maintainer, if given)."""
    return client.post(path, data={**form(client), **fields}, follow_redirects=False)


def buttons(html: str) -> list[str]:
    """The moves a ticket's row offers, in order."""
    return re.findall(r'<button formaction="/tickets/\d+/(\w+)" data-move="\1">', html)


def test_overview_shows_facilities_and_open_tickets(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    ids = seed(services, catalogue)

    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    gate = cell(html, "gate-01")  # the dashboard's zone grid: a cell per facility
    assert 'data-status="faulty"' in gate
    assert 'aria-label="Pedestrian access gate gate-01: faulty, open tickets: 1"' in gate
    light = cell(html, "light-01")
    assert 'aria-label="Street and corridor light light-01: ok, open tickets: 0"' in light

    ticket = row(html, "data-ticket", ids["motor_jammed"])
    assert "Gate motor jammed" in ticket
    assert "Pedestrian access gate gate-01" in ticket
    assert f'formaction="/tickets/{ids["motor_jammed"]}/acknowledge"' in ticket
    assert buttons(ticket) == ["assign", "acknowledge", "resolve", "cancel"]
    assert 'data-state="open"' in ticket and 'data-assignee=""' in ticket
    assert '<input name="note"' in ticket and '<select name="assignee_id"' in ticket
    assert "Resident pressed the repair-alarm button" in row(
        html, "data-ticket", ids["help_requested"]
    )
    assert "Open tickets (2)" in html
    assert html.index(f'data-ticket="{ids["help_requested"]}"') < html.index(
        f'data-ticket="{ids["motor_jammed"]}"'
    ), "urgent before high"


def test_overview_of_an_empty_community(client: TestClient) -> None:
    html = client.get("/").text

    assert "No facility has reported yet" in html
    assert "No open tickets." in html


def test_acknowledge_button_redirects_and_changes_state(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    ticket_id = seed(services, catalogue)["motor_jammed"]

    response = act(client, f"/tickets/{ticket_id}/acknowledge", note="on my way")

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    with services.sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.state == TicketState.ACKNOWLEDGED
        assert [(e.note, e.actor) for e in ticket.events] == [("", None), ("on my way", "admin")]
    ticket_row = row(client.get("/").text, "data-ticket", ticket_id)
    assert "acknowledged" in ticket_row
    assert "/acknowledge" not in ticket_row, "no acknowledge button once acknowledged"
    assert buttons(ticket_row) == ["assign", "start", "hold", "resolve", "cancel"]


def test_resolve_leaves_it_verifying_and_a_confirmation_closes_it(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    ticket_id = seed(services, catalogue)["motor_jammed"]

    assert act(client, f"/tickets/{ticket_id}/resolve", note="new motor").status_code == 303

    verifying = row(client.get("/").text, "data-ticket", ticket_id)
    assert 'data-state="verifying"' in verifying
    assert "verified by the data at" in verifying
    assert buttons(verifying) == ["confirm", "reopen"]
    assert act(client, f"/tickets/{ticket_id}/confirm").status_code == 303
    html = client.get("/").text
    assert f'data-ticket="{ticket_id}"' not in html
    assert "Open tickets (1)" in html


def test_button_on_a_ticket_it_no_longer_fits_or_unknown_ticket(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    ticket_id = seed(services, catalogue)["motor_jammed"]
    act(client, f"/tickets/{ticket_id}/resolve")

    again = act(client, f"/tickets/{ticket_id}/acknowledge")
    assert again.status_code == 409
    assert "verifying" in again.json()["detail"]
    assert act(client, "/tickets/9999/resolve").status_code == 404
    unexplained = act(client, f"/tickets/{ticket_id}/reopen")
    assert unexplained.status_code == 409
    assert "needs a note" in unexplained.json()["detail"]
    assert act(client, f"/tickets/{ticket_id}/close").status_code == 422
    assert act(client, f"/tickets/{ticket_id}/reopen", note="still jammed").status_code == 303


def test_the_buttons_are_the_moves_the_viewer_may_make(
    services: Services, catalogue: Catalogue
) -> None:
    """The supervisor assigns the oak gate's ticket to Li from the page, choosing Li among
    the community's maintainers; each viewer's buttons are the ``moves`` the API gives them
    — Li's on the ticket that is theirs, only acknowledge on an open one nobody has."""
    ids = two_communities(services, catalogue)
    gate = ids["oak_ticket"]
    with (
        client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen,
        maintainer_li(services, ids) as (li, li_id),
    ):
        side = chen.post(
            "/api/v1/tickets", json={"facility_id": ids["oak_side_gate"], "fault": "reported"}
        ).json()["id"]
        offered = row(chen.get("/").text, "data-ticket", gate)
        assert f'<option value="{li_id}">Li (0 open)</option>' in offered
        assert offered.count("<option value=") == 2, "oak's one maintainer, and none chosen"

        assigned = act(chen, f"/tickets/{gate}/assign", assignee_id=str(li_id), note="yours")
        assert assigned.status_code == 303

        def check(viewer: TestClient) -> dict[int, list[str]]:
            page = viewer.get("/").text
            seen = {}
            for ticket in (gate, side):
                moves = viewer.get(f"/api/v1/tickets/{ticket}").json()["moves"]
                if viewer is li:  # a maintainer's is the phone view: a page per ticket
                    mobile = viewer.get(f"/my/tickets/{ticket}").text
                    assert re.findall(r'data-move="(\w+)"', mobile) == moves
                else:
                    assert buttons(row(page, "data-ticket", ticket)) == moves
                seen[ticket] = moves
            return seen

        assert check(chen) == {
            gate: ["assign", "acknowledge", "start", "resolve", "cancel"],
            side: ["assign", "acknowledge", "resolve", "cancel"],
        }
        assert check(li) == {gate: ["acknowledge", "start", "resolve"], side: ["acknowledge"]}
        mine = li.get(f"/my/tickets/{gate}").text
        assert "<dd>Li</dd>" in mine and 'data-state="assigned"' in mine
        assert 'id="deadline"' not in mine, "until the repair rounds work the deadlines out"
        services.rounds.run(services.sessions, datetime.now(UTC))
        mine = li.get(f"/my/tickets/{gate}").text
        # its reading is of 2025-11-27: the response target is long missed, and escalated
        assert 'id="deadline">(Nov 27, 2025' in mine and "a deadline was missed" in mine
        assert "escalated to the property manager" in mine
        escalated = li.get(f"/api/v1/tickets/{gate}").json()
        assert escalated["respond_breached_at"] and escalated["escalation"] == "property_manager"
        assert '<select name="assignee_id"' not in mine, "a maintainer assigns no one"

        assert act(li, f"/tickets/{gate}/start").status_code == 303
        refused = act(li, f"/tickets/{gate}/hold")
        assert (refused.status_code, refused.json()["detail"]) == (
            409,
            "say why: hold needs a note",
        )
        assert act(li, f"/tickets/{gate}/hold", note="waiting for a motor").status_code == 303
        assert check(li)[gate] == ["start", "resolve"]
        assert check(chen)[gate] == ["assign", "start", "resolve", "cancel"]
        with services.sessions() as session:
            ticket = session.get(Ticket, gate)
            assert ticket is not None
            assert [e.note for e in ticket.events][-2:] == ["", "waiting for a motor"]


def test_pages_need_a_login_and_the_login_form_gives_one(services: Services) -> None:
    make_account(services, "zhang", Role.OPERATOR_ADMIN)
    with TestClient(create_app(services)) as browser:

        def log_in(password: str, token: str | None = None) -> Response:
            page = browser.get("/login").text
            found = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert found is not None
            fields = {"username": "zhang", "password": password, "csrf_token": token or found[1]}
            return browser.post("/login", data=fields, follow_redirects=False)

        first = browser.get("/", follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (303, "/login")
        wrong = log_in("nope")
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        assert log_in(ADMIN_PASSWORD, token="forged").status_code == 403
        done = log_in(ADMIN_PASSWORD)
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert "zhang (operator admin)" in browser.get("/").text


def test_a_ticket_form_without_the_sessions_token_is_refused(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    ticket_id = seed(services, catalogue)["motor_jammed"]
    stale = client.post(
        f"/tickets/{ticket_id}/acknowledge", data={"csrf_token": "x"}, follow_redirects=False
    )
    assert stale.status_code == 403
    with services.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.state == TicketState.OPEN


def test_the_operator_sees_gateways_not_provisioned_and_devices_not_bound(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    """A forgotten provisioning step shows at once: the gateway sending without it, to
    operator admins; devices heard from but bound to no facility, to everyone of the
    community."""
    services.intake.process(
        batch_topic("gw-forgotten"),
        batch("gw-forgotten", 1, [item(catalogue, GATE, "normal")]).model_dump_json().encode(),
    )
    with services.sessions.begin() as session:
        apply_site(session, lone_gateway("gw-bare"), datetime.now(UTC), services.tickets)
    services.writer.write(batch("gw-bare", 1, [item(catalogue, LIGHT, "normal_on")]))

    page = client.get("/").text

    assert "gw-forgotten" in page and "1 batch(es), 1 reading(s) refused" in page
    assert "1 device heard from but not bound to a facility" in page
    with services.sessions() as session:
        community = session.scalar(select(Community.id).where(Community.slug == "lone"))
    make_account(services, "pm", Role.PROPERTY_MANAGER, community)
    with TestClient(create_app(services)) as manager:
        log_in(manager, "pm")
        theirs = manager.get("/").text
    assert "gw-forgotten" not in theirs
    assert "1 device heard from but not bound" in theirs


def lone_gateway(gateway: str) -> Site:
    return Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": "lone", "name": "Lone"},
            "gateways": {gateway: {}},
        }
    )
