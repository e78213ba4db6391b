"""The Check tree: ``all`` (and), ``any`` (or), ``not``, and single conditions, over whole columns.

As in the CORE engine every branch is evaluated (no short cut: each gives a column of booleans). A
condition on a variable the frame lacks raises :class:`MissingVariable` up the tree: ``all`` and
``not`` pass it on (the rule cannot be evaluated on this dataset: CORE reports it as skipped),
``any`` only when every one of its branches lacks a variable, since the others still decide.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from trialkit.validators.core.context import Context, MissingVariable, condition
from trialkit.validators.core.operators import OPERATORS


def evaluate(node: Any, ctx: Context) -> pd.Series:
    """True for every record of ``ctx.frame`` that the tree flags."""
    if "all" in node:
        result = pd.Series(True, index=ctx.frame.index)
        for child in node["all"]:
            result &= evaluate(child, ctx)
        return result
    if "any" in node:
        result, missing = pd.Series(False, index=ctx.frame.index), []
        for child in node["any"]:
            try:
                result |= evaluate(child, ctx)
            except MissingVariable as exc:
                missing.append(exc.name)
        if len(missing) == len(node["any"]):
            raise MissingVariable(", ".join(dict.fromkeys(missing)))
        return result
    if "not" in node:
        return ~evaluate(node["not"], ctx)
    cond = condition(node, ctx.wildcard)
    result = OPERATORS[cond.operator](ctx, cond)
    return pd.Series(result, index=ctx.frame.index).fillna(False).astype(bool)
