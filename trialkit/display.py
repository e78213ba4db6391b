"""How values look in the messages a user reads: as the data hold them, never as Python sees them.

A finding or an error quotes the value it is about. ``repr`` would show ``np.float64(19725.0)`` or
``Timestamp('2014-01-01 00:00:00')``: Python's view, not the user's. A SAS date is a day count since
1960-01-01, meaningless to a reader. ``show`` gives the value a data manager would recognise: text
in quotes, numbers as written (``12.5``, ``3``), dates as ISO 8601, and ``missing`` for an empty or
missing value. One helper for every stage, so that a message reads the same wherever it is raised.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from trialkit.vectorize import per_unique

SAS_EPOCH = pd.Timestamp("1960-01-01")
MISSING = "missing"


def is_date_variable(name: str | None) -> bool:
    """ADaM's naming rule (ADaMIG 3.1.3): a numeric *DT variable is a date, *DTM a datetime."""
    return bool(name) and str(name).upper().endswith(("DT", "DTM"))


def iso(value) -> str:
    """A date or datetime as ISO 8601 (date only when there is no time of day); '' when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    stamp = pd.Timestamp(value)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{float(value):.15g}"


def plain(value, variable: str | None = None) -> str:
    """The value as text, without quotes: '' for missing; ISO 8601 for dates, including a SAS day
    (or second) count held in a numeric *DT (*DTM) variable such as ``variable``."""
    if value is None:
        return ""
    if isinstance(value, (pd.Timestamp, dt.date, np.datetime64)):
        return iso(value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        if math.isnan(float(value)):
            return ""
        if is_date_variable(variable):
            unit = "s" if str(variable).upper().endswith("DTM") else "D"
            return iso(SAS_EPOCH + pd.to_timedelta(float(value), unit=unit))
        return _number(value)
    if not isinstance(value, str) and pd.isna(value):
        return ""
    return str(value)


def show(value, variable: str | None = None) -> str:
    """The value as a message quotes it: ``'31-APR-2017'``, ``12.5``, ``2014-01-01``, ``missing``."""
    text = plain(value, variable)
    if text == "":
        return MISSING
    if isinstance(value, str):
        return f"'{text}'"
    return text


def show_list(values: Iterable, limit: int = 10) -> str:
    """Names or values as a reader lists them: ``SEX, RACE`` (the first ``limit``, then how many more)."""
    items = [plain(v) for v in values]
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def plain_values(values: pd.Series, variable: str | None = None) -> pd.Series:
    """``plain`` over a column, once per distinct value: for messages built column-wise."""
    return per_unique(values, lambda u: pd.Series([plain(v, variable) for v in u], index=u.index, dtype=object))


def show_values(values: pd.Series, variable: str | None = None) -> pd.Series:
    """``show`` over a column, once per distinct value."""
    return per_unique(values, lambda u: pd.Series([show(v, variable) for v in u], index=u.index, dtype=object))
