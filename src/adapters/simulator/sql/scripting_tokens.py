"""One scanner for Snowflake SQL text: sqlglot's Snowflake tokenizer, which knows Snowflake's quoting ('…' with
'' and backslash escapes, "…" identifiers, $$…$$ raw strings) and comments, so that finding a closing parenthesis,
splitting an argument list and splitting a Snowflake Scripting block into statements all read quotes the same way
(sqlglot/dialects/snowflake.py ``Snowflake.Tokenizer``: ``RAW_STRINGS = ["$$"]``, ``COMMENTS``)."""

from __future__ import annotations

from typing import ClassVar

from sqlglot.dialects.snowflake import Snowflake
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from adapters.simulator.sql import statements


class _Tokenizer(Snowflake.Tokenizer):
    # Snowflake's tokenizer reads the rest of a "command" (CALL, EXECUTE, SHOW …) as one string
    # (sqlglot/tokens.py ``COMMANDS``): a scanner needs the tokens inside it.
    COMMANDS: ClassVar[set[TokenType]] = set()


_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}


def tokens(text: str) -> list[Token]:
    """``text``'s tokens (each with its ``start``/``end`` offsets, inclusive), or Snowflake's syntax error."""
    try:
        return list(_Tokenizer().tokenize(text))
    except TokenError as exc:
        raise statements.SqlError(
            f"SQL compilation error: syntax error in {statements.short(text)!r}: {exc}", 1003, "42000"
        ) from exc


def depths(found: list[Token]) -> list[int]:
    """Each token's bracket depth: 0 outside any parentheses, brackets or braces (closers count as inside)."""
    depth, result = 0, []
    for token in found:
        if token.token_type in _OPEN:
            depth += 1
        result.append(depth)
        if token.token_type in _CLOSE:
            depth -= 1
    return result


def parenthesised(text: str, start: int) -> tuple[str, str]:
    """The text inside the parentheses opening at offset ``start`` (nested brackets and quoted text skipped), and
    what follows them."""
    found = [t for t in tokens(text) if t.start >= start]
    if found and found[0].token_type == TokenType.L_PAREN:
        for token, depth in zip(found, depths(found), strict=True):
            if token.token_type == TokenType.R_PAREN and depth == 1:
                return text[start + 1 : token.start], text[token.end + 1 :]
    raise statements.SqlError(
        f"SQL compilation error: unbalanced parentheses in {statements.short(text)!r}", 1003, "42000"
    )


def split(text: str, separator: TokenType = TokenType.COMMA) -> list[str]:
    """The parts of ``text`` between ``separator`` tokens outside any brackets, stripped; empty parts dropped."""
    found = tokens(text)
    parts, begin = [], 0
    for token, depth in zip(found, depths(found), strict=True):
        if token.token_type == separator and depth == 0:
            parts.append(text[begin : token.start])
            begin = token.end + 1
    parts.append(text[begin:])
    return [p.strip() for p in parts if p.strip()]
