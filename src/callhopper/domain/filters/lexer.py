"""Filter text as tokens: names, keywords, quoted strings and field names, numbers,
operators and punctuation, each with its 1-based position."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters.values import (
    ERROR_FIELD,
    IDENT_RE,
    KEYWORDS,
    Value,
    describe_bad_char,
    number_problem,
)

_NUMBER_RE: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_NUMBER_TAIL_RE: Final = re.compile(r"[A-Za-z0-9_.]+")
_STRING_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_FIELD_ESCAPES: Final = {"`": "`", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class Token:
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


def position_error(pos: int, message: str) -> InvalidInput:
    return InvalidInput(f"position {pos}: {message}", field=ERROR_FIELD, position=pos)


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    n = len(text)
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            tokens.append(Token("end", n + 1, ""))
            return tokens
        char = text[i]
        pos = i + 1
        if char in "()[],":
            tokens.append(Token(char, pos, char))
            i += 1
        elif char in "=!<>":
            pair = text[i : i + 2]
            if pair in ("==", "!=", "<=", ">="):
                tokens.append(Token("op", pos, pair))
                i += 2
            elif char in "<>":
                tokens.append(Token("op", pos, char))
                i += 1
            elif char == "=":
                raise position_error(pos, "'=' is not an operator; use '==' to test equality")
            else:
                raise position_error(pos, "'!' is not an operator; use '!=' or 'not'")
        elif char in "\"'":
            i = _lex_quoted(text, i, tokens)
        elif char == "`":
            i = _lex_backquoted(text, i, tokens)
        elif char == "@":
            match = IDENT_RE.match(text, i + 1)
            if match is None:
                raise position_error(pos, "expected a name after '@' (letters, digits and '_')")
            tokens.append(Token("field", pos, text[i : match.end()], text[i : match.end()]))
            i = match.end()
        elif char in "+-." or "0" <= char <= "9":
            i = _lex_number(text, i, tokens)
        elif IDENT_RE.match(char):
            match = IDENT_RE.match(text, i)
            assert match is not None
            word = match.group()
            if word.lower() in KEYWORDS:
                tokens.append(Token("kw", pos, word.lower()))
            else:
                tokens.append(Token("name", pos, word, word))
            i = match.end()
        else:
            hint = " (write other field names in backquotes, e.g. `État`)" if char.isalpha() else ""
            raise position_error(pos, f"unexpected character {char!r}{hint}")


def _lex_quoted(text: str, start: int, tokens: list[Token]) -> int:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        if i >= n:
            raise position_error(start + 1, f"unterminated string: no closing {quote}")
        char = text[i]
        if char == quote:
            break
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape not in _STRING_ESCAPES:
                if not escape:
                    raise position_error(start + 1, f"unterminated string: no closing {quote}")
                raise position_error(
                    i + 1,
                    f"unknown escape '\\{escape}' in a string (use \\\", \\', \\\\, \\n or \\t)",
                )
            chars.append(_STRING_ESCAPES[escape])
            i += 2
            continue
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise position_error(i + 1, f"{describe_bad_char(char)} are not allowed in a string")
        chars.append(char)
        i += 1
    tokens.append(Token("string", start + 1, text[start : i + 1], "".join(chars)))
    return i + 1


def _lex_backquoted(text: str, start: int, tokens: list[Token]) -> int:
    chars: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        if i >= n:
            raise position_error(start + 1, "unterminated field name: no closing `")
        char = text[i]
        if char == "`":
            break
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape not in _FIELD_ESCAPES:
                if not escape:
                    raise position_error(start + 1, "unterminated field name: no closing `")
                raise position_error(
                    i + 1, f"unknown escape '\\{escape}' in a field name (use \\` or \\\\)"
                )
            chars.append(escape)
            i += 2
            continue
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise position_error(
                i + 1, f"{describe_bad_char(char)} are not allowed in a field name"
            )
        chars.append(char)
        i += 1
    if not chars:
        raise position_error(start + 1, "empty field name ``")
    tokens.append(Token("field", start + 1, text[start : i + 1], "".join(chars)))
    return i + 1


def _lex_number(text: str, start: int, tokens: list[Token]) -> int:
    pos = start + 1
    match = _NUMBER_RE.match(text, start)
    if match is None:
        raise position_error(pos, f"unexpected character {text[start]!r}")
    end = match.end()
    tail = _NUMBER_TAIL_RE.match(text, end)
    if tail is not None:
        bad = text[start : tail.end()]
        raise position_error(
            pos,
            f"{bad!r} is not a number (write digits with an optional sign and decimal point, "
            "no exponent) or a name (names start with a letter or '_')",
        )
    literal = match.group()
    number = float(literal)
    problem = number_problem(literal, number)
    if problem is not None:
        raise position_error(pos, problem)
    tokens.append(Token("number", pos, literal, number))
    return end
