"""Lead filters ("skills"): a small expression language over one record.

A record is a mapping of column name to string value. A filter is written in
disjunctive normal form (groups of conditions, AND inside a group, OR between
groups)::

    (state == "AZ" and age >= 21) or state in ("CA", "NV") or `First Name` not empty

Grammar (keywords ``and or in not empty is`` are case-insensitive)::

    filter    := group ("or" group)*
    group     := condition ("and" condition)*  |  "(" group ")"
    condition := FIELD OP VALUE | FIELD ["not"] "in" LIST
               | FIELD ["is"] ["not"] "empty"
    OP        := "==" | "!=" | "<" | "<=" | ">" | ">="
    FIELD     := [A-Za-z_][A-Za-z0-9_]*  |  "@" [A-Za-z_][A-Za-z0-9_]*
               | "`" name with \\` and \\\\ escapes "`"
    VALUE     := "..." | '...'  (escapes \\" \\' \\\\ \\n \\t)  |  [+-]?(\\d+(\\.\\d*)?|\\.\\d+)
    LIST      := "(" VALUE ("," VALUE)* ")"  |  "[" VALUE ("," VALUE)* "]"

Parentheses may wrap any AND-group (also redundantly), but an ``or`` inside
parentheses that are joined to something with ``and`` is refused: only
AND-groups joined by OR are allowed. A field starting with ``@`` (``@owner``)
is a pseudo-field; this module treats it as an ordinary name and leaves its
resolution to the caller.

Semantics. Evaluation in Python (:func:`evaluate`) and the SQL compiled by
:mod:`callhopper.store.filters_sql` agree exactly:

* A missing field and an empty string are the same: the value is ``""``.
* ``empty`` is true iff the value is ``""``; ``not empty`` is its negation.
* String literal: ``==`` is exact, case-sensitive equality and ``!=`` its
  negation; ``in`` is true iff the value equals one of the listed strings and
  ``not in`` its negation; ``<  <=  >  >=`` compare by Unicode code point (the
  order of Python's ``str``; ``COLLATE "C"`` on PostgreSQL, ``BINARY`` on
  SQLite).
* Number literal: a value is *numeric* iff it matches :data:`NUMERIC_PATTERN`
  (an optional sign, at most 12 integer digits and at most 3 decimals, ASCII
  digits only, nothing else: no spaces, exponents or trailing newline). Such a
  value converts to the same float64 in Python, SQLite and PostgreSQL. With
  ``==  <  <=  >  >=`` the condition is true iff the value is numeric and its
  float compares true with the literal; a non-numeric or empty value makes it
  false. ``!=`` is the negation of ``==`` (so it is true for non-numeric
  values). ``in`` is true iff the value is numeric and equal to one of the
  listed numbers, ``not in`` its negation.
* A list may mix strings and numbers: each element compares by its own kind
  and ``in`` is the OR of the element equalities.
* Number literals are read with :func:`float`; literals that are not finite,
  that underflow to zero or that have more than 15 significant digits are
  refused, so every literal is exactly representable as text and back.
* A group is the AND of its conditions, a filter the OR of its groups.

Limits: the text is at most 10,000 characters, a filter has at most 50 groups,
a group at most 50 conditions and a list at most 1,000 values. Strings and
field names may not contain NUL or unpaired surrogate characters (PostgreSQL
cannot store them). Every error is :class:`~callhopper.domain.errors.InvalidInput`;
parse errors name the 1-based character position.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeAlias

from callhopper.domain.errors import InvalidInput

__all__ = [
    "KEYWORDS",
    "MAX_CONDITIONS",
    "MAX_GROUPS",
    "MAX_LIST_VALUES",
    "MAX_TEXT_LENGTH",
    "NUMERIC_PATTERN",
    "Condition",
    "Filter",
    "Group",
    "Op",
    "Value",
    "evaluate",
    "filter_from_dict",
    "is_numeric",
    "parse_filter",
    "render_field",
    "render_value",
]

MAX_TEXT_LENGTH: Final = 10_000
MAX_GROUPS: Final = 50
MAX_CONDITIONS: Final = 50
MAX_LIST_VALUES: Final = 1_000
MAX_SIGNIFICANT_DIGITS: Final = 15
#: Deepest nesting of parentheses accepted (they can only be redundant anyway).
MAX_NESTING: Final = 32

#: When a record value counts as a number. ``\A``/``\Z`` rather than ``^``/``$``
#: because Python's ``$`` also matches before a final newline; both anchors mean
#: "start/end of string" in Python ``re`` and in PostgreSQL regular expressions.
NUMERIC_PATTERN: Final = r"\A[+-]?([0-9]{1,12}(\.[0-9]{0,3})?|\.[0-9]{1,3})\Z"
_NUMERIC_RE: Final = re.compile(NUMERIC_PATTERN)

#: Keywords of the language (matched case-insensitively).
KEYWORDS: Final = frozenset({"and", "or", "in", "not", "empty", "is"})

#: A literal: a string, or a number kept as ``float``.
Value: TypeAlias = str | float

_FIELD = "filter"
_IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_NUMBER_TAIL_RE: Final = re.compile(r"[A-Za-z0-9_.]+")
_STRING_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_FIELD_ESCAPES: Final = {"`": "`", "\\": "\\"}


class Op(StrEnum):
    """The operator of a condition; the value is its canonical spelling."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    EMPTY = "empty"
    NOT_EMPTY = "not empty"


