"""CORE's date operators as narwhals expressions (see expressions.py): ``invalid_date`` and
``invalid_duration``. Each replaces, on text and number columns, the operator of the same name in
``operators/dates.py``, whose docstring gives CORE's meaning, computing the fact that code reads
(iso8601.read_dates' ``valid``, iso8601.valid_durations) from the same grammar (iso8601.DATE,
DURATION) through ``Columns.regex`` (Java's regex on Spark, Python's meaning kept): a date is valid
when DATE matches and the value holds an uncertainty mark, or is one of the forms dateutil reads
(iso8601.READABLE) naming a calendar day (dateutil checks the calendar; here arithmetic does).
Casts only ever see digits (Spark 4 fails a query on a cast that does not read).

The date comparisons and ``is_complete_date`` / ``is_incomplete_date`` have no expression:
completeness is what Python's ``datetime.fromisoformat`` reads (any one-character separator, week
dates, basic formats, a fraction after minutes...), a grammar not written here; the comparisons'
moments (partial dates, uncertain parts, time zones moving the day) were written as expressions once
and gave the operator's verdicts on both engines, but their plans exhausted the Spark driver's heap
when a dataset's rules ran as one job (see the commit history of this file).
"""

from __future__ import annotations

import narwhals as nw

from trialkit.validators.core.context import Condition
from trialkit.validators.core.expressions import NUMBER, TEXT, Columns, Unported, _expression, _kind, _target
from trialkit.validators.core.iso8601 import DATE, DURATION, READABLE, SIGNED_DURATION, UNCERTAIN, plain
from trialkit.validators.core.regex_dialect import UnportedRegex


def _found(cond: Condition, columns: Columns, text: nw.Expr, pattern: str) -> nw.Expr:
    """Whether ``pattern`` (Python syntax) is found in ``text``, never null."""
    try:
        native = columns.regex(pattern)
    except UnportedRegex as exc:                     # not expected for iso8601's grammars: said if so
        raise Unported(f"operator {cond.operator}: {exc}") from exc
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
    duration = (_found(cond, columns, target, plain(grammar))
                & ~_found(cond, columns, target, _FRACTION_NOT_LAST))
    return ~duration


# -- dates -----------------------------------------------------------------------------------------

def _month_days(year: nw.Expr, month: nw.Expr) -> nw.Expr:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return (nw.when(month == 2).then(28 + leap.cast(nw.Int64()))
            .otherwise(nw.when(month.is_in([4, 6, 9, 11])).then(30).otherwise(31)))


def _readable(cond: Condition, columns: Columns, text: nw.Expr) -> nw.Expr:
    """dateutil reads it (a value without an uncertainty mark that DATE matches): READABLE's form,
    not ending in a newline (READABLE's '$' allows one, dateutil does not), naming a day Python's
    datetime has (a year from 1, a month 1-12, a day the month has)."""
    form = _found(cond, columns, text, READABLE.pattern) & ~text.str.ends_with("\n").fill_null(True)
    length = text.str.len_chars()
    year = _int(form, text.str.slice(0, 4), 1)
    month = _int(form & (length >= 7), text.str.slice(5, 2), 1)
    day = _int(form & (length >= 10), text.str.slice(8, 2), 1)
    return form & (year >= 1) & (month >= 1) & (month <= 12) & (day <= _month_days(year, month))


@_expression("invalid_date")
def invalid_date(cond: Condition, columns: Columns) -> nw.Expr:
    """Not an ISO 8601 date as CORE reads one; numbers and empty values never are one."""
    target, kind = _target(cond, columns)
    if kind == NUMBER:
        return nw.lit(True)
    uncertain = nw.any_horizontal(*[target.str.contains(m, literal=True) for m in UNCERTAIN], ignore_nulls=True)
    valid = _found(cond, columns, target, plain(DATE)) & (uncertain.fill_null(False)
                                                          | _readable(cond, columns, target))
    return ~valid
