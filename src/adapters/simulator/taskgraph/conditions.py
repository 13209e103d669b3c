"""WHEN conditions: parsed with sqlglot (Snowflake dialect) and evaluated on the AST — never ``eval``.

Supported, as CREATE TASK documents for WHEN: AND/OR/NOT, parentheses, comparisons, IS [NOT] NULL, IN,
numeric/string/boolean casts (``CAST``, ``::``, ``TRY_CAST``), literals, and the system functions
``SYSTEM$GET_PREDECESSOR_RETURN_VALUE``, ``SYSTEM$PREDECESSORS_STATE`` and ``SYSTEM$TASK_COMPLETION_STATE``.
Logic is SQL's three-valued logic; a task runs only when its WHEN is TRUE (NULL is not true).

Assumptions where the spec is open:
- For ``SYSTEM$PREDECESSORS_STATE``, a NOT_EXECUTED predecessor counts as skipped and a CANCELLED one as
  failed (neither succeeded, and the docs group states that way).
- A condition mentioning ``SYSTEM$PREDECESSORS_STATE`` replaces the default all-succeeded rule: it is
  evaluated once every predecessor is terminal, whatever their states, and false means SKIPPED.

Numbers compare as Snowflake orders floats: NaN equals NaN and is greater than every other number, infinities
included. Any other error while evaluating is an ``InvalidConfig`` naming the condition.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from domain.errors import DomainError, InvalidConfig, Unsupported

GET_RETURN_VALUE = "SYSTEM$GET_PREDECESSOR_RETURN_VALUE"
PREDECESSORS_STATE = "SYSTEM$PREDECESSORS_STATE"
COMPLETION_STATE = "SYSTEM$TASK_COMPLETION_STATE"
_FUNCTIONS = {GET_RETURN_VALUE, PREDECESSORS_STATE, COMPLETION_STATE}
_FAILED = frozenset({"FAILED", "CANCELLED"})
_SKIPPED = frozenset({"SKIPPED", "NOT_EXECUTED"})


def _all(pred: Callable[[str], bool]) -> Callable[[Sequence[str]], bool]:
    return lambda states: all(pred(s) for s in states)


def _any(pred: Callable[[str], bool]) -> Callable[[Sequence[str]], bool]:
    return lambda states: any(pred(s) for s in states)


def _succeeded(s: str) -> bool:
    return s == "SUCCEEDED"


def _failed(s: str) -> bool:
    return s in _FAILED


def _skipped(s: str) -> bool:
    return s in _SKIPPED


PREDECESSOR_RULES: dict[str, Callable[[Sequence[str]], bool]] = {
    "ALL_SUCCEEDED": _all(_succeeded),
    "ALL_FAILED": _all(_failed),
    "ALL_DONE": lambda states: True,  # evaluated only once every predecessor is terminal
    "ALL_SKIPPED": _all(_skipped),
    "AT_LEAST_ONE_FAILED": _any(_failed),
    "AT_LEAST_ONE_SUCCEEDED": _any(_succeeded),
    "NONE_FAILED": _all(lambda s: not _failed(s)),
    "NONE_FAILED_MIN_ONE_SUCCEEDED": lambda states: (
        _all(lambda s: not _failed(s))(states) and _any(_succeeded)(states)
    ),
    "NONE_SKIPPED": _all(lambda s: not _skipped(s)),
}

_COMPARISONS: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}
_TRUE_WORDS = {"true", "t", "yes", "y", "on", "1"}
_FALSE_WORDS = {"false", "f", "no", "n", "off", "0"}


class ConditionScope(Protocol):
    """What a WHEN needs from the running graph."""

    def predecessor_return_value(self, name: str | None) -> str | None: ...

    def predecessor_states(self) -> Sequence[str]: ...

    def task_completion_state(self, name: str) -> str: ...


@dataclass(frozen=True)
class Condition:
    text: str
    tree: exp.Expression

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse and check a WHEN; unknown functions raise ``Unsupported`` naming them."""
        try:
            tree = sqlglot.parse_one(text, read="snowflake")
        except ParseError as exc:
            raise InvalidConfig(f"condition {text!r} is not valid SQL: {exc}") from exc
        for node in tree.walk():
            if isinstance(node, exp.Column):
                raise InvalidConfig(f"condition {text!r} refers to {node.sql()!r}; WHEN cannot read columns")
            if isinstance(node, exp.Func) and not isinstance(node, exp.Cast | exp.TryCast | exp.Connector):
                name = _function_name(node)
                if name not in _FUNCTIONS:
                    raise Unsupported(
                        f"function {name} in condition {text!r} is not supported by the simulator; "
                        f"supported: {sorted(_FUNCTIONS)}"
                    )
                if name == PREDECESSORS_STATE:
                    rule = _string_arg(node, text)
                    if rule not in PREDECESSOR_RULES:
                        raise InvalidConfig(
                            f"{PREDECESSORS_STATE}({rule!r}) in {text!r}: valid values are {list(PREDECESSOR_RULES)}"
                        )
        return cls(text, tree)

    @property
    def replaces_default_rule(self) -> bool:
        # Both decide on the named tasks' states "rather than on the outcome of all of the current task's
        # predecessors" (docs: SYSTEM$TASK_COMPLETION_STATE), so the all-predecessors-succeeded rule yields.
        return any(
            isinstance(n, exp.Anonymous) and _function_name(n) in {PREDECESSORS_STATE, COMPLETION_STATE}
            for n in self.tree.walk()
        )

    def holds(self, scope: ConditionScope) -> bool:
        try:
            return _evaluate(self.tree, scope, self.text) is True
        except DomainError:
            raise
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise InvalidConfig(f"condition {self.text!r} could not be evaluated: {exc!r}") from exc


