"""The maintainer's view, made for a phone: their tickets most urgent first, a ticket's
place, history, data and moves, and resolving with a photo of the repair."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from cloud.access.roles import Role
from cloud.db.models import Ticket, TicketEvent, TicketPhoto
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, person_client, two_communities

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


class Oak:
    """Oak with its manager Zhang and maintainer Li logged in."""

    def __init__(
        self, services: Services, ids: dict[str, int], zhang: TestClient, li: TestClient, li_id: int
    ) -> None:
        self.services, self.ids, self.zhang, self.li, self.li_id = services, ids, zhang, li, li_id

    def open(self, facility_id: int, fault: str, title: str) -> int:
        made = self.zhang.post(
            "/api/v1/tickets", json={"facility_id": facility_id, "fault": fault, "title": title}
        )
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    def assign(self, ticket_id: int, to: int | None = None) -> None:
        """Assign the ticket to Li (or ``to``); the repair rounds may have done it already."""
        done = self.zhang.post(
            f"/api/v1/tickets/{ticket_id}/assign", json={"assignee_id": to or self.li_id}
        )
        assert done.status_code == 200 or "already" in done.text, done.text

    def set(self, ticket_id: int, **values: Any) -> None:
        with self.services.sessions.begin() as session:
            session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))

    def state(self, ticket_id: int) -> str:
        with self.services.sessions() as session:
            found = session.get(Ticket, ticket_id)
            assert found is not None
            return found.state

    def photo_dir(self) -> Path:
        return self.services.settings.data_dir / "photos"


@pytest.fixture
def oak(services: Services, catalogue: Catalogue) -> Iterator[Oak]:
    ids = two_communities(services, catalogue)
    with (
        client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang,
        maintainer_li(services, ids) as (li, li_id),
    ):
        yield Oak(services, ids, zhang, li, li_id)


def post(
    client: TestClient, path: str, csrf: bool = True, files: Any = None, **fields: str
) -> Response:
    data = {**fields, **({"csrf_token": client.headers["X-CSRF-Token"]} if csrf else {})}
    return client.post(path, data=data, files=files, follow_redirects=False)


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a class="card" href="/my/tickets/(\d+)"', html)]


def moves(html: str) -> list[str]:
    return re.findall(r'data-move="(\w+)"', html)


def test_my_tickets_most_urgent_first_and_only_mine(oak: Oak) -> None:
    now = datetime.now(UTC)
    gate, side = oak.ids["oak_ticket"], oak.ids["oak_side_gate"]
    with oak.services.sessions() as session:
        gate_facility = session.scalar(select(Ticket.facility_id).where(Ticket.id == gate))
    assert gate_facility is not None
    bench = oak.open(side, "reported", "Side gate bent")
    forced = oak.open(gate_facility, "door_forced", "Forced open")
    reader = oak.open(gate_facility, "card_reader_fault", "Reader dead")
    nobodys = oak.open(gate_facility, "motor_overcurrent", "Wu's")
    for ticket_id in (gate, bench, forced, reader):
        oak.assign(ticket_id)
    north = {z["slug"]: z["id"] for z in oak.zhang.get("/api/v1/zones").json()}["north"]
    with person_client(oak.services, oak.zhang, "wu", "Wu", "maintainer", [north]) as (_, wu):
        oak.assign(nobodys, to=wu)
    hour = timedelta(hours=1)
    # gate: high; the others normal — bench has missed its response, forced is acknowledged
    # (its resolve_by runs: 3 h, though its respond_by was close), reader must respond in 1 h
    oak.set(gate, priority="high", respond_by=now + 5 * hour)
    oak.set(bench, priority="normal", respond_by=now - hour, respond_breached_at=now - hour)
    oak.set(
        forced,
        priority="normal",
        state="acknowledged",
        respond_by=now + timedelta(minutes=10),
        resolve_by=now + 3 * hour,
    )
    oak.set(reader, priority="normal", respond_by=now + hour, resolve_by=now + 2 * hour)
    oak.set(nobodys, priority="urgent")

    page = oak.li.get("/my")

    assert page.status_code == 200
    mine = page.text.split('id="waiting"')[0]
    assert listed(mine) == [gate, bench, reader, forced]
    assert nobodys not in listed(page.text)  # Wu's
    assert oak.ids["elm_ticket"] not in listed(page.text)
    assert "overdue by 1 hour" in page.text
    assert "1 hour left" in page.text or "59 minutes left" in page.text
    assert oak.li.get(f"/my/tickets/{oak.ids['elm_ticket']}").status_code == 404
    front = oak.li.get("/", follow_redirects=False)  # the phone view is a maintainer's home
    assert front.status_code == 303 and front.headers["location"] == "/my"
    assert oak.zhang.get("/", follow_redirects=False).status_code == 200


def test_detail_shows_place_history_data_and_moves(oak: Oak) -> None:
    ticket_id = oak.ids["oak_ticket"]
    oak.assign(ticket_id)

    page = oak.li.get(f"/my/tickets/{ticket_id}")

    assert page.status_code == 200
    html = page.text
    assert "Gate motor jammed" in html and "oak gate" in html  # the fault, the facility
    assert re.search(r'data-kind="opened"><strong>opened', html)
    assert re.search(r'data-kind="assigned"><strong>assigned', html)
    assert "Device g1" in html and "<strong>Gate motor jammed</strong>" in html  # its faults
    assert 'data-metric="' in html
    assert moves(html) == ["acknowledge", "start", "resolve"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert re.search(r'<label for="note-acknowledge">', html)


def test_acknowledge_start_and_resolve_with_a_photo(oak: Oak) -> None:
    ticket_id = oak.ids["oak_ticket"]
    oak.assign(ticket_id)
    base = f"/my/tickets/{ticket_id}"

    done = post(oak.li, f"{base}/acknowledge")
    assert done.status_code == 303 and done.headers["location"] == base
    assert post(oak.li, f"{base}/start", note="on my way").status_code == 303
    assert moves(oak.li.get(base).text) == ["hold", "resolve"]
    assert post(oak.li, f"{base}/resolve").status_code == 422  # resolve needs a note
    resolved = post(
        oak.li,
        f"{base}/resolve",
        note="motor replaced",
        files={"photo": ("repair.png", PNG, "image/png")},
    )

    assert resolved.status_code == 303, resolved.text
    assert oak.state(ticket_id) == "verifying"
    with oak.services.sessions() as session:
        photo = session.scalars(select(TicketPhoto)).one()
        event = session.get(TicketEvent, photo.event_id)
        assert event is not None and event.kind == "resolved" and event.note == "motor replaced"
        assert event.evidence == {"photo_id": photo.photo_id}
        assert (photo.ticket_id, photo.taken_by) == (ticket_id, "li")
    stored = oak.photo_dir() / f"{photo.photo_id}.png"
    assert stored.read_bytes() == PNG
    staff = oak.zhang.get(base)  # the manager sees it on the ticket
    src = f"{base}/photos/{photo.photo_id}"
    assert staff.status_code == 200 and f'src="{src}"' in staff.text
    image = oak.zhang.get(src)
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"


def test_a_bad_photo_is_refused_and_the_move_not_made(oak: Oak) -> None:
    ticket_id = oak.ids["oak_ticket"]
    oak.assign(ticket_id)
    base = f"/my/tickets/{ticket_id}"
    assert post(oak.li, f"{base}/acknowledge").status_code == 303

    fake = post(
        oak.li,
        f"{base}/resolve",
        note="fixed",
        files={"photo": ("repair.png", b"just some text, honestly", "image/png")},
    )
    big = post(
        oak.li,
        f"{base}/resolve",
        note="fixed",
        files={
            "photo": ("big.png", PNG + bytes(oak.services.settings.photo_max_bytes), "image/png")
        },
    )

    assert fake.status_code == 415 and "not a JPEG, PNG or WebP" in fake.text
    assert big.status_code == 413 and "at most" in big.text
    assert oak.state(ticket_id) == "acknowledged"
    assert not oak.photo_dir().exists() or not any(oak.photo_dir().iterdir())
    with oak.services.sessions() as session:
        assert session.scalars(select(TicketPhoto)).all() == []


def test_a_move_without_the_sessions_token_or_a_note_is_refused(oak: Oak) -> None:
    ticket_id = oak.ids["oak_ticket"]
    oak.assign(ticket_id)
    base = f"/my/tickets/{ticket_id}"

    assert post(oak.li, f"{base}/acknowledge", csrf=False).status_code == 403
    assert post(oak.li, f"{base}/acknowledge", csrf=False, csrf_token="x").status_code == 403
    assert oak.state(ticket_id) == "assigned"
    assert post(oak.li, f"{base}/acknowledge").status_code == 303
    assert post(oak.li, f"{base}/hold", note=" ").status_code == 422
    assert post(oak.li, f"{base}/confirm").status_code == 404  # not a move of this view
    assert post(oak.li, f"{base}/start").status_code == 303
    assert post(oak.li, f"{base}/acknowledge").status_code == 409  # not from in_progress
    assert oak.state(ticket_id) == "in_progress"


def test_in_chinese_by_the_browsers_language(oak: Oak) -> None:
    ticket_id = oak.ids["oak_ticket"]
    oak.assign(ticket_id)
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}

    listing = oak.li.get("/my", headers=chinese)
    detail = oak.li.get(f"/my/tickets/{ticket_id}", headers=chinese)

    assert '<html lang="zh-Hans">' in listing.text
    assert "我的工单" in listing.text and "My tickets" not in listing.text
    assert "确认接单" in detail.text and "历史" in detail.text and "Acknowledge" not in detail.text
