"""How a dataset column is described, decided once for define.xml and for Dataset-JSON.

XPT knows two types, Char and Num. define.xml and Dataset-JSON say more: integers apart from
decimals, ISO 8601 text apart from free text, SAS dates apart from plain numbers. Both describe the
same files, so both take the description from here and can never disagree about a column. The OIDs
here are the keys that tie a Dataset-JSON file to its define.xml (itemGroupOID = ItemGroupDef/@OID,
itemOID = ItemDef/@OID).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from trialkit.xpt import SAS_EPOCH, Variable, _format_kind

# text/date/datetime/duration: Char; integer/float: Num; sas_*: Num holding SAS dates, datetimes, times
ColumnKind = Literal["text", "date", "datetime", "duration", "integer", "float", "sas_date", "sas_datetime", "sas_time"]

SECONDS_PER_DAY = 86400
_EXACT_INTEGER = 2.0**53  # beyond this a float64 no longer holds every whole number


def item_group_oid(dataset: str) -> str:
    return f"IG.{dataset}"


def item_oid(dataset: str, variable: str) -> str:
    return f"IT.{dataset}.{variable}"


def sas_numbers(variable: Variable, values: pd.Series) -> pd.Series:
    """A Num column as SAS numbers (float64): engine frames hold dates as datetime64 and times as
    timedelta64, XPT files hold days or seconds since 1960-01-01; both end up as the latter."""
    if pd.api.types.is_datetime64_any_dtype(values):
        if _format_kind(variable.format) == "date":
            return np.floor((values - SAS_EPOCH) / pd.Timedelta(days=1))
        return (values - SAS_EPOCH) / pd.Timedelta(seconds=1)
    if pd.api.types.is_timedelta64_dtype(values):
        return values / pd.Timedelta(seconds=1)
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _whole(numbers: pd.Series) -> bool:
    present = numbers.dropna().to_numpy()
    return bool(np.all(np.isfinite(present)) and np.all(present == np.floor(present))
                and np.all(np.abs(present) <= _EXACT_INTEGER))


def column_kind(variable: Variable, values: pd.Series) -> ColumnKind:
    """The logical type of one column, from its metadata and the values actually written.

    Char: --DTC variables are ISO 8601 dates, or datetimes when any value carries a time; --DUR
    variables are ISO 8601 durations; the rest is text. Num: a date, datetime or time format makes
    SAS dates / datetimes / times, provided every value is a whole day or second (a time also within
    one day), since only those convert to ISO 8601 and back exactly; otherwise integer when every
    value is whole, float when any is not.
    """
    if variable.type == "Char":
        if variable.name.endswith("DTC"):
            return "datetime" if bool((values.astype(str).str.len() > 10).any()) else "date"
        return "duration" if variable.name.endswith("DUR") else "text"
    numbers = sas_numbers(variable, values)
    whole = _whole(numbers)
    timing = _format_kind(variable.format)
    if whole and timing == "date":
        return "sas_date"
    if whole and timing == "datetime":
        return "sas_datetime"
    if whole and timing == "time" and bool(((numbers.dropna() >= 0) & (numbers.dropna() < SECONDS_PER_DAY)).all()):
        return "sas_time"
    return "integer" if whole else "float"


def significant_digits(values: pd.Series) -> int:
    """Decimal places needed to write every value of a float column exactly (define.xml
    SignificantDigits): the smallest d with round(x, d) == x for all x, at most 17."""
    present = values.dropna().to_numpy(dtype="float64")
    for digits in range(18):
        if np.array_equal(np.round(present, digits), present):
            return digits
    return 17


def text_length(values: pd.Series) -> int:
    """The longest value in utf-8 bytes (at least 1): what pyreadstat stores as the XPT length."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    if text.empty:
        return 1
    return max(int(text.str.encode("utf-8").str.len().max()), 1)
