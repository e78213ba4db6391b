"""ISO 8601 dates, partial dates, intervals and durations as the CORE engine reads them: the one date
reader of the CORE interpreter, shared by the date operators and the date operations.

Every distinct value of a column is read once (:func:`read_dates`) into the facts the operators ask
about, so a column of 100,000 dates costs what its distinct dates cost:

- ``valid``: a date CORE accepts (``invalid_date``): the text matches CORE's date grammar (extended
  format, ``-`` for an unknown part as in ``2019---15`` or ``--12-15``, an interval ``a/b``, a time
  alone ``-----T10:30``) and either holds an uncertainty mark (``/``, ``--``, ``-:``) or is a date
  ``dateutil``'s ISO parser reads (which rejects 2019-02-30). Only text can be valid.
- ``complete``: ``datetime.fromisoformat`` reads it (a full calendar date, optionally with a time),
  what CORE calls a complete date; ``day`` is then its calendar date (the written one, before any
  time-zone shift), what study days count with.
- ``precision``: the last part known without a gap from the year on (0 year ... 6 fraction of a
  second); unknown when the year is unknown. A part missing from the start of an interval is taken
  from its end (``2019/2019-05-06`` reads as 2019-05-06), as CORE's reader does.
- ``moment``: the instant in UTC, unknown parts at January 1st, midnight. A value with an
  uncertainty mark is read part by part (its time zone ignored, a fraction read as a whole number of
  microseconds, as CORE does); any other is read as a date-time, shifted to UTC by its offset. A
  valid value that names no calendar day (2019-02-30/2019-03) has no moment (CORE stops with an
  error there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from dateutil.parser import isoparse

from trialkit.vectorize import per_unique

PARTS = ("year", "month", "day", "hour", "minute", "second", "microsecond")
UNITS = ("Y", "M", "D", "h", "m", "s", "us")      # numpy's unit for each precision
UNCERTAIN = ("/", "--", "-:")
_DEFAULTS = (1970, 1, 1, 0, 0, 0, 0)


def _time(tag: str) -> str:
    """T hour, then optionally :minute, then optionally :second and/or .fraction, then a zone."""
    return (rf"T(?P<{tag}hour>2[0-3]|[01]\d|-)"
            rf"(?::(?P<{tag}minute>[0-5]\d|-)(?::(?P<{tag}second>[0-5]\d|-)?(?:\.(?P<{tag}microsecond>\d+))?)?)?"
            rf"(?P<{tag}zone>Z|[+-](?:2[0-3]|[01]\d):[0-5]\d)?")


def _date_time(tag: str) -> str:
    """A year (or '-'), then optionally month and day each after one or two dashes, then a time."""
    return (rf"(?P<{tag}year>-?\d{{4}}|-)(?:-{{1,2}}(?P<{tag}month>1[0-2]|0[1-9]|-))?"
            rf"(?:-{{1,2}}(?P<{tag}day>3[01]|0[1-9]|[12]\d|-))?(?:{_time(tag)})?")


# A date-time with an optional interval end, or a time with the date parts all unknown.
DATE = re.compile(rf"^(?:{_date_time('')}(?:/{_date_time('end_')})?|-{{4,8}}{_time('only_')})$")

# The values without an uncertainty mark that dateutil's ISO reader (``_isoparses``) reads, the
# calendar aside (month 01-12, a day the month has, a year from 0001), as DATE's grammar lets them
# through: ASCII digits, a date in the order year, month, day, a time only after a full date, a
# fraction only after seconds. It is how the expressions (expressions_dates.py) decide validity
# without dateutil; tests/test_validators_core_expressions_dates.py checks it against dateutil.
READABLE = re.compile(r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2}(?:T[0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
                      r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$")

_NUMBER = r"\d+(?:[.,]\d*)?"
_DURATION = (rf"P(?!$)(?:(?:(?:(?P<year>{_NUMBER})Y)?,?(?:(?P<month>{_NUMBER})M)?,?(?:(?P<day>{_NUMBER})D)?,?"
             rf"(?:T(?=\d)(?:(?P<hour>{_NUMBER})H)?,?(?:(?P<minute>{_NUMBER})M)?,?(?:(?P<second>{_NUMBER})S)?)?)"
             rf"|(?P<week>{_NUMBER})W)$")
DURATION = re.compile(rf"^{_DURATION}")
SIGNED_DURATION = re.compile(rf"^-?{_DURATION}")


def plain(grammar: re.Pattern) -> str:
    """The grammar's pattern for matching only: its named groups (its only capturing ones) as
    non-capturing groups. Java's regex, through regex_dialect.for_java, takes no Python group names,
    and pandas warns on every ``str.contains`` with a capturing group."""
    return re.sub(r"\(\?P<\w+>", "(?:", grammar.pattern)


@dataclass(frozen=True)
class Dates:
    """What CORE knows about each value of a column, aligned to it (see the module docstring)."""

    valid: pd.Series          # bool
    uncertain: pd.Series      # bool: text with an uncertainty mark (/, --, -:)
    complete: pd.Series       # bool
    day: pd.Series            # datetime64[s] at midnight, NaT unless complete
    precision: pd.Series      # float: 0..6, NaN when unknown
    moment: pd.Series         # datetime64[us], UTC, NaT when not placeable


def read_dates(values: pd.Series) -> Dates:
    """The facts about every value, each distinct value read once."""
    values = values.astype(object)
    return Dates(*per_unique(values, _read_distinct))


def _read_distinct(uniques: pd.Series) -> tuple[pd.Series, ...]:
    facts = [_read(v) for v in uniques]
    valid, uncertain, complete, day, precision, moment = zip(*facts) if facts else [()] * 6
    return (pd.Series(valid, dtype=bool), pd.Series(uncertain, dtype=bool), pd.Series(complete, dtype=bool),
            pd.Series(np.array(day, dtype=np.int64).view("datetime64[s]")), pd.Series(precision, dtype=float),
            pd.Series(np.array(moment, dtype=np.int64).view("datetime64[us]")))


_EPOCH = datetime(1970, 1, 1)
_NAT = np.iinfo(np.int64).min       # how numpy stores NaT
_SECOND, _MICROSECOND = timedelta(seconds=1), timedelta(microseconds=1)


def _ticks(moment: datetime | None, unit: timedelta) -> int:
    """A naive date-time as numpy's datetime64 of ``unit`` holds it (whole units since 1970, NaT for
    None): numpy builds an array from such integers some twenty times faster than from datetimes."""
    return _NAT if moment is None else (moment - _EPOCH) // unit


@lru_cache(maxsize=1 << 18)
def _read(value: Any) -> tuple[bool, bool, bool, int, float, int]:
    """One value's facts, ``day`` and ``moment`` as :func:`_ticks` (seconds, microseconds);
    remembered, since every date rule of a study reads the same --DTC values."""
    if not isinstance(value, str):
        return False, False, False, _NAT, np.nan, _NAT
    match = DATE.match(value)
    parts = _parts(match) if match else (None,) * 7
    known = [p is not None for p in parts]
    precision = float(known.index(False) - 1 if False in known else 6) if known[0] else np.nan
    uncertain = any(mark in value for mark in UNCERTAIN)
    valid = match is not None and (uncertain or _isoparses(value))
    moment = None
    if valid:
        moment = _moment_by_parts(parts) if uncertain else _moment(parts, match)
    day = _calendar_day(value)
    return valid, uncertain, day is not None, _ticks(day, _SECOND), precision, _ticks(moment, _MICROSECOND)


def _parts(match: re.Match) -> tuple[str | None, ...]:
    """Year to fraction: the start's, else the interval end's, else the time-only's; '-' is unknown."""
    out = []
    for part in PARTS:
        text = match.group(part) or match.group("end_" + part) or (
            match.group("only_" + part) if part in PARTS[3:] else None)
        out.append(None if text in (None, "", "-") else text)
    return tuple(out)


