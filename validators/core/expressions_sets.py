"""CORE's containment operators as narwhals expressions (see expressions.py), for the comparator
shapes a record can answer alone: a literal list (or one literal) for ``is_contained_by``, or a
:class:`Lookup` of values too many for a literal list, which the engine joins on; a literal text
for ``contains``. Each replaces, for those shapes, the operator of the same name in
``operators/sets.py``, whose docstrings give CORE's meaning; that code still runs a comparator
column (a lookup among all of a column's values, or in each record's own list, which operations
make) and object columns.
"""

from __future__ import annotations

import math
from typing import Any

import narwhals as nw
from narwhals.dtypes import DType

from trialkit.validators.core.context import Condition
from trialkit.validators.core.expressions import NUMBER, TEXT, Columns, Unported, _expression, _target


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class Lookup:
    """The values a containment condition looks a record's value up in: a literal list (_Listed), or
    values too many to write into an expression (the Spark engine's ``distinct`` over a pooled
    dataset: a million USUBJIDs, spark_operations.DistinctValues), looked up by a join. ``dtype``:
    what the values are (a literal list: Float64 if all are numbers, else String). :meth:`found` is
    True where the key's value is among them, False where not or null."""

    dtype: DType
    has_null = False

    def found(self, columns: Columns, key: nw.Expr, kind: str, lowered: bool) -> nw.Expr:
        """Where ``key`` (of ``kind``, TEXT or NUMBER) is among the values of its kind (``lowered``:
        compared in lower case; ``key`` already is)."""
        raise NotImplementedError


class _Listed(Lookup):
    """A literal list (or one literal) as a :class:`Lookup`: ``is_in`` its values of the key's kind."""

    def __init__(self, values: list) -> None:
        self.values = values
        self.has_null = any(_is_null(v) for v in values)
        self.present = [v for v in values if not _is_null(v)]
        numeric = not any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in self.present)
        self.dtype = nw.Float64() if numeric else nw.String()

    def found(self, columns: Columns, key: nw.Expr, kind: str, lowered: bool) -> nw.Expr:
        found = [v.lower() if lowered else v for v in self.present if kind == NUMBER or isinstance(v, str)]
        return key.is_in(found).fill_null(False) if found else nw.lit(False)

    def __repr__(self) -> str:
        return repr(self.values)


def _candidates(cond: Condition, columns: Columns) -> Lookup:
    """The values looked up: a Lookup, or a literal list (one literal: a list of one); a column
    comparator is Unported."""
    value = cond.value
    if isinstance(value, Lookup):
        return value
    if not cond.params.get("value_is_literal") and columns.has(value):
        raise Unported(f"operator {cond.operator} with column {value} as the value has no expression yet")
    return _Listed(list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value])


def _contained(cond: Condition, columns: Columns, case_insensitive: bool) -> nw.Expr:
    """pandas' ``isin`` as ``operators/sets._in_whole`` uses it: text equals text only, numbers
    numbers (1 is 1.0); an empty value is found only when the list holds an empty value."""
    target, kind = _target(cond, columns)
    candidates = _candidates(cond, columns)
    if kind == TEXT:
        flags = candidates.found(columns, target.str.to_lowercase() if case_insensitive else target, kind, case_insensitive)
    else:
        if case_insensitive or not candidates.dtype.is_numeric():       # numbers are looked up among numbers only
            raise Unported(f"operator {cond.operator} on numbers with {candidates!r} has no expression yet")
        flags = candidates.found(columns, target, kind, False)
    null = nw.col(cond.target).is_null()            # pandas' isna: NaN too, not ''
    if kind == NUMBER and columns.dtype(cond.target).is_float():
        null = null | nw.col(cond.target).is_nan()
        flags = flags & ~null                       # Spark finds NaN in a list holding NaN; pandas never
    return flags | null if candidates.has_null else flags


@_expression("is_contained_by")
def is_contained_by(cond: Condition, columns: Columns) -> nw.Expr:
    return _contained(cond, columns, case_insensitive=False)


@_expression("is_not_contained_by")
def is_not_contained_by(cond: Condition, columns: Columns) -> nw.Expr:
    return ~_contained(cond, columns, case_insensitive=False)


@_expression("is_contained_by_case_insensitive")
def is_contained_by_case_insensitive(cond: Condition, columns: Columns) -> nw.Expr:
    return _contained(cond, columns, case_insensitive=True)


@_expression("is_not_contained_by_case_insensitive")
def is_not_contained_by_case_insensitive(cond: Condition, columns: Columns) -> nw.Expr:
    return ~_contained(cond, columns, case_insensitive=True)


def _contains(cond: Condition, columns: Columns) -> nw.Expr:
    """The literal text is part of the record's text; a record without text contains nothing."""
    target, kind = _target(cond, columns)
    value = cond.value
    if (not cond.params.get("value_is_literal") and columns.has(value)) or not isinstance(value, str):
        raise Unported(f"operator {cond.operator} with the value {value!r} has no expression yet")
    if kind != TEXT:
        return nw.lit(False)
    return target.str.contains(value, literal=True).fill_null(False)


@_expression("contains")
def contains(cond: Condition, columns: Columns) -> nw.Expr:
    return _contains(cond, columns)


@_expression("does_not_contain")
def does_not_contain(cond: Condition, columns: Columns) -> nw.Expr:
    return ~_contains(cond, columns)