#: Operators taking exactly one value.
COMPARISON_OPS: Final = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
#: Operators taking a list of values.
LIST_OPS: Final = frozenset({Op.IN, Op.NOT_IN})
#: Operators taking no value.
EMPTINESS_OPS: Final = frozenset({Op.EMPTY, Op.NOT_EMPTY})


def is_numeric(value: str) -> bool:
    """Whether a record value counts as a number (see :data:`NUMERIC_PATTERN`)."""
    return _NUMERIC_RE.search(value) is not None


def _compare(op: Op, left: Any, right: Any) -> bool:
    if op is Op.EQ:
        return bool(left == right)
    if op is Op.LT:
        return bool(left < right)
    if op is Op.LE:
        return bool(left <= right)
    if op is Op.GT:
        return bool(left > right)
    if op is Op.GE:
        return bool(left >= right)
    raise AssertionError(op)  # pragma: no cover


# --------------------------------------------------------------------------- literals


def _bad_char_index(text: str) -> int | None:
    """Index of the first NUL or surrogate character of ``text``, if any."""
    for index, char in enumerate(text):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return index
    return None


def _describe_bad_char(char: str) -> str:
    return "NUL characters" if char == "\x00" else f"unpaired surrogate {char!r}"


def _significant_digits(number_text: str) -> int:
    return len("".join(c for c in number_text if c.isdigit()).strip("0"))


def _number_problem(text: str, number: float) -> str | None:
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


