"""Compile lead filters (:mod:`callhopper.domain.filters`) to SQLAlchemy.

:func:`compile_filter` turns a :class:`~callhopper.domain.filters.Filter` into a
boolean expression for a WHERE clause, so records are filtered by the database
rather than loaded into Python. The result follows the semantics written in
:mod:`callhopper.domain.filters` exactly, and one compiled expression runs on
both SQLite and PostgreSQL:

* The field value is ``COALESCE(resolve(field), '')``, so missing means ``""``
  and no comparison on it is ever NULL.
* Numeric tests are ``CASE WHEN v ~ pattern THEN CAST(v AS DOUBLE PRECISION) op :n
  ELSE false END`` (SQLite: ``REGEXP``, which SQLAlchemy's pysqlite dialect
  registers as a Python function). The cast only ever sees numeric text, so it
  cannot fail, and the CASE is never NULL, so negations (``!=``, ``not in``) are
  plain ``NOT`` and still agree with Python.
* Ordering of strings uses ``COLLATE "C"`` on PostgreSQL and ``COLLATE BINARY``
  on SQLite: both compare UTF-8 bytes, which is Unicode code point order, the
  order of Python's ``str``. Equality needs no collation: both databases
  compare text for equality byte-wise under their default (deterministic)
  collations, which ``resolve`` is expected to keep.
* Every literal is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Double, String, and_, case, cast, false, func, literal, not_, or_
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from callhopper.domain.filters import NUMERIC_PATTERN, Condition, Filter, Op, Value

__all__ = ["Resolver", "code_point_order", "compile_condition", "compile_filter"]

#: Gives the SQL text value of a field (NULL when missing), e.g.
#: ``lambda name: records.c.data[name].as_string()``.
Resolver = Callable[[str], ColumnElement[Any]]


class code_point_order(FunctionElement[str]):
    """A text expression that sorts by Unicode code point on every supported dialect.

    Renders as ``(expr) COLLATE "C"`` on PostgreSQL and ``(expr) COLLATE BINARY``
    on SQLite; other dialects are refused rather than silently compared under
    their own collation.
    """

    type = String()
    inherit_cache = True
    name = "code_point_order"


def _inner(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(code_point_order)
def _compile_code_point_order(element: code_point_order, compiler: SQLCompiler, **kw: Any) -> str:
    if compiler.dialect.name == "default":  # str(expression) while debugging
        return f"({_inner(element, compiler, **kw)})"
    raise CompileError(f"lead filters cannot compare text by code point on {compiler.dialect.name}")


@compiles(code_point_order, "postgresql")
def _compile_code_point_order_pg(
    element: code_point_order, compiler: SQLCompiler, **kw: Any
) -> str:
    return f'({_inner(element, compiler, **kw)}) COLLATE "C"'


@compiles(code_point_order, "sqlite")
def _compile_code_point_order_sqlite(
    element: code_point_order, compiler: SQLCompiler, **kw: Any
) -> str:
    return f"({_inner(element, compiler, **kw)}) COLLATE BINARY"


def compile_filter(f: Filter, resolve: Resolver) -> ColumnElement[bool]:
    """A boolean SQL expression true exactly for the records ``f`` matches.

    ``resolve(field)`` must give the field's text value, or NULL when the
    record lacks it (e.g. ``records.c.data[field].as_string()``); it is called
    once per distinct field, including ``@`` pseudo-fields.
    """
    values: dict[str, ColumnElement[str]] = {}

    def value_of(name: str) -> ColumnElement[str]:
        if name not in values:
            values[name] = func.coalesce(resolve(name), literal("", String()), type_=String())
        return values[name]

    groups = [
        and_(*(compile_condition(c, value_of(c.field)) for c in g.conditions)) for g in f.groups
    ]
    return or_(*groups)


def compile_condition(c: Condition, value: ColumnElement[str]) -> ColumnElement[bool]:
    """A boolean SQL expression for one condition on ``value``, a never-NULL text expression.

    Pass ``COALESCE(field, '')``, as :func:`compile_filter` does; the result is
    then never NULL either.
    """
    op = c.op
    if op is Op.EMPTY:
        return value == literal("", String())
    if op is Op.NOT_EMPTY:
        return value != literal("", String())
    if op is Op.IN:
        return _in(value, c.values)
    if op is Op.NOT_IN:
        return not_(_in(value, c.values))
    literal_value = c.values[0]
    if op is Op.NE:
        return not_(_compare(Op.EQ, value, literal_value))
    return _compare(op, value, literal_value)


def _numeric(value: ColumnElement[str], test: ColumnElement[bool]) -> ColumnElement[bool]:
    """``test`` (on the number) when ``value`` is numeric text, false otherwise; never NULL."""
    result: ColumnElement[bool] = case((value.regexp_match(NUMERIC_PATTERN), test), else_=false())
    return result


def _as_number(value: ColumnElement[str]) -> ColumnElement[float]:
    return cast(value, Double())


def _compare(op: Op, value: ColumnElement[str], literal_value: Value) -> ColumnElement[bool]:
    if isinstance(literal_value, str):
        text = literal(literal_value, String())
        if op is Op.EQ:
            return value == text
        return _order(op, code_point_order(value), text)
    number: ColumnElement[float] = literal(literal_value, Double())
    return _numeric(value, _order(op, _as_number(value), number))


def _order(op: Op, left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[bool]:
    if op is Op.EQ:
        return left == right
    if op is Op.LT:
        return left < right
    if op is Op.LE:
        return left <= right
    if op is Op.GT:
        return left > right
    if op is Op.GE:
        return left >= right
    raise AssertionError(op)  # pragma: no cover


def _in(value: ColumnElement[str], values: Sequence[Value]) -> ColumnElement[bool]:
    strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    numbers = list(dict.fromkeys(v for v in values if not isinstance(v, str)))
    tests: list[ColumnElement[bool]] = []
    if strings:
        tests.append(
            value == literal(strings[0], String()) if len(strings) == 1 else value.in_(strings)
        )
    if numbers:
        number = _as_number(value)
        tests.append(
            _numeric(
                value,
                number == literal(numbers[0], Double())
                if len(numbers) == 1
                else number.in_(numbers),
            )
        )
    return or_(*tests)
