"""Pages rendered in their viewer's language: :class:`Renderer`, made once with the web
router and shared by every view (templates in ``cloud/web/templates``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from cloud.web.i18n import LANGUAGE_COOKIE, Language, Languages
from cloud.web.words import ProfileWords
from device_profiles import Catalogue

TEMPLATES = Path(__file__).parent / "templates"
_YEAR_S = 365 * 24 * 3600


class Renderer:
    """The templates, the languages they are shown in, and the profiles whose words they
    show (a template's ``words``: :class:`~cloud.web.words.ProfileWords`)."""

    def __init__(self, languages: Languages, catalogue: Catalogue) -> None:
        self.templates = Jinja2Templates(directory=TEMPLATES)
        self.languages = languages
        self.catalogue = catalogue

    def language(self, request: Request) -> Language:
        """The viewer's language: ``?lang=`` now, else the one they chose before (a cookie),
        else their browser's."""
        chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        return self.languages.choose(chosen, request.headers.get("accept-language"))

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
    ) -> Response:
        """``template`` with ``context``, ``_``, the formatters and the profiles' words of
        the viewer's language; a language chosen with ``?lang=`` is remembered."""
        language = self.language(request)
        words = ProfileWords(self.catalogue, language)
        response = self.templates.TemplateResponse(
            request,
            template,
            {**language.context(), "words": words, **context},
            status_code=status_code,
        )
        if request.query_params.get("lang"):
            response.set_cookie(
                LANGUAGE_COOKIE, language.code, max_age=_YEAR_S, samesite="lax", path="/"
            )
        return response
