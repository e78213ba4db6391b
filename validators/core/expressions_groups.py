"""CORE's uniqueness operators as narwhals window expressions (see expressions.py): each record's
verdict is an aggregate over the records sharing its key, ``over`` the key columns, which pandas
evaluates as a grouped transform and Spark as a window. Each replaces the operator of the same
name in ``operators/groups.py``, whose docstrings give CORE's meaning; that code still runs
``is_unique_set`` with ``regex`` (its reduction depends on the dataset's first value) and object
columns (an operation's lists).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from trialkit.validators.core.context import Condition, MissingVariable
from trialkit.validators.core.expressions import NUMBER, TEXT, Columns, Unported, _expression, _kind
from trialkit.validators.core.operators.groups import NULL_KEY


def _names(cond: Condition, values: Any) -> list[str]:
    """Column names from a name or (nested) lists of names, in order, without repeats."""
    out: list = []
    for value in values if isinstance(values, list) else [values]:
        out += _names(cond, value) if isinstance(value, (list, tuple)) else [value]
    return list(dict.fromkeys(v for v in out if isinstance(v, str)))


def _empty(name: str, columns: Columns) -> nw.Expr:
    """CORE's empty key value: null, NaN or ''."""
    dtype = columns.dtype(name)
    kind = _kind(dtype, f"column {name}")
    if kind == TEXT:
        return nw.col(name).is_null() | (nw.col(name) == "")
    return nw.col(name).is_null() | nw.col(name).is_nan() if dtype.is_float() else nw.col(name).is_null()


def _filled_key(name: str, columns: Columns) -> str:
    """The column as CORE groups it (groups.py ``_filled``): an empty text is the text '_NaN_' (so a
    text '_NaN_' groups with it), NaN and null one group (Spark would part them)."""
    dtype = columns.dtype(name)
    kind = _kind(dtype, f"column {name}")
    if kind == TEXT:
        return columns.key(f"@filled:{name}", nw.col(name).fill_null(NULL_KEY))
    if kind == NUMBER and dtype.is_float():
        return columns.key(f"@filled:{name}", nw.when(~nw.col(name).is_nan()).then(nw.col(name)))
    return name


@_expression("is_unique_set", "is_not_unique_set")
def is_unique_set(cond: Condition, columns: Columns) -> nw.Expr:
    """No other record has the same values of the target and the comparator variables together;
    variables the dataset lacks are left out (all missing: a missing variable)."""
    if cond.params.get("regex"):
        raise Unported(f"operator {cond.operator} with regex has no expression yet")
    wanted = _names(cond, [cond.target, cond.value])
    present = [n for n in wanted if columns.has(n)]
    if not present:
        raise MissingVariable(", ".join(wanted) or "the set's variables")
    keys = [_filled_key(n, columns) for n in present]
    unique = nw.len().over(*keys) <= 1
    return ~unique if cond.operator == "is_not_unique_set" else unique


def _mapped_to_several(keys: list[str], values: list[str], columns: Columns) -> nw.Expr:
    """groups.py ``_mapped_to_several``: the record's non-empty key goes with two different
    non-empty value tuples, or with one and an empty one. Counted, not compared (pandas cannot take
    the smallest of text mixed with nulls, Spark has no distinct count over a window): a record
    with a non-empty tuple shares it with every non-empty record of its key when the records of
    its key and tuple are as many as those of its key with a non-empty tuple."""
    key_empty = nw.any_horizontal(*[_empty(k, columns) for k in keys], ignore_nulls=False)
    value_empty = nw.any_horizontal(*[_empty(v, columns) for v in values], ignore_nulls=False)
    empty_key = columns.key(f"@empty:{','.join(values)}", value_empty)
    of_key, of_key_and_emptiness = nw.len().over(*keys), nw.len().over(*keys, empty_key)
    other_tuple = nw.len().over(*keys, empty_key, *values) != of_key_and_emptiness
    # the key has both empty and non-empty tuples, or this non-empty tuple is not the only one
    several = (of_key_and_emptiness != of_key) | (~value_empty & other_tuple)
    return ~key_empty & several


@_expression("is_not_unique_relationship", "is_unique_relationship")
def is_not_unique_relationship(cond: Condition, columns: Columns) -> nw.Expr:
    """The target and the comparator variable(s) are not one-to-one, either way round."""
    others = cond.value if isinstance(cond.value, list) else [cond.value]
    for name in [cond.target, *others]:
        if not columns.has(name):
            raise MissingVariable(str(name))
    not_unique = (_mapped_to_several([cond.target], others, columns)
                  | _mapped_to_several(others, [cond.target], columns))
    return ~not_unique if cond.operator == "is_unique_relationship" else not_unique


@_expression("present_on_multiple_rows_within", "not_present_on_multiple_rows_within")
def present_on_multiple_rows_within(cond: Condition, columns: Columns) -> nw.Expr:
    """The value occurs on more than ``value`` records (default 1) of its ``within`` group, empty
    values grouped as CORE fills them."""
    within = cond.params.get("within")
    try:
        limit = int(cond.value) if cond.value not in (None, "") else 1
    except (TypeError, ValueError) as exc:
        raise Unported(f"operator {cond.operator} with the value {cond.value!r} has no expression yet") from exc
    if not isinstance(within, str) or isinstance(cond.value, bool):
        raise Unported(f"operator {cond.operator} with within {within!r} has no expression yet")
    for name in (cond.target, within):
        if not columns.has(name):
            raise MissingVariable(str(name))
    present = nw.len().over(*dict.fromkeys([_filled_key(within, columns), _filled_key(cond.target, columns)])) > limit
    return ~present if cond.operator.startswith("not_") else present
