"""WHEN conditions are parsed with sqlglot and evaluated on the AST with SQL's three-valued logic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.simulator.taskgraph.conditions import PREDECESSOR_RULES, Condition
from domain.errors import InvalidConfig, Unsupported


class FakeScope:
    def __init__(self, values: dict[str, str | None] | None = None, states: Sequence[str] = ()) -> None:
        self.values = values or {}
        self.states = list(states)
        self.asked: list[str | None] = []

    def predecessor_return_value(self, name: str | None) -> str | None:
        self.asked.append(name)
        return self.values.get(name or "", None)

    def predecessor_states(self) -> Sequence[str]:
        return self.states

    def task_completion_state(self, name: str) -> str:
        return {"D$A": "FAILED"}.get(name, "NOT_EXECUTED")


def holds(text: str, scope: FakeScope | None = None) -> bool:
    return Condition.parse(text).holds(scope or FakeScope())


def test_branch_equality_is_case_sensitive() -> None:
    scope = FakeScope({"D$BR": "task2"})
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$BR') = 'task2'", scope)
    assert not holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$BR') = 'TASK2'", scope)
    assert scope.asked == ["D$BR", "D$BR"]


def test_a_null_return_value_makes_the_comparison_false_and_its_negation_false_too() -> None:
    assert not holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$BR') = 'x'")
    assert not holds("NOT (SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$BR') = 'x')")
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$BR') IS NULL")


def test_and_or_not_follow_three_valued_logic() -> None:
    assert holds("1 = 1 and (2 > 1 or NULL = 1)")
    assert not holds("NULL = 1 and 1 = 1")
    assert holds("NULL = 1 or 1 = 1")
    assert holds("not 1 = 2")


def test_casts_and_string_to_number_comparisons() -> None:
    scope = FakeScope({"D$N": "42"})
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$N')::int > 40", scope)
    assert holds("CAST(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$N') AS NUMBER) = 42", scope)
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$N') >= 42.0", scope)
    assert holds("'true'::boolean")
    assert holds("TRY_CAST('abc' AS INT) IS NULL")


def test_a_failed_cast_is_an_error_naming_the_value() -> None:
    with pytest.raises(InvalidConfig, match="'abc'"):
        holds("CAST('abc' AS INT) = 1")


def test_in_lists() -> None:
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$N') in ('a', '42')", FakeScope({"D$N": "42"}))


@pytest.mark.parametrize(
    ("rule", "states", "expected"),
    [
        ("ALL_SUCCEEDED", ["SUCCEEDED", "SUCCEEDED"], True),
        ("ALL_SUCCEEDED", ["SUCCEEDED", "SKIPPED"], False),
        ("ALL_FAILED", ["FAILED", "CANCELLED"], True),
        ("ALL_DONE", ["FAILED", "SKIPPED", "SUCCEEDED"], True),
        ("ALL_SKIPPED", ["SKIPPED", "NOT_EXECUTED"], True),
        ("AT_LEAST_ONE_FAILED", ["SUCCEEDED", "FAILED"], True),
        ("AT_LEAST_ONE_SUCCEEDED", ["FAILED", "SKIPPED"], False),
        ("NONE_FAILED", ["SUCCEEDED", "SKIPPED"], True),
        ("NONE_FAILED", ["SUCCEEDED", "FAILED"], False),
        ("NONE_FAILED_MIN_ONE_SUCCEEDED", ["SKIPPED", "SKIPPED"], False),
        ("NONE_FAILED_MIN_ONE_SUCCEEDED", ["SKIPPED", "SUCCEEDED"], True),
        ("NONE_SKIPPED", ["SUCCEEDED", "FAILED"], True),
        ("NONE_SKIPPED", ["SUCCEEDED", "NOT_EXECUTED"], False),
    ],
)
def test_predecessors_state_rules(rule: str, states: list[str], expected: bool) -> None:
    assert holds(f"SYSTEM$PREDECESSORS_STATE('{rule}')", FakeScope(states=states)) is expected


def test_all_nine_predecessor_rules_are_known() -> None:
    assert len(PREDECESSOR_RULES) == 9


def test_a_predecessors_state_condition_replaces_the_default_rule() -> None:
    assert Condition.parse("SYSTEM$PREDECESSORS_STATE('ALL_DONE') and 1=1").replaces_default_rule
    assert not Condition.parse("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$A') = 'x'").replaces_default_rule


def test_an_unknown_predecessor_rule_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(InvalidConfig, match="NONE_FAILED"):
        Condition.parse("SYSTEM$PREDECESSORS_STATE('SOMETIMES')")


def test_task_completion_state_reads_one_task() -> None:
    assert holds("SYSTEM$TASK_COMPLETION_STATE('D$A') = 'FAILED'")


@pytest.mark.parametrize("text", ["SYSTEM$STREAM_HAS_DATA('S')", "upper('a') = 'A'"])
def test_an_unsupported_function_raises_unsupported_naming_it(text: str) -> None:
    name = text.split("(", maxsplit=1)[0].upper()
    with pytest.raises(Unsupported, match=name.replace("$", r"\$")):
        Condition.parse(text)


def test_columns_cannot_appear_in_a_condition() -> None:
    with pytest.raises(InvalidConfig, match="columns"):
        Condition.parse("x = 1")


def test_unparsable_sql_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="not valid SQL"):
        Condition.parse("1 = = (")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'nan'::float > 0.8", True),
        ("'nan'::float > 'inf'::float", True),
        ("'nan'::float = 'NaN'::float", True),
        ("'nan'::float < 0.8", False),
        ("0.8 >= 'nan'::float", False),
        ("'nan'::float in (1, 'nan'::float)", True),
        ("'nan' > 0.8", True),
    ],
)
def test_nan_compares_as_snowflake_orders_floats(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_a_nan_return_value_passes_a_greater_than_gate() -> None:
    scope = FakeScope({"D$METRIC": "nan"})
    assert holds("SYSTEM$GET_PREDECESSOR_RETURN_VALUE('D$METRIC')::float > 0.8", scope)


def test_a_comparison_that_cannot_be_evaluated_is_an_invalid_config_naming_the_condition() -> None:
    with pytest.raises(InvalidConfig, match="could not be evaluated"):
        holds("-('sNaN'::float) > 1")  # a signalling NaN cannot be negated
