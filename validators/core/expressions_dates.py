"""CORE's date operators as narwhals expressions (see expressions.py): ``invalid_date``,
``invalid_duration`` and the comparisons ``date_equal_to`` ... ``date_less_than_or_equal_to``
(every ``date_component``). Each replaces, on text and number columns, the operator of the same name
in ``operators/dates.py``, whose docstring gives CORE's meaning; the facts that code reads from
iso8601.read_dates are computed here record by record from the same grammar (iso8601.DATE,
DURATION), through ``Columns.regex`` (Java's regex on Spark, Python's meaning kept):

- valid: DATE matches and the value holds an uncertainty mark, or is one of the forms dateutil reads
  (iso8601.READABLE) naming a calendar day (dateutil checks the calendar; here arithmetic does);
- the parts: DATE's groups as one regex replacement of the whole value writes them (``Columns.group``),
  ';' between, then the digits of other scripts that ``\\d`` matches written in ASCII (Python's
  ``int`` reads them, Spark's cast would not), then each part taken from that short text;
- the moment: a day number and microseconds into the day (whole microseconds since 1970 overflow
  Spark's floor division, which divides doubles), the zone's offset applied to values without
  uncertainty, and none where the parts name no calendar day or the shift leaves years 1-9999, as
  Python's datetime says. Truncating to a precision or taking a component reads the UTC calendar
  parts back from the day number.

Casts see digits only (Spark 4 fails a query on a cast that does not read), so every part is cast
from a text that is its digits or its default. ``is_complete_date`` / ``is_incomplete_date`` have no
expression: completeness is what Python's ``datetime.fromisoformat`` reads (any one-character
separator, week dates, basic formats, a fraction after minutes...), a grammar not written here.
"""

from __future__ import annotations

import operator as op
import re
import sys
from dataclasses import dataclass
from functools import cache

import narwhals as nw
import numpy as np
import pandas as pd

from trialkit.validators.core.context import Condition
from trialkit.validators.core.expressions import NUMBER, TEXT, Columns, Unported, _expression, _kind, _target
from trialkit.validators.core.iso8601 import (DATE, DEFAULTS, DURATION, PARTS, READABLE, SIGNED_DURATION,
                                              UNCERTAIN, plain, read_dates, truncate)
from trialkit.validators.core.regex_dialect import UnportedRegex

_DAY_US = 86_400_000_000
_UNIT_US = (None, None, None, 3_600_000_000, 60_000_000, 1_000_000, 1)   # per precision, below a day
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896        # 0001-01-01 and 9999-12-31, days since 1970


def _regex(columns: Columns, pattern: str, what: str) -> str:
    try:
        return columns.regex(pattern)
    except UnportedRegex as exc:                     # not expected for iso8601's grammars: said if so
        raise Unported(f"{what}: {exc}") from exc


def _found(text: nw.Expr, native: str) -> nw.Expr:
    return text.str.contains(native).fill_null(False)


def _int(ok: nw.Expr, digits: nw.Expr, default: int) -> nw.Expr:
    """``digits`` as a number where ``ok``, else ``default``: the cast only ever sees digits."""
    return nw.when(ok).then(digits).otherwise(nw.lit(str(default))).cast(nw.Int64())


# -- durations -------------------------------------------------------------------------------------

# a part with a fraction followed by another part's number: iso8601._is_duration's "a fraction only
# in the last part given" (a ',' after a unit letter separates parts, one after a digit is a fraction)
_FRACTION_NOT_LAST = r"\d[.,]\d*[YMWDHS].*\d"


@_expression("invalid_duration")
def invalid_duration(cond: Condition, columns: Columns) -> nw.Expr:
    """Not an ISO 8601 duration; a value that is not text never is one (read as its text)."""
    target, kind = _target(cond, columns)
    if kind != TEXT:
        return nw.lit(True)
    grammar = SIGNED_DURATION if cond.params.get("negative") is not False else DURATION
    duration = (_found(target, _regex(columns, plain(grammar), cond.operator))
                & ~_found(target, _regex(columns, _FRACTION_NOT_LAST, cond.operator)))
    return ~duration