def _check_value(value: object, where: str) -> Value:
    """Validate a literal given as a Python object and return it in canonical form."""
    if isinstance(value, str):
        bad = _bad_char_index(value)
        if bad is not None:
            raise InvalidInput(
                f"{where}: {_describe_bad_char(value[bad])} are not allowed in a value",
                field=_FIELD,
            )
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidInput(f"{where}: the number {value} is too large", field=_FIELD) from None
        if not math.isfinite(number):
            raise InvalidInput(f"{where}: the number {value} is not finite", field=_FIELD)
        problem = _number_problem(_number_text(number), number)
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}", field=_FIELD)
        return number
    raise InvalidInput(
        f"{where}: a value must be a string or a number, not {type(value).__name__}",
        field=_FIELD,
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
    if _IDENT_RE.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    if name.startswith("@") and _IDENT_RE.fullmatch(name, 1):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


# --------------------------------------------------------------------------- the AST


@dataclass(frozen=True)
class Condition:
    """One test of one field: ``field op values``.

    ``values`` holds one literal for ``== != < <= > >=``, one or more for
    ``in``/``not in`` and none for ``empty``/``not empty``. Numbers are
    ``float`` (``int`` is accepted and converted); strings are ``str``.
    """

    field: str
    op: Op
    values: tuple[Value, ...] = ()
    _strings: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False, hash=False)
    _numbers: frozenset[float] = dataclasses.field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise InvalidInput("a condition needs a non-empty field name", field=_FIELD)
        bad = _bad_char_index(self.field)
        if bad is not None:
            raise InvalidInput(
                f"field {self.field!r}: {_describe_bad_char(self.field[bad])} are not allowed "
                "in a field name",
                field=_FIELD,
            )
        try:
            op = Op(self.op)
        except ValueError:
            raise InvalidInput(f"{self.op!r} is not an operator", field=_FIELD) from None
        where = f"field {render_field(self.field)}"
        values = tuple(_check_value(v, where) for v in self.values)
        if op in COMPARISON_OPS and len(values) != 1:
            raise InvalidInput(f"{where}: '{op}' takes exactly one value", field=_FIELD)
        if op in LIST_OPS and not values:
            raise InvalidInput(f"{where}: '{op}' needs a list of at least one value", field=_FIELD)
        if op in LIST_OPS and len(values) > MAX_LIST_VALUES:
            raise InvalidInput(
                f"{where}: a list has more than {MAX_LIST_VALUES} values", field=_FIELD
            )
        if op in EMPTINESS_OPS and values:
            raise InvalidInput(f"{where}: '{op}' takes no value", field=_FIELD)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_strings", frozenset(v for v in values if isinstance(v, str)))
        object.__setattr__(self, "_numbers", frozenset(v for v in values if not isinstance(v, str)))

    @property
    def value(self) -> Value:
        """The single literal of a comparison (``== != < <= > >=``)."""
        if self.op not in COMPARISON_OPS:
            raise ValueError(f"'{self.op}' has no single value")
        return self.values[0]

    def test(self, value: str | None) -> bool:
        """Whether the field's value (``None`` for a missing field) satisfies this condition."""
        text = value or ""
        op = self.op
        if op is Op.EMPTY:
            return text == ""
        if op is Op.NOT_EMPTY:
            return text != ""
        if op is Op.IN:
            return self._in(text)
        if op is Op.NOT_IN:
            return not self._in(text)
        if op is Op.NE:
            return not self._compare(Op.EQ, text)
        return self._compare(op, text)

    def _in(self, text: str) -> bool:
        if text in self._strings:
            return True
        return bool(self._numbers) and is_numeric(text) and float(text) in self._numbers

    def _compare(self, op: Op, text: str) -> bool:
        literal = self.values[0]
        if isinstance(literal, str):
            return _compare(op, text, literal)
        return is_numeric(text) and _compare(op, float(text), literal)

    def to_text(self) -> str:
        """Canonical filter text of this condition."""
        name = render_field(self.field)
        if self.op in EMPTINESS_OPS:
            return f"{name} {self.op}"
        if self.op in LIST_OPS:
            return f"{name} {self.op} ({', '.join(render_value(v) for v in self.values)})"
        return f"{name} {self.op} {render_value(self.values[0])}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"field", "op"}`` plus ``"value"`` or ``"values"``."""
        data: dict[str, Any] = {"field": self.field, "op": str(self.op)}
        if self.op in COMPARISON_OPS:
            data["value"] = self.values[0]
        elif self.op in LIST_OPS:
            data["values"] = list(self.values)
        return data


@dataclass(frozen=True)
class Group:
    """Conditions joined by AND (1 to :data:`MAX_CONDITIONS` of them)."""

    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        conditions = tuple(self.conditions)
        if not conditions:
            raise InvalidInput("a group needs at least one condition", field=_FIELD)
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidInput(
                f"a group has more than {MAX_CONDITIONS} conditions joined by 'and'", field=_FIELD
            )
        if not all(isinstance(c, Condition) for c in conditions):
            raise InvalidInput("a group holds only conditions", field=_FIELD)
        object.__setattr__(self, "conditions", conditions)

    def matches(self, get: Callable[[str], str | None]) -> bool:
        """Whether every condition holds; ``get(field)`` gives a value or None if missing."""
        return all(c.test(get(c.field)) for c in self.conditions)

    def to_text(self) -> str:
        """Canonical filter text of this group, without parentheses."""
        return " and ".join(c.to_text() for c in self.conditions)


