"""The web UI's languages: Simplified Chinese and English, message catalogues, and dates,
numbers and durations formatted for the language.

Catalogues are gettext ``.po`` files in ``cloud/web/locales/<language>/`` (one per part of
the UI: ``messages.po``, ``dashboard.po``…), read
when the app is made (Babel reads them; nothing is compiled). The messages are written in
English in the templates and modules, so English needs no catalogue; the Chinese one
translates each. A page's language is,
in order: the one its viewer chose (``?lang=``, kept in a cookie), the browser's
``Accept-Language``, English.

``linli cloud untranslated`` lists the messages of the templates and the web modules that a
catalogue lacks (or leaves empty); a test fails while one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = ("en", "zh_Hans")
"""The languages of the UI, as their catalogues' folders are named."""
TAGS = {"en": "en", "zh_Hans": "zh-Hans"}
"""Each language as HTML's ``lang`` and HTTP name it."""
DEFAULT = "en"
LANGUAGE_COOKIE = "linli_lang"


def _(message: str) -> str:
    """Marks ``message`` for the catalogues (``linli cloud untranslated`` finds it); the
    page translates it when it shows it."""
    return message


@dataclass(frozen=True)
class Language:
    """One language of the UI: its messages and its formats."""

    code: str
    """``en`` or ``zh_Hans``"""
    messages: dict[str, str]
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """messages that depend on a count, by their English singular: the language's forms"""

    @property
    def tag(self) -> str:
        return TAGS[self.code]

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.code)

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` in this language (itself if the catalogue lacks it), with
        ``{name}`` placeholders filled from ``values``."""
        found = self.messages.get(message) or message
        return found.format(**values) if values else found

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The form of a message for the count ``n`` (``{n}`` is filled with it): English
        says "1 failure", "2 failures"; a language without plurals has one form."""
        forms = self.plurals.get(singular) or (singular, plural)
        index = 0 if n == 1 or len(forms) == 1 else 1
        return forms[min(index, len(forms) - 1)].format(n=self.number(n), **values)

    def when(self, moment: datetime | None, time_zone: str = "UTC") -> str:
        """A moment as people of this language write it, in ``time_zone``."""
        if moment is None:
            return ""
        return format_datetime(moment, "medium", tzinfo=ZoneInfo(time_zone), locale=self.locale)

    def soon(self, moment: datetime | None, time_zone: str = "UTC") -> str:
        """A moment of the coming days, short: its day and minute ("Dec 7, 04:30",
        "12月7日 04:30"), in ``time_zone``."""
        if moment is None:
            return ""
        local = moment.astimezone(ZoneInfo(time_zone))
        day = format_skeleton("MMMd", local, locale=self.locale)
        return f"{day} {format_skeleton('Hm', local, locale=self.locale)}"

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def share(self, value: float) -> str:
        """A share (0.93) as a percentage."""
        return format_percent(value, locale=self.locale)

    def duration(self, seconds: float) -> str:
        """A duration in words ("3 hours", "3小时"), rounded to its largest unit."""
        return format_timedelta(timedelta(seconds=seconds), locale=self.locale)

    def context(self) -> dict[str, Any]:
        """What templates use: ``_`` and the formatters, and the language itself."""
        return {
            "_": self.gettext,
            "_n": self.ngettext,
            "lang": self,
            "when": self.when,
            "soon": self.soon,
            "number": self.number,
            "share": self.share,
            "duration": self.duration,
        }


class Languages:
    """The catalogues, read once."""

    def __init__(self, directory: Path = LOCALES) -> None:
        self._by_code = {code: Language(code, *_messages(directory, code)) for code in LANGUAGES}

    def __getitem__(self, code: str) -> Language:
        return self._by_code[code]

    def __iter__(self) -> Iterator[Language]:
        return iter(self._by_code.values())

    def choose(self, chosen: str | None, accept_language: str | None) -> Language:
        """The viewer's choice if it is one of ours, else the browser's best, else English."""
        if chosen:
            for code, tag in TAGS.items():
                if chosen in (code, tag):
                    return self._by_code[code]
        for wanted in _accepted(accept_language or ""):
            primary = wanted.split("_")[0].lower()
            if primary == "zh":  # zh, zh-CN, zh-Hans-SG, and zh-TW: Chinese is what they read
                return self._by_code["zh_Hans"]
            if primary == "en":
                return self._by_code["en"]
        return self._by_code[DEFAULT]


def _accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first, as Babel names
    them (``zh-Hans-CN`` → ``zh_Hans_CN``)."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if name and name != "*" and quality > 0:
            ranked.append((-quality, n, name.replace("-", "_")))
    return [name for _, _, name in sorted(ranked)]


def _messages(directory: Path, code: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """A language's messages and its messages that depend on a count."""
    found: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    if code == DEFAULT:  # the messages are English
        return found, plurals
    for path in sorted((directory / code).glob("*.po")):  # one file per part of the UI
        with path.open("rb") as file:
            catalog: Catalog = read_po(file, locale=code)
        for message in catalog:
            if isinstance(message.id, str) and message.id and message.string:
                found[message.id] = str(message.string)
            elif (
                isinstance(message.id, tuple)
                and isinstance(message.string, tuple)
                and all(message.string)
            ):
                plurals[str(message.id[0])] = tuple(str(f) for f in message.string)
    return found, plurals


# -- what the UI says, and what a catalogue lacks ----------------------------------------

_METHODS = [
    ("cloud/web/templates/**.html", "jinja2"),
    ("cloud/web/**.py", "python"),
]
_KEYWORDS = {"_": None, "gettext": None, "_n": (1, 2), "ngettext": (1, 2)}


def package_root() -> Path:
    """The folder that holds the ``cloud`` package: where the UI's files are looked for."""
    return Path(__file__).resolve().parents[2]


def said(root: Path) -> dict[str, list[str]]:
    """Every message the web UI says (its templates and modules), with where."""
    found: dict[str, list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        root,
        method_map=_METHODS,
        keywords=_KEYWORDS,
        options_map={"cloud/web/templates/**.html": {"extensions": ""}},
    ):
        if isinstance(message, tuple):  # one that depends on a count: by its singular
            message = message[0]
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"{filename}:{_line}")
    return found


def untranslated(root: Path, languages: Iterable[Language]) -> dict[str, list[str]]:
    """Per language but English, the messages the UI says that its catalogue lacks or leaves
    empty."""
    messages = said(root)
    return {
        language.code: sorted(
            m for m in messages if not (language.messages.get(m) or language.plurals.get(m))
        )
        for language in languages
        if language.code != DEFAULT
    }
