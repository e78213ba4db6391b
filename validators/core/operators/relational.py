"""Relational operators: presence, emptiness, equality and numeric order (CORE Operator.md,
"Relational").

Equality follows CORE's table for clinical data: when target and comparator are both empty the
record is *not* flagged by ``equal_to`` nor by ``not_equal_to``; one empty side is unequal.
Options: ``value_is_literal`` (never read the value as a column name), ``value_is_reference`` (the
value names a column whose content names, per record, the column to compare with),
``type_insensitive`` (compare as text with numbers normalized: 200.00 is 200), ``round_values``
(round both sides to integers first).

Presence, emptiness, equality and numeric order have narwhals expressions (expressions.py) that
both engines evaluate on text and number columns; the code here runs only what those cannot type
(object columns, the options above, numeric order of text parsed as numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import Condition, Context, as_series, empty
from trialkit.validators.core.operators import complement, operator
from trialkit.vectorize import per_unique


@operator("exists")
def exists(ctx: Context, cond: Condition) -> pd.Series:
    """True for every record when the variable is a column of the dataset (or is named inside a
    list-valued operation result, such as a list of the dataset's variables); False otherwise."""
    if cond.target in ctx.frame.columns:
        return pd.Series(True, index=ctx.frame.index)
    nested = False
    for column in (o["id"] for o in ctx.rule.operations if o["id"] in ctx.frame.columns):
        shared = ctx.constant(column)
        if shared is not None:
            nested = isinstance(shared, list) and cond.target in shared
        else:
            nested = ctx.frame[column].map(lambda v: isinstance(v, list) and cond.target in v).any()
        if nested:
            break
    return pd.Series(nested, index=ctx.frame.index)


complement("not_exists", "exists")


@operator("empty")
def is_empty(ctx: Context, cond: Condition) -> pd.Series:
    """The value is null: None, NaN, '' or an empty collection."""
    return empty(ctx.column(cond.target))


complement("non_empty", "empty")


def _comparison(ctx: Context, cond: Condition) -> pd.Series:
    """The comparator per record, resolving value_is_reference (a column naming a column; null where
    the named column does not exist)."""
    if cond.params.get("value_is_reference"):
        names = ctx.column(cond.value)
        out = pd.Series([None] * len(ctx.frame), index=ctx.frame.index, dtype=object)
        for name in names.dropna().unique():
            if name not in ctx.frame.columns:
                continue                # CORE: a reference to a variable the record lacks is null
            rows = names == name
            out[rows] = ctx.frame.loc[rows, name].astype(object)
        return out
    return as_series(ctx.comparator(cond), ctx.frame.index)


def normalized_text(value: Any) -> Any:
    """Numbers written as text or stored as numbers, compared alike (CORE's type-insensitive form)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value.strip()
        return str(int(number)) if number.is_integer() else str(number)
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.0f}" if float(value).is_integer() else str(value)
    return value


def _rounded(value: Any) -> Any:
    if value is None:
        return None
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return value


def _sides(ctx: Context, cond: Condition, case_insensitive: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    target = ctx.column(cond.target).astype(object)
    other = _comparison(ctx, cond).astype(object)
    both_empty = empty(target) & empty(other)
    if cond.params.get("round_values"):
        target, other = _each(target, _rounded), _each(other, _rounded)
    if cond.params.get("type_insensitive"):
        target, other = _each(target, normalized_text), _each(other, normalized_text)
    if case_insensitive:
        target, other = _each(target, _lower), _each(other, _lower)
    return target, other, both_empty


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value else None


def _each(values: pd.Series, fn) -> pd.Series:
    """``fn`` on every value, computed once per distinct value (lists, unhashable, one by one)."""
    try:
        return per_unique(values, lambda u: u.map(fn).astype(object))
    except TypeError:
        return values.map(fn)


def _equal(target: pd.Series, other: pd.Series) -> pd.Series:
    """Python equality per record (1.0 == 1, '1' != 1, NaN never equal), vectorized over arrays."""
    left, right = target.to_numpy(dtype=object), other.to_numpy(dtype=object)
    return pd.Series(np.equal(left, right, dtype=object).astype(bool), index=target.index)


@operator("equal_to")
def equal_to(ctx: Context, cond: Condition) -> pd.Series:
    """Target equals the value (a literal or another column); False when both are empty."""
    target, other, both_empty = _sides(ctx, cond, case_insensitive=False)
    return _equal(target, other) & ~both_empty


@operator("not_equal_to")
def not_equal_to(ctx: Context, cond: Condition) -> pd.Series:
    """Target differs from the value; False when both are empty (one empty side differs)."""
    target, other, both_empty = _sides(ctx, cond, case_insensitive=False)
    return ~_equal(target, other) & ~both_empty


@operator("equal_to_case_insensitive")
def equal_to_case_insensitive(ctx: Context, cond: Condition) -> pd.Series:
    """``equal_to`` ignoring case."""
    target, other, both_empty = _sides(ctx, cond, case_insensitive=True)
    return _equal(target, other) & ~both_empty


@operator("not_equal_to_case_insensitive")
def not_equal_to_case_insensitive(ctx: Context, cond: Condition) -> pd.Series:
    """``not_equal_to`` ignoring case."""
    target, other, both_empty = _sides(ctx, cond, case_insensitive=True)
    return ~_equal(target, other) & ~both_empty


def _numeric(ctx: Context, cond: Condition) -> tuple[pd.Series, Any]:
    target = pd.to_numeric(ctx.column(cond.target).astype(object), errors="coerce")
    other = ctx.comparator(cond)
    if isinstance(other, pd.Series):
        other = pd.to_numeric(other.astype(object), errors="coerce")
    elif isinstance(other, str):
        other = pd.to_numeric(pd.Series([other]), errors="coerce").iloc[0]
    return target, other


def _order(name: str, compare, words: str) -> None:
    def check(ctx: Context, cond: Condition) -> pd.Series:
        target, other = _numeric(ctx, cond)
        return pd.Series(np.asarray(compare(target, other), dtype=bool), index=ctx.frame.index)
    check.__name__ = name
    check.__doc__ = (f"Target {words} the value, both read as numbers (text that is not a number, and empty "
                     "values, never compare).")
    operator(name)(check)


_order("greater_than", lambda a, b: a > b, "is greater than")
_order("greater_than_or_equal_to", lambda a, b: a >= b, "is greater than or equal to")
_order("less_than", lambda a, b: a < b, "is less than")
_order("less_than_or_equal_to", lambda a, b: a <= b, "is less than or equal to")
