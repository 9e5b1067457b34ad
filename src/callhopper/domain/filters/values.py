"""Literals of the filter language: strings and numbers, when a record value is numeric,
and how values and field names are written as filter text."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final, TypeAlias

from callhopper.domain.errors import InvalidInput

#: Number literals with more significant digits are refused (they would not read back as
#: the same text).
MAX_SIGNIFICANT_DIGITS: Final = 15

#: When a record value counts as a number. ``\A``/``\Z`` rather than ``^``/``$``
#: because Python's ``$`` also matches before a final newline; both anchors mean
#: "start/end of string" in Python ``re`` and in PostgreSQL regular expressions.
NUMERIC_PATTERN: Final = r"\A[+-]?([0-9]{1,12}(\.[0-9]{0,3})?|\.[0-9]{1,3})\Z"
_NUMERIC_RE: Final = re.compile(NUMERIC_PATTERN)

#: Keywords of the language (matched case-insensitively).
KEYWORDS: Final = frozenset({"and", "or", "in", "not", "empty", "is"})

#: A literal: a string, or a number kept as ``float``.
Value: TypeAlias = str | float

#: The field every filter error names.
ERROR_FIELD: Final = "filter"
#: A field name written without backquotes.
IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_numeric(value: str) -> bool:
    """Whether a record value counts as a number (see :data:`NUMERIC_PATTERN`)."""
    return _NUMERIC_RE.search(value) is not None


def bad_char_index(text: str) -> int | None:
    """Index of the first NUL or surrogate character of ``text``, if any."""
    for index, char in enumerate(text):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return index
    return None


def describe_bad_char(char: str) -> str:
    return "NUL characters" if char == "\x00" else f"unpaired surrogate {char!r}"


def _significant_digits(number_text: str) -> int:
    return len("".join(c for c in number_text if c.isdigit()).strip("0"))


def number_problem(text: str, number: float) -> str | None:
    """Why the literal ``text`` (which read as ``number``) is refused, or None."""
    if not math.isfinite(number):
        return f"the number {text} is too large"
    digits = _significant_digits(text)
    if digits > MAX_SIGNIFICANT_DIGITS:
        return f"the number {text} has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
    if number == 0 and digits > 0:
        return f"the number {text} is too close to zero"
    return None


def _number_text(number: float) -> str:
    """``number`` as a plain decimal (no exponent) that reads back as the same float."""
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def check_value(value: object, where: str) -> Value:
    """Validate a literal given as a Python object and return it in canonical form."""
    if isinstance(value, str):
        bad = bad_char_index(value)
        if bad is not None:
            raise InvalidInput(
                f"{where}: {describe_bad_char(value[bad])} are not allowed in a value",
                field=ERROR_FIELD,
            )
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidInput(
                f"{where}: the number {value} is too large", field=ERROR_FIELD
            ) from None
        if not math.isfinite(number):
            raise InvalidInput(f"{where}: the number {value} is not finite", field=ERROR_FIELD)
        problem = number_problem(_number_text(number), number)
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}", field=ERROR_FIELD)
        return number
    raise InvalidInput(
        f"{where}: a value must be a string or a number, not {type(value).__name__}",
        field=ERROR_FIELD,
    )


def render_value(value: Value) -> str:
    """A literal as filter text: a double-quoted string or a plain decimal number."""
    if isinstance(value, str):
        escaped = (
            value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\t", "\\t")
        )
        return f'"{escaped}"'
    return _number_text(value)


def render_field(name: str) -> str:
    """A field name as filter text, backquoted unless it is a plain identifier."""
    if IDENT_RE.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    if name.startswith("@") and IDENT_RE.fullmatch(name, 1):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