@dataclass(frozen=True)
class Filter:
    """Groups joined by OR (1 to :data:`MAX_GROUPS` of them)."""

    groups: tuple[Group, ...]

    def __post_init__(self) -> None:
        groups = tuple(self.groups)
        if not groups:
            raise InvalidInput("a filter needs at least one condition", field=_FIELD)
        if len(groups) > MAX_GROUPS:
            raise InvalidInput(
                f"a filter has more than {MAX_GROUPS} groups joined by 'or'", field=_FIELD
            )
        if not all(isinstance(g, Group) for g in groups):
            raise InvalidInput("a filter holds only groups", field=_FIELD)
        object.__setattr__(self, "groups", groups)

    def fields(self) -> frozenset[str]:
        """Every field name the filter reads (including ``@`` pseudo-fields)."""
        return frozenset(c.field for g in self.groups for c in g.conditions)

    def matches(self, get: Callable[[str], str | None]) -> bool:
        """Whether some group matches; ``get(field)`` gives a value or None if missing."""
        return any(g.matches(get) for g in self.groups)

    def to_text(self) -> str:
        """Canonical text that :func:`parse_filter` reads back to an equal filter."""
        if len(self.groups) == 1:
            return self.groups[0].to_text()
        return " or ".join(
            f"({g.to_text()})" if len(g.conditions) > 1 else g.to_text() for g in self.groups
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, read back by :func:`filter_from_dict`."""
        return {"groups": [[c.to_dict() for c in g.conditions] for g in self.groups]}

    def __str__(self) -> str:
        return self.to_text()


def evaluate(f: Filter, values: Mapping[str, str | None]) -> bool:
    """Whether the record ``values`` (column name to string; missing means ``""``) matches."""
    return f.matches(lambda name: values.get(name))


# --------------------------------------------------------------------------- dict form


def filter_from_dict(data: object) -> Filter:
    """Read the form made by :meth:`Filter.to_dict`, refusing anything malformed."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a filter must be an object with a 'groups' list", field=_FIELD)
    extra = sorted(str(k) for k in data if k != "groups")
    if extra:
        raise InvalidInput(f"unknown key(s) in filter: {', '.join(extra)}", field=_FIELD)
    raw_groups = data.get("groups")
    if not isinstance(raw_groups, list | tuple):
        raise InvalidInput("'groups' must be a list of groups", field=_FIELD)
    if not raw_groups:
        raise InvalidInput("a filter needs at least one group", field=_FIELD)
    if len(raw_groups) > MAX_GROUPS:
        raise InvalidInput(f"a filter has more than {MAX_GROUPS} groups", field=_FIELD)
    groups = []
    for gi, raw_group in enumerate(raw_groups):
        where = f"groups[{gi}]"
        if not isinstance(raw_group, list | tuple):
            raise InvalidInput(f"{where} must be a list of conditions", field=_FIELD)
        if not raw_group:
            raise InvalidInput(f"{where} needs at least one condition", field=_FIELD)
        if len(raw_group) > MAX_CONDITIONS:
            raise InvalidInput(f"{where} has more than {MAX_CONDITIONS} conditions", field=_FIELD)
        conditions = [
            _condition_from_dict(raw, f"{where}[{ci}]") for ci, raw in enumerate(raw_group)
        ]
        groups.append(Group(tuple(conditions)))
    return Filter(tuple(groups))


