"""Date operators: ISO 8601 completeness and validity, durations, and date comparisons (CORE
Operator.md, "Date"). Dates are read by :mod:`trialkit.validators.core.iso8601`, once per distinct
value; what counts as a date, a complete date and a partial date's precision is decided there.

Comparisons (``date_equal_to``... ``date_less_than_or_equal_to``) compare the target with the value
(another column, or a literal date) and are False wherever either side is not a valid date (empty
values included). Without ``date_component`` both dates are cut to the precision they share
(2019-05 against 2019-05-10 compares the months) and then compared; ``date_equal_to`` also wants
the same precision on both sides (2019-05 is not equal to 2019-05-10, and ``date_not_equal_to``
holds there). ``date_component: auto`` compares at the shared precision only. A named component
(``year``, ``month``, ``day``, ``hour``, ``minute``, ``second``, ``microsecond``) compares that part
alone, a missing part counting as its default (month 1, day 1, hour 0...).
"""

from __future__ import annotations

import operator as op

import numpy as np
import pandas as pd

from trialkit.validators.core.context import Condition, Context, as_series
from trialkit.validators.core.iso8601 import PARTS, Dates, part, read_dates, truncate, valid_durations
from trialkit.validators.core.operators import complement, operator


@operator("is_complete_date")
def is_complete_date(ctx: Context, cond: Condition) -> pd.Series:
    """The value is a full calendar date, with or without a time (Python's ISO reader accepts it:
    2019-02-03, 2019-02-03T10:30+01:00); partial, uncertain, invalid and empty values are not."""
    return read_dates(ctx.column(cond.target)).complete


complement("is_incomplete_date", "is_complete_date")


@operator("invalid_date")
def invalid_date(ctx: Context, cond: Condition) -> pd.Series:
    """The value is not an ISO 8601 date, complete or partial, with or without uncertainty
    (2019-02-30 and empty values are invalid; 2019---15 and 2019-05/2019-06 are valid)."""
    return ~read_dates(ctx.column(cond.target)).valid


@operator("invalid_duration")
def invalid_duration(ctx: Context, cond: Condition) -> pd.Series:
    """The value is not an ISO 8601 duration (empty values included); a negative duration is
    invalid only when the condition says ``negative: false``."""
    negative = cond.params.get("negative") is not False
    return ~valid_durations(ctx.column(cond.target), negative)


def _compare(name: str, compare, words: str) -> None:
    def check(ctx: Context, cond: Condition) -> pd.Series:
        target = read_dates(ctx.column(cond.target))
        other = read_dates(as_series(ctx.comparator(cond), ctx.frame.index))
        component = cond.params.get("date_component")
        result = _by_component(component, target, other, compare) if component not in (None, "auto") \
            else _by_precision(target, other, compare, same_precision=component is None)
        return pd.Series(result & target.valid.to_numpy() & other.valid.to_numpy(), index=ctx.frame.index)
    check.__name__ = name
    check.__doc__ = f"The target date {words} the value's (see the module docstring for partial dates)."
    operator(name)(check)


def _by_component(component: str, target: Dates, other: Dates, compare) -> np.ndarray:
    if component in PARTS:
        left, right = part(target.moment, component), part(other.moment, component)
    else:
        left, right = target.moment, other.moment
    placed = left.notna().to_numpy() & right.notna().to_numpy()
    return np.asarray(compare(left.to_numpy(), right.to_numpy()), dtype=bool) & placed


def _by_precision(target: Dates, other: Dates, compare, same_precision: bool) -> np.ndarray:
    shared = np.minimum(target.precision.to_numpy(), other.precision.to_numpy())
    left, right = truncate(target.moment.to_numpy(), shared), truncate(other.moment.to_numpy(), shared)
    placed = ~np.isnat(left) & ~np.isnat(right)
    result = np.asarray(compare(left, right), dtype=bool) & placed
    if same_precision and compare in (op.eq, op.ne):
        differ = (target.precision.to_numpy() != other.precision.to_numpy()) & placed
        result = result & ~differ if compare is op.eq else result | differ
    return result


_compare("date_equal_to", op.eq, "equals")
_compare("date_not_equal_to", op.ne, "differs from")
_compare("date_greater_than", op.gt, "is later than")
_compare("date_greater_than_or_equal_to", op.ge, "is on or after")
_compare("date_less_than", op.lt, "is earlier than")
_compare("date_less_than_or_equal_to", op.le, "is on or before")
