"""CORE's string operators as narwhals expressions (see expressions.py): regular expressions and
lengths, starts and ends. Each replaces, for the columns it can type, the operator of the same name in
``operators/strings.py``, whose docstring gives CORE's meaning; that code still runs the values an
expression cannot type (numbers stored as floats, which CORE matches as text without a trailing
'.0', a formatting Spark does not share; object columns).

Regular expressions are CORE's, Python's ``re``: ``matches_regex`` matches from the start of the
text (``re.match``: written here as a search of ``^(?:pattern)``), the prefix / suffix forms search
the first / last characters. Spark runs Java's regex: the pattern reaches it through
``Columns.regex`` (regex_dialect.for_java, Python's meaning kept or Unported).
"""

from __future__ import annotations

import narwhals as nw
import pandas as pd

from trialkit.validators.core.context import Condition
from trialkit.validators.core.expressions import TEXT, Columns, Unported, _expression, _target, is_empty
from trialkit.validators.core.regex_dialect import UnportedRegex


def _text(cond: Condition, columns: Columns) -> nw.Expr:
    """The target as text: text columns as they are, integer columns written in digits; CORE writes
    floats without '.0' when whole, which Spark's casts do not, so floats are Unported."""
    target, kind = _target(cond, columns)
    dtype = columns.dtype(cond.target)
    if kind == TEXT:
        return target
    if dtype.is_integer():
        return target.cast(nw.String())
    raise Unported(f"operator {cond.operator} on floats has no expression yet")


def _found(cond: Condition, columns: Columns, text: nw.Expr, pattern: str) -> nw.Expr:
    """Whether ``pattern`` (Python syntax) is found in ``text``, never null."""
    try:
        native = columns.regex(pattern)
    except UnportedRegex as exc:
        raise Unported(f"operator {cond.operator} with the pattern {pattern!r}: {exc}") from exc
    return text.str.contains(native).fill_null(False)


def _part(cond: Condition, text: nw.Expr) -> nw.Expr:
    """The first ``prefix`` / last ``suffix`` characters the prefix / suffix forms search."""
    for side in ("prefix", "suffix"):
        if side in cond.operator:
            count = cond.params.get(side)
            if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
                raise Unported(f"operator {cond.operator} with {side} {count!r} has no expression yet")
            return text.str.slice(0, count) if side == "prefix" else text.str.slice(-count)
    return text


def _regex(cond: Condition, columns: Columns) -> tuple[nw.Expr, nw.Expr]:
    """(the value is present, the pattern matches it)."""
    text = _text(cond, columns)
    pattern = str(cond.value)
    if "prefix" in cond.operator or "suffix" in cond.operator:
        return ~text.is_null(), _found(cond, columns, _part(cond, text), pattern)
    return ~text.is_null(), _found(cond, columns, text, f"^(?:{pattern})")


@_expression("matches_regex", "prefix_matches_regex", "suffix_matches_regex")
def matches_regex(cond: Condition, columns: Columns) -> nw.Expr:
    """The pattern matches the present value (from its start; the prefix / suffix forms: somewhere
    in its first / last characters)."""
    present, hit = _regex(cond, columns)
    return present & hit


@_expression("not_matches_regex", "not_prefix_matches_regex", "not_suffix_matches_regex")
def not_matches_regex(cond: Condition, columns: Columns) -> nw.Expr:
    """The value is present and the pattern does not match it (an empty text is present)."""
    present, hit = _regex(cond, columns)
    return present & ~hit


# -- lengths ---------------------------------------------------------------------------------------

def _length_of_value(cond: Condition, columns: Columns) -> tuple[nw.Expr, nw.Expr]:
    """The length to compare with, and where there is none: a column of numbers (its values), a
    column of text (its texts' lengths), or a literal read as pandas' ``to_numeric`` reads it."""
    value = cond.value
    if not cond.params.get("value_is_literal") and columns.has(value):
        dtype = columns.dtype(value)
        if dtype == nw.String:
            length = nw.col(value).str.len_chars()
            return length, length.is_null()
        if dtype.is_numeric():
            return nw.col(value), is_empty(nw.col(value), dtype)
        raise Unported(f"operator {cond.operator} with column {value} of {dtype} has no expression yet")
    if isinstance(value, bool):
        raise Unported(f"operator {cond.operator} with the value {value!r} has no expression yet")
    number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
    if pd.isna(number):
        return nw.lit(None), nw.lit(True)
    return nw.lit(float(number)), nw.lit(False)


def _length_compare(compare):
    def build(cond: Condition, columns: Columns) -> nw.Expr:
        _, kind = _target(cond, columns)
        other, missing = _length_of_value(cond, columns)
        if kind != TEXT:                                # numbers have no length: never compared
            return nw.lit(False)
        length = nw.col(cond.target).str.len_chars()
        return (compare(length, other) & ~missing & ~length.is_null()).fill_null(False)
    return build


def _register_lengths(name: str, complement: str, compare) -> None:
    base = _length_compare(compare)
    _expression(name)(base)
    _expression(complement)(lambda cond, columns: ~base(cond, columns))


_register_lengths("longer_than", "shorter_than_or_equal_to", lambda a, b: a > b)
_register_lengths("longer_than_or_equal_to", "shorter_than", lambda a, b: a >= b)
_register_lengths("has_equal_length", "has_not_equal_length", lambda a, b: a == b)


# -- starts and ends -------------------------------------------------------------------------------

def _edge(cond: Condition, columns: Columns, ends: bool) -> nw.Expr:
    """The text starts / ends with the literal (a literal that is not text: as Python writes it);
    a comparator column (any of its texts) has no expression; values that are not text never do."""
    target, kind = _target(cond, columns)
    value = cond.value
    if not cond.params.get("value_is_literal") and columns.has(value):
        raise Unported(f"operator {cond.operator} with column {value} as the value has no expression yet")
    if kind != TEXT:
        return nw.lit(False)
    value = value if isinstance(value, str) else str(value)
    return (target.str.ends_with(value) if ends else target.str.starts_with(value)).fill_null(False)


@_expression("starts_with")
def starts_with(cond: Condition, columns: Columns) -> nw.Expr:
    return _edge(cond, columns, ends=False)


@_expression("ends_with")
def ends_with(cond: Condition, columns: Columns) -> nw.Expr:
    return _edge(cond, columns, ends=True)
