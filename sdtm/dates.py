"""Raw dates (and times) to ISO 8601 --DTC strings, partial dates kept partial.

EDC dates ``05-JAN-2019`` -> ``2019-01-05``; ``UN-JAN-2019`` -> ``2019-01``; ``UN-UNK-2019`` ->
``2019``; with a time field ``2019-01-05T14:30``. Site-local dates (local lab forms) are read in the
format the raw dictionary gives for the subject's country; an EDC that writes every date in one
layout of its own (``MM/DD/YYYY``) is read in that layout. A value that is not a date is never
guessed at: the --DTC stays empty and the problem is returned, the way sdtm.oak collects parse
problems instead of swallowing them.
"""

from __future__ import annotations

import re

import pandas as pd

from trialkit.days import parse_days
from trialkit.raw_dictionary import EDC_DATE, LOCAL_DATE_FORMATS, MONTHS
from trialkit.vectorize import per_unique

MONTH_NUMBER = {m: f"{k:02d}" for k, m in enumerate(MONTHS, start=1)}


def edc_to_iso(values: pd.Series, *, partial_allowed: bool = True) -> tuple[pd.Series, pd.Series]:
    """Return (ISO strings, problem text per row: '' where fine)."""
    return per_unique(values.astype(str), lambda u: _edc_to_iso(u, partial_allowed))


def _edc_to_iso(values: pd.Series, partial_allowed: bool) -> tuple[pd.Series, pd.Series]:
    text = values.str.strip().str.upper()
    parts = text.str.extract(EDC_DATE)
    day, month, year = parts[0], parts[1], parts[2]
    empty = text == ""
    shape_bad = parts[0].isna() & ~empty
    month_num = month.map(MONTH_NUMBER)
    complete = ~shape_bad & ~empty & (day != "UN") & (month != "UNK")
    iso_complete = year + "-" + month_num + "-" + day
    parsed = parse_days(iso_complete.where(complete, ""))
    impossible = complete & parsed.isna()
    day_unknown = ~shape_bad & ~empty & (day == "UN") & (month != "UNK")
    month_unknown = ~shape_bad & ~empty & (month == "UNK")
    day_without_month = month_unknown & (day != "UN")

    iso = pd.Series("", index=values.index, dtype=object)
    iso[complete & ~impossible] = iso_complete[complete & ~impossible]
    iso[day_unknown] = (year + "-" + month_num)[day_unknown]
    iso[month_unknown & ~day_without_month] = year[month_unknown & ~day_without_month]

    problem = pd.Series("", index=values.index, dtype=object)
    problem[shape_bad] = "not a DD-MON-YYYY date"
    problem[impossible] = "impossible date"
    problem[day_without_month] = "day given with an unknown month"
    if not partial_allowed:
        partial = (day_unknown | month_unknown) & ~day_without_month
        problem[partial] = "partial date where a complete date is required"
    iso[problem != ""] = ""
    return iso, problem


def local_to_iso(values: pd.Series, formats: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates each in its own row's strftime pattern (``formats``, NaN where the site is unknown)."""
    text = values.astype(str).str.strip()
    iso = pd.Series("", index=values.index, dtype=object)
    problem = pd.Series("", index=values.index, dtype=object)
    present = text != ""
    problem[present & formats.isna()] = "site of the subject unknown: cannot read its local date format"
    for pattern in formats.dropna().unique():
        mask = present & (formats == pattern)
        parsed = parse_days(text[mask], pattern)
        good = parsed.notna()
        iso[good[good].index] = per_unique(parsed[good], lambda u: u.dt.strftime("%Y-%m-%d"))
        problem[good[~good].index] = f"not a valid date in the site's format {pattern}"
    return iso, problem


def layout_to_iso(values: pd.Series, layout: str) -> tuple[pd.Series, pd.Series]:
    """Dates every row writes in one layout (a key of LOCAL_DATE_FORMATS, e.g. ``MM/DD/YYYY``), as an
    EDC other than the DD-MON-YYYY kind exports them. A value of the layout's shape that is no
    calendar day (02/30/2021) is an impossible date, as for EDC dates; anything else is not a date
    in the layout. No partial dates: the layout has no way to write an unknown part."""
    shape = re.compile("^" + re.sub("[DMY]", r"\\d", re.escape(layout)) + "$")
    pattern = LOCAL_DATE_FORMATS[layout]

    def convert(u: pd.Series) -> tuple[pd.Series, pd.Series]:
        text = u.astype(str).str.strip()
        parsed = parse_days(text, pattern)
        good = parsed.notna()
        iso = parsed.dt.strftime("%Y-%m-%d").where(good, "").astype(object)
        problem = pd.Series("", index=u.index, dtype=object)
        bad = ~good & (text != "")
        fits = text.str.match(shape)
        problem[bad & fits] = "impossible date"
        problem[bad & ~fits] = f"not a {layout} date"
        return iso, problem
    return per_unique(values.astype(str), convert)


def with_time(iso_date: pd.Series, times: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Append HH:MM to complete dates; a time without a complete date is dropped with a problem."""
    t = times.astype(str).str.strip()
    has_time = t != ""
    good_time = t.str.match(r"^([01]\d|2[0-3]):[0-5]\d$")
    complete = iso_date.str.len() == 10
    out = iso_date.where(~(has_time & good_time & complete), iso_date + "T" + t)
    problem = pd.Series("", index=iso_date.index, dtype=object)
    problem[has_time & ~good_time] = "not a valid HH:MM time"
    problem[has_time & good_time & ~complete] = "time given without a complete date; time dropped"
    return out, problem


def study_day(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """--DY: days from the reference start date, +1 on and after it, no day 0; missing (NaN) when
    either date is partial or absent."""
    d, r = to_day(dtc), to_day(reference)
    delta = (d - r).dt.days
    return delta.where(delta < 0, delta + 1).astype("float64")


def to_day(dtc: pd.Series) -> pd.Series:
    """The calendar day of complete ISO dates (datetimes included) as datetime64[s]; NaT otherwise."""
    text = dtc.astype(object).where(dtc.notna(), "").astype(str)
    return parse_days(text.str.slice(0, 10).where(text.str.len() >= 10, ""))
