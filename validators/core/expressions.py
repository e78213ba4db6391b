"""CORE check operators as narwhals expressions: one definition, evaluated by the pandas engine on
its frames and by the Spark engine on Spark DataFrames (DESIGN.md, "One rule, several engines").

An expression needs to know what a column holds: text, or numbers. A column of other objects (an
operation's lists, a value-check column mixing text with numbers) has no expression type; there
:func:`leaf` raises :class:`Unported`, and the pandas engine uses the operator in
``operators/`` that reads such values one by one (the Spark engine never meets them: the rules
that make them are not run there). Likewise an operator or an option (``value_is_reference``,
``type_insensitive``, ``round_values``) without an expression here raises :class:`Unported`.

The meanings are CORE's, as ``operators/relational.py`` documents them: empty is null, NaN or '';
``equal_to`` is Python equality (text never equals a number; 1 equals 1.0) and is False when both
sides are empty, as is ``not_equal_to``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import narwhals as nw
import pandas as pd
from narwhals.dtypes import DType

from trialkit.validators.core.context import Condition, MissingVariable

TEXT, NUMBER = "text", "number"


class Unported(Exception):
    """The condition has no expression (yet): the message says which operator, option or column."""


class Columns(Protocol):
    """What an expression may ask of the frame it will run on."""

    def has(self, name: Any) -> bool: ...

    def dtype(self, name: str) -> DType: ...

    def lists_possible(self) -> bool: ...

    def key(self, name: str, expression: nw.Expr) -> str:
        """A column named ``name`` computed as ``expression`` before the condition's expression runs
        (window partitions are column names, so a normalized grouping key must be a column)."""

    def regex(self, pattern: str) -> str:
        """A CORE (Python ``re``) pattern as this engine's regex must be given it, with the same
        verdicts; regex_dialect.UnportedRegex if it cannot be."""


Expression = Callable[[Condition, Columns], nw.Expr]
EXPRESSIONS: dict[str, Expression] = {}


def leaf(cond: Condition, columns: Columns) -> nw.Expr:
    """The condition as an expression, True where it holds for a record."""
    build = EXPRESSIONS.get(cond.operator)
    if build is None:
        raise Unported(f"operator {cond.operator} has no expression yet")
    unported = sorted(k for k in ("value_is_reference", "type_insensitive", "round_values") if cond.params.get(k))
    if unported:
        raise Unported(f"operator {cond.operator} with {', '.join(unported)} has no expression yet")
    return build(cond, columns)


def _expression(*names: str) -> Callable[[Expression], Expression]:
    def register(fn: Expression) -> Expression:
        for name in names:
            EXPRESSIONS[name] = fn
        return fn
    return register


def _kind(dtype: DType, what: str) -> str:
    if dtype == nw.String:
        return TEXT
    if dtype.is_numeric():
        return NUMBER
    raise Unported(f"{what} holds {dtype}, neither text nor numbers")


def _target(cond: Condition, columns: Columns) -> tuple[nw.Expr, str]:
    if not columns.has(cond.target):
        raise MissingVariable(cond.target)
    return nw.col(cond.target), _kind(columns.dtype(cond.target), f"column {cond.target}")


def is_empty(column: nw.Expr, dtype: DType) -> nw.Expr:
    """Where a column of ``dtype`` is empty as CORE means it (context.empty): text null or '',
    a float null or NaN, anything else null. The Spark metadata profile counts the same."""
    if dtype == nw.String:
        return column.is_null() | (column == "")
    return column.is_null() | column.is_nan() if dtype.is_float() else column.is_null()


def _comparator(cond: Condition, columns: Columns) -> tuple[nw.Expr, str | None, nw.Expr]:
    """The value: the column it names (unless ``value_is_literal``), else the literal; with its kind
    (None: empty) and where it is empty."""
    value = cond.value
    if not cond.params.get("value_is_literal") and columns.has(value):
        dtype = columns.dtype(value)
        kind = _kind(dtype, f"column {value}")
        return nw.col(value), kind, is_empty(nw.col(value), dtype)
    if value is None or value == "":
        return nw.lit(None), None, nw.lit(True)
    if isinstance(value, str):
        return nw.lit(value), TEXT, nw.lit(False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return nw.lit(value), NUMBER, nw.lit(False)
    raise Unported(f"operator {cond.operator} with the value {value!r} has no expression yet")


@_expression("exists")
def exists(cond: Condition, columns: Columns) -> nw.Expr:
    """The variable is a column of the frame (a name inside an operation's list: not an expression)."""
    if columns.has(cond.target):
        return nw.lit(True)
    if columns.lists_possible():
        raise Unported("operator exists on a name an operation's list may hold has no expression yet")
    return nw.lit(False)


@_expression("not_exists")
def not_exists(cond: Condition, columns: Columns) -> nw.Expr:
    return ~exists(cond, columns)


@_expression("empty")
def empty(cond: Condition, columns: Columns) -> nw.Expr:
    target, _ = _target(cond, columns)         # text or numbers, else Unported
    return is_empty(target, columns.dtype(cond.target))


@_expression("non_empty")
def non_empty(cond: Condition, columns: Columns) -> nw.Expr:
    return ~empty(cond, columns)


def _equality(cond: Condition, columns: Columns, case_insensitive: bool) -> tuple[nw.Expr, nw.Expr]:
    """(the sides are equal, both sides are empty)."""
    target, kind = _target(cond, columns)
    other, other_kind, other_empty = _comparator(cond, columns)
    both_empty = is_empty(target, columns.dtype(cond.target)) & other_empty
    if case_insensitive and (kind != TEXT or other_kind not in (TEXT, None)):
        raise Unported(f"operator {cond.operator} on numbers has no expression yet")
    if other_kind != kind:
        return nw.lit(False), both_empty
    if case_insensitive:
        target, other = target.str.to_lowercase(), other.str.to_lowercase()
    return (target == other).fill_null(False), both_empty


@_expression("equal_to", "equal_to_case_insensitive")
def equal_to(cond: Condition, columns: Columns) -> nw.Expr:
    equal, both_empty = _equality(cond, columns, cond.operator.endswith("_case_insensitive"))
    return equal & ~both_empty


@_expression("not_equal_to", "not_equal_to_case_insensitive")
def not_equal_to(cond: Condition, columns: Columns) -> nw.Expr:
    equal, both_empty = _equality(cond, columns, cond.operator.endswith("_case_insensitive"))
    return ~equal & ~both_empty


# -- numeric order -------------------------------------------------------------------------------

def _number(cond: Condition, columns: Columns, name: Any, is_value: bool) -> tuple[nw.Expr, nw.Expr]:
    """A side of a numeric comparison and where it is empty: a column of numbers, or (the value) a
    literal read as ``operators/relational.py`` reads it, pandas' ``to_numeric``; a column of text,
    which that code parses value by value as pandas does, has no expression."""
    if columns.has(name) and not (is_value and cond.params.get("value_is_literal")):
        dtype = columns.dtype(name)
        if _kind(dtype, f"column {name}") != NUMBER:
            raise Unported(f"operator {cond.operator} on column {name} of text has no expression yet")
        return nw.col(name), is_empty(nw.col(name), dtype)
    if not is_value:
        raise MissingVariable(name)
    if isinstance(name, bool) or not isinstance(name, (str, int, float)):
        raise Unported(f"operator {cond.operator} with the value {name!r} has no expression yet")
    number = pd.to_numeric(pd.Series([name], dtype=object), errors="coerce").iloc[0]
    return (nw.lit(None), nw.lit(True)) if pd.isna(number) else (nw.lit(float(number)), nw.lit(False))


def _order(compare: Callable[[nw.Expr, nw.Expr], nw.Expr]) -> Expression:
    def build(cond: Condition, columns: Columns) -> nw.Expr:
        """Both sides numbers, neither empty (Spark orders NaN above every number: masked)."""
        target, target_empty = _number(cond, columns, cond.target, is_value=False)
        other, other_empty = _number(cond, columns, cond.value, is_value=True)
        return (compare(target, other) & ~target_empty & ~other_empty).fill_null(False)
    return build


for _name, _compare in (("greater_than", lambda a, b: a > b), ("greater_than_or_equal_to", lambda a, b: a >= b),
                        ("less_than", lambda a, b: a < b), ("less_than_or_equal_to", lambda a, b: a <= b)):
    _expression(_name)(_order(_compare))


# the sibling modules register their operators here (imported last: they import the helpers above)
from trialkit.validators.core import (expressions_dates, expressions_groups, expressions_sets,  # noqa: F401
                                      expressions_text)
