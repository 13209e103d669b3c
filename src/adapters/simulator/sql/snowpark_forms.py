"""Snowflake SQL in the shapes Snowpark's DataFrame API writes it, which sqlglot or fakesnow do not read.

Each rule rewrites one shape to the equivalent form fakesnow serves; the Snowpark function that writes the shape is
named in the rule's comment (snowflake/snowpark/_internal/analyzer/analyzer_utils.py unless said otherwise).
"""

from __future__ import annotations

import re

from sqlglot import exp

from adapters.simulator.sql.statements import Statement, short, unsupported


def parenthesised_table_function(statement: Statement) -> str | None:
    """``FROM ( TABLE (f(…)))``: a table function in parentheses, as ``Session.range`` (``GENERATOR``) and
    ``Session.table_function`` write their source (``table_function_statement`` wraps ``TABLE (…)`` in
    ``project_statement``'s parentheses). sqlglot reads it as a subquery of the table function, which fakesnow
    renders ``FROM (RANGE(5))`` / ``FROM (_FS_FLATTEN(…))``: DuckDB's syntax error. Without the parentheses the
    query means the same and fakesnow serves it (fakesnow/transforms/transforms.py ``flatten``, ``generator``)."""
    if "TABLE" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    wrapped = [s for s in parsed.find_all(exp.Subquery) if isinstance(s.this, exp.TableFromRows)]
    for subquery in wrapped:
        function = subquery.this
        if (alias := subquery.args.get("alias")) is not None:
            function.set("alias", alias)
        subquery.replace(function)
    return parsed.sql(dialect="snowflake") if wrapped else None


_NAME = r'(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)'
# ``create_table_statement`` writes ``CREATE [TEMPORARY] TABLE <name> IF NOT EXISTS (<columns>)`` — the only
# CREATE form of Snowpark with IF NOT EXISTS after the name (``DataFrameWriter.save_as_table``, modes "append"
# and "ignore"); Snowflake accepts it, sqlglot expects ``(`` after the name.
_IF_NOT_EXISTS_AFTER_NAME = re.compile(
    rf"^(?P<create>\s*CREATE\s+(?:[A-Z]+\s+)*?TABLE)\s+(?P<name>{_NAME}(?:\s*\.\s*{_NAME}){{0,2}})"
    r"\s+IF\s+NOT\s+EXISTS\s*\(",
    re.IGNORECASE,
)


def if_not_exists_after_name(statement: Statement) -> str | None:
    """``CREATE TABLE T IF NOT EXISTS (…)`` in the standard order, ``CREATE TABLE IF NOT EXISTS T (…)``."""
    match = _IF_NOT_EXISTS_AFTER_NAME.match(statement.text)
    if match is None:
        return None
    return f"{match['create']} IF NOT EXISTS {match['name']} (" + statement.text[match.end() :]


MERGE_SOURCE = "_SF_MERGE_SOURCE"


def merge_source_alias(statement: Statement) -> str | None:
    """``MERGE INTO T USING (SELECT "ID" AS "r_0001_ID" …) ON ("ID" = "r_0001_ID") …``, as ``Table.merge`` writes
    it (``merge_statement``): a source subquery without an alias, its columns renamed apart from the target's and
    named unqualified. fakesnow/transforms/merge.py ``_create_merge_candidates`` asserts that the source has a
    name and keeps only the source's join keys qualified by it, so the subquery gets an alias and every
    unqualified column is qualified by the side whose column it is (the source's are the subquery's names)."""
    if not re.match(r"^\s*MERGE\b", statement.text, re.IGNORECASE):
        return None
    parsed = statement.parsed()
    if not isinstance(parsed, exp.Merge):
        return None
    source = parsed.args.get("using")
    if not isinstance(source, exp.Subquery) or source.args.get("alias") is not None:
        return None
    query = source.this
    if not isinstance(query, exp.Select) or any(isinstance(e, exp.Star) for e in query.expressions):
        return None  # the source's column names are not known from the statement: left as it is
    source_names = {_resolved(e.args["alias"] if isinstance(e, exp.Alias) else e) for e in query.expressions}
    source.set("alias", exp.TableAlias(this=exp.to_identifier(MERGE_SOURCE)))
    target = parsed.this
    target_name = target.alias_or_name if isinstance(target, exp.Table) else None
    qualified = [parsed.args.get("on"), *_when_expressions(parsed)]
    for expression in qualified:
        if expression is None:
            continue
        for column in list(expression.find_all(exp.Column)):
            if column.table:
                continue
            if _resolved(column.this) in source_names:
                column.set("table", exp.to_identifier(MERGE_SOURCE))
            elif target_name:
                column.set("table", exp.to_identifier(target_name))
    return parsed.sql(dialect="snowflake")


