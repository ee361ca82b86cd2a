"""The three views in a real browser: a maintainer resolves a ticket on a phone-sized
screen, and a resident reports through a facility's QR link and follows the repair to its
end — in English and in Chinese, with no English left on the Chinese pages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from playwright.sync_api import Browser
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Facility, Person, Ticket
from cloud.repair.lifecycle import Move
from cloud.repair.residents import link_of
from cloud.services import Services
from tests.cloud.communities import PASSWORD
from tests.cloud.conftest import make_account
from tests.cloud.helpers import ADMIN, GATE, batch, item
from tests.cloud.repair.community import GATE_FIXERS, community, set_up
from tests.cloud.web.browser import (
    DESKTOP,
    PHONE,
    accessibility_problems,
    english_left,
    fits_the_screen,
    focus_unmarked,
    log_in,
    screenshot,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A one-pixel PNG: the photo of the repair."""


def _gate(services: Services, example: str, seq: int) -> None:
    reading = item(services.catalogue, GATE, example, ts=datetime.now(UTC), device_id="gate-01")
    services.writer.write(batch("gw-1", seq, [reading]))


def _ticket(services: Services) -> Ticket:
    with services.sessions() as session:
        found = session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert found is not None
    return found


def _move(services: Services, ticket_id: int, move: Move, **values: object) -> None:
    with services.sessions.begin() as session:
        services.tickets.move(
            session, ticket_id, move, ADMIN, at=datetime.now(UTC), note="by the office", **values
        )  # type: ignore[arg-type]


def test_a_maintainer_resolves_a_ticket_on_a_phone(
    browser: Browser, base_url: str, web_services: Services
) -> None:
    services = web_services
    set_up(services, community(**GATE_FIXERS))
    _gate(services, "motor_jammed", 1)
    ticket = _ticket(services)
    with services.sessions() as session:
        wang = session.scalars(select(Person).where(Person.slug == "wang")).one()
        community_id = wang.community_id
        wang_id = wang.id
    _move(services, ticket.id, Move.ASSIGN, assignee_id=wang_id)
    make_account(services, "wang", Role.MAINTAINER, community_id, PASSWORD, person_id=wang_id)

    for locale, name in (("zh-CN", "zh"), ("en-US", "en")):
        context = browser.new_context(viewport=PHONE, locale=locale)  # type: ignore[arg-type]
        page = context.new_page()
        log_in(page, base_url, "wang", PASSWORD)
        page.goto(f"{base_url}/")
        assert page.url.endswith("/my")  # a maintainer lands on their own tickets
        assert fits_the_screen(page)
        if name == "zh":
            assert english_left(page) == []
        screenshot(page, f"maintainer-list-{name}")
        page.locator(f"a[data-ticket='{ticket.id}']").click()
        page.wait_for_load_state()
        assert fits_the_screen(page)
        if name == "zh":
            assert english_left(page) == []
        assert accessibility_problems(page) == []
        assert focus_unmarked(page) == []
        screenshot(page, f"maintainer-ticket-{name}")
        context.close()

    context = browser.new_context(viewport=PHONE, locale="en-US")  # type: ignore[arg-type]
    page = context.new_page()
    log_in(page, base_url, "wang", PASSWORD)
    page.goto(f"{base_url}/my/tickets/{ticket.id}")
    for move in ("acknowledge", "start"):
        button = page.locator(f"button[data-move='{move}']")
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44  # a thumb's target
        button.click()
        page.wait_for_load_state()
    assert _ticket(services).state == "in_progress"
    page.locator("#note-resolve").fill("Motor replaced, gate opens and closes")
    page.locator("#photo").set_input_files(
        {"name": "repair.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.locator("button[data-move='resolve']").click()
    page.wait_for_load_state()
    done = _ticket(services)
    assert done.state == "verifying"  # the gate's own data will tell whether it holds
    assert fits_the_screen(page)
    screenshot(page, "maintainer-resolved-en")
    context.close()


def test_a_resident_reports_through_the_qr_link_and_follows_it_to_the_end(
    browser: Browser, base_url: str, web_services: Services
) -> None:
    services = web_services
    set_up(services, community(**GATE_FIXERS))
    _gate(services, "normal", 1)
    with services.sessions.begin() as session:
        facility = session.scalars(select(Facility).where(Facility.code == "gate-01")).one()
        token = link_of(session, facility.id, datetime.now(UTC))

    context = browser.new_context(viewport=PHONE, locale="zh-CN")  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base_url}/r/{token}")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert english_left(page) == []
    assert fits_the_screen(page)
    assert accessibility_problems(page) == []
    assert focus_unmarked(page) == []
    screenshot(page, "resident-report-zh")
    page.locator("form.report textarea[name=description]").fill("闸门打不开 刷卡没有反应")
    page.locator("form.report input[name=phone]").fill("13800138000")
    page.locator("form.report button").click()
    page.wait_for_load_state()
    assert "/r/status/" in page.url
    status_url = page.url
    assert english_left(page) == []
    assert accessibility_problems(page) == []
    screenshot(page, "resident-status-zh")

    reported = _ticket(services)
    assert (reported.fault, reported.opened_by) == ("reported", "resident")
    for move in (Move.ACKNOWLEDGE, Move.START, Move.RESOLVE, Move.CONFIRM):
        _move(services, reported.id, move)
    assert _ticket(services).state == "closed"
    page.goto(status_url)
    assert english_left(page) == []
    text = page.locator("body").inner_text()
    assert "13800138000" not in text  # the phone number is the maintainer's, not the page's
    screenshot(page, "resident-closed-zh")

    english = browser.new_context(viewport=PHONE, locale="en-US")  # type: ignore[arg-type]
    page = english.new_page()
    page.goto(status_url)
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "resident-closed-en")
    english.close()
    context.close()


def test_a_manager_sees_a_fault_appear_without_reloading(
    browser: Browser, base_url: str, web_services: Services
) -> None:
    services = web_services
    set_up(services, community(**GATE_FIXERS))
    _gate(services, "normal", 1)
    with services.sessions() as session:
        zhang = session.scalars(select(Person).where(Person.slug == "zhang")).one()
        community_id, zhang_id = zhang.community_id, zhang.id
    make_account(
        services, "zhang", Role.PROPERTY_MANAGER, community_id, PASSWORD, person_id=zhang_id
    )

    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")  # type: ignore[arg-type]
    page = context.new_page()
    log_in(page, base_url, "zhang", PASSWORD)
    page.goto(f"{base_url}/")
    assert english_left(page) == []
    screenshot(page, "dashboard-zh")
    page.evaluate("window.notReloaded = true")

    _gate(services, "motor_jammed", 2)  # the gate jams while the page is open
    ticket = _ticket(services)
    page.wait_for_selector(f"tr[data-ticket='{ticket.id}']", timeout=20_000)
    assert page.evaluate("window.notReloaded === true")  # the same page, updated in place
    assert english_left(page) == []
    assert accessibility_problems(page) == []
    assert focus_unmarked(page, presses=25) == []
    screenshot(page, "dashboard-fault-zh")
    context.close()

    english = browser.new_context(viewport=DESKTOP, locale="en-US")  # type: ignore[arg-type]
    page = english.new_page()
    log_in(page, base_url, "zhang", PASSWORD)
    page.goto(f"{base_url}/")
    screenshot(page, "dashboard-en")
    english.close()
