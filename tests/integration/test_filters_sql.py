"""Lead filters compiled to SQL agree exactly with their evaluation in Python.

Runs on SQLite always and on PostgreSQL when ``CALLHOPPER_TEST_POSTGRES_URL``
is set (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). On
PostgreSQL it runs twice: once as is, and once with field values carrying an
ICU collation (``und-x-icu``, where ``"a" < "B"``) to prove ordering does not
depend on the collation of the database or of the column.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    collate,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.sql.elements import ColumnElement

from callhopper.domain.filters import (
    Condition,
    Filter,
    Group,
    Op,
    Value,
    evaluate,
    parse_filter,
)
from callhopper.store.filters_sql import compile_filter

PG_URL = os.environ.get("CALLHOPPER_TEST_POSTGRES_URL")
PG_DIALECT: Dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]

FIELDS = ("state", "age", "First Name", "@owner", "zip")

#: Record values chosen to sit on the edges of the semantics.
TRICKY_VALUES = (
    "",
    " ",
    "0",
    "-0",
    "+0",
    "0.0",
    "007",
    "7",
    "7.",
    "7.0",
    "7.000",
    "7.0000",
    ".5",
    "-.5",
    "+.5",
    "0.5",
    "-1.5",
    "1.5",
    "21",
    "20.999",
    "21.001",
    "21.0001",
    "0.1",
    "0.3",
    "0.30",
    "12.345",
    "12.3456",
    "999999999999.999",
    "999999999999",
    "1000000000000",
    "-999999999999.999",
    "1e3",
    "1E3",
    " 7",
    "7 ",
    "7\n",
    "\n7",
    "0x10",
    "Infinity",
    "inf",
    "NaN",
    "1_000",
    "1,5",
    ".",
    "+",
    "-",
    "--1",
    "+-1",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff17",  # fullwidth 7
    "a",
    "A",
    "b",
    "B",
    "z",
    "Z",
    "_",
    "AZ",
    "az",
    "aZ",
    "é",
    "e\u0301",  # e + combining acute
    "É",
    "ß",
    "ss",
    "SS",
    "Straße",
    "Ω",
    "\u00a0",
    "😀",
    "\U0010fffd",
    "'",
    '"',
    "\\",
    "%",
    "a%",
    "a_",
    "line\nbreak",
)

NUMBER_LITERALS = (
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    7.0,
    21.0,
    20.999,
    0.1,
    0.3,
    12.345,
    100.0,
    999999999999.999,
    1e12,
    -999999999999.999,
    0.0005,
    1e15,
)


# --------------------------------------------------------------------------- databases


@dataclass
class Db:
    engine: Engine
    table: Table
    resolve: Callable[[str], ColumnElement[Any]]

    def matching_ids(self, f: Filter, records: Sequence[Mapping[str, str]]) -> set[int]:
        """Insert ``records`` (ids 1..n), select those ``f`` matches, roll back."""
        with self.engine.connect() as conn:
            if records:
                conn.execute(
                    insert(self.table),
                    [{"id": i, "data": dict(r)} for i, r in enumerate(records, start=1)],
                )
            query = select(self.table.c.id).where(compile_filter(f, self.resolve))
            ids = set(conn.execute(query).scalars())
            conn.rollback()
        return ids


def _table(metadata: MetaData) -> Table:
    return Table(
        "filter_records",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )


def _json_resolver(table: Table) -> Callable[[str], ColumnElement[Any]]:
    def resolve(name: str) -> ColumnElement[Any]:
        result: ColumnElement[Any] = table.c.data[name].as_string()
        return result

    return resolve


def _icu_resolver(table: Table) -> Callable[[str], ColumnElement[Any]]:
    plain = _json_resolver(table)

    def resolve(name: str) -> ColumnElement[Any]:
        return collate(plain(name), "und-x-icu")

    return resolve


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="CALLHOPPER_TEST_POSTGRES_URL not set"),
        ),
        pytest.param(
            "postgresql-icu",
            marks=pytest.mark.skipif(not PG_URL, reason="CALLHOPPER_TEST_POSTGRES_URL not set"),
        ),
    ],
)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """A throwaway ``records``-like table on the requested database."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("filters") / "filters.db"
        engine = create_engine(f"sqlite:///{path}")
        table = _table(MetaData())
        table.create(engine)
        try:
            yield Db(engine, table, _json_resolver(table))
        finally:
            engine.dispose()
        return
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    schema = f"filters_test_{uuid.uuid4().hex}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        table = _table(MetaData(schema=schema))
        table.create(engine)
        resolver = _icu_resolver if request.param == "postgresql-icu" else _json_resolver
        yield Db(engine, table, resolver(table))
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _python_ids(f: Filter, records: Sequence[Mapping[str, str]]) -> set[int]:
    return {i for i, r in enumerate(records, start=1) if evaluate(f, r)}