def _condition_from_dict(raw: object, where: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} must be an object", field=_FIELD)
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.field must be a non-empty string", field=_FIELD)
    raw_op = raw.get("op")
    try:
        op = Op(raw_op) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        allowed = ", ".join(o.value for o in Op)
        raise InvalidInput(f"{where}.op must be one of {allowed}", field=_FIELD)
    keys = {"field", "op"}
    if op in COMPARISON_OPS:
        keys.add("value")
        if "value" not in raw:
            raise InvalidInput(f"{where}.value is missing", field=_FIELD)
        values: tuple[Value, ...] = (_check_value(raw["value"], f"{where}.value"),)
    elif op in LIST_OPS:
        keys.add("values")
        raw_values = raw.get("values")
        if not isinstance(raw_values, list | tuple) or not raw_values:
            raise InvalidInput(f"{where}.values must be a non-empty list", field=_FIELD)
        if len(raw_values) > MAX_LIST_VALUES:
            raise InvalidInput(
                f"{where}.values has more than {MAX_LIST_VALUES} values", field=_FIELD
            )
        values = tuple(_check_value(v, f"{where}.values[{vi}]") for vi, v in enumerate(raw_values))
    else:
        values = ()
    extra = sorted(str(k) for k in raw if k not in keys)
    if extra:
        raise InvalidInput(f"{where}: unexpected key(s) {', '.join(extra)}", field=_FIELD)
    return Condition(name, op, values)


# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Token:
    #: One of: name (identifier), kw (keyword), field (backquoted or @),
    #: string, number, op, ( ) [ ] , and end.
    kind: str
    pos: int  # 1-based
    text: str  # as written (keywords lower-cased)
    value: Value | None = None

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the filter"
        if self.kind == "kw":
            return f"the keyword '{self.text}'"
        return repr(self.text) if len(self.text) <= 30 else repr(self.text[:27] + "...")


def _error(pos: int, message: str) -> InvalidInput:
    return InvalidInput(f"position {pos}: {message}", field=_FIELD, position=pos)


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    n = len(text)
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            tokens.append(_Token("end", n + 1, ""))
            return tokens
        char = text[i]
        pos = i + 1
        if char in "()[],":
            tokens.append(_Token(char, pos, char))
            i += 1
        elif char in "=!<>":
            pair = text[i : i + 2]
            if pair in ("==", "!=", "<=", ">="):
                tokens.append(_Token("op", pos, pair))
                i += 2
            elif char in "<>":
                tokens.append(_Token("op", pos, char))
                i += 1
            elif char == "=":
                raise _error(pos, "'=' is not an operator; use '==' to test equality")
            else:
                raise _error(pos, "'!' is not an operator; use '!=' or 'not'")
        elif char in "\"'":
            i = _lex_quoted(text, i, tokens)
        elif char == "`":
            i = _lex_backquoted(text, i, tokens)
        elif char == "@":
            match = _IDENT_RE.match(text, i + 1)
            if match is None:
                raise _error(pos, "expected a name after '@' (letters, digits and '_')")
            tokens.append(_Token("field", pos, text[i : match.end()], text[i : match.end()]))
            i = match.end()
        elif char in "+-." or "0" <= char <= "9":
            i = _lex_number(text, i, tokens)
        elif _IDENT_RE.match(char):
            match = _IDENT_RE.match(text, i)
            assert match is not None
            word = match.group()
            if word.lower() in KEYWORDS:
                tokens.append(_Token("kw", pos, word.lower()))
            else:
                tokens.append(_Token("name", pos, word, word))
            i = match.end()
        else:
            hint = " (write other field names in backquotes, e.g. `État`)" if char.isalpha() else ""
            raise _error(pos, f"unexpected character {char!r}{hint}")


def _lex_quoted(text: str, start: int, tokens: list[_Token]) -> int:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        if i >= n:
            raise _error(start + 1, f"unterminated string: no closing {quote}")
        char = text[i]
        if char == quote:
            break
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape not in _STRING_ESCAPES:
                if not escape:
                    raise _error(start + 1, f"unterminated string: no closing {quote}")
                raise _error(
                    i + 1,
                    f"unknown escape '\\{escape}' in a string (use \\\", \\', \\\\, \\n or \\t)",
                )
            chars.append(_STRING_ESCAPES[escape])
            i += 2
            continue
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise _error(i + 1, f"{_describe_bad_char(char)} are not allowed in a string")
        chars.append(char)
        i += 1
    tokens.append(_Token("string", start + 1, text[start : i + 1], "".join(chars)))
    return i + 1


