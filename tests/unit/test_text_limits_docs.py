"""The API reference lists every text limit of the domain, with its value."""

from __future__ import annotations

import re
from pathlib import Path

from callhopper.domain.limits import TEXT_LIMITS

API_INDEX = Path(__file__).parents[2] / "docs" / "reference" / "api" / "index.md"


def test_the_limits_section_lists_every_limit_with_its_value() -> None:
    text = API_INDEX.read_text(encoding="utf-8")
    section = text.split("## Limits {#limits}", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| ([^|]+?) \| (\d+) \|", section, flags=re.MULTILINE))
    assert {name: int(value) for name, value in rows.items()} == TEXT_LIMITS
