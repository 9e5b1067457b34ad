"""The Jinja2 environment of the pages: autoescaping, gettext in the page's language, and
dates, times and numbers written the way the viewer's locale writes them.

A template renders with ``lang`` in its context (see :func:`callhopper.web.i18n.negotiate`);
``_()``/``gettext()``/``ngettext()`` and the ``{% trans %}`` tag translate into it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from callhopper.web.i18n import translations


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context["lang"]).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context["lang"]).ngettext(singular, plural, n)


@pass_context
def _format_datetime(
    context: Context, value: datetime | None, form: str = "medium", zone: str | None = None
) -> str:
    """``value`` in the viewer's locale, in ``zone`` (an IANA name) or the value's own zone."""
    if value is None:
        return ""
    tzinfo = ZoneInfo(zone) if zone else value.tzinfo
    return format_datetime(value, form, tzinfo=tzinfo, locale=context["lang"])


@pass_context
def _format_number(context: Context, value: float | int | None) -> str:
    return "" if value is None else format_decimal(value, locale=context["lang"])


@pass_context
def _format_percent(context: Context, value: float | None) -> str:
    """A ratio (0.034) as a percentage with up to two decimals (3.4 %), in the locale."""
    if value is None:
        return ""
    return format_percent(value, "#,##0.##%", locale=context["lang"])


@pass_context
def _format_date(context: Context, value: date | None, form: str = "medium") -> str:
    return "" if value is None else format_date(value, form, locale=context["lang"])


def _data(value: object) -> Markup:
    """``value`` (a name, a number, a campaign: data, not words of the page) marked so that
    nothing translates it: ``<span translate="no">``."""
    return Markup('<span translate="no">%s</span>') % ("" if value is None else value)


def _data_values(values: dict[str, object]) -> dict[str, Markup]:
    """Every value of a message's placeholders marked as data (see :func:`_data`)."""
    return {key: _data(value) for key, value in values.items()}


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("callhopper.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["datetime"] = _format_datetime
    env.filters["number"] = _format_number
    env.filters["percent"] = _format_percent
    env.filters["date"] = _format_date
    env.filters["data"] = _data
    env.filters["data_values"] = _data_values
    return env


#: The pages' templates (Starlette's wrapper adds ``url_for`` and lets tests inspect the
#: template and context of a response).
templates = Jinja2Templates(env=make_environment())


def context(lang: str, **values: Any) -> dict[str, Any]:
    """A template context in ``lang``."""
    return {"lang": lang, **values}
