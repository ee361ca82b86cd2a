"""The login page in a real browser, in both languages, switched by the viewer."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.cloud.web.browser import DESKTOP, screenshot


def test_the_login_page_follows_the_browser_and_the_viewers_choice(
    browser: Browser, base_url: str
) -> None:
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base_url}/login")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_label("用户名").is_visible()
    screenshot(page, "login-zh")

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("User name").is_visible()
    page.goto(f"{base_url}/login")  # the choice is kept
    assert page.get_by_role("button", name="Log in").is_visible()
    screenshot(page, "login-en")

    page.get_by_label("User name").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong user name or password."
    context.close()
