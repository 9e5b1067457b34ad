"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (install it
with ``apt-get install chromium``). The flags keep the browser off the network (no
background updates or sync) and give it fake media devices for the softphone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

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
