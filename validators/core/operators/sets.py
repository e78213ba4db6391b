"""Containment operators: a value in (or not in) a list, a column of lists, or a whole column;
collections that contain, share or order each other's elements (CORE Operator.md, "Set
Membership", "Set Operations", and ``contains`` of "String").

The comparator takes the shapes CORE distinguishes:

- a literal list (``value: [A, B]``): each record's value is looked up in it;
- a column whose every non-empty value is a list or set (a *column of lists*, as operations such as
  ``distinct`` produce): each record's value is looked up in its own row's list;
- any other column: each record's value is looked up among all the values of that column.

A list or set inside a column is compared as a collection; empty values are never members.

``is_contained_by`` (and its complement, case-insensitive forms) against literals and ``contains``
/ ``does_not_contain`` of a literal text have narwhals expressions (expressions_sets.py) that both
engines evaluate; the code here runs only the comparator columns and object columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import Condition, Context, MissingVariable, as_series
from trialkit.validators.core.operators import complement, operator
from trialkit.vectorize import per_unique

COLLECTIONS = (list, set, tuple, frozenset)


def is_collection(value: Any) -> bool:
    return isinstance(value, COLLECTIONS)


def holds_collections(values: Any) -> bool:
    """CORE's "column of iterables": a column whose every non-empty value is a list or set (and
    that has at least one)."""
    if not isinstance(values, pd.Series) or values.dtype != object:
        return False
    present = values[values.notna()]
    if present.empty or not is_collection(present.iat[0]):
        return False
    return bool(present.map(is_collection).all())


def rowwise(fn: Callable[..., bool], *columns: pd.Series) -> pd.Series:
    """``fn`` over the columns' values record by record, computed once per distinct combination
    (a list or set counts by identity, so the one list an operation puts on every record is one
    value)."""
    index = columns[0].index
    combination = np.zeros(len(index), dtype=np.int64)
    for column in columns:
        codes, uniques = _codes(column)
        combination, _ = pd.factorize(combination * max(len(uniques), 1) + codes)
    _, first = np.unique(combination, return_index=True)
    values = [c.to_numpy(dtype=object)[first] for c in columns]
    results = np.array([bool(fn(*combo)) for combo in zip(*values)], dtype=bool)
    return pd.Series(results[combination] if len(index) else results[:0], index=index)


def _codes(column: pd.Series) -> tuple[np.ndarray, Any]:
    """Factorized values; unhashable ones (lists, sets, dicts) by identity."""
    try:
        return pd.factorize(column, use_na_sentinel=False)
    except TypeError:           # lists: one code per object (an operation shares one list per group)
        return pd.factorize(column.map(id), use_na_sentinel=False)


def member(value: Any, collection: Any) -> bool:
    """CORE's element test: an empty value is never a member; a text collection is searched as text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if not isinstance(collection, (*COLLECTIONS, dict, str)):
        return False
    if isinstance(collection, str) and not isinstance(value, str):
        return False
    try:
        return value in collection
    except TypeError:           # an unhashable value looked up in a set equals none of its elements
        return False


def memberships() -> Callable[[Any, Any], bool]:
    """``member`` for the lookups of one operator call, each collection made a set once (the one list
    an operation puts on every record is looked up in constant time, not element by element)."""
    sets: dict[int, Any] = {}

    def test(value: Any, collection: Any) -> bool:
        if isinstance(collection, (list, tuple)):
            if id(collection) not in sets:
                try:
                    sets[id(collection)] = frozenset(collection)
                except TypeError:
                    sets[id(collection)] = collection
            collection = sets[id(collection)]
        return member(value, collection)
    return test


def expanded(ctx: Context, values: Any) -> list:
    """A value or list of values, each name of a column of lists replaced by the elements of its
    first record (``$TIMING_VARIABLES`` stands for the timing variables), nested lists flattened
    (CORE's ``flatten_list``)."""
    out: list = []
    for value in values if isinstance(values, list) else [values]:
        if is_collection(value):
            out += expanded(ctx, list(value))
        elif ctx.has(value) and len(ctx.frame) and is_collection(ctx.frame[value].iat[0]):
            out += list(ctx.frame[value].iat[0])
        else:
            out.append(value)
    return out


def _folded(value: Any) -> Any:
    """A value, or each element of a collection, in lower case (for the case-insensitive forms)."""
    if isinstance(value, str):
        return value.lower()
    if is_collection(value):
        return [v.lower() if isinstance(v, str) else v for v in value]
    return value