def _lex_backquoted(text: str, start: int, tokens: list[_Token]) -> int:
    chars: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        if i >= n:
            raise _error(start + 1, "unterminated field name: no closing `")
        char = text[i]
        if char == "`":
            break
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape not in _FIELD_ESCAPES:
                if not escape:
                    raise _error(start + 1, "unterminated field name: no closing `")
                raise _error(
                    i + 1, f"unknown escape '\\{escape}' in a field name (use \\` or \\\\)"
                )
            chars.append(escape)
            i += 2
            continue
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise _error(i + 1, f"{_describe_bad_char(char)} are not allowed in a field name")
        chars.append(char)
        i += 1
    if not chars:
        raise _error(start + 1, "empty field name ``")
    tokens.append(_Token("field", start + 1, text[start : i + 1], "".join(chars)))
    return i + 1


def _lex_number(text: str, start: int, tokens: list[_Token]) -> int:
    pos = start + 1
    match = _NUMBER_RE.match(text, start)
    if match is None:
        raise _error(pos, f"unexpected character {text[start]!r}")
    end = match.end()
    tail = _NUMBER_TAIL_RE.match(text, end)
    if tail is not None:
        bad = text[start : tail.end()]
        raise _error(
            pos,
            f"{bad!r} is not a number (write digits with an optional sign and decimal point, "
            "no exponent) or a name (names start with a letter or '_')",
        )
    literal = match.group()
    number = float(literal)
    problem = _number_problem(literal, number)
    if problem is not None:
        raise _error(pos, problem)
    tokens.append(_Token("number", pos, literal, number))
    return end


# --------------------------------------------------------------------------- parser

_Conds = list[tuple[Condition, int]]  # a group under construction: (condition, position)
_Parsed = tuple[list[_Conds], int | None]  # groups, and the position of an 'or' joining them

