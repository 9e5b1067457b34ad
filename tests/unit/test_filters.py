"""Lead filters: parsing, errors, limits, canonical text, dict form and evaluation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters import (
    MAX_CONDITIONS,
    MAX_GROUPS,
    MAX_LIST_VALUES,
    MAX_TEXT_LENGTH,
    Condition,
    Filter,
    Group,
    Op,
    Value,
    evaluate,
    filter_from_dict,
    is_numeric,
    parse_filter,
    render_field,
)


def one(field: str, op: Op, *values: Value) -> Filter:
    return Filter((Group((Condition(field, op, values),)),))


def c(field: str, op: Op, *values: Value) -> Condition:
    return Condition(field, op, values)


def error_of(text: str) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_filter(text)
    return info.value.message


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('state == "AZ"', one("state", Op.EQ, "AZ")),
        ("state != 'AZ'", one("state", Op.NE, "AZ")),
        ("age < 21", one("age", Op.LT, 21.0)),
        ("age <= -1.5", one("age", Op.LE, -1.5)),
        ("age > .5", one("age", Op.GT, 0.5)),
        ("age >= +7.", one("age", Op.GE, 7.0)),
        ("age == 007", one("age", Op.EQ, 7.0)),
        ('state in ("AZ", "CA")', one("state", Op.IN, "AZ", "CA")),
        ("state in ['AZ', 3]", one("state", Op.IN, "AZ", 3.0)),
        ('state not in ("AZ")', one("state", Op.NOT_IN, "AZ")),
        ("state empty", one("state", Op.EMPTY)),
        ("state not empty", one("state", Op.NOT_EMPTY)),
        ("state is empty", one("state", Op.EMPTY)),
        ("state is not empty", one("state", Op.NOT_EMPTY)),
        ("state IS NOT EMPTY", one("state", Op.NOT_EMPTY)),
        ('state NOT IN ("x")', one("state", Op.NOT_IN, "x")),
        ("state Empty", one("state", Op.EMPTY)),
        ("`First Name` empty", one("First Name", Op.EMPTY)),
        (r"`a\`b\\c` empty", one("a`b\\c", Op.EMPTY)),
        ("`and` empty", one("and", Op.EMPTY)),
        ("@owner empty", one("@owner", Op.EMPTY)),
        ("`@owner` empty", one("@owner", Op.EMPTY)),
        ("_x9 == 1", one("_x9", Op.EQ, 1.0)),
        (r'a == "q\"uo\'te\\n\n\t"', one("a", Op.EQ, "q\"uo'te\\n\n\t")),
        (r"a == 'q\"\''", one("a", Op.EQ, "q\"'")),
        ('a == "é ß 😀"', one("a", Op.EQ, "é ß 😀")),
        ('a == ""', one("a", Op.EQ, "")),
        ("a==1", one("a", Op.EQ, 1.0)),
        ('  a\n==\t"x"  ', one("a", Op.EQ, "x")),
        ("((a empty))", one("a", Op.EMPTY)),
    ],
)
def test_parse_forms(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


def test_groups_and_parentheses() -> None:
    expected = Filter(
        (
            Group((c("state", Op.EQ, "AZ"), c("age", Op.GE, 21.0))),
            Group((c("state", Op.EQ, "CA"),)),
        )
    )
    assert parse_filter('(state == "AZ" and age >= 21) or state == "CA"') == expected
    assert parse_filter('state == "AZ" AND age >= 21 OR state == "CA"') == expected
    assert parse_filter('(state == "AZ") and (age >= 21) or (state == "CA")') == expected
    assert parse_filter('((state == "AZ" and age >= 21)) or (((state == "CA")))') == expected
    # Parenthesised OR at the top level is still AND-groups joined by OR.
    assert parse_filter('(state == "AZ" and age >= 21 or state == "CA")') == expected
    # Parentheses inside an AND-group just flatten.
    assert parse_filter("a empty and (b empty and c empty)") == Filter(
        (Group((c("a", Op.EMPTY), c("b", Op.EMPTY), c("c", Op.EMPTY))),)
    )


def test_number_literals_are_floats_and_strings_stay_strings() -> None:
    f = parse_filter('a in (1, "1", 1.50, -0)')
    values = f.groups[0].conditions[0].values
    assert values == (1.0, "1", 1.5, 0.0)
    assert [type(v) for v in values] == [float, str, float, float]


def test_fields() -> None:
    f = parse_filter('a == 1 and `b c` empty or @owner in ("x") or a != 2')
    assert f.fields() == frozenset({"a", "b c", "@owner"})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "position 1: the filter is empty"),
        ("   ", "position 1: the filter is empty"),
        ("state ==", "position 9: expected a value after '=='"),
        ('state == "AZ" and age >=', "position 25: expected a value after '>='"),
        ("state == and", "position 10: expected a value after '=='"),
        ("state = 'AZ'", "position 7: '=' is not an operator"),
        ("state ! 'AZ'", "position 7: '!' is not an operator"),
        ("state 'AZ'", "position 7: expected an operator after the field state"),
        ("state", "position 6: expected an operator after the field state"),
        ("state and b empty", "position 7: expected an operator"),
        ("== 'AZ'", "position 1: expected a field name"),
        ("and empty", "position 1: expected a field name, found the keyword 'and'"),
        ("a empty or", "position 11: expected a field name"),
        ("a empty and", "position 12: expected a field name"),
        ("a empty b empty", "position 9: expected 'and', 'or' or the end of the filter"),
        ("a not b", "position 7: expected 'in' or 'empty' after 'not'"),
        ("a is b", "position 6: expected 'empty' or 'not empty' after is"),
        ("a is not in ('x')", "position 10: expected 'empty' or 'not empty' after is not"),
        ("a in 'x'", "position 6: expected '(' or '['"),
        ("a in ()", "position 7: the list is empty"),
        ("a in []", "position 7: the list is empty"),
        ("a in ('x',)", "position 11: expected a value after ','"),
        ("a in ('x' 'y')", "position 11: expected ',' or ')'"),
        ("a in ('x']", "position 10: expected ',' or ')' in the list that starts at position 6"),
        ("a in ['x')", "position 10: expected ',' or ']'"),
        ("a in (b)", "position 7: expected a value after '('"),
        ("a == 'x", "position 6: unterminated string"),
        ('a == "x\\', "position 6: unterminated string"),
        ("a == 'x\\q'", "position 8: unknown escape '\\q'"),
        ("`a", "position 1: unterminated field name"),
        ("`` empty", "position 1: empty field name"),
        ("`a\\n` empty", "position 3: unknown escape '\\n' in a field name"),
        ("@ empty", "position 1: expected a name after '@'"),
        ("@1 empty", "position 1: expected a name after '@'"),
        ("a == 1e5", "position 6: '1e5' is not a number"),
        ("a == 1.2.3", "position 6: '1.2.3' is not a number"),
        ("a == 5abc", "position 6: '5abc' is not a number"),
        ("a == .", "position 6: unexpected character '.'"),
        ("a == -", "position 6: unexpected character '-'"),
        ("a == 1234567890123456", "position 6: the number 1234567890123456 has more than 15"),
        ("a == 0.0000000000000001", ""),  # 1 significant digit: fine, checked below
        ("a == " + "9" * 400, "position 6: the number 999"),
        ("a == 0." + "0" * 400 + "1", "is too close to zero"),
        ("a == 'x\x00'", "position 8: NUL characters are not allowed"),
        ("`a\x00` empty", "position 3: NUL characters are not allowed"),
        ("a == 'x\ud800'", "position 8: unpaired surrogate"),
        (
            "état == 1",
            "position 1: unexpected character 'é' (write other field names in backquotes",
        ),
        ("a == 1 # comment", "position 8: unexpected character '#'"),
        ("a == 1)", "position 7: ')' without a matching '('"),
        ("(a == 1", "position 8: expected 'and', 'or' or ')' to close the '(' at position 1"),
        ("()", "position 2: expected a condition inside '('"),
        ("a == 1 and ()", "position 13: expected a condition inside '('"),
        (
            'a == "1" and (b == "2" or c == "3")',
            "position 24: 'or' inside parentheses joined with 'and': only AND-groups joined by "
            "OR are allowed",
        ),
        ('(b == "2" or c == "3") and a == "1"', "position 11: 'or' inside parentheses"),
        ("a empty and ((b empty) or c empty)", "position 24: 'or' inside parentheses"),
        ("a empty and ((b empty or c empty))", "position 23: 'or' inside parentheses"),
        ("not a empty", "position 1: expected a field name, found the keyword 'not'"),
    ],
)
def test_parse_errors_name_the_position(text: str, message: str) -> None:
    if not message:
        assert parse_filter(text) == one("a", Op.EQ, 1e-16)
        return
    got = error_of(text)
    assert got.startswith(message) or message in got, got
    assert re.match(r"position \d+: ", got), got


def test_error_details() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter("a ==")
    assert info.value.details == {"field": "filter", "position": 5}
    assert info.value.code == "invalid_input"


# --------------------------------------------------------------------------- limits


def test_text_length_limit() -> None:
    padding = " " * (MAX_TEXT_LENGTH - len("a empty"))
    assert parse_filter("a empty" + padding) == one("a", Op.EMPTY)
    message = error_of("a empty" + padding + " ")
    assert message.startswith(f"position {MAX_TEXT_LENGTH + 1}: the filter is")


def test_group_limit() -> None:
    ok = " or ".join(f"a == {i}" for i in range(MAX_GROUPS))
    assert len(parse_filter(ok).groups) == MAX_GROUPS
    too_many = ok + " or zz empty"
    assert error_of(too_many) == (
        f"position {too_many.index('zz') + 1}: too many groups: at most {MAX_GROUPS} may be "
        "joined by 'or'"
    )
    with pytest.raises(InvalidInput, match="more than 50 groups"):
        Filter(tuple(Group((c("a", Op.EMPTY),)) for _ in range(MAX_GROUPS + 1)))


def test_condition_limit() -> None:
    ok = " and ".join(f"a == {i}" for i in range(MAX_CONDITIONS))
    assert len(parse_filter(ok).groups[0].conditions) == MAX_CONDITIONS
    too_many = "b empty or " + ok + " and zz empty"
    message = error_of(too_many)
    assert message.startswith(f"position {too_many.index('zz') + 1}: too many conditions")
    # Flattened parentheses count too.
    nested = "(" + ok + ") and (zz empty)"
    assert "too many conditions" in error_of(nested)
    with pytest.raises(InvalidInput, match="more than 50 conditions"):
        Group(tuple(c("a", Op.EMPTY) for _ in range(MAX_CONDITIONS + 1)))


def test_list_limit() -> None:
    values = ", ".join(str(i) for i in range(MAX_LIST_VALUES))
    assert len(parse_filter(f"a in ({values})").groups[0].conditions[0].values) == 1000
    text = f"a in ({values}, 1000)"
    assert error_of(text) == (
        f"position {text.rindex('1000') + 1}: a list may hold at most {MAX_LIST_VALUES} values"
    )
    with pytest.raises(InvalidInput, match="more than 1000 values"):
        Condition("a", Op.IN, tuple(str(i) for i in range(MAX_LIST_VALUES + 1)))


def test_nesting_limit() -> None:
    assert parse_filter("(" * 32 + "a empty" + ")" * 32) == one("a", Op.EMPTY)
    assert "nested more than 32 deep" in error_of("(" * 33 + "a empty" + ")" * 33)
    assert "nested more than" in error_of("(" * 5000)


# --------------------------------------------------------------------------- the AST


def test_condition_validation() -> None:
    assert Condition("a", Op.EQ, (5,)).values == (5.0,)
    assert isinstance(Condition("a", Op.EQ, (5,)).values[0], float)
    assert Condition("a", "==", ("x",)).op is Op.EQ  # type: ignore[arg-type]
    assert Condition("a", Op.EQ, ("x",)).value == "x"
    bad_calls: list[Callable[[], object]] = [
        lambda: Condition("", Op.EMPTY),
        lambda: Condition("a", Op.EQ),
        lambda: Condition("a", Op.EQ, ("x", "y")),
        lambda: Condition("a", Op.IN),
        lambda: Condition("a", Op.EMPTY, ("x",)),
        lambda: Condition("a", "like", ("x",)),  # type: ignore[arg-type]
        lambda: Condition("a", Op.EQ, (True,)),
        lambda: Condition("a", Op.EQ, (float("nan"),)),
        lambda: Condition("a", Op.EQ, (float("inf"),)),
        lambda: Condition("a", Op.EQ, (0.1 + 0.2,)),  # 17 significant digits
        lambda: Condition("a", Op.EQ, (10**400,)),
        lambda: Condition("a", Op.EQ, ("\x00",)),
        lambda: Condition("a\x00", Op.EMPTY),
        lambda: Group(()),
        lambda: Filter(()),
    ]
    for bad in bad_calls:
        with pytest.raises(InvalidInput):
            bad()


def test_render_field() -> None:
    assert render_field("state") == "state"
    assert render_field("@owner") == "@owner"
    assert render_field("First Name") == "`First Name`"
    assert render_field("AND") == "`AND`"
    assert render_field("@") == "`@`"
    assert render_field("9a") == "`9a`"
    assert render_field("a`b\\") == "`a\\`b\\\\`"


def test_to_text_examples() -> None:
    f = parse_filter(
        "(state == 'AZ' AND age >= 21.50) or `First Name` NOT IN ['a', 1] or @owner is empty"
    )
    assert f.to_text() == (
        '(state == "AZ" and age >= 21.5) or `First Name` not in ("a", 1) or @owner empty'
    )
    assert str(f) == f.to_text()
    assert one("a", Op.EQ, 1e24).to_text() == "a == 1000000000000000000000000"
    assert one("a", Op.EQ, 1e-7).to_text() == "a == 0.0000001"
    assert one("a", Op.EQ, -0.0).to_text() == "a == -0"
    assert one("a", Op.EQ, "x\"y\\z\n\t'").to_text() == 'a == "x\\"y\\\\z\\n\\t\'"'


names = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1)
strings = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@st.composite
def numbers(draw: st.DrawFn) -> float:
    digits = draw(st.integers(-(10**15) + 1, 10**15 - 1))
    exponent = draw(st.integers(-30, 30))
    return float(Decimal(digits).scaleb(exponent))


values: st.SearchStrategy[Value] = st.one_of(strings, numbers())


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    name = draw(st.one_of(names, st.sampled_from(["a", "@owner", "First Name", "in", "Or"])))
    op = draw(st.sampled_from(list(Op)))
    if op in (Op.EMPTY, Op.NOT_EMPTY):
        return Condition(name, op)
    if op in (Op.IN, Op.NOT_IN):
        return Condition(name, op, tuple(draw(st.lists(values, min_size=1, max_size=5))))
    return Condition(name, op, (draw(values),))


filters = st.builds(
    Filter,
    st.lists(
        st.builds(Group, st.lists(conditions(), min_size=1, max_size=4).map(tuple)),
        min_size=1,
        max_size=4,
    ).map(tuple),
)


@given(filters)
def test_to_text_round_trip(f: Filter) -> None:
    text = f.to_text()
    again = parse_filter(text)
    assert again == f
    assert again.to_text() == text
    for g1, g2 in zip(f.groups, again.groups, strict=True):
        for c1, c2 in zip(g1.conditions, g2.conditions, strict=True):
            assert [type(v) for v in c1.values] == [type(v) for v in c2.values]


@given(filters)
def test_dict_round_trip(f: Filter) -> None:
    data = json.loads(json.dumps(f.to_dict()))
    assert filter_from_dict(data) == f


def test_to_dict_shape() -> None:
    f = parse_filter('a == "x" and b in (1, "y") or c not empty')
    assert f.to_dict() == {
        "groups": [
            [
                {"field": "a", "op": "==", "value": "x"},
                {"field": "b", "op": "in", "values": [1.0, "y"]},
            ],
            [{"field": "c", "op": "not empty"}],
        ]
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a filter must be an object"),
        ({}, "'groups' must be a list"),
        ({"groups": []}, "at least one group"),
        ({"groups": [[]]}, "groups[0] needs at least one condition"),
        ({"groups": "x"}, "'groups' must be a list"),
        ({"groups": [{"field": "a"}]}, "groups[0] must be a list"),
        ({"groups": [["x"]]}, "groups[0][0] must be an object"),
        ({"groups": [[{"op": "empty"}]]}, "groups[0][0].field must be a non-empty string"),
        ({"groups": [[{"field": "a", "op": "~"}]]}, "groups[0][0].op must be one of"),
        ({"groups": [[{"field": "a", "op": "=="}]]}, "groups[0][0].value is missing"),
        ({"groups": [[{"field": "a", "op": "==", "value": None}]]}, "must be a string or a number"),
        ({"groups": [[{"field": "a", "op": "==", "value": True}]]}, "must be a string or a number"),
        ({"groups": [[{"field": "a", "op": "in", "values": []}]]}, "non-empty list"),
        ({"groups": [[{"field": "a", "op": "in", "value": "x"}]]}, "non-empty list"),
        ({"groups": [[{"field": "a", "op": "in", "values": [1, [2]]}]]}, "values[1]"),
        ({"groups": [[{"field": "a", "op": "empty", "value": "x"}]]}, "unexpected key(s) value"),
        ({"groups": [[{"field": "a", "op": "==", "value": 0.1 + 0.2}]]}, "significant digits"),
        ({"groups": [[{"field": "a", "op": "empty"}]], "x": 1}, "unknown key(s) in filter: x"),
        ({"groups": [[{"field": "a", "op": "empty"}]] * 51}, "more than 50 groups"),
        ({"groups": [[{"field": "a", "op": "empty"}] * 51]}, "more than 50 conditions"),
        (
            {"groups": [[{"field": "a", "op": "in", "values": list(range(1001))}]]},
            "more than 1000 values",
        ),
    ],
)
def test_filter_from_dict_errors(data: object, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        filter_from_dict(data)
    assert message in info.value.message


def test_filter_from_dict_accepts_ints() -> None:
    f = filter_from_dict({"groups": [[{"field": "a", "op": "in", "values": [1, "1", 2.5]}]]})
    assert f == parse_filter('a in (1, "1", 2.5)')


# --------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("value", "numeric"),
    [
        ("0", True),
        ("-0", True),
        ("+7", True),
        ("007", True),
        ("7.", True),
        (".5", True),
        ("-.5", True),
        ("999999999999.999", True),
        ("1234567890123", False),  # 13 integer digits
        ("1.2345", False),  # 4 decimals
        ("", False),
        (".", False),
        ("+", False),
        ("-", False),
        ("1e3", False),
        (" 1", False),
        ("1 ", False),
        ("1\n", False),
        ("\n1", False),
        ("inf", False),
        ("nan", False),
        ("1_000", False),
        ("0x10", False),
        ("\u0661", False),  # Arabic-Indic one
        ("\uff11", False),  # fullwidth one
        ("1,5", False),
    ],
)
def test_is_numeric(value: str, numeric: bool) -> None:
    assert is_numeric(value) is numeric


def matches(text: str, record: dict[str, str]) -> bool:
    return evaluate(parse_filter(text), record)


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        # empty / not empty; missing == ""
        ("a empty", {}, True),
        ("a empty", {"a": ""}, True),
        ("a empty", {"a": " "}, False),
        ("a not empty", {}, False),
        ("a not empty", {"a": "x"}, True),
        ('a == ""', {}, True),
        ('a != ""', {}, False),
        # strings: exact, case-sensitive
        ('a == "AZ"', {"a": "AZ"}, True),
        ('a == "AZ"', {"a": "az"}, False),
        ('a == "AZ"', {"a": "AZ "}, False),
        ('a == "AZ"', {}, False),
        ('a != "AZ"', {}, True),
        ('a != "AZ"', {"a": "az"}, True),
        ('a != "AZ"', {"a": "AZ"}, False),
        ('a == "é"', {"a": "e\u0301"}, False),
        ('a == "7"', {"a": "007"}, False),
        # strings: code point order
        ('a < "b"', {"a": "a"}, True),
        ('a < "b"', {"a": "B"}, True),
        ('a < "b"', {"a": "é"}, False),
        ('a > "z"', {"a": "é"}, True),
        ('a > "z"', {"a": "😀"}, True),
        ('a < "a"', {}, True),
        ('a <= ""', {}, True),
        ('a > ""', {}, False),
        ('a >= "ab"', {"a": "ab"}, True),
        ('a > "ab"', {"a": "abc"}, True),
        ('a < "10"', {"a": "9"}, False),
        # numbers
        ("a == 7", {"a": "7"}, True),
        ("a == 7", {"a": "007"}, True),
        ("a == 7", {"a": "7.000"}, True),
        ("a == 7", {"a": "+7."}, True),
        ("a == 7", {"a": "7.0000"}, False),
        ("a == 0", {"a": "-0"}, True),
        ("a == 0", {}, False),
        ("a == 0.5", {"a": ".5"}, True),
        ("a == 7", {"a": "seven"}, False),
        ("a != 7", {"a": "seven"}, True),
        ("a != 7", {}, True),
        ("a != 7", {"a": "7.0"}, False),
        ("a < 10", {"a": "9"}, True),
        ("a < 10", {"a": "10"}, False),
        ("a <= 10", {"a": "10"}, True),
        ("a < 10", {"a": ""}, False),
        ("a < 10", {"a": "x"}, False),
        ("a >= -1.5", {"a": "-1.5"}, True),
        ("a > -1.5", {"a": "-1.5"}, False),
        ("a > 0", {"a": "1e3"}, False),
        ("a > 0", {"a": " 5"}, False),
        ("a > 0", {"a": "inf"}, False),
        ("a > 0", {"a": "1234567890123"}, False),
        ("a > 0", {"a": "123456789012"}, True),
        ("a == 0.1", {"a": "0.1"}, True),
        ("a == 0.3", {"a": "0.300"}, True),
        ("a < 0.3", {"a": "0.299"}, True),
        ("a > 999999999999.998", {"a": "999999999999.999"}, True),
        # lists
        ('a in ("x", "y")', {"a": "y"}, True),
        ('a in ("x", "y")', {"a": "Y"}, False),
        ('a in ("x", "")', {}, True),
        ('a not in ("x", "y")', {}, True),
        ('a not in ("x", "y")', {"a": "x"}, False),
        ("a in (1, 2)", {"a": "2.0"}, True),
        ("a in (1, 2)", {"a": "two"}, False),
        ("a not in (1, 2)", {"a": "two"}, True),
        ("a not in (1, 2)", {"a": "01"}, False),
        ('a in ("01", 2)', {"a": "01"}, True),
        ('a in ("01", 2)', {"a": "1"}, False),
        ('a in ("01", 2)', {"a": "002"}, True),
        ('a not in ("x", 2)', {"a": "2."}, False),
        ('a not in ("x", 2)', {"a": "x"}, False),
        ('a not in ("x", 2)', {"a": "y"}, True),
        # groups
        ('a == "1" and b == "2"', {"a": "1", "b": "2"}, True),
        ('a == "1" and b == "2"', {"a": "1"}, False),
        ('a == "1" and b == "2" or c empty', {"a": "1"}, True),
        ('a == "1" and b == "2" or c empty', {"a": "1", "c": "x"}, False),
        ('`First Name` == "Ann" and @owner empty', {"First Name": "Ann"}, True),
        ('`First Name` == "Ann" and @owner empty', {"First Name": "Ann", "@owner": "u1"}, False),
    ],
)
def test_evaluate(text: str, record: dict[str, str], expected: bool) -> None:
    assert matches(text, record) is expected


def test_matches_with_a_getter() -> None:
    f = parse_filter('@owner == "u1" or state == "AZ"')
    assert f.matches({"@owner": "u1"}.get)
    assert not f.matches(lambda name: None)
    assert f.matches(lambda name: "AZ" if name == "state" else None)