def _fold(values: Any) -> Any:
    if not isinstance(values, pd.Series):
        return _folded(values)
    if values.dtype != object:
        return values
    return values.map(_folded) if holds_collections(values) else per_unique(values, lambda u: u.map(_folded))


def _comparator(ctx: Context, cond: Condition, case_insensitive: bool) -> tuple[pd.Series, Any]:
    target = ctx.column(cond.target)
    if isinstance(target.dtype, pd.CategoricalDtype):
        target = target.astype(object)
    other = ctx.comparator(cond)
    if isinstance(other, pd.Series) and isinstance(other.dtype, pd.CategoricalDtype):
        other = other.astype(object)
    if case_insensitive:
        return _fold(target), _fold(other)
    return target, other


def _in_whole(target: pd.Series, other: Any) -> pd.Series:
    """Each value among the comparator's values: a literal list (a single literal as a list of
    one) or every value of a column, where an empty value is found when the column has one too
    (pandas' ``isin``, as CORE uses it)."""
    if isinstance(other, pd.Series):
        candidates = other
    elif isinstance(other, COLLECTIONS):
        candidates = pd.Series(list(other), dtype=object)
    else:
        candidates = pd.Series([other], dtype=object)
    nulls = candidates.isna()
    found = target.isin(candidates[~nulls])
    return found | target.isna() if nulls.any() else found


def _contained(ctx: Context, cond: Condition, case_insensitive: bool = False) -> pd.Series:
    shared = None if cond.params.get("value_is_literal") else ctx.constant(cond.value)
    if is_collection(shared) and not holds_collections(ctx.column(cond.target)):
        return _in_shared(ctx.column(cond.target), shared, case_insensitive)
    target, other = _comparator(ctx, cond, case_insensitive)
    test = memberships()
    if holds_collections(target):
        def any_in(values: Any, collection: Any) -> bool:
            items = values if is_collection(values) else [values]
            return any(test(v, collection) for v in items)
        return rowwise(any_in, target, as_series(other, target.index))
    if holds_collections(other):
        return rowwise(test, target, other)
    return _in_whole(target, other)


def _in_shared(target: pd.Series, collection: Any, case_insensitive: bool) -> pd.Series:
    """Each value in the one list an operation put on every record: the same answer as looking it up
    in its own row's list, computed once per distinct value (an empty value is never a member)."""
    if case_insensitive:
        collection, target = _folded(collection), _fold(target)
    test = memberships()
    members = list(collection)
    return per_unique(target.astype(object), lambda u: u.map(lambda v: test(v, members))).astype(bool)


@operator("is_contained_by")
def is_contained_by(ctx: Context, cond: Condition) -> pd.Series:
    """The value is in the comparator: a literal list, its own row's list (a column of lists), or
    any value of another column. A record holding a list is contained when any element is."""
    return _contained(ctx, cond)


@operator("is_contained_by_case_insensitive")
def is_contained_by_case_insensitive(ctx: Context, cond: Condition) -> pd.Series:
    """``is_contained_by`` ignoring case."""
    return _contained(ctx, cond, case_insensitive=True)


complement("is_not_contained_by", "is_contained_by")
complement("is_not_contained_by_case_insensitive", "is_contained_by_case_insensitive")


def _part_contained(ctx: Context, cond: Condition, part: str) -> pd.Series:
    length = int(cond.params[part])
    values = ctx.column(cond.target).astype(object)
    texts = values.where(per_unique(values, lambda u: u.map(lambda v: isinstance(v, str))).astype(bool)).astype(object)
    sliced = texts.str.slice(stop=length) if part == "prefix" else texts.str.slice(-length)
    other = ctx.comparator(cond)
    result = rowwise(memberships(), sliced, other) if holds_collections(other) else _in_whole(sliced, other)
    return result & sliced.notna()


@operator("prefix_is_contained_by")
def prefix_is_contained_by(ctx: Context, cond: Condition) -> pd.Series:
    """The first ``prefix`` characters of the value are in the comparator list (or column)."""
    return _part_contained(ctx, cond, "prefix")


@operator("suffix_is_contained_by")
def suffix_is_contained_by(ctx: Context, cond: Condition) -> pd.Series:
    """The last ``suffix`` characters of the value are in the comparator list (or column)."""
    return _part_contained(ctx, cond, "suffix")


complement("prefix_is_not_contained_by", "prefix_is_contained_by")
complement("suffix_is_not_contained_by", "suffix_is_contained_by")


