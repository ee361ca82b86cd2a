"""The resident page behind each facility's QR code: reports without a login that join the
facility's repair, me-toos, the status page, photos, rate limits and the printable QR sheet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Community, ResidentReport, Ticket, TicketEvent, Zone
from cloud.repair.lifecycle import Move
from cloud.repair.residents import link_of, rotate_link
from cloud.repair.tickets import REPORTED
from cloud.services import Services
from cloud.web.resident import qr_svg
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, two_communities
from tests.cloud.helpers import ADMIN

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def ids(services: Services, catalogue: Catalogue) -> dict[str, int]:
    """Oak and elm: oak's gate has a live sensor ticket (motor jammed), its side gate (zone
    north) none."""
    return two_communities(services, catalogue)


@pytest.fixture
def resident(services: Services) -> Iterator[TestClient]:
    """A resident's phone: no login."""
    with TestClient(create_app(services)) as client:
        yield client


def link(services: Services, facility_id: int) -> str:
    with services.sessions.begin() as session:
        return link_of(session, facility_id, datetime.now(UTC))


def csrf(page: Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form"
    return found.group(1)


def send(
    client: TestClient,
    token: str,
    description: str = "The gate does not open",
    *,
    phone: str = "",
    photo: tuple[str, bytes, str] | None = None,
) -> Response:
    """Open the facility's page and send its report form."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200, page.text
    files = {"photo": photo} if photo else None
    return client.post(
        f"/r/{token}/report",
        data={"csrf_token": csrf(page), "description": description, "phone": phone},
        files=files,
        follow_redirects=False,
    )


def me_too(client: TestClient, token: str) -> Response:
    page = client.get(f"/r/{token}")
    return client.post(
        f"/r/{token}/me-too", data={"csrf_token": csrf(page)}, follow_redirects=False
    )


def tickets_of(services: Services, facility_id: int) -> list[Ticket]:
    with services.sessions() as session:
        return list(session.scalars(select(Ticket).where(Ticket.facility_id == facility_id)))


def events(services: Services, ticket_id: int, kind: str) -> list[TicketEvent]:
    with services.sessions() as session:
        return list(
            session.scalars(
                select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind
                )
            )
        )


def gate_of(services: Services, ticket_id: int) -> int:
    with services.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.facility_id is not None
        return ticket.facility_id


def moved(services: Services, ticket_id: int, action: str, note: str = "") -> None:
    with services.sessions.begin() as session:
        services.tickets.move(
            session, ticket_id, Move(action), ADMIN, at=datetime.now(UTC), note=note or action
        )


def test_a_report_without_a_ticket_opens_a_reported_one(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    token = link(services, ids["oak_side_gate"])
    page = resident.get(f"/r/{token}")
    assert "oak side gate" in page.text and "North" in page.text
    assert "Already reported" not in page.text

    sent = send(resident, token, "  The side gate is stuck open  ", phone="+86 138 0000 0000")

    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/r/status/")
    [ticket] = tickets_of(services, ids["oak_side_gate"])
    assert (ticket.fault, ticket.state, ticket.opened_by) == (REPORTED, "open", "resident")
    [event] = events(services, ticket.id, "resident_report")
    assert (event.actor_kind, event.note) == ("resident", "The side gate is stuck open")
    assert event.evidence is not None
    assert (event.evidence["photo_id"], event.evidence["phone_left"]) == (None, True)
    status = resident.get(sent.headers["location"])
    assert status.status_code == 200
    assert "Reported: waiting for a maintainer" in status.text
    assert "Thank you" in status.text
    assert "138" not in status.text  # the phone number is the staff's alone
    again = resident.get(f"/r/{token}")  # the next resident sees it is reported
    assert "Already reported" in again.text and 'data-neighbours="1"' in again.text


def test_a_report_of_a_facility_with_a_sensor_ticket_joins_that_repair(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    gate = gate_of(services, ids["oak_ticket"])
    token = link(services, gate)
    page = resident.get(f"/r/{token}")
    assert "Already reported" in page.text
    assert "Out of order" in page.text

    sent = send(resident, token, "The motor hums but the gate stays shut")

    assert sent.status_code == 303
    [ticket] = tickets_of(services, gate)
    assert ticket.id == ids["oak_ticket"] and ticket.fault == "motor_jammed"
    assert len(events(services, ticket.id, "resident_report")) == 1


def test_me_too_counts_once_per_resident_and_facility(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    gate = gate_of(services, ids["oak_ticket"])
    token = link(services, gate)
    services.rounds.run(services.sessions, datetime.now(UTC))  # its targets: resolve_by

    first = me_too(resident, token)

    assert first.status_code == 303
    assert len(events(services, ids["oak_ticket"], "resident_me_too")) == 1
    page = resident.get(f"/r/{token}")
    assert 'data-neighbours="1"' in page.text
    assert "not known yet" not in page.text  # the expected repair time is shown
    again = me_too(resident, token)
    assert again.status_code == 429 and "Retry-After" in again.headers
    assert "Please wait a little" in again.text
    assert len(events(services, ids["oak_ticket"], "resident_me_too")) == 1


def test_the_status_page_follows_the_repair_to_its_end(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    token = link(services, ids["oak_side_gate"])
    status = send(resident, token).headers["location"].split("?")[0]
    [ticket] = tickets_of(services, ids["oak_side_gate"])

    moved(services, ticket.id, "resolve")
    assert "Repaired: being checked" in resident.get(status).text
    moved(services, ticket.id, "confirm")

    done = resident.get(status).text
    assert "Repaired and checked" in done
    assert "Checked and closed" in done and "Expected to be repaired by" not in done
    assert "Already reported" not in resident.get(f"/r/{token}").text  # a new report may come


def test_a_photo_is_checked_stored_and_shown_to_staff_alone(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    token = link(services, ids["oak_side_gate"])
    photos = services.settings.data_dir / "photos"

    wrong_type = send(resident, token, photo=("a.txt", b"hello", "text/plain"))
    lying = send(resident, token, photo=("a.jpg", PNG, "image/jpeg"))
    services.settings.photo_max_bytes = 1000
    too_big = send(resident, token, photo=("a.jpg", JPEG + b"\x00" * 1000, "image/jpeg"))

    assert (wrong_type.status_code, lying.status_code, too_big.status_code) == (415, 415, 413)
    assert "JPEG, PNG or WebP" in wrong_type.text and "too large" in too_big.text
    assert "The gate does not open" in lying.text  # what they wrote is kept for them
    assert not photos.exists() or not list(photos.iterdir())
    assert tickets_of(services, ids["oak_side_gate"]) == []

    sent = send(resident, token, photo=("broken.jpg", JPEG, "image/jpeg"))
    assert sent.status_code == 303
    with services.sessions() as session:
        photo_id = session.scalar(select(ResidentReport.photo_id))
    assert photo_id and (photos / f"{photo_id}.jpg").read_bytes() == JPEG
    assert resident.get(f"/photos/{photo_id}").status_code == 401
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        shown = zhang.get(f"/photos/{photo_id}")
        assert shown.status_code == 200 and shown.content == JPEG
        assert shown.headers["content-type"] == "image/jpeg"
    with client_as(services, "elm-boss", Role.PROPERTY_MANAGER, ids["elm"]) as elm:
        assert elm.get(f"/photos/{photo_id}").status_code == 404


def test_reports_are_limited_per_address(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    services.settings.resident_reports_per_window = 2
    token = link(services, ids["oak_side_gate"])

    answers = [send(resident, token, f"report {n}").status_code for n in range(3)]

    assert answers == [303, 303, 429]
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ResidentReport)) == 2


def test_forms_need_their_token_and_links_their_facility(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    token = link(services, ids["oak_side_gate"])
    forged = resident.post(
        f"/r/{token}/report", data={"csrf_token": "x" * 30, "description": "spam"}
    )
    assert forged.status_code == 403
    assert resident.get("/r/" + "A" * 32).status_code == 404
    assert resident.get("/r/status/" + "A" * 32).status_code == 404
    with services.sessions.begin() as session:
        rotated = rotate_link(session, ids["oak_side_gate"], datetime.now(UTC))
    assert resident.get(f"/r/{token}").status_code == 404  # the old QR code stops working
    assert resident.get(f"/r/{rotated}").status_code == 200
    empty = send(resident, rotated, "   ")
    assert empty.status_code == 400 and "Please say what is wrong." in empty.text
    phone = send(resident, rotated, phone="call me")
    assert phone.status_code == 400 and "phone number" in phone.text
    assert tickets_of(services, ids["oak_side_gate"]) == []


def test_the_page_speaks_the_residents_language(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    token = link(services, ids["oak_side_gate"])

    page = resident.get(f"/r/{token}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    assert '<html lang="zh-Hans">' in page.text
    assert "报修" in page.text and "提交报修" in page.text
    assert "Send the report" not in page.text


def north_of(services: Services, community: str) -> int:
    with services.sessions() as session:
        found = session.scalar(
            select(Zone.id)
            .join(Community, Community.id == Zone.community_id)
            .where(Zone.slug == "north", Community.slug == community)
        )
    assert found is not None
    return found


def test_the_qr_sheet_is_for_the_communitys_staff(
    services: Services, ids: dict[str, int], resident: TestClient
) -> None:
    north = north_of(services, "oak")
    services.settings.public_url = "https://linli.example.org"

    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        sheet = zhang.get(f"/zones/{north}/qr")
    assert sheet.status_code == 200
    link_ = f"https://linli.example.org/r/{link(services, ids['oak_side_gate'])}"
    assert f'data-link="{link_}"' in sheet.text
    assert qr_svg(link_) in sheet.text  # the code segno made of that very link
    assert "oak side gate" in sheet.text and "@page" in sheet.text

    with client_as(services, "elm-boss", Role.PROPERTY_MANAGER, ids["elm"]) as elm:
        assert elm.get(f"/zones/{north}/qr").status_code == 404
    with maintainer_li(services, ids) as (li, _):
        assert li.get(f"/zones/{north}/qr").status_code == 403
    anonymous = resident.get(f"/zones/{north}/qr", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"


def test_the_qr_link_defaults_to_the_address_asked_at(
    services: Services, ids: dict[str, int]
) -> None:
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        sheet = chen.get(f"/zones/{north_of(services, 'oak')}/qr")
    assert f'data-link="http://testserver/r/{link(services, ids["oak_side_gate"])}"' in sheet.text
