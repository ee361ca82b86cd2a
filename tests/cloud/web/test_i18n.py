"""The web UI speaks Simplified Chinese and English: every message it says has a Chinese
translation, the language follows the viewer's choice or browser, and dates, numbers and
durations are written as each language writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cloud.app import create_app
from cloud.services import Services
from cloud.web.i18n import LANGUAGE_COOKIE, Languages, package_root, said, untranslated
from linli.cli import app as linli


@pytest.fixture(scope="module")
def languages() -> Languages:
    return Languages()


def test_every_message_of_the_ui_has_its_chinese_translation(languages: Languages) -> None:
    messages = said(package_root())
    assert "Log in" in messages  # the templates are read, not only the modules
    assert "Wrong user name or password." in messages  # and the modules' marked messages
    assert untranslated(package_root(), languages) == {"zh_Hans": []}


def test_the_cli_lists_what_a_catalogue_lacks() -> None:
    done = CliRunner().invoke(linli, ["cloud", "untranslated"])
    assert done.exit_code == 0, done.output
    assert "every message is translated" in done.output


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
        ("zh-Hans-SG", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,en;q=0.5,zh;q=0.9", "zh_Hans"),
        ("fr-FR", "en"),
        ("", "en"),
        ("zh;q=0, en", "en"),
        ("garbage;q=x, zh", "zh_Hans"),
    ],
)
def test_the_browser_language_is_followed(languages: Languages, header: str, code: str) -> None:
    assert languages.choose(None, header).code == code


def test_a_choice_outweighs_the_browser(languages: Languages) -> None:
    assert languages.choose("en", "zh-CN").code == "en"
    assert languages.choose("zh-Hans", "en-US").code == "zh_Hans"
    assert languages.choose("klingon", "zh-CN").code == "zh_Hans"  # not ours: the browser's


def test_dates_numbers_and_durations_are_written_for_the_language(languages: Languages) -> None:
    zh, en = languages["zh_Hans"], languages["en"]
    moment = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert zh.when(moment, "Asia/Shanghai") == "2026年12月4日 18:00:00"
    assert en.when(moment, "Asia/Shanghai").startswith("Dec 4, 2026")
    assert (zh.soon(moment, "Asia/Shanghai"), en.soon(moment, "Asia/Shanghai")) == (
        "12月4日 18:00",
        "Dec 4 18:00",
    )
    assert (zh.duration(3 * 3600), en.duration(3 * 3600)) == ("3小时", "3 hours")
    assert (zh.number(12345.5), en.share(0.934)) == ("12,345.5", "93%")
    assert zh.gettext("Log in") == "登录" and en.gettext("Log in") == "Log in"
    assert zh.gettext("not in the catalogue") == "not in the catalogue"


def test_the_login_page_in_the_browsers_language_and_by_choice(services: Services) -> None:
    client = TestClient(create_app(services))
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-Hans">' in chinese.text
    assert "用户名" in chinese.text and "User name" not in chinese.text

    chosen = client.get("/login?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in chosen.text and "User name" in chosen.text
    assert chosen.cookies.get(LANGUAGE_COOKIE) == "en"
    again = client.get("/login", headers={"Accept-Language": "zh-CN"})  # the cookie holds
    assert "User name" in again.text

    wrong = client.post(
        "/login?lang=zh-Hans",
        data={"username": "nobody", "password": "wrong", "csrf_token": "stale"},
    )
    assert wrong.status_code == 403 and "表单已过期" in wrong.text


def test_a_count_takes_the_form_its_language_gives_it(languages: Languages) -> None:
    """English says "1 failure" and "2 failures"; Chinese has one form; the count is written
    as the language writes numbers."""
    english, chinese = languages["en"], languages["zh_Hans"]
    forms = ("{n} failure", "{n} failures")
    assert [english.ngettext(*forms, n) for n in (0, 1, 2)] == [
        "0 failures",
        "1 failure",
        "2 failures",
    ]
    assert english.ngettext(*forms, 1234) == "1,234 failures"
    assert [chinese.ngettext(*forms, n) for n in (1, 2)] == ["1 次故障", "2 次故障"]
    met = ("{met} of {n} ticket met its targets", "{met} of {n} tickets met their targets")
    assert chinese.ngettext(*met, 5, met=4) == "5 张工单中 4 张达标"
    assert "{n} failure" in said(package_root()), "found by its singular"