def _contains(ctx: Context, cond: Condition, case_insensitive: bool) -> pd.Series:
    target, other = _comparator(ctx, cond, case_insensitive)
    if holds_collections(target) or isinstance(other, str):
        test = memberships()
        return rowwise(lambda collection, value: test(value, collection), target, as_series(other, target.index))
    if isinstance(other, pd.Series):
        if case_insensitive:
            return rowwise(lambda text, part: isinstance(text, str) and isinstance(part, str) and part in text,
                           target, other)
        return pd.Series(other.isin(target).to_numpy(), index=target.index)
    return pd.Series(np.equal(target.to_numpy(dtype=object), other).astype(bool), index=target.index)


@operator("contains")
def contains(ctx: Context, cond: Condition) -> pd.Series:
    """The value is in the record's collection (a list, or a text searched for a part); a
    comparator column is looked up among all the target's values."""
    return _contains(ctx, cond, case_insensitive=False)


@operator("contains_case_insensitive")
def contains_case_insensitive(ctx: Context, cond: Condition) -> pd.Series:
    """``contains`` ignoring case; a comparator column is searched for in the same record's text."""
    return _contains(ctx, cond, case_insensitive=True)


complement("does_not_contain", "contains")
complement("does_not_contain_case_insensitive", "contains_case_insensitive")


def _contains_all(ctx: Context, cond: Condition) -> tuple[pd.Series, bool]:
    """The result, and whether it is record by record (else the dataset's, on its first record)."""
    target, other = _comparator(ctx, cond, case_insensitive=False)
    if holds_collections(target) and holds_collections(other):
        test = memberships()
        return rowwise(lambda values, wanted: is_collection(wanted) and all(test(w, values) for w in wanted),
                       target, other), True
    if isinstance(other, COLLECTIONS):
        wanted = set(expanded(ctx, list(other)))
    elif isinstance(other, pd.Series):
        wanted = set(other.unique())
    else:
        raise MissingVariable(str(other))
    result = ctx.false()
    result.iloc[:1] = wanted.issubset(set(target.unique()))
    return result, False


@operator("contains_all")
def contains_all(ctx: Context, cond: Condition) -> pd.Series:
    """Every value of the comparator is among the target's values. Lists against lists: record by
    record. Otherwise the dataset as a whole (every value of the comparator list or column among
    the target's values), which CORE reports on the first record."""
    return _contains_all(ctx, cond)[0]


@operator("not_contains_all")
def not_contains_all(ctx: Context, cond: Condition) -> pd.Series:
    """Complement of ``contains_all`` (on the first record only when the dataset is judged as a whole)."""
    result, per_record = _contains_all(ctx, cond)
    if per_record:
        return ~result
    result.iloc[:1] = ~result.iloc[:1]
    return result


def _as_set(value: Any) -> set:
    return set(value) if is_collection(value) else {value}


def _shared(ctx: Context, cond: Condition, test: Callable[[int], bool]) -> pd.Series:
    target, other = _comparator(ctx, cond, case_insensitive=False)
    return rowwise(lambda a, b: test(len(_as_set(a) & _as_set(b))), target, as_series(other, target.index))


@operator("shares_at_least_one_element_with")
def shares_at_least_one_element_with(ctx: Context, cond: Condition) -> pd.Series:
    """The record's target and comparator (lists, or single values) have an element in common."""
    return _shared(ctx, cond, lambda n: n >= 1)


@operator("shares_exactly_one_element_with")
def shares_exactly_one_element_with(ctx: Context, cond: Condition) -> pd.Series:
    """The record's target and comparator (lists, or single values) have exactly one element in common."""
    return _shared(ctx, cond, lambda n: n == 1)


@operator("shares_no_elements_with")
def shares_no_elements_with(ctx: Context, cond: Condition) -> pd.Series:
    """The record's target and comparator (lists, or single values) have no element in common."""
    return _shared(ctx, cond, lambda n: n == 0)


def _ordered_subset(values: Any, reference: Any) -> bool:
    if not (is_collection(values) and is_collection(reference)):
        return False
    position = {v: i for i, v in enumerate(reference)}
    if any(v not in position for v in values):
        return False
    places = [position[v] for v in values]
    return places == sorted(places)


@operator("is_ordered_subset_of")
def is_ordered_subset_of(ctx: Context, cond: Condition) -> pd.Series:
    """Every element of the record's target list is in its comparator list, in the same relative
    order (a record without two lists is not an ordered subset)."""
    target, other = _comparator(ctx, cond, case_insensitive=False)
    return rowwise(_ordered_subset, target, as_series(other, target.index))


complement("is_not_ordered_subset_of", "is_ordered_subset_of")