def _when_expressions(merge: exp.Merge) -> list[exp.Expr]:
    """What the WHEN clauses read: their conditions, UPDATE SET values and INSERT VALUES (not the target's columns
    they assign)."""
    whens = merge.args.get("whens")
    read: list[exp.Expr] = []
    for when in whens.expressions if isinstance(whens, exp.Whens) else whens or []:
        if (condition := when.args.get("condition")) is not None:
            read.append(condition)
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            read.extend(e.expression for e in then.expressions if isinstance(e, exp.EQ))
        elif isinstance(then, exp.Insert) and then.expression is not None:
            read.append(then.expression)
    return read


def _resolved(node: exp.Expr) -> str:
    """The name an identifier resolves to: quoted as written, unquoted upper-case."""
    identifier = node.this if isinstance(node, exp.Column) else node
    if isinstance(identifier, exp.Identifier):
        return identifier.name if identifier.quoted else identifier.name.upper()
    return node.sql(dialect="snowflake")


def approx_percentile_of_accumulate(statement: Statement) -> str | None:
    """``APPROX_PERCENTILE_ESTIMATE(state, p)`` of an ``APPROX_PERCENTILE_ACCUMULATE(x)`` state is
    ``APPROX_PERCENTILE(x, p)``: fakesnow has neither function, DuckDB has the aggregate (``approx_quantile``, which
    sqlglot writes for APPROX_PERCENTILE). ``DataFrame.stat.approx_quantile`` (snowflake/snowpark/
    dataframe_stat_functions.py) accumulates in a subquery and estimates over it, ``SELECT
    APPROX_PERCENTILE_ESTIMATE("t", 0.5) FROM (SELECT APPROX_PERCENTILE_ACCUMULATE("AMOUNT") AS "t" FROM …)``: the
    estimates then read the subquery's source directly. A state kept otherwise (saved in a table) is refused."""
    if "APPROX_PERCENTILE_" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    for outer in list(parsed.find_all(exp.Select)):
        _estimate_over_states(outer)
    for estimate in list(parsed.find_all(exp.ApproxPercentileEstimate)):
        state = estimate.this
        if isinstance(state, exp.ApproxPercentileAccumulate):
            estimate.replace(_approx_percentile(state.this, estimate.args["percentile"]))
    if parsed.find(exp.ApproxPercentileEstimate, exp.ApproxPercentileAccumulate) is not None:
        raise unsupported(
            f"{short(statement.text)!r}: the simulator computes APPROX_PERCENTILE_ESTIMATE only over the "
            "APPROX_PERCENTILE_ACCUMULATE of the same query (as DataFrame.stat.approx_quantile asks); a saved "
            "state is not kept — use APPROX_PERCENTILE(x, p) (functions.approx_percentile) instead"
        )
    return parsed.sql(dialect="snowflake")


def _estimate_over_states(outer: exp.Select) -> None:
    """``outer``'s estimates of the states its FROM subquery accumulates, as aggregates over that subquery's source."""
    source = outer.args.get("from_")
    inner = (
        source.this.this if isinstance(source, exp.From) and isinstance(source.this, exp.Subquery) else None
    )
    # only a subquery that accumulates and does nothing else (no WHERE, GROUP BY, joins…) is read through
    if not isinstance(inner, exp.Select) or any(
        v for k, v in inner.args.items() if k not in ("expressions", "from_")
    ):
        return
    states = {
        _resolved(e.args["alias"]): e.this
        for e in inner.expressions
        if isinstance(e, exp.Alias) and isinstance(e.this, exp.ApproxPercentileAccumulate)
    }
    if not states or len(states) != len(inner.expressions):
        return
    estimates = [
        e for e in outer.find_all(exp.ApproxPercentileEstimate) if e.find_ancestor(exp.Select) is outer
    ]
    columns = [c for c in outer.find_all(exp.Column) if c.find_ancestor(exp.Select) is outer]
    read = [e.this for e in estimates]
    if not estimates or any(c not in read or _resolved(c) not in states for c in columns):
        return  # the states are read otherwise too: left as they are
    for estimate in estimates:
        accumulate = states[_resolved(estimate.this)]
        estimate.replace(_approx_percentile(accumulate.this.copy(), estimate.args["percentile"]))
    outer.set("from_", inner.args["from_"])


def _approx_percentile(value: exp.Expr, percentile: exp.Expr) -> exp.Expr:
    # a FLOAT, as Snowflake's APPROX_PERCENTILE_ESTIMATE returns (DuckDB's approx_quantile keeps an integer's type)
    return exp.cast(exp.ApproxQuantile(this=value, quantile=percentile), exp.DataType.build("DOUBLE"))
