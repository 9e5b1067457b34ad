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

from callhopper.domain.filters.dicts import filter_from_dict
from callhopper.domain.filters.model import (
    COMPARISON_OPS,
    EMPTINESS_OPS,
    LIST_OPS,
    MAX_CONDITIONS,
    MAX_GROUPS,
    MAX_LIST_VALUES,
    Condition,
    Filter,
    Group,
    Op,
    evaluate,
)
from callhopper.domain.filters.parser import MAX_NESTING, MAX_TEXT_LENGTH, parse_filter
from callhopper.domain.filters.values import (
    KEYWORDS,
    MAX_SIGNIFICANT_DIGITS,
    NUMERIC_PATTERN,
    Value,
    is_numeric,
    render_field,
    render_value,
)

__all__ = [
    "COMPARISON_OPS",
    "EMPTINESS_OPS",
    "KEYWORDS",
    "LIST_OPS",
    "MAX_CONDITIONS",
    "MAX_GROUPS",
    "MAX_LIST_VALUES",
    "MAX_NESTING",
    "MAX_SIGNIFICANT_DIGITS",
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
