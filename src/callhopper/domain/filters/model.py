"""The filter itself: conditions joined by AND into groups, groups joined by OR, and what
each operator means for one record's value."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters.values import (
    ERROR_FIELD,
    Value,
    bad_char_index,
    check_value,
    describe_bad_char,
    is_numeric,
    render_field,
    render_value,
)

MAX_GROUPS: Final = 50
MAX_CONDITIONS: Final = 50
MAX_LIST_VALUES: Final = 1_000


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
            raise InvalidInput("a condition needs a non-empty field name", field=ERROR_FIELD)
        bad = bad_char_index(self.field)
        if bad is not None:
            raise InvalidInput(
                f"field {self.field!r}: {describe_bad_char(self.field[bad])} are not allowed "
                "in a field name",
                field=ERROR_FIELD,
            )
        try:
            op = Op(self.op)
        except ValueError:
            raise InvalidInput(f"{self.op!r} is not an operator", field=ERROR_FIELD) from None
        where = f"field {render_field(self.field)}"
        values = tuple(check_value(v, where) for v in self.values)
        if op in COMPARISON_OPS and len(values) != 1:
            raise InvalidInput(f"{where}: '{op}' takes exactly one value", field=ERROR_FIELD)
        if op in LIST_OPS and not values:
            raise InvalidInput(
                f"{where}: '{op}' needs a list of at least one value", field=ERROR_FIELD
            )
        if op in LIST_OPS and len(values) > MAX_LIST_VALUES:
            raise InvalidInput(
                f"{where}: a list has more than {MAX_LIST_VALUES} values", field=ERROR_FIELD
            )
        if op in EMPTINESS_OPS and values:
            raise InvalidInput(f"{where}: '{op}' takes no value", field=ERROR_FIELD)
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
            raise InvalidInput("a group needs at least one condition", field=ERROR_FIELD)
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidInput(
                f"a group has more than {MAX_CONDITIONS} conditions joined by 'and'",
                field=ERROR_FIELD,
            )
        if not all(isinstance(c, Condition) for c in conditions):
            raise InvalidInput("a group holds only conditions", field=ERROR_FIELD)
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
            raise InvalidInput("a filter needs at least one condition", field=ERROR_FIELD)
        if len(groups) > MAX_GROUPS:
            raise InvalidInput(
                f"a filter has more than {MAX_GROUPS} groups joined by 'or'", field=ERROR_FIELD
            )
        if not all(isinstance(g, Group) for g in groups):
            raise InvalidInput("a filter holds only groups", field=ERROR_FIELD)
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
