"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (install it
with ``apt-get install chromium``). The flags keep the browser off the network (no
background updates or sync) and give it fake media devices for the softphone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from callhopper.web.i18n import translations

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
AXE = Path(__file__).parent / "assets" / "axe.min.js"
#: axe-core impacts that fail a page.
FAILING_IMPACTS = frozenset({"serious", "critical"})
SCREENSHOTS = Path(__file__).parents[2] / "test-screenshots"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium"
    try:
        import playwright  # noqa: F401  (an optional test dependency: only the page tests need it)
    except ImportError:
        return "playwright is missing: pip install -e '.[dev]'"
    return None


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical accessibility violations axe-core finds on ``page``."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in violations
        ],
        indent=1,
    )


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under ``test-screenshots/`` (kept by CI as an artifact)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def clean_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)


#: Every word (two Latin letters or more) a person sees on the page outside the elements
#: ``skip`` selects (data: names, numbers …), and with ``names`` the accessible names and
#: hints of the page's controls outside ``translate="no"``.
_VISIBLE_WORDS = """([skip, names]) => {
  const words = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const element = node.parentElement;
    if (!element || element.closest(skip)) continue;
    if (!element.checkVisibility()) continue;
    words.push(...(node.textContent.match(/[A-Za-z]{2,}/g) || []));
  }
  const named = names ? '[aria-label], [placeholder], [title]' : ':not(*)';
  for (const element of document.querySelectorAll(named)) {
    if (element.closest('[translate="no"]')) continue;
    for (const name of ['aria-label', 'placeholder', 'title']) {
      words.push(...((element.getAttribute(name) || '').match(/[A-Za-z]{2,}/g) || []));
    }
  }
  return words;
}"""


class PageWalk:
    """What every walk through the pages does, in its language: the words as the page
    writes them, a screenshot per step (in Japanese, with no English word left on the page),
    axe-core, the notices, the buttons. A walk is a dataclass with ``page``, ``lang`` and
    ``step``; it names its screenshots and says which Latin words its pages may show."""

    page: Any
    lang: str
    step: int
    #: The screenshots' prefix.
    pages: ClassVar[str]
    #: Words a Japanese page writes in Latin letters (names of formats and standards).
    latin_allowed: ClassVar[frozenset[str]] = frozenset({"OK", "API", "HTTP"})
    #: Elements whose text is not checked: data, scripts and styles.
    not_words: ClassVar[str] = '[translate="no"], script, style, template'
    #: Whether the controls' accessible names and hints are checked too.
    check_names: ClassVar[bool] = True
    #: How long a step waits for the server.
    wait_ms: ClassVar[int] = 20_000

    def t(self, message: str, **values: str) -> str:
        """``message`` as the page writes it in the walk's language."""
        text = translations(self.lang).gettext(message)
        return text % values if values else text

    def shot(self, name: str) -> None:
        """A screenshot of this step; in Japanese, no word of the page is left in English."""
        self.step += 1
        screenshot(self.page, f"{self.pages}-{self.lang}-{self.step:02d}-{name}")
        if self.lang == "ja":
            words = set(self.page.evaluate(_VISIBLE_WORDS, [self.not_words, self.check_names]))
            english = sorted(words - self.latin_allowed)
            assert english == [], f"untranslated words on step {name}: {english}"

    def accessible(self, what: str) -> None:
        violations = axe_violations(self.page)
        assert violations == [], f"{what}: {describe(violations)}"

    def notice(self, message: str, **values: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#messages")).to_contain_text(
            self.t(message, **values), timeout=self.wait_ms
        )

    def button(self, name: str, within: Any = None) -> Any:
        return (within or self.page).get_by_role("button", name=self.t(name), exact=True)
