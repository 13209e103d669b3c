"""Snowflake Scripting blocks parsed into statements (scripting.py runs them): recursive descent over the one SQL
scanner's tokens (scripting_tokens.py); SQL statements and expressions are kept as their source text, for the
session to run and evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot.tokenizer_core import Token, TokenType

from adapters.simulator.sql import scripting_tokens, statements

DEFAULT_CODE = -20000  # a declared exception's code when it gives none (docs: exceptions)
TRANSACTION = {"COMMIT", "ROLLBACK", "START"}


def keyword(token: Token) -> str:
    return token.text.upper() if token.token_type != TokenType.SEMICOLON else ";"


def unsupported(what: str, snowflake: str) -> statements.SqlError:
    return statements.unsupported(
        f"{what}: on Snowflake {snowflake}; the simulator's Snowflake Scripting does not"
    )


@dataclass(frozen=True)
class Sql:
    text: str
    line: int
    column: int


@dataclass(frozen=True)
class Declare:
    name: str
    kind: str  # VARIABLE | RESULTSET | CURSOR | EXCEPTION
    type: str | None = None
    value: str | None = None  # an expression; a query for RESULTSET and CURSOR
    code: int = DEFAULT_CODE
    message: str = ""


@dataclass(frozen=True)
class Assign:
    name: str
    value: str


@dataclass(frozen=True)
class If:
    branches: tuple[tuple[str, tuple[Any, ...]], ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True)
class ForRange:
    name: str
    start: str
    stop: str
    reverse: bool
    body: tuple[Any, ...]


@dataclass(frozen=True)
class ForCursor:
    name: str
    cursor: str
    body: tuple[Any, ...]


@dataclass(frozen=True)
class While:
    condition: str | None  # None: LOOP, until BREAK
    body: tuple[Any, ...]
    until: str | None = None  # REPEAT … UNTIL


@dataclass(frozen=True)
class Jump:
    word: str  # BREAK | CONTINUE


@dataclass(frozen=True)
class ReturnStatement:
    value: str | None
    table: str | None = None  # RETURN TABLE(resultset)


@dataclass(frozen=True)
class RaiseStatement:
    name: str | None  # None: re-raise in a handler
    line: int
    column: int


@dataclass(frozen=True)
class CursorStep:
    word: str  # OPEN | FETCH | CLOSE
    cursor: str
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Handler:
    names: tuple[str, ...]
    body: tuple[Any, ...]


@dataclass(frozen=True)
class Block:
    declarations: tuple[Declare, ...]
    body: tuple[Any, ...]
    handlers: tuple[Handler, ...]


class Parser:
    """Recursive descent over the scanner's tokens; SQL statements and expressions are kept as source text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = scripting_tokens.tokens(text)
        self.depth = scripting_tokens.depths(self.tokens)
        self.i = 0
        self.where: dict[
            int, tuple[int, int]
        ] = {}  # id(statement) -> its line and position, for error messages

    def block(self) -> Block:
        declarations: list[Declare] = []
        if self._at("DECLARE"):
            self.i += 1
            while not self._at("BEGIN"):
                declarations.append(self._declaration())
        self._expect("BEGIN")
        body = self._statements({"END", "EXCEPTION"})
        handlers: list[Handler] = []
        if self._at("EXCEPTION"):
            self.i += 1
            while self._at("WHEN"):
                self.i += 1
                names = [self._name()]
                while self._at("OR"):
                    self.i += 1
                    names.append(self._name())
                self._expect("THEN")
                handlers.append(Handler(tuple(names), self._statements({"WHEN", "END"})))
        self._expect("END")
        self._semicolon()
        return Block(tuple(declarations), body, tuple(handlers))

    def _statements(self, until: set[str]) -> tuple[Any, ...]:
        found = []
        while not self._at(*until):
            if self.i >= len(self.tokens):
                raise self.error(f"the block ends before {' or '.join(sorted(until))}")
            token = self.tokens[self.i]
            statement = self._statement()
            self.where[id(statement)] = self._position(token)
            found.append(statement)
        return tuple(found)

    def _statement(self) -> Any:
        token = self.tokens[self.i]
        word = keyword(token)
        following = keyword(self.tokens[self.i + 1]) if self.i + 1 < len(self.tokens) else ""
        if word in {"BEGIN", "DECLARE"} and following not in {"TRANSACTION", "WORK", "NAME", ";"}:
            return self.block()
        if word == "LET":
            self.i += 1
            return self._declaration()
        if self._peek_type(1) == TokenType.COLON_EQ:
            name = self._name()
            self.i += 1
            return Assign(name, self._until_semicolon())
        if word == "IF":
            return self._if()
        if word == "FOR":
            return self._for()
        if word == "WHILE":
            self.i += 1
            condition = self._until_word({"DO", "LOOP"})
            closing = self._take()
            body = self._statements({"END"})
            self._end((closing == "DO" and "WHILE") or "LOOP")
            return While(condition, body)
        if word == "LOOP":
            self.i += 1
            body = self._statements({"END"})
            self._end("LOOP")
            return While(None, body)
        if word == "REPEAT":
            self.i += 1
            body = self._statements({"UNTIL"})
            self.i += 1
            until = self._until_word({"END"})
            self._end("REPEAT")
            return While(None, body, until=until)
        if word in {"BREAK", "EXIT", "CONTINUE", "ITERATE"}:
            self.i += 1
            if not self._at(";"):
                raise unsupported(f"{word} {self.tokens[self.i].text}", "a label names the loop to leave")
            self._semicolon()
            return Jump("BREAK" if word in {"BREAK", "EXIT"} else "CONTINUE")
        if word == "RETURN":
            self.i += 1
            if self._at("TABLE") and self._peek_type(1) == TokenType.L_PAREN:
                self.i += 2
                name = self._name()
                if not self._at(")"):
                    raise unsupported(
                        "RETURN TABLE(<query>)",
                        "the table of a query or cursor is returned; return TABLE(resultset)",
                    )
                self.i += 1
                self._semicolon()
                return ReturnStatement(None, table=name)
            return ReturnStatement(self._until_semicolon() or None)
        if word == "RAISE":
            self.i += 1
            raised = None if self._at(";") else self._name()
            self._semicolon()
            return RaiseStatement(raised, *self._position(token))
        if word in {"ASYNC", "AWAIT", "CANCEL"}:
            raise unsupported(word, "this runs or waits for a child job asynchronously")
        if word == "CASE":
            return self._case()
        if word in {"OPEN", "FETCH", "CLOSE"}:
            return self._cursor_statement(word)
        if word in TRANSACTION or (word == "BEGIN" and following in {"TRANSACTION", "WORK", "NAME", ";"}):
            raise unsupported(
                f"{word} inside a block",
                "the block's statements join one explicit transaction; here each commits",
            )
        text = self._until_semicolon()
        return Sql(text, *self._position(token))

    def _declaration(self) -> Declare:
        name = self._name()
        word = self._word()
        if word == "RESULTSET":
            self.i += 1
            value = None
            if self._at("DEFAULT", ":="):
                self.i += 1
                value = self._until_semicolon()
            else:
                self._semicolon()
            return Declare(name, "RESULTSET", value=value)
        if word == "CURSOR":
            self.i += 1
            self._expect("FOR")
            return Declare(name, "CURSOR", value=self._until_semicolon())
        if word == "EXCEPTION":
            self.i += 1
            code, message = DEFAULT_CODE, ""
            if self._at("("):
                inside, _ = scripting_tokens.parenthesised(self.text, self.tokens[self.i].start)
                parts = scripting_tokens.split(inside)
                code = int(parts[0])
                message = parts[1].strip("'") if len(parts) > 1 else ""
                while not self._at(";"):
                    self.i += 1
            self._semicolon()
            return Declare(name, "EXCEPTION", code=code, message=message)
        type_text = None
        if not self._at("DEFAULT", ":=", ";"):
            type_text = self._until_word({"DEFAULT", ":=", ";"})
        value = None
        if self._at("DEFAULT", ":="):
            self.i += 1
            value = self._until_semicolon()
        else:
            self._semicolon()
        return Declare(name, "VARIABLE", type=type_text, value=value)

    def _if(self) -> If:
        branches = []
        self.i += 1
        while True:
            condition = self._until_word({"THEN"})
            self.i += 1
            body = self._statements({"ELSEIF", "ELSE", "END"})
            branches.append((condition, body))
            if not self._at("ELSEIF"):
                break
            self.i += 1
        otherwise: tuple[Any, ...] = ()
        if self._at("ELSE"):
            self.i += 1
            otherwise = self._statements({"END"})
        self._end("IF")
        return If(tuple(branches), otherwise)

    def _cursor_statement(self, word: str) -> CursorStep:
        """``OPEN c;``, ``FETCH c INTO v [, …];``, ``CLOSE c;`` (docs: cursors; sql-reference/snowflake-scripting/
        open, fetch, close)."""
        self.i += 1
        name = self._name()
        targets: list[str] = []
        if word == "OPEN" and self._at("USING"):
            raise unsupported("OPEN … USING", "the cursor's ? placeholders take the bind variables' values")
        if word == "FETCH":
            self._expect("INTO")
            targets.append(self._name())
            while self._at(","):
                self.i += 1
                targets.append(self._name())
        self._semicolon()
        return CursorStep(word, name, tuple(targets))

    def _case(self) -> If:
        """``CASE [(expr)] WHEN value | condition THEN … [ELSE …] END [CASE];`` as the IF it means (docs: branch,
        "CASE statement": the simple form compares the expression with each WHEN value, the searched form tests
        each WHEN condition)."""
        self.i += 1
        matched = None if self._at("WHEN") else self._until_word({"WHEN"})
        branches = []
        while self._at("WHEN"):
            self.i += 1
            value = self._until_word({"THEN"})
            self.i += 1
            condition = value if matched is None else f"({matched}) = ({value})"
            branches.append((condition, self._statements({"WHEN", "ELSE", "END"})))
        otherwise: tuple[Any, ...] = ()
        if self._at("ELSE"):
            self.i += 1
            otherwise = self._statements({"END"})
        self._expect("END")
        if self._at("CASE"):
            self.i += 1
        self._semicolon()
        return If(tuple(branches), otherwise)

    def _for(self) -> Any:
        self.i += 1
        name = self._name()
        self._expect("IN")
        reverse = self._at("REVERSE")
        if reverse:
            self.i += 1
        first = self._until_word({"TO", "DO", "LOOP"})
        if self._at("TO"):
            self.i += 1
            stop = self._until_word({"DO", "LOOP"})
            closing = self._take()
            body = self._statements({"END"})
            self._end("FOR" if closing == "DO" else "LOOP")
            return ForRange(name, first, stop, reverse, body)
        closing = self._take()
        body = self._statements({"END"})
        self._end("FOR" if closing == "DO" else "LOOP")
        return ForCursor(name, first.strip().upper(), body)

    # -- token helpers

    def _word(self) -> str:
        return keyword(self.tokens[self.i]) if self.i < len(self.tokens) else ""

    def _at(self, *words: str) -> bool:
        return self._word() in words

    def _peek_type(self, ahead: int) -> TokenType | None:
        j = self.i + ahead
        return self.tokens[j].token_type if j < len(self.tokens) else None

    def _take(self) -> str:
        word = self._word()
        self.i += 1
        return word

    def _name(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token.text if token.token_type == TokenType.IDENTIFIER else token.text.upper()

    def _expect(self, word: str) -> None:
        if not self._at(word):
            found = self.tokens[self.i].text if self.i < len(self.tokens) else "the end of the block"
            raise self.error(f"expected {word}, found {found!r}")
        self.i += 1

    def _end(self, word: str) -> None:
        self._expect("END")
        self._expect(word)
        self._semicolon()

    def _semicolon(self) -> None:
        if self._at(";"):
            self.i += 1
        elif self.i < len(self.tokens):
            raise self.error(f"expected ';', found {self.tokens[self.i].text!r}")

    def _until_word(self, words: set[str]) -> str:
        """The source text up to (not including) one of ``words`` outside brackets and CASE … END."""
        begin, cases = self.i, 0
        while self.i < len(self.tokens):
            word = self._word()
            if self.depth[self.i] == 0 and cases == 0 and word in words:
                break
            cases += (word == "CASE") - (word == "END" and cases > 0)
            self.i += 1
        else:
            raise self.error(f"expected {' or '.join(sorted(words))}")
        return self._source(begin, self.i)

    def _until_semicolon(self) -> str:
        text = self._until_word({";"})
        self.i += 1
        return text

    def _source(self, begin: int, end: int) -> str:
        if begin >= end:
            return ""
        return self.text[self.tokens[begin].start : self.tokens[end - 1].end + 1]

    def _position(self, token: Token) -> tuple[int, int]:
        """The token's line and its 0-based position in the line, as Snowflake's errors give them."""
        return token.line, token.start - self.text.rfind("\n", 0, token.start) - 1

    def error(self, message: str) -> statements.SqlError:
        token = self.tokens[min(self.i, len(self.tokens) - 1)] if self.tokens else None
        where = " on line {} at position {}".format(*self._position(token)) if token else ""
        return statements.SqlError(f"SQL compilation error: syntax error{where}: {message}", 1003, "42000")