def _isoparses(value: str) -> bool:
    try:
        isoparse(value)
    except (ValueError, OverflowError):
        return False
    return True


def _moment_by_parts(parts: tuple[str | None, ...]) -> datetime | None:
    try:
        return datetime(*(int(p) if p is not None else d for p, d in zip(parts, _DEFAULTS)))
    except (ValueError, OverflowError):
        return None


def _moment(parts: tuple[str | None, ...], match: re.Match) -> datetime | None:
    """A date-time without uncertainty: the fraction as a fraction, the zone's offset applied."""
    fraction = parts[6]
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    moment = _moment_by_parts(parts[:6] + (str(micro),))
    zone = match.group("zone")
    if moment is None or not zone or zone == "Z":
        return moment
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    try:
        return moment - offset
    except OverflowError:
        return None


def _calendar_day(value: str) -> datetime | None:
    try:
        written = datetime.fromisoformat(value)
    except ValueError:
        return None
    return datetime(written.year, written.month, written.day)


def truncate(moment: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Each instant with its parts finer than its precision at their defaults (NaT where the
    precision is unknown)."""
    moment = np.asarray(moment, dtype="datetime64[us]")
    out = np.full(moment.shape, np.datetime64("NaT"), dtype="datetime64[us]")
    for level, unit in enumerate(UNITS):
        rows = precision == level
        out[rows] = moment[rows].astype(f"datetime64[{unit}]").astype("datetime64[us]")
    return out


def part(moment: pd.Series, name: str) -> pd.Series:
    """One part of each instant (``year``... ``microsecond``), NaN where there is no instant."""
    return getattr(pd.Series(moment).dt, name).astype(float)


def valid_durations(values: pd.Series, negative: bool) -> pd.Series:
    """Whether each value is an ISO 8601 duration as CORE reads one (``P1Y2M``, ``PT4H``, ``P2W``,
    a fraction only in the last part given; a leading '-' only when ``negative``). Values that are
    not text are read as their text (so an empty value is not a duration)."""
    grammar = SIGNED_DURATION if negative else DURATION
    return per_unique(values.astype(object), lambda u: u.map(lambda v: _is_duration(str(v), grammar))).astype(bool)


def _is_duration(value: str, grammar: re.Pattern) -> bool:
    match = grammar.match(value)
    if not match:
        return False
    given = [match.group(p) for p in ("year", "month", "week", "day", "hour", "minute", "second")]
    given = [g for g in given if g is not None]
    return not any("." in g or "," in g for g in given[:-1])
