"""Calendar days over the whole range ISO 8601 and SAS dates cover (years 0001-9999).

pandas' default datetimes count nanoseconds and end at 1677-09-21 and 2262-04-11: read that way a
birth date in 0001 looked like an impossible date and one in 1700 overflowed when a study day was
computed from it. Whether such a year is plausible is a validation rule's question (TK-SDTM-0130),
not the parser's, so every reader of day-precision dates goes through :func:`parse_days`.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from trialkit.vectorize import per_unique


def parse_days(text: pd.Series, pattern: str = "%Y-%m-%d") -> pd.Series:
    """Calendar days read in ``pattern`` (strptime) as datetime64[s]; NaT where the text is no such
    day (2021-02-30) or empty. Each distinct value is parsed once."""
    def parse(u: pd.Series) -> pd.Series:
        days = [_strptime_day(v, pattern) for v in u.astype(str)]
        return pd.Series(np.array(days, dtype="datetime64[s]"), index=u.index)
    return per_unique(text.astype(object).where(text.notna(), "").astype(str), parse)


def _strptime_day(value: str, pattern: str):
    if not value:
        return np.datetime64("NaT")
    try:
        return np.datetime64(datetime.strptime(value, pattern).date(), "D")
    except ValueError:
        return np.datetime64("NaT")
