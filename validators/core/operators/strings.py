"""String operators: regular expressions, prefixes and suffixes, lengths (CORE Operator.md, "String").

Regular expressions match at the start of the text (Python ``re.match``, as pandas ``str.match``):
a rule that wants a search writes ``.*`` first, one that wants a full match ends with ``$``. Numbers
are matched as text without a trailing '.0' when whole. Empty values never match and are never
flagged as not matching.
"""

from __future__ import annotations

import re

import pandas as pd

from trialkit.validators.core.context import Condition, Context, text
from trialkit.validators.core.operators import operator
from trialkit.vectorize import per_unique


def _matches(ctx: Context, cond: Condition) -> tuple[pd.Series, pd.Series]:
    values = text(ctx.column(cond.target))
    pattern = re.compile(str(cond.value))
    present = values.notna()
    hit = per_unique(values.where(present, ""), lambda u: u.map(lambda v: pattern.match(v) is not None))
    return present, hit.astype(bool)


@operator("matches_regex")
def matches_regex(ctx: Context, cond: Condition) -> pd.Series:
    """The value matches the regular expression (from its start)."""
    present, hit = _matches(ctx, cond)
    return present & hit


@operator("not_matches_regex")
def not_matches_regex(ctx: Context, cond: Condition) -> pd.Series:
    """The value is present and does not match the regular expression."""
    present, hit = _matches(ctx, cond)
    return present & ~hit
