"""Filter text to a :class:`~callhopper.domain.filters.model.Filter`: the grammar of the
package docstring, with errors that name the position and say what was expected."""

from __future__ import annotations

from typing import Final

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters.lexer import Token, lex, position_error
from callhopper.domain.filters.model import (
    MAX_CONDITIONS,
    MAX_GROUPS,
    MAX_LIST_VALUES,
    Condition,
    Filter,
    Group,
    Op,
)
from callhopper.domain.filters.values import ERROR_FIELD, Value, render_field
from callhopper.domain.limits import MAX_FILTER_LENGTH

MAX_TEXT_LENGTH: Final = MAX_FILTER_LENGTH
#: Deepest nesting of parentheses accepted (they can only be redundant anyway).
MAX_NESTING: Final = 32

_Conds = list[tuple[Condition, int]]  # a group under construction: (condition, position)
_Parsed = tuple[list[_Conds], int | None]  # groups, and the position of an 'or' joining them

_OPERATORS_HINT: Final = "==, !=, <, <=, >, >=, in, not in, empty or not empty"
_DNF_HINT: Final = (
    "only AND-groups joined by OR are allowed, "
    'e.g. (a == "1" and b == "2") or (a == "1" and c == "3")'
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = lex(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "kw" and token.text == word

    def expected(self, what: str, token: Token | None = None) -> InvalidInput:
        token = token or self.peek()
        return position_error(token.pos, f"expected {what}, found {token.describe()}")

    def parse(self) -> Filter:
        if self.peek().kind == "end":
            raise position_error(
                1, 'the filter is empty; write at least one condition, e.g. state == "AZ"'
            )
        groups, _ = self.parse_or(0)
        token = self.peek()
        if token.kind == ")":
            raise position_error(token.pos, "')' without a matching '('")
        if token.kind != "end":
            raise self.expected("'and', 'or' or the end of the filter")
        if len(groups) > MAX_GROUPS:
            raise position_error(
                groups[MAX_GROUPS][0][1],
                f"too many groups: at most {MAX_GROUPS} may be joined by 'or'",
            )
        for group in groups:
            if len(group) > MAX_CONDITIONS:
                raise position_error(
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
                raise position_error(
                    or_pos, f"'or' inside parentheses joined with 'and': {_DNF_HINT}"
                )
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
            raise position_error(token.pos, f"parentheses nested more than {MAX_NESTING} deep")
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
            raise position_error(
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
            raise position_error(self.peek().pos, "the list is empty; give at least one value")
        values: list[Value] = []
        previous = opener.text
        while True:
            token = self.peek()
            if token.kind not in ("string", "number"):
                raise self.expected(f"a value after '{previous}' (a quoted string or a number)")
            if len(values) >= MAX_LIST_VALUES:
                raise position_error(token.pos, f"a list may hold at most {MAX_LIST_VALUES} values")
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
    """Parse filter text (the language of :mod:`callhopper.domain.filters`) into a
    :class:`Filter`.

    Raises :class:`~callhopper.domain.errors.InvalidInput` whose message starts
    with ``position N:`` (1-based character position) and says what was expected.
    """
    if not isinstance(text, str):
        raise InvalidInput("a filter must be text", field=ERROR_FIELD)
    if len(text) > MAX_TEXT_LENGTH:
        raise position_error(
            MAX_TEXT_LENGTH + 1,
            f"the filter is {len(text)} characters long; at most {MAX_TEXT_LENGTH} are allowed",
        )
    return _Parser(text).parse()