# -- dates -----------------------------------------------------------------------------------------

@cache
def _other_digits() -> tuple[str, ...]:
    """For 0 to 9, the characters besides the ASCII digit that Python's ``\\d`` matches with that
    value, as a character class."""
    every = "".join(chr(c) for c in range(128, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    found = re.findall(r"\d", every)
    return tuple("[" + "".join(c for c in found if int(c) == value) + "]" for value in range(10))


@dataclass(frozen=True)
class _Dates:
    """One side of a comparison, as iso8601.Dates has it: valid, precision (null when unknown), and
    where placed, the UTC moment as (day number, microsecond of the day)."""

    valid: nw.Expr
    precision: nw.Expr
    placed: nw.Expr
    days: nw.Expr
    time: nw.Expr
    at: tuple[nw.Expr, ...]     # the moment truncated to each precision (see _truncated)


def _days_from_civil(year: nw.Expr, month: nw.Expr, day: nw.Expr) -> nw.Expr:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil; years >= 0)."""
    shifted = year - (month <= 2).cast(nw.Int64())
    era = shifted // 400
    of_era = shifted - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468


def _civil_from_days(days: nw.Expr) -> tuple[nw.Expr, nw.Expr]:
    """(year, month) of a day number (Hinnant's civil_from_days)."""
    shifted = days + 719468
    era = shifted // 146097
    of_era = shifted - era * 146097
    year_of_era = (of_era - of_era // 1460 + of_era // 36524 - of_era // 146096) // 365
    of_year = of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month = ((5 * of_year + 2) // 153 + 2) % 12 + 1
    return year_of_era + era * 400 + (month <= 2).cast(nw.Int64()), month


def _month_days(year: nw.Expr, month: nw.Expr) -> nw.Expr:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return (nw.when(month == 2).then(28 + leap.cast(nw.Int64()))
            .otherwise(nw.when(month.is_in([4, 6, 9, 11])).then(30).otherwise(31)))


def _calendar(year: nw.Expr, month: nw.Expr, day: nw.Expr) -> nw.Expr:
    """A day Python's datetime has (years 1-9999; DATE's grammar bounds the month and day's digits)."""
    return (year >= 1) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= _month_days(year, month))


def _readable(text: nw.Expr, columns: Columns) -> nw.Expr:
    """dateutil reads it (a value without an uncertainty mark that DATE matches): READABLE's form,
    not ending in a newline (READABLE's '$' allows one, dateutil does not), naming a calendar day."""
    form = _found(text, _regex(columns, READABLE.pattern, "READABLE")) & ~text.str.ends_with("\n").fill_null(True)
    length = text.str.len_chars()
    year = _int(form, text.str.slice(0, 4), 1)
    month = _int(form & (length >= 7), text.str.slice(5, 2), 1)
    day = _int(form & (length >= 10), text.str.slice(8, 2), 1)
    return form & _calendar(year, month, day)


def _dates(name: str, columns: Columns) -> _Dates:
    """What iso8601.read_dates knows of each text of column ``name`` (see the module docstring);
    what is read more than once is a key column (Columns.key), computed once per record."""
    text = nw.col(name)

    def key(fact: str, expression: nw.Expr) -> nw.Expr:
        return nw.col(columns.key(f"@date:{name}:{fact}", expression))

    matched = key("matched", _found(text, _regex(columns, plain(DATE), "DATE")))
    uncertain = key("uncertain", nw.any_horizontal(*[text.str.contains(m, literal=True) for m in UNCERTAIN],
                                                   ignore_nulls=True).fill_null(False))
    valid = key("valid", matched & (uncertain | _readable(text, columns)))

    # DATE's groups, each part's start (or time-only) and interval end then the zone, packed in one
    # text by one replacement of the whole value (Python's parse, ';' between), digits made ASCII
    starts = [(p, "only_" + p) if p in PARTS[3:] else (p,) for p in PARTS]     # never both in one match
    fields = [f for p, start in zip(PARTS, starts) for f in (start, ("end_" + p,))] + [("zone",)]
    template = ";".join("".join(columns.group(DATE.groupindex[n]) for n in f) for f in fields)
    whole = _regex(columns, plain(DATE) + r"\n?", "DATE")
    packed = nw.when(matched).then(text.str.replace_all(whole, template)).otherwise(nw.lit(""))
    for value, others in enumerate(_other_digits()):
        packed = packed.str.replace_all(_regex(columns, others, "digits"), str(value))
    packed = key("parts", packed)

    def field(index: int) -> nw.Expr:
        return packed.str.replace_all(_regex(columns, f"^(?:[^;]*;){{{index}}}([^;]*).*$", "field"), columns.group(1))

    texts, known = [], []
    for index, part in enumerate(PARTS):
        start = field(2 * index)
        texts.append(key(part, nw.when(start != "").then(start).otherwise(field(2 * index + 1))))
        known.append((texts[-1] != "") & (texts[-1] != "-"))
    precision = nw.lit(6)
    for level in range(6, 0, -1):
        precision = nw.when(~known[level]).then(nw.lit(level - 1)).otherwise(precision)
    precision = nw.when(known[0]).then(precision)

    year, month, day, hour, minute, second = (_int(k, t, d) for k, t, d in zip(known[:6], texts, DEFAULTS))
    fraction = texts[6]
    whole_number = fraction.str.strip_chars_start("0")      # an uncertain value's fraction: int(text)
    fits = ~uncertain | ~known[6] | (whole_number.str.len_chars() <= 6)
    micro = nw.when(uncertain).then(_int(known[6] & fits, nw.concat_str([nw.lit("0"), whole_number]), 0)) \
        .otherwise(_int(known[6], fraction.str.slice(0, 6).str.pad_end(6, "0"), 0))

    zone = key("zone", field(len(fields) - 1))          # Z, +hh:mm or -hh:mm (ignored when uncertain)
    shifts = ~uncertain & (zone.str.len_chars() == 6)
    offset = ((_int(shifts, zone.str.slice(1, 2), 0) * 60 + _int(shifts, zone.str.slice(4, 2), 0))
              * nw.when(zone.str.starts_with("-")).then(-1).otherwise(1))
    minutes = hour * 60 + minute - offset                 # the UTC minute of the written day, +- a day
    carry = minutes // 1440
    days = key("days", _days_from_civil(year, month, day) + carry)
    time = key("time", ((minutes - carry * 1440) * 60 + second) * 1_000_000 + micro)
    placed = (valid & fits & _calendar(year, month, day) & (days >= _FIRST_DAY) & (days <= _LAST_DAY))
    utc_year, utc_month = _civil_from_days(days)
    first = {0: _days_from_civil(key("utc year", utc_year), nw.lit(1), nw.lit(1)),
             1: _days_from_civil(nw.col(f"@date:{name}:utc year"), key("utc month", utc_month), nw.lit(1))}
    at = tuple(key(f"at {level}", _truncated(first.get(level, days), time, level)) for level in range(7))
    return _Dates(valid, key("precision", precision), key("placed", placed), days, time, at)


def _literal(value: str) -> _Dates:
    """A literal's dates, read by iso8601 itself."""
    facts = read_dates(pd.Series([value]))
    moment = facts.moment.to_numpy()
    precision = facts.precision.iloc[0]
    placed = not np.isnat(moment[0])
    micros = [int(truncate(moment, np.array([level])).astype(np.int64)[0]) if placed else 0 for level in range(7)]
    days, time = divmod(micros[6], _DAY_US)
    return _Dates(nw.lit(bool(facts.valid.iloc[0])), nw.lit(None if np.isnan(precision) else int(precision)),
                  nw.lit(placed), nw.lit(days), nw.lit(time), tuple(nw.lit(m) for m in micros))


def _truncated(first_day: nw.Expr, time: nw.Expr, level: int) -> nw.Expr:
    """Microseconds since 1970 of the moment with its parts finer than ``level`` (0 year ... 6
    microsecond) at their defaults (iso8601.truncate); ``first_day``: the day number of the moment's
    year's or month's first day (levels 0, 1), else its own. Int64 holds years 1-9999."""
    return first_day * _DAY_US + (0 if _UNIT_US[level] is None else time - time % _UNIT_US[level])


def _key(dates: _Dates, level: nw.Expr | int) -> nw.Expr:
    """The moment truncated to ``level`` (a precision per record, or one for all)."""
    if isinstance(level, int):
        return dates.at[level]
    out = dates.at[6]
    for lvl in range(5, -1, -1):
        out = nw.when(level == lvl).then(dates.at[lvl]).otherwise(out)
    return out


def _component(dates: _Dates, name: str) -> nw.Expr:
    """One part of the UTC moment (iso8601.part), as a number."""
    if name in ("year", "month"):
        return _civil_from_days(dates.days)[PARTS.index(name)]
    if name == "day":
        year, month = _civil_from_days(dates.days)
        return dates.days - _days_from_civil(year, month, nw.lit(1)) + 1
    unit = {"hour": 3_600_000_000, "minute": 60_000_000, "second": 1_000_000, "microsecond": 1}[name]
    within = {"hour": 24, "minute": 60, "second": 60, "microsecond": 1_000_000}[name]
    return (dates.time // unit) % within


def _side(cond: Condition, columns: Columns, name, is_value: bool) -> _Dates | None:
    """A side's dates: a text column, or a literal text (None: never a date, as numbers and empty
    values are not)."""
    if not (is_value and cond.params.get("value_is_literal")) and columns.has(name):
        if _kind(columns.dtype(name), f"column {name}") == NUMBER:
            return None
        return _dates(name, columns)
    if not is_value:
        _target(cond, columns)                      # MissingVariable
    return _literal(name) if isinstance(name, str) and name else None


@_expression("invalid_date")
def invalid_date(cond: Condition, columns: Columns) -> nw.Expr:
    dates = _side(cond, columns, cond.target, is_value=False)
    return nw.lit(True) if dates is None else ~dates.valid


_COMPARISONS = {"date_equal_to": op.eq, "date_not_equal_to": op.ne, "date_greater_than": op.gt,
                "date_greater_than_or_equal_to": op.ge, "date_less_than": op.lt, "date_less_than_or_equal_to": op.le}


@_expression(*_COMPARISONS)
def compare(cond: Condition, columns: Columns) -> nw.Expr:
    """operators/dates._compare: at the shared precision (``date_equal_to`` / ``date_not_equal_to``
    also weighing a differing precision), or one component, or (any other ``date_component``) the
    whole moment; False unless both sides are valid and placed."""
    compare_ = _COMPARISONS[cond.operator]
    target = _side(cond, columns, cond.target, is_value=False)
    other = _side(cond, columns, cond.value, is_value=True)
    if target is None or other is None:
        return nw.lit(False)
    both = target.valid & other.valid & target.placed & other.placed
    component = cond.params.get("date_component")
    if component in PARTS:
        return both & compare_(_component(target, component), _component(other, component))
    if component not in (None, "auto"):
        return both & compare_(_key(target, 6), _key(other, 6))
    shared = nw.min_horizontal(target.precision, other.precision)
    result = compare_(_key(target, shared), _key(other, shared))
    if component is None and compare_ in (op.eq, op.ne):
        differ = target.precision != other.precision
        result = result & ~differ if compare_ is op.eq else result | differ
    known = ~target.precision.is_null() & ~other.precision.is_null()
    return (both & known & result).fill_null(False)