def _assert_agree(db: Db, f: Filter, records: Sequence[Mapping[str, str]]) -> None:
    expected = _python_ids(f, records)
    actual = db.matching_ids(f, records)
    if actual != expected:
        wrong = sorted(actual ^ expected)
        details = [(i, records[i - 1], i in expected) for i in wrong[:10]]
        pytest.fail(
            f"SQL and Python disagree for {f.to_text()!r}\n"
            f"(id, record, python says) for disagreeing records: {details}"
        )


# --------------------------------------------------------------------------- strategies

_ALPHABET = "aAbBzZ_é\u0301ßΩ😀0123456789.+- \n'\"\\%"


@st.composite
def numeric_texts(draw: st.DrawFn) -> str:
    """Text near the numeric pattern: up to 13 integer digits and 4 decimals."""
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    integer = draw(st.text("0123456789", max_size=13))
    point = draw(st.booleans())
    decimals = draw(st.text("0123456789", max_size=4)) if point else ""
    return sign + integer + ("." if point else "") + decimals


record_values = st.one_of(
    st.sampled_from(TRICKY_VALUES),
    numeric_texts(),
    st.sampled_from([repr(n) for n in NUMBER_LITERALS]),
    st.text(_ALPHABET, max_size=6),
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=4,
    ),
)


@st.composite
def number_literals(draw: st.DrawFn) -> float:
    """Numbers near the record values: exact decimals with up to 3 places, or a fixed set."""
    if draw(st.booleans()):
        return draw(st.sampled_from(NUMBER_LITERALS))
    digits = draw(st.integers(-(10**13), 10**13))
    places = draw(st.integers(0, 4))
    return float(Decimal(digits).scaleb(-places))


string_literals = st.one_of(
    st.sampled_from(TRICKY_VALUES),
    st.text(_ALPHABET, max_size=4),
    numeric_texts(),
)
literals: st.SearchStrategy[Value] = st.one_of(number_literals(), string_literals)


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    name = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(list(Op)))
    if op in (Op.EMPTY, Op.NOT_EMPTY):
        return Condition(name, op)
    if op in (Op.IN, Op.NOT_IN):
        return Condition(name, op, tuple(draw(st.lists(literals, min_size=1, max_size=4))))
    return Condition(name, op, (draw(literals),))


filters = st.builds(
    Filter,
    st.lists(
        st.builds(Group, st.lists(conditions(), min_size=1, max_size=3).map(tuple)),
        min_size=1,
        max_size=3,
    ).map(tuple),
)

records_strategy = st.lists(
    st.dictionaries(st.sampled_from(FIELDS), record_values, max_size=len(FIELDS)),
    max_size=8,
)


# --------------------------------------------------------------------------- tests


@settings(max_examples=150, deadline=None)
@given(f=filters, records=records_strategy)
def test_sql_agrees_with_python(db: Db, f: Filter, records: list[dict[str, str]]) -> None:
    _assert_agree(db, f, records)


