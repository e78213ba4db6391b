"""String operators: regular expressions, prefixes and suffixes, lengths, string parts, title case
(CORE Operator.md, "String").

Regular expressions: ``matches_regex`` matches at the start of the text (Python ``re.match``, as
pandas ``str.match``): a rule that wants a search writes ``.*`` first, one that wants a full match
ends with ``$``. The prefix / suffix forms search (``re.search``) the first / last ``prefix`` /
``suffix`` characters. Numbers are matched as text without a trailing '.0' when whole. Empty values
never match and are never flagged as not matching.

The other operators read text as CORE's pandas string methods do: a value that is not text (a
number, an empty value) has no length, prefix or suffix, so every comparison with it is False, and
an operator that CORE defines as a complement (``shorter_than`` is not ``longer_than_or_equal_to``,
``prefix_not_equal_to``...) is True there.

The regular-expression and length operators, and ``starts_with`` / ``ends_with`` of a literal, have
narwhals expressions (expressions_text.py) that both engines evaluate on text and integer columns;
the code here runs only what those cannot type (float and object columns, comparator columns).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from titlecase import titlecase

from trialkit.validators.core.context import Condition, Context, as_series, empty, text
from trialkit.validators.core.operators import complement, operator
from trialkit.validators.core.operators.relational import normalized_text
from trialkit.vectorize import per_unique


def _strings(series: pd.Series) -> pd.Series:
    """The text values, every other value (numbers, empty values) None."""
    series = series.astype(object)
    is_text = per_unique(series, lambda u: u.map(lambda v: isinstance(v, str)))
    return series.where(is_text.astype(bool), None)


# -- regular expressions ---------------------------------------------------------------------------

def _whole(cond: Condition, value: str) -> str:
    return value


def _prefix(cond: Condition, value: str) -> str:
    return value[:cond.params.get("prefix")]


def _suffix(cond: Condition, value: str) -> str:
    return value[-cond.params.get("suffix", 0):]


def _matches(ctx: Context, cond: Condition, part, search: bool) -> tuple[pd.Series, pd.Series]:
    """Whether each value is present, and whether the pattern matches (``search``: is found in) the
    ``part`` of its text."""
    values = ctx.column(cond.target).astype(object)
    pattern = re.compile(str(cond.value))
    find = pattern.search if search else pattern.match

    def hits(uniques: pd.Series) -> pd.Series:
        return text(uniques).map(lambda v: v is not None and find(part(cond, str(v))) is not None)
    return values.notna(), per_unique(values, hits).astype(bool)


def _regex_operators(name: str, part, search: bool, what: str) -> None:
    def matches(ctx: Context, cond: Condition) -> pd.Series:
        present, hit = _matches(ctx, cond, part, search)
        return present & hit

    def does_not_match(ctx: Context, cond: Condition) -> pd.Series:
        present, hit = _matches(ctx, cond, part, search)
        return present & ~hit
    matches.__doc__ = f"The regular expression matches {what}."
    does_not_match.__doc__ = f"The value is present and the regular expression does not match {what}."
    operator(name)(matches)
    operator(f"not_{name}")(does_not_match)


_regex_operators("matches_regex", _whole, False, "the value (from its start)")
_regex_operators("prefix_matches_regex", _prefix, True, "somewhere in the value's first ``prefix`` characters")
_regex_operators("suffix_matches_regex", _suffix, True, "somewhere in the value's last ``suffix`` characters")


# -- starts, ends, prefixes and suffixes -----------------------------------------------------------

def _beginnings(ctx: Context, cond: Condition) -> Any:
    """A literal text, or (a column named) every text of that column: CORE asks whether the value
    starts / ends with any of them."""
    value = ctx.comparator(cond)
    if isinstance(value, pd.Series):
        return tuple(_strings(value).dropna().unique())
    return value if isinstance(value, str) else str(value)


@operator("starts_with")
def starts_with(ctx: Context, cond: Condition) -> pd.Series:
    """The text starts with the value (with a column as the value: with any of its values)."""
    return _strings(ctx.column(cond.target)).str.startswith(_beginnings(ctx, cond)).eq(True)


@operator("ends_with")
def ends_with(ctx: Context, cond: Condition) -> pd.Series:
    """The text ends with the value (with a column as the value: with any of its values)."""
    return _strings(ctx.column(cond.target)).str.endswith(_beginnings(ctx, cond)).eq(True)


def _part_equal(ctx: Context, cond: Condition, part: pd.Series) -> pd.Series:
    other = ctx.wildcard if cond.value == "DOMAIN" else ctx.comparator(cond)
    other = as_series(other, ctx.frame.index).astype(object)
    return pd.Series(np.equal(part.to_numpy(dtype=object), other.to_numpy(dtype=object), dtype=object).astype(bool),
                     index=ctx.frame.index) & part.notna()


@operator("prefix_equal_to")
def prefix_equal_to(ctx: Context, cond: Condition) -> pd.Series:
    """The text's first ``prefix`` characters equal the value (a literal, a column, or ``DOMAIN``:
    the dataset's domain prefix)."""
    return _part_equal(ctx, cond, _strings(ctx.column(cond.target)).str[:cond.params.get("prefix")])