def _function_name(node: exp.Expression) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()


def _string_arg(node: exp.Expression, text: str) -> str:
    args = node.expressions
    if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
        raise InvalidConfig(f"{_function_name(node)} in {text!r} takes one string literal")
    return str(args[0].this)


def _evaluate(node: exp.Expression, scope: ConditionScope, text: str) -> Any:
    if isinstance(node, exp.Paren):
        return _evaluate(node.this, scope, text)
    if isinstance(node, exp.And):
        left, right = _evaluate(node.this, scope, text), _evaluate(node.expression, scope, text)
        if left is False or right is False:
            return False
        return None if left is None or right is None else bool(left) and bool(right)
    if isinstance(node, exp.Or):
        left, right = _evaluate(node.this, scope, text), _evaluate(node.expression, scope, text)
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(node, exp.Not):
        value = _evaluate(node.this, scope, text)
        return None if value is None else not _as_bool(value, text)
    if type(node) in _COMPARISONS:
        left, right = _evaluate(node.this, scope, text), _evaluate(node.expression, scope, text)
        if left is None or right is None:
            return None
        left, right = _comparable(left, right, text)
        return _COMPARISONS[type(node)](left, right)
    if isinstance(node, exp.Is):
        value = _evaluate(node.this, scope, text)
        if not isinstance(node.expression, exp.Null):
            raise Unsupported(f"IS {node.expression.sql()} in {text!r}; only IS [NOT] NULL")
        return value is None
    if isinstance(node, exp.In):
        value = _evaluate(node.this, scope, text)
        options = [_evaluate(o, scope, text) for o in node.expressions]
        if value is None:
            return None
        return any(o is not None and operator.eq(*_comparable(value, o, text)) for o in options)
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else Decimal(str(node.this))
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg):
        value = _evaluate(node.this, scope, text)
        return None if value is None else -_as_number(value, text, strict=True)
    if isinstance(node, exp.Cast | exp.TryCast):
        return _cast(
            _evaluate(node.this, scope, text), node.to, text, strict=not isinstance(node, exp.TryCast)
        )
    if isinstance(node, exp.Anonymous):
        return _call(node, scope, text)
    raise Unsupported(
        f"{node.sql(dialect='snowflake')!r} in condition {text!r} is not supported by the simulator"
    )


def _call(node: exp.Anonymous, scope: ConditionScope, text: str) -> Any:
    name = _function_name(node)
    if name == GET_RETURN_VALUE:
        if not node.expressions:
            return scope.predecessor_return_value(None)
        return scope.predecessor_return_value(_string_arg(node, text))
    if name == PREDECESSORS_STATE:
        return PREDECESSOR_RULES[_string_arg(node, text)](scope.predecessor_states())
    return scope.task_completion_state(_string_arg(node, text))


def _comparable(left: Any, right: Any, text: str) -> tuple[Any, Any]:
    """Snowflake converts a string compared with a number (or boolean) to the other side's type."""
    if isinstance(left, bool) or isinstance(right, bool):
        return _as_bool(left, text), _as_bool(right, text)
    if isinstance(left, Decimal) and isinstance(right, str):
        right = _as_number(right, text, strict=True)
    elif isinstance(left, str) and isinstance(right, Decimal):
        left = _as_number(left, text, strict=True)
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return _float_order(left), _float_order(right)
    return left, right


def _float_order(number: Decimal) -> tuple[bool, Decimal]:
    """A key ordering numbers as Snowflake orders floats: NaN = NaN, and NaN above everything else."""
    return (True, Decimal(0)) if number.is_nan() else (False, number)


def _cast(value: Any, to: exp.DataType, text: str, *, strict: bool) -> Any:
    if value is None:
        return None
    if to.is_type(*exp.DataType.TEXT_TYPES):
        return (
            value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        )
    if to.is_type(*exp.DataType.NUMERIC_TYPES):
        return _as_number(value, text, strict=strict)
    if to.is_type(exp.DataType.Type.BOOLEAN):
        try:
            return _as_bool(value, text)
        except InvalidConfig:
            if strict:
                raise
            return None
    raise Unsupported(
        f"cast to {to.sql(dialect='snowflake')} in condition {text!r}; use numbers, strings, booleans"
    )


def _as_number(value: Any, text: str, *, strict: bool) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        if strict:
            raise InvalidConfig(
                f"numeric value {value!r} is not recognized (in condition {text!r})"
            ) from None
        return None


def _as_bool(value: Any, text: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return value != 0
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise InvalidConfig(f"boolean value {value!r} is not recognized (in condition {text!r})")