_OPERATORS_HINT: Final = "==, !=, <, <=, >, >=, in, not in, empty or not empty"
_DNF_HINT: Final = (
    "only AND-groups joined by OR are allowed, "
    'e.g. (a == "1" and b == "2") or (a == "1" and c == "3")'
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "kw" and token.text == word

    def expected(self, what: str, token: _Token | None = None) -> InvalidInput:
        token = token or self.peek()
        return _error(token.pos, f"expected {what}, found {token.describe()}")

    def parse(self) -> Filter:
        if self.peek().kind == "end":
            raise _error(1, 'the filter is empty; write at least one condition, e.g. state == "AZ"')
        groups, _ = self.parse_or(0)
        token = self.peek()
        if token.kind == ")":
            raise _error(token.pos, "')' without a matching '('")
        if token.kind != "end":
            raise self.expected("'and', 'or' or the end of the filter")
        if len(groups) > MAX_GROUPS:
            raise _error(
                groups[MAX_GROUPS][0][1],
                f"too many groups: at most {MAX_GROUPS} may be joined by 'or'",
            )
        for group in groups:
            if len(group) > MAX_CONDITIONS:
                raise _error(
                    group[MAX_CONDITIONS][1],
                    f"too many conditions in one group: at most {MAX_CONDITIONS} may be "
                    "joined by 'and'",
                )
        return Filter(tuple(Group(tuple(c for c, _ in group)) for group in groups))

    def parse_or(self, depth: int) -> _Parsed:
        groups, or_pos = self.parse_and(depth)
        while self.at_keyword("or"):
            token = self.advance()
            or_pos = or_pos or token.pos
            more, _ = self.parse_and(depth)
            groups.extend(more)
        return groups, or_pos

    def parse_and(self, depth: int) -> _Parsed:
        first = self.parse_primary(depth)
        if not self.at_keyword("and"):
            return first
        merged: _Conds = []
        for groups, or_pos in self._and_operands(first, depth):
            if len(groups) > 1:
                assert or_pos is not None
                raise _error(or_pos, f"'or' inside parentheses joined with 'and': {_DNF_HINT}")
            merged.extend(groups[0])
        return [merged], None

    def _and_operands(self, first: _Parsed, depth: int) -> list[_Parsed]:
        operands = [first]
        while self.at_keyword("and"):
            self.advance()
            if len(operands[-1][0]) > 1:  # report a misplaced 'or' before parsing on
                return operands
            operands.append(self.parse_primary(depth))
        return operands

    def parse_primary(self, depth: int) -> _Parsed:
        token = self.peek()
        if token.kind != "(":
            condition = self.parse_condition()
            return [[condition]], None
        if depth >= MAX_NESTING:
            raise _error(token.pos, f"parentheses nested more than {MAX_NESTING} deep")
        self.advance()
        if self.peek().kind == ")":
            raise self.expected("a condition inside '('")
        result = self.parse_or(depth + 1)
        closing = self.peek()
        if closing.kind != ")":
            raise self.expected(f"'and', 'or' or ')' to close the '(' at position {token.pos}")
        self.advance()
        return result

    def parse_condition(self) -> tuple[Condition, int]:
        token = self.peek()
        if token.kind == "kw":
            raise _error(
                token.pos,
                f"expected a field name, found the keyword '{token.text}' "
                f"(write a field named like a keyword in backquotes: `{token.text}`)",
            )
        if token.kind not in ("name", "field"):
            raise self.expected("a field name or '('")
        self.advance()
        name = token.value
        assert isinstance(name, str)
        op_token = self.peek()
        if op_token.kind == "op":
            self.advance()
            value = self.peek()
            if value.kind not in ("string", "number"):
                raise self.expected(
                    f"a value after '{op_token.text}' (a quoted string or a number)"
                )
            self.advance()
            assert value.value is not None
            return Condition(name, Op(op_token.text), (value.value,)), token.pos
        if op_token.kind != "kw" or op_token.text in ("and", "or"):
            raise self.expected(
                f"an operator after the field {render_field(name)} ({_OPERATORS_HINT})"
            )
        self.advance()
        word = op_token.text
        if word == "in":
            return Condition(name, Op.IN, self.parse_list("in")), token.pos
        if word == "empty":
            return Condition(name, Op.EMPTY), token.pos
        negated = False
        if word == "is":
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            if not self.at_keyword("empty"):
                raise self.expected(f"'empty' or 'not empty' after {'is not' if negated else 'is'}")
            self.advance()
            return Condition(name, Op.NOT_EMPTY if negated else Op.EMPTY), token.pos
        # word == "not"
        if self.at_keyword("in"):
            self.advance()
            return Condition(name, Op.NOT_IN, self.parse_list("not in")), token.pos
        if self.at_keyword("empty"):
            self.advance()
            return Condition(name, Op.NOT_EMPTY), token.pos
        raise self.expected("'in' or 'empty' after 'not'")

    def parse_list(self, after: str) -> tuple[Value, ...]:
        opener = self.peek()
        if opener.kind not in ("(", "["):
            raise self.expected(f"'(' or '[' starting a list of values after '{after}'")
        self.advance()
        closer = ")" if opener.kind == "(" else "]"
        if self.peek().kind == closer:
            raise _error(self.peek().pos, "the list is empty; give at least one value")
        values: list[Value] = []
        previous = opener.text
        while True:
            token = self.peek()
            if token.kind not in ("string", "number"):
                raise self.expected(f"a value after '{previous}' (a quoted string or a number)")
            if len(values) >= MAX_LIST_VALUES:
                raise _error(token.pos, f"a list may hold at most {MAX_LIST_VALUES} values")
            assert token.value is not None
            values.append(token.value)
            self.advance()
            separator = self.peek()
            if separator.kind == closer:
                self.advance()
                return tuple(values)
            if separator.kind != ",":
                raise self.expected(
                    f"',' or '{closer}' in the list that starts at position {opener.pos}"
                )
            previous = ","
            self.advance()


def parse_filter(text: str) -> Filter:
    """Parse filter text (see the module docstring) into a :class:`Filter`.

    Raises :class:`~callhopper.domain.errors.InvalidInput` whose message starts
    with ``position N:`` (1-based character position) and says what was expected.
    """
    if not isinstance(text, str):
        raise InvalidInput("a filter must be text", field=_FIELD)
    if len(text) > MAX_TEXT_LENGTH:
        raise _error(
            MAX_TEXT_LENGTH + 1,
            f"the filter is {len(text)} characters long; at most {MAX_TEXT_LENGTH} are allowed",
        )
    return _Parser(text).parse()
