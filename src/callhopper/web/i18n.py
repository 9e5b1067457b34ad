"""Languages of the pages: English (the source) and Japanese, from gettext catalogues.

The catalogues are ``locale/<lang>/LC_MESSAGES/messages.po`` files, compiled in memory when
first used, so there is no build step and no binary file in the repository. A page's
language is, in order: the signed-in user's preference (kept with the user, so it follows
them to every browser), the visitor's choice on the page (a cookie, for pages before sign-in
and users who never chose), the browser's ``Accept-Language``, English.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from callhopper.domain.users import LANGUAGES as LANGUAGES

DEFAULT_LANGUAGE = "en"
#: Where a visitor's choice of language is kept between pages (not a secret; a year).
LANG_COOKIE = "callhopper_lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
#: The catalogue domain and where the catalogues live inside the package.
DOMAIN = "messages"
_LOCALE_DIR = resources.files("callhopper.web") / "locale"


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang`` (English: no translation, the source strings)."""
    if lang == DEFAULT_LANGUAGE or lang not in LANGUAGES:
        return NullTranslations()
    po = _LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def parse_accept_language(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, most preferred first (``ja-JP`` →
    ``ja``); entries with ``q=0`` are refused ones and are left out."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().split("-")[0].lower()
        if language and language != "*" and quality > 0:
            weighted.append((-quality, position, language))
    return [language for _, _, language in sorted(weighted)]


def negotiate(preference: str | None, choice: str | None, accept_language: str | None) -> str:
    """The page language: the signed-in user's preference, else the visitor's choice (the
    cookie), else the first supported language of ``Accept-Language``, else English."""
    for candidate in (preference, choice, *parse_accept_language(accept_language)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