@operator("suffix_equal_to")
def suffix_equal_to(ctx: Context, cond: Condition) -> pd.Series:
    """The text's last ``suffix`` characters equal the value (a literal, a column, or ``DOMAIN``)."""
    return _part_equal(ctx, cond, _strings(ctx.column(cond.target)).str[-cond.params.get("suffix", 0):])


complement("prefix_not_equal_to", "prefix_equal_to")
complement("suffix_not_equal_to", "suffix_equal_to")


# -- lengths ---------------------------------------------------------------------------------------

def _lengths(series: pd.Series) -> pd.Series:
    return per_unique(_strings(series), lambda u: u.map(lambda v: len(v) if isinstance(v, str) else np.nan))


def _length_to_compare(ctx: Context, cond: Condition) -> Any:
    """The value's length: a number (literal, or a column of numbers) or the length of a column's text."""
    value = ctx.comparator(cond)
    if isinstance(value, pd.Series):
        return value.astype(float) if value.dtype.kind in "iuf" else _lengths(value)
    return pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]


def _length_operator(name: str, compare, words: str) -> None:
    def check(ctx: Context, cond: Condition) -> pd.Series:
        return pd.Series(np.asarray(compare(_lengths(ctx.column(cond.target)), _length_to_compare(ctx, cond)),
                                    dtype=bool), index=ctx.frame.index)
    check.__name__ = name
    check.__doc__ = (f"The text's length {words} the value (a number, or another column whose text's length "
                     "counts); values that are not text have no length.")
    operator(name)(check)


_length_operator("longer_than", lambda a, b: a > b, "is greater than")
_length_operator("longer_than_or_equal_to", lambda a, b: a >= b, "is at least")
_length_operator("has_equal_length", lambda a, b: a == b, "equals")
complement("shorter_than", "longer_than_or_equal_to")
complement("shorter_than_or_equal_to", "longer_than")
complement("has_not_equal_length", "has_equal_length")


@operator("split_parts_have_equal_length")
def split_parts_have_equal_length(ctx: Context, cond: Condition) -> pd.Series:
    """Split at ``separator`` (default '/'), the value is one part or two of equal length
    (2003-12-01/2003-12-10); three parts or more fail. Empty values pass."""
    separator = str(cond.params.get("separator", "/"))
    values = ctx.column(cond.target)

    def equal_parts(u: pd.Series) -> pd.Series:
        parts = u.astype(str).str.split(separator, regex=False)
        return parts.map(lambda p: len(p) == 1 or (len(p) == 2 and len(p[0]) == len(p[1])))
    return per_unique(values.astype(object), equal_parts).astype(bool) | empty(values)


complement("split_parts_have_unequal_length", "split_parts_have_equal_length")


# -- string parts and case -------------------------------------------------------------------------

@operator("equals_string_part")
def equals_string_part(ctx: Context, cond: Condition) -> pd.Series:
    """The value equals the first match of ``regex`` in the comparator (its group when it has one:
    ``.{4}(..).*`` on SUPPAE gives AE); False when both are empty. ``type_insensitive`` compares
    numbers and text alike (2.0 is '2')."""
    pattern = re.compile(str(cond.params.get("regex")))
    other = as_series(ctx.comparator(cond), ctx.frame.index)
    part = per_unique(_strings(other), lambda u: u.map(lambda v: _first_match(pattern, v)))
    target = ctx.column(cond.target).astype(object)
    both_empty = empty(target) & empty(part)
    if cond.params.get("type_insensitive"):
        target, part = (per_unique(side, lambda u: u.map(normalized_text)) for side in (target, part))
    equal = np.equal(target.to_numpy(dtype=object), part.to_numpy(dtype=object), dtype=object).astype(bool)
    return pd.Series(equal, index=ctx.frame.index) & ~both_empty


def _first_match(pattern: re.Pattern, value: Any) -> Any:
    found = pattern.findall(value) if isinstance(value, str) else []
    return found[0] if found else None


complement("does_not_equal_string_part", "equals_string_part")


ACRONYMS = {"ID"}                                   # written in capitals within a title
LOWER_CASE_WORDS = {"per", "and/or", "is", "with"}  # written in lower case within a title


@operator("is_title_case")
def is_title_case(ctx: Context, cond: Condition) -> pd.Series:
    """The text (a label) is in title case as the ``titlecase`` library writes it, first letter
    capital, with 'ID' in capitals and 'per', 'and/or', 'is', 'with' in lower case; empty values
    pass."""
    values = ctx.column(cond.target)
    titled = per_unique(values.astype(object), lambda u: u.map(_is_titled))
    return titled.astype(bool) | empty(values)


def _is_titled(value: Any) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    written = str(value).strip()
    expected = titlecase(written, callback=_title_word)
    return written == expected[:1].upper() + expected[1:]


def _title_word(word: str, **_: Any) -> str | None:
    if word.lower() in LOWER_CASE_WORDS:
        return word.lower()
    return word.upper() if word.upper() in ACRONYMS else None


complement("is_not_title_case", "is_title_case")