def _edge_filters() -> list[Filter]:
    texts = [
        "age empty",
        "age not empty",
        'age == ""',
        'age != ""',
        'age < ""',
        'age > ""',
        "age in (7, 0.5, -1.5)",
        'age not in (7, "7", "")',
        'age in ("a", "é", 21, "")',
        'age not in ("a", .5)',
        '`First Name` in ("a") or age == 0',
        "age == 21 and age != 20.999",
    ]
    for number in NUMBER_LITERALS:
        for op in ("==", "!=", "<", "<=", ">", ">="):
            texts.append(f"age {op} {_literal_text(number)}")
    for value in ("a", "B", "Z", "z", "é", "ß", "Ω", "😀", "7", "007", "-1.5", "", "_", "e"):
        for op in ("==", "!=", "<", "<=", ">", ">="):
            texts.append(f"age {op} {_literal_text(value)}")
    return [parse_filter(t) for t in texts]


def _literal_text(value: Value) -> str:
    return Condition("x", Op.EQ, (value,)).to_text().removeprefix("x == ")


def test_edge_values_every_operator(db: Db) -> None:
    """Every tricky value against every operator and a spread of literals."""
    records = [{"age": v} for v in TRICKY_VALUES] + [{"state": "AZ"}, {}]
    for f in _edge_filters():
        _assert_agree(db, f, records)


def test_number_conversion_is_exact(db: Db) -> None:
    """Numeric text converts to the same float64 in the database as in Python."""
    rng = random.Random(20240601)
    values: list[str] = []
    for _ in range(800):
        integer = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 12)))
        decimals = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 3)))
        if not integer and not decimals:
            integer = "0"
        point = "." if decimals or rng.random() < 0.2 else ""
        values.append(rng.choice(["", "-", "+"]) + integer + point + decimals)
    chosen = tuple(dict.fromkeys(float(v) for v in values[::2]))
    records = [{"age": v} for v in values]
    for op in (Op.IN, Op.NOT_IN):
        f = Filter((Group((Condition("age", op, chosen),)),))
        _assert_agree(db, f, records)
    some = Filter((Group((Condition("age", Op.IN, chosen),)),))
    assert all(evaluate(some, r) for r in records[::2])


def test_field_names_with_spaces_and_at(db: Db) -> None:
    records = [
        {"First Name": "Ann", "@owner": "7"},
        {"First Name": "Bob"},
        {"@owner": ""},
        {},
    ]
    f = parse_filter('`First Name` == "Ann" and @owner == 7 or @owner empty and `First Name` > "B"')
    assert db.matching_ids(f, records) == {1, 2} == _python_ids(f, records)


def test_code_point_collation_in_sql() -> None:
    table = _table(MetaData())
    expr = compile_filter(parse_filter('state < "b" and age >= 1'), _json_resolver(table))
    pg = str(expr.compile(dialect=PG_DIALECT))
    assert 'COLLATE "C"' in pg
    assert "AS DOUBLE PRECISION" in pg
    lite = str(expr.compile(dialect=sqlite.pysqlite.dialect()))
    assert "COLLATE BINARY" in lite
    assert "REGEXP" in lite
    with pytest.raises(CompileError):
        expr.compile(dialect=mysql.pymysql.dialect())


def test_values_are_bound_parameters() -> None:
    table = _table(MetaData())
    evil = "x'); DROP TABLE filter_records; --"
    f = Filter(
        (
            Group(
                (
                    Condition("state", Op.EQ, (evil,)),
                    Condition("state", Op.IN, (evil, 12.5)),
                    Condition("state", Op.LT, (evil,)),
                    Condition("age", Op.GT, (12.5,)),
                )
            ),
        )
    )
    expr = compile_filter(f, _json_resolver(table))
    for dialect in (PG_DIALECT, sqlite.pysqlite.dialect()):
        sql = str(select(table.c.id).where(expr).compile(dialect=dialect))
        assert "DROP" not in sql
        assert "12.5" not in sql


def test_resolve_called_once_per_field() -> None:
    table = _table(MetaData())
    calls: list[str] = []
    plain = _json_resolver(table)

    def resolve(name: str) -> ColumnElement[Any]:
        calls.append(name)
        return plain(name)

    compile_filter(parse_filter('a == 1 and b empty or a in ("x", 2) or @c != "y"'), resolve)
    assert sorted(calls) == ["@c", "a", "b"]
