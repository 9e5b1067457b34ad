"""Every string of the pages has a Japanese translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from callhopper.web import i18n

ROOT = Path(__file__).parents[2]
JA = ROOT / "src/callhopper/web/locale/ja/LC_MESSAGES/messages.po"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def extracted() -> set[str]:
    """The message ids of the pages (templates, Python and scripts), as ``make messages``
    extracts them."""
    method_map = [
        ("src/callhopper/web/**.py", "python"),
        ("src/callhopper/web/templates/**.html", "jinja2"),
        ("src/callhopper/web/static/js/**.js", "javascript"),
    ]
    options = {"src/callhopper/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options
    ):
        ids.update([message] if isinstance(message, str) else [m for m in message if m])
    return ids


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


def test_every_string_of_the_pages_is_translated_into_japanese() -> None:
    with JA.open("rb") as source:
        catalog = read_po(source, locale="ja")
    missing = []
    for message_id in sorted(extracted()):
        message = catalog.get(message_id)
        strings = message.string if message is not None else None
        translations = [strings] if isinstance(strings, str) else list(strings or [])
        if message is None or message.fuzzy or not all(translations):
            missing.append(message_id)
            continue
        for translation in translations:
            assert placeholders(translation) == placeholders(message_id), message_id
    assert missing == [], f"missing from {JA.relative_to(ROOT)}: {missing}"


def test_the_language_is_the_preference_then_the_choice_then_the_browser() -> None:
    assert i18n.negotiate("ja", "en", "en-US") == "ja"
    assert i18n.negotiate("en", "ja", "ja-JP") == "en"
    assert i18n.negotiate(None, "ja", "en-US") == "ja"
    assert i18n.negotiate(None, None, "fr-FR, ja;q=0.8, en;q=0.5") == "ja"
    assert i18n.negotiate(None, None, "ja;q=0, en") == "en"
    assert i18n.negotiate("xx", None, None) == "en"


def test_the_japanese_catalogue_loads_without_a_build_step() -> None:
    assert i18n.translations("ja").gettext("a string with no translation") == (
        "a string with no translation"
    )
