"""The Check tree: ``all`` (and), ``any`` (or), ``not``, and single conditions, over whole columns.

As in the CORE engine every branch is evaluated (no short cut: each gives a column of booleans). A
condition on a variable the frame lacks raises :class:`MissingVariable` up the tree: ``all`` and
``not`` pass it on (the rule cannot be evaluated on this dataset: CORE reports it as skipped),
``any`` only when every one of its branches lacks a variable, since the others still decide.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import narwhals as nw
import pandas as pd

from trialkit.validators.core.context import Condition, Context, MissingVariable, condition
from trialkit.validators.core.expressions import Unported, leaf
from trialkit.validators.core.operators import OPERATORS

Flags = TypeVar("Flags")     # a pandas Series of booleans, or a narwhals expression


def combine(node: Any, wildcard: str, on_leaf: Callable[[Condition], Flags], true: Flags, false: Flags) -> Flags:
    """The tree over whatever ``on_leaf`` gives for each condition: the one reading of all / any /
    not that both engines use (pandas Series on the pandas engine, expressions on Spark)."""
    if "all" in node:
        result = true
        for child in node["all"]:
            result = result & combine(child, wildcard, on_leaf, true, false)
        return result
    if "any" in node:
        result, missing = false, []
        for child in node["any"]:
            try:
                result = result | combine(child, wildcard, on_leaf, true, false)
            except MissingVariable as exc:
                missing.append(exc.name)
        if len(missing) == len(node["any"]):
            raise MissingVariable(", ".join(dict.fromkeys(missing)))
        return result
    if "not" in node:
        return ~combine(node["not"], wildcard, on_leaf, true, false)
    return on_leaf(condition(node, wildcard))


def evaluate(node: Any, ctx: Context) -> pd.Series:
    """True for every record of ``ctx.frame`` that the tree flags: the whole tree as one expression
    when every condition has one (as the Spark engine evaluates it; one narwhals select instead of
    one per condition), else condition by condition."""
    index = ctx.frame.index
    try:
        tree = combine(node, ctx.wildcard, lambda cond: leaf(cond, ctx), nw.lit(True), nw.lit(False))
    except Unported:
        return combine(node, ctx.wildcard, lambda cond: _on_pandas(ctx, cond), pd.Series(True, index=index),
                       pd.Series(False, index=index))
    return _evaluated(ctx, tree)


def _on_pandas(ctx: Context, cond: Condition) -> pd.Series:
    """The condition's expression evaluated on the pandas frame; the operator's own code where there
    is no expression (validators/core/expressions.py says when)."""
    try:
        expression = leaf(cond, ctx)
    except Unported:
        return operator_flags(ctx, cond)
    return _evaluated(ctx, expression)


def operator_flags(ctx: Context, cond: Condition) -> pd.Series:
    """The operator's own code on ``ctx.frame``: True where the condition holds, never null (no
    verdict is not flagged)."""
    result = OPERATORS[cond.operator](ctx, cond)
    return pd.Series(result, index=ctx.frame.index).fillna(False).astype(bool)


def _evaluated(ctx: Context, expression: nw.Expr) -> pd.Series:
    with warnings.catch_warnings():         # pandas' str.contains warns of a pattern's groups: CORE's have them
        warnings.filterwarnings("ignore", "This pattern is interpreted as a regular expression", UserWarning)
        frame = nw.from_native(ctx.frame, eager_only=True)
        frame = frame.with_columns(**ctx.keys) if ctx.keys else frame
        values = frame.select(expression.alias("@flag"))["@flag"].to_numpy()
    if len(values) != len(ctx.frame):           # a literal (exists): one value for every record
        values = values.repeat(len(ctx.frame))
    return pd.Series(values, index=ctx.frame.index).eq(True)     # null (no verdict) is not flagged
