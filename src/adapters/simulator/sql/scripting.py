"""Snowflake Scripting blocks (docs: developer-guide/snowflake-scripting/index): ``BEGIN … END``, ``DECLARE … BEGIN …
END`` and ``EXECUTE IMMEDIATE $$<block>$$`` as a statement or a task's definition, and the body of ``CREATE
PROCEDURE … LANGUAGE SQL``.

The block is split into statements with the one SQL scanner (scripting_tokens.py) and run statement by statement on
the client's own session (``SessionSql.run``), so every SQL statement inside goes through the same rules as the
client's own (``SYSTEM$`` task functions, ``CALL``, Task Graph SQL …). Expressions are never evaluated here: they
are sent to the session as ``SELECT <expr>`` with the variables in scope replaced by their values.

Served (each with its docs page under developer-guide/snowflake-scripting/):
- blocks: DECLARE section, nested blocks, variables scoped to their block (blocks);
- variables: ``name [type] [DEFAULT | := expr]``, ``LET``, ``name := expr``, ``:name`` and ``IDENTIFIER(:name)``
  in SQL statements, bare names in expressions; a typed variable's value is cast to its type (variables);
- ``RESULTSET`` (``:= (query)``, ``RETURN TABLE(rs)``) and ``CURSOR FOR query | resultset`` read with
  ``FOR row IN cursor DO … END FOR`` and ``row.column``, or OPEN / FETCH … INTO / CLOSE (resultsets, cursors);
- IF / ELSEIF / ELSE, CASE (simple and searched), FOR over a range (REVERSE), WHILE, REPEAT … UNTIL, LOOP, BREAK / EXIT, CONTINUE / ITERATE
  (branch, loops); RETURN (return-values);
- EXCEPTION WHEN name [OR name] | STATEMENT_ERROR | EXPRESSION_ERROR | OTHER THEN …, ``DECLARE e EXCEPTION (code,
  'message')``, RAISE, ``SQLCODE``/``SQLERRM``/``SQLSTATE`` (exceptions);
- ``SQLROWCOUNT``/``SQLFOUND``/``SQLNOTFOUND``, NULL after a statement that is not DML (dml-status, 2025_01 bundle);
- ``SELECT … INTO :v, …`` and ``CALL … INTO :v`` (querying, stored procedures);
- ``EXECUTE IMMEDIATE`` of a string or variable holding a statement or a block (dynamic-sql).

What is not served fails as ``Unsupported`` naming what would run on Snowflake: ASYNC/AWAIT/CANCEL, labels, OPEN … USING, transactions inside a block (BEGIN TRANSACTION/COMMIT/ROLLBACK: each
statement here commits on its own) and EXECUTE IMMEDIATE … USING. An ``Unsupported`` error is never caught by a
WHEN OTHER handler: the block would run differently on Snowflake; nor is the refusal of a timed-out task's session.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from adapters.simulator.sql import scripting_tokens, statements
from adapters.simulator.sql.scripting_parse import (
    Assign,
    Block,
    CursorStep,
    Declare,
    ForCursor,
    ForRange,
    Handler,
    If,
    Jump,
    Parser,
    RaiseStatement,
    ReturnStatement,
    Sql,
    While,
    keyword,
    unsupported,
)
from adapters.simulator.sql.system import literal
from adapters.simulator.sql.taskgraph_sql import Executed, SessionSql

ANONYMOUS = "anonymous block"  # the result column of a block run as a statement (docs: blocks, "Output")
DESCRIBED = exp.select(exp.null().as_(ANONYMOUS, quoted=True)).sql(dialect="snowflake")
_DML = {"INSERT", "UPDATE", "DELETE", "MERGE"}  # TRUNCATE is not one (docs: dml-status)
_BUILTINS = ("SQLROWCOUNT", "SQLFOUND", "SQLNOTFOUND", "SQLCODE", "SQLERRM", "SQLSTATE")
_CUSTOM_SQLSTATE = (
    "P0001"  # the SQLSTATE of a declared exception (docs: exceptions, "Declaring an exception")
)
_CANCELLED_CODE = 604  # "SQL execution canceled" (server.CANCEL_CODE)
_EXPRESSION_ERROR_CODE = 100037  # "Expression error" of an expression a block evaluates
_MAYBE_BLOCK = re.compile(r"\s*(?:BEGIN|DECLARE|--|//|/\*)", re.IGNORECASE)


def is_block(text: str) -> bool:
    """Whether ``text`` is a Snowflake Scripting block: ``DECLARE …`` or ``BEGIN …`` that is not a transaction's
    ``BEGIN [TRANSACTION | WORK | NAME …]`` (docs: blocks, "Important")."""
    if not _MAYBE_BLOCK.match(text):  # every statement passes here: tokenize only the candidates
        return False
    try:
        found = scripting_tokens.tokens(text)
    except statements.SqlError:
        return False
    if not found:
        return False
    first = found[0].text.upper()
    if first == "DECLARE":
        return True
    return (
        first == "BEGIN" and len(found) > 1 and keyword(found[1]) not in {"TRANSACTION", "WORK", "NAME", ";"}
    )


def block_statement(statement: statements.Statement) -> str | None:
    """A block sent as a statement: run here, answered with its return value in one row named "anonymous block"
    (or its ``RETURN TABLE(…)`` rows)."""
    if not is_block(statement.text):
        return None
    session = _session(statement.session)
    returned = run(statement.text, session, {})
    if isinstance(returned, ResultSet):
        return table_sql(returned, session)
    return exp.select(value_sql(returned).as_(ANONYMOUS, quoted=True)).sql(dialect="snowflake")


def run(text: str, session: SessionSql, arguments: dict[str, Any]) -> Any:
    """The value ``text`` (a block) returns on ``session``; ``arguments`` are variables in scope (a procedure's)."""
    parser = Parser(text)
    block = parser.block()
    if parser.i < len(parser.tokens):  # a block is one statement (docs: sql/execute-immediate, usage notes)
        raise parser.error(f"{parser.tokens[parser.i].text!r} after the block's END")
    interpreter = _Interpreter(session, parser.where)
    scope = interpreter.push()
    scope.update({name.upper(): value for name, value in arguments.items()})
    try:
        interpreter.block(block)
    except _Return as done:
        return done.value
    except _Raised as raised:
        raise raised.uncaught() from raised.cause
    except _Leave as leave:
        raise statements.SqlError(
            f"SQL compilation error: {leave.word} outside a loop", 1003, "42000"
        ) from None
    return None


def value_sql(value: Any) -> exp.Expr:
    """A SQL literal of a value a block holds (as the session returned it)."""
    if isinstance(value, float):  # a FLOAT stays one: a bare literal would be read as NUMBER
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return literal(value)
    if isinstance(value, decimal.Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP_NTZ", dialect="snowflake")
    if isinstance(value, datetime.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE", dialect="snowflake")
    if isinstance(value, dict | list):
        return exp.func("PARSE_JSON", exp.Literal.string(json.dumps(value, default=str)), dialect="snowflake")
    return exp.Literal.string(str(value))


def _session(state: statements.SessionState) -> SessionSql:
    if state.sql is None:
        raise statements.SqlError(
            "Snowflake Scripting needs a session of a simulator account",
            statements.PROCEDURE_ERROR_CODE,
            "P0000",
        )
    return state.sql


def table_sql(result: ResultSet, session: SessionSql) -> str:
    # RETURN TABLE(rs): the statement's rows are the resultset's (docs: resultsets, "Returning a RESULTSET")
    name = f"_SF_BLOCK_{result.query_id.replace('-', '_').upper()}"
    if not session.result_table(result.query_id, name):
        raise statements.SqlError(
            "RETURN TABLE: the resultset's query result is gone", statements.PROCEDURE_ERROR_CODE, "P0000"
        )
    return exp.select("*").from_(exp.to_identifier(name, quoted=True)).sql(dialect="snowflake")


# ---- running ---------------------------------------------------------------------------------------------------


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Leave(Exception):
    def __init__(self, word: str) -> None:
        self.word = word


@dataclass
class _Raised(Exception):
    kind: str  # STATEMENT_ERROR | EXPRESSION_ERROR | a declared exception's name
    code: int
    message: str
    sqlstate: str
    line: int = 0
    column: int = 0
    cause: BaseException | None = None

    def uncaught(self) -> statements.SqlError:
        return statements.SqlError(
            f"Uncaught exception of type '{self.kind}' on line {self.line} at position {self.column} : "
            f"{self.message}",
            self.code,
            self.sqlstate,
        )


@dataclass(frozen=True)
class ResultSet:
    rows: list[dict[str, Any]]
    query_id: str


@dataclass(frozen=True)
class _CursorQuery:
    query: str


@dataclass(frozen=True)
class _Exception:
    code: int
    message: str


_UNSET = object()


@dataclass
class _Interpreter:
    session: SessionSql
    where: dict[int, tuple[int, int]]
    scopes: list[dict[str, Any]] = field(default_factory=list)
    types: list[dict[str, str]] = field(default_factory=list)
    rowcount: int | None = None
    handling: list[_Raised] = field(default_factory=list)
    position: tuple[int, int] = (1, 0)  # of the statement running
    opened: dict[str, Iterator[dict[str, Any]]] = field(
        default_factory=dict
    )  # OPEN cursors' rows still to FETCH

    def push(self) -> dict[str, Any]:
        self.scopes.append({})
        self.types.append({})
        return self.scopes[-1]

    def block(self, block: Block) -> None:
        self.push()
        try:
            for declaration in block.declarations:
                self.declare(declaration)
            try:
                self.statements(block.body)
            except _Raised as raised:
                handler = self._handler(block, raised)
                if handler is None:
                    raise
                self.handling.append(raised)
                try:
                    self.statements(handler.body)
                finally:
                    self.handling.pop()
        finally:
            self.scopes.pop()
            self.types.pop()

    def _handler(self, block: Block, raised: _Raised) -> Handler | None:
        for handler in block.handlers:
            if raised.kind in handler.names or "OTHER" in handler.names:
                return handler
        return None

    def statements(self, body: tuple[Any, ...]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: Any) -> None:
        self.position = self.where.get(id(node), self.position)
        try:
            self._statement(node)
        except _Raised as raised:
            if not raised.line:
                raised.line, raised.column = self.position
            raise

    def _statement(self, node: Any) -> None:
        if isinstance(node, Block):
            self.block(node)
        elif isinstance(node, Declare):
            self.declare(node)
        elif isinstance(node, Assign):
            self.assign(node.name, node.value)
        elif isinstance(node, Sql):
            self.sql(node)
        elif isinstance(node, If):
            for condition, body in node.branches:
                if self.evaluate(condition) is True:
                    self.statements(body)
                    return
            self.statements(node.otherwise)
        elif isinstance(node, ForRange):
            self.for_range(node)
        elif isinstance(node, ForCursor):
            rows = self.cursor_rows(node.cursor)
            self.loop(node.body, iter(rows), node.name)
        elif isinstance(node, While):
            self.while_loop(node)
        elif isinstance(node, Jump):
            raise _Leave(node.word)
        elif isinstance(node, ReturnStatement):
            if node.table is not None:
                value = self.lookup(node.table)
                if not isinstance(value, ResultSet):
                    raise unsupported(f"RETURN TABLE({node.table})", "TABLE() takes a RESULTSET")
                raise _Return(value)
            raise _Return(None if node.value is None else self.evaluate(node.value))
        elif isinstance(node, RaiseStatement):
            self.raise_(node)
        elif isinstance(node, CursorStep):
            self.cursor_step(node)

    def declare(self, node: Declare) -> None:
        scope, types = self.scopes[-1], self.types[-1]
        if node.kind == "EXCEPTION":
            scope[node.name] = _Exception(node.code, node.message)
        elif node.kind == "CURSOR":
            scope[node.name] = _CursorQuery(node.value or "")
        elif node.kind == "RESULTSET":
            scope[node.name] = None if node.value is None else self.resultset(node.value)
            types[node.name] = "RESULTSET"
        else:
            if node.type is not None:
                types[node.name] = node.type
            scope[node.name] = None if node.value is None else self.evaluate(node.value, node.type)

    def assign(self, name: str, value: str) -> None:
        for scope, types in zip(reversed(self.scopes), reversed(self.types), strict=True):
            if name in scope:
                if types.get(name) == "RESULTSET":
                    scope[name] = self.resultset(value)
                else:
                    scope[name] = self.evaluate(value, types.get(name))
                return
        raise _Raised(
            "STATEMENT_ERROR",
            1003,
            f"SQL compilation error: assignment to undeclared variable {name}; declare it or use LET",
            "42000",
        )

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return _UNSET

    # -- SQL

    def sql(self, node: Sql) -> None:
        found = scripting_tokens.tokens(node.text)
        first = keyword(found[0])
        if first == "EXECUTE" and len(found) > 1 and keyword(found[1]) == "IMMEDIATE":
            self.execute_immediate(node, found)
            return
        text, targets = self._into(node.text, found)
        text = self._call_arguments(text) if first == "CALL" else self.bind(text)
        executed = self.run(text, node.line, node.column)
        self.rowcount = executed.rowcount if first in _DML else None
        if targets:
            row = executed.rows[0] if executed.rows else None
            values = list(row.values()) if row else [None] * len(targets)
            for target, value in zip(targets, values, strict=False):
                self.assign(target, self.literal_sql(value))

    def run(self, text: str, line: int = 0, column: int = 0) -> Executed:
        try:
            return self.session.run(text)
        except ProgrammingError as exc:
            if _is_unsupported(exc):
                raise
            raise _Raised(
                "STATEMENT_ERROR",
                exc.errno or 0,
                exc.raw_msg or str(exc),
                exc.sqlstate or "",
                line,
                column,
                exc,
            ) from exc

    def resultset(self, query: str) -> ResultSet:
        inner = query.strip()
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]
        executed = self.run(self.bind(inner))
        return ResultSet(executed.rows, executed.query_id or "")

    def cursor_rows(self, name: str) -> list[dict[str, Any]]:
        source = self.lookup(name)
        if isinstance(source, _CursorQuery):
            query = source.query.strip()
            declared = self.lookup(query.upper())
            if isinstance(declared, ResultSet):  # CURSOR FOR resultset
                return declared.rows
            return self.resultset(query).rows
        if isinstance(source, ResultSet):
            return source.rows
        raise _Raised(
            "STATEMENT_ERROR", 1003, f"SQL compilation error: {name} is not a cursor or RESULTSET", "42000"
        )

    def cursor_step(self, node: CursorStep) -> None:
        if node.word == "OPEN":
            self.opened[node.cursor] = iter(self.cursor_rows(node.cursor))
        elif node.cursor not in self.opened:
            raise _Raised("STATEMENT_ERROR", 1003, f"Cursor '{node.cursor}' is not open", "24000")
        elif node.word == "CLOSE":
            del self.opened[node.cursor]
        else:  # FETCH: the next row's columns in order; NULLs after the last row (docs: fetch, usage notes)
            row = next(self.opened[node.cursor], None)
            values = list(row.values()) if row is not None else []
            for i, target in enumerate(node.targets):
                self.assign(target, self.literal_sql(values[i] if i < len(values) else None))

    def execute_immediate(self, node: Sql, found: list[Token]) -> None:
        rest = node.text[found[1].end + 1 :].strip()
        if any(keyword(t) == "USING" for t in found[2:]):
            raise unsupported(
                "EXECUTE IMMEDIATE … USING", "the statement's ? placeholders take the bind variables' values"
            )
        target = self.evaluate(rest)
        if not isinstance(target, str):
            raise _Raised("STATEMENT_ERROR", 1003, "EXECUTE IMMEDIATE needs a string", "42000")
        if is_block(target):
            try:
                run(target, self.session, {})
            except statements.SqlError as exc:
                raise _Raised(
                    "STATEMENT_ERROR",
                    exc.errno or 0,
                    exc.raw_msg or "",
                    exc.sqlstate or "",
                    node.line,
                    node.column,
                ) from exc
            return
        self.sql(Sql(target.strip().rstrip(";"), node.line, node.column))

    def _call_arguments(self, text: str) -> str:
        """``CALL name(expr, …)`` with each argument evaluated in the block (variables by name or ``:name``): the
        procedure receives values, as a CALL in a block passes them (docs: stored-procedures, "Calling")."""
        opening = next((t for t in scripting_tokens.tokens(text) if t.token_type == TokenType.L_PAREN), None)
        if opening is None:
            return self.bind(text)
        inside, rest = scripting_tokens.parenthesised(text, opening.start)
        # plain literals: the SYSTEM$ functions take literal arguments only (system.py ``value_of``)
        values = [
            literal(value).sql(dialect="snowflake") if isinstance(value, float) else self.literal_sql(value)
            for value in (self.evaluate(argument) for argument in scripting_tokens.split(inside))
        ]
        return f"{text[: opening.start]}({', '.join(values)}){rest}"

    def _into(self, text: str, found: list[Token]) -> tuple[str, list[str]]:
        """``SELECT … INTO :a, :b FROM …`` / ``CALL p() INTO :a``: the statement without INTO, and its targets."""
        if keyword(found[0]) not in {"SELECT", "CALL", "WITH"}:
            return text, []
        depth = scripting_tokens.depths(found)
        for i, token in enumerate(found):
            if keyword(token) == "INTO" and depth[i] == 0:
                targets, j = [], i + 1
                while j + 1 < len(found) and found[j].token_type == TokenType.COLON:
                    targets.append(found[j + 1].text.upper())
                    j += 2
                    if j < len(found) and found[j].token_type == TokenType.COMMA:
                        j += 1
                    else:
                        break
                if not targets:
                    return text, []
                end = found[j].start if j < len(found) else len(text)
                return text[: token.start] + " " + text[end:], targets
        return text, []

    # -- expressions

    def evaluate(self, expression: str, type_text: str | None = None) -> Any:
        bound = self.bind(expression, expression=True)
        if type_text is not None:
            bound = f"CAST(({bound}) AS {type_text})"
        try:
            return self.session.scalar(bound)
        except ProgrammingError as exc:
            if _is_unsupported(exc):
                raise
            raise _Raised(
                "EXPRESSION_ERROR",
                exc.errno or _EXPRESSION_ERROR_CODE,
                exc.raw_msg or str(exc),
                exc.sqlstate or "",
            ) from exc

    def literal_sql(self, value: Any) -> str:
        return value_sql(value).sql(dialect="snowflake")

    def bind(self, text: str, *, expression: bool = False) -> str:
        """``text`` with ``:name`` replaced by the variable's value (so ``IDENTIFIER(:name)`` names the object the
        string holds, docs: identifier-literal); in an expression,
        also bare names of variables (outside subqueries) and ``row.column`` of a FOR loop's row."""
        found = scripting_tokens.tokens(text)
        pieces, last = [], 0
        i = 0
        while i < len(found):
            token = found[i]
            replaced = self._bound_at(text, found, i)
            if replaced is not None:
                value_text, consumed = replaced
                pieces.append(text[last : token.start])
                pieces.append(value_text)
                last = found[i + consumed - 1].end + 1
                i += consumed
                continue
            i += 1
        pieces.append(text[last:])
        bound = "".join(pieces)
        return self._bare_names(bound) if expression else bound

    def _bound_at(self, text: str, found: list[Token], i: int) -> tuple[str, int] | None:
        token = found[i]
        if token.token_type != TokenType.COLON or i + 1 >= len(found):
            return None
        previous = found[i - 1] if i else None
        glued = (
            previous is not None
            and previous.end + 1 == token.start
            and previous.token_type
            not in {
                TokenType.L_PAREN,
                TokenType.COMMA,
                TokenType.EQ,
            }
        )
        if glued:  # v:field is a path into a VARIANT, not a variable
            return None
        name = found[i + 1].text.upper()
        value = self.lookup(name) if name not in _BUILTINS else self.builtin(name)
        if value is _UNSET:
            return None
        if isinstance(value, dict) and i + 3 < len(found) and found[i + 2].token_type == TokenType.DOT:
            return self.literal_sql(_field(value, found[i + 3])), 4
        return self.literal_sql(value), 2

    def _bare_names(self, expression: str) -> str:
        from fakesnow.dialect import parse_one

        try:
            parsed = parse_one(f"SELECT {expression}")
        except SqlglotError:
            return expression  # the session reports the syntax error, as an EXPRESSION_ERROR
        outer = parsed

        def replace(node: exp.Expr) -> exp.Expr:
            if not isinstance(node, exp.Column) or node.find_ancestor(exp.Select) is not outer:
                return node
            if node.table:
                row = self.lookup(node.table.upper())
                if isinstance(row, dict):
                    return value_sql(_field(row, node.this))
                return node
            name = node.name if node.this.quoted else node.name.upper()
            value = self.builtin(name) if name in _BUILTINS else self.lookup(name)
            return (
                node if value is _UNSET or isinstance(value, ResultSet | _CursorQuery) else value_sql(value)
            )

        return ", ".join(
            e.sql(dialect="snowflake") for e in parsed.transform(replace, copy=False).expressions
        )

    def builtin(self, name: str) -> Any:
        current = self.handling[-1] if self.handling else None
        values = {
            "SQLROWCOUNT": self.rowcount,
            "SQLFOUND": None if self.rowcount is None else self.rowcount > 0,
            "SQLNOTFOUND": None if self.rowcount is None else self.rowcount == 0,
            "SQLCODE": current.code if current else 0,
            "SQLERRM": current.message if current else None,
            "SQLSTATE": current.sqlstate if current else None,
        }
        return values[name]

    # -- loops and exceptions

    def for_range(self, node: ForRange) -> None:
        start, stop = self.evaluate(node.start), self.evaluate(node.stop)
        if not isinstance(start, int) or not isinstance(stop, int):
            raise _Raised("EXPRESSION_ERROR", _EXPRESSION_ERROR_CODE, "FOR bounds must be integers", "22000")
        counter = range(stop, start - 1, -1) if node.reverse else range(start, stop + 1)
        self.loop(node.body, iter(counter), node.name)

    def loop(self, body: tuple[Any, ...], values: Iterator[Any], name: str) -> None:
        scope = self.push()
        try:
            for value in values:
                scope[name] = value
                if not self._iteration(body):
                    break
        finally:
            self.scopes.pop()
            self.types.pop()

    def while_loop(self, node: While) -> None:
        while node.condition is None or self.evaluate(node.condition) is True:
            if not self._iteration(node.body):
                return
            if node.until is not None and self.evaluate(node.until) is True:
                return

    def _iteration(self, body: tuple[Any, ...]) -> bool:
        """Run one pass of a loop's body; False when BREAK ends the loop."""
        try:
            self.statements(body)
        except _Leave as leave:
            return leave.word == "CONTINUE"
        return True

    def raise_(self, node: RaiseStatement) -> None:
        if node.name is None:
            if not self.handling:
                raise statements.SqlError(
                    "SQL compilation error: RAISE without an exception outside an exception handler",
                    1003,
                    "42000",
                )
            raise self.handling[-1]
        declared = self.lookup(node.name)
        if not isinstance(declared, _Exception):
            raise statements.SqlError(
                f"SQL compilation error: RAISE {node.name}: no exception of that name is declared",
                1003,
                "42000",
            )
        raise _Raised(node.name, declared.code, declared.message, _CUSTOM_SQLSTATE, node.line, node.column)


def _field(row: dict[str, Any], token: Any) -> Any:
    quoted = getattr(token, "quoted", False) or getattr(token, "token_type", None) == TokenType.IDENTIFIER
    name = token.name if isinstance(token, exp.Identifier) else token.text
    key = name if quoted else name.upper()
    if key not in row:
        raise _Raised(
            "EXPRESSION_ERROR",
            _EXPRESSION_ERROR_CODE,
            f"the row has no column {key}; its columns are {', '.join(row)}",
            "42000",
        )
    return row[key]


def _is_unsupported(exc: ProgrammingError) -> bool:
    """Errors no handler catches: a statement the simulator cannot honour, and a cancelled session's refusal (its
    task timed out or was cancelled: the block must stop, as Snowflake cancels the whole statement)."""
    return exc.errno in {statements.UNSUPPORTED_CODE, _CANCELLED_CODE}
