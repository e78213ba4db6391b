"""Values of typed formats (SAS, Excel) turned into the text a user sees, so every reader hands the
raw dictionary's checks the same thing a CSV export would hold.

Numbers: whole numbers without a spurious ".0" (3, not 3.0), others in Python's shortest exact form
(12.5, 0.001); missing = ''. Dates: ISO 8601 YYYY-MM-DD, the raw dictionary's ``format: YYYY-MM-DD``
(a SAS date carries no layout of its own: DATE9., DDMMYY10. only display one). Date-times:
YYYY-MM-DDTHH:MM:SS. Times: HH:MM (the dictionary's ``time``), HH:MM:SS when seconds are not zero.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from trialkit.vectorize import per_unique


def value_text(value) -> str:
    """One exported value as text (see the module docstring)."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        if pd.isna(value):
            return ""
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M" if value.second == 0 else "%H:%M:%S")
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return ""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def column_text(values: pd.Series) -> pd.Series:
    """A column of typed values as text, converted once per distinct value."""
    return per_unique(values.astype(object), lambda u: pd.Series([value_text(v) for v in u], dtype=object))
