"""What an operator sees: the evaluation frame with its dataset and study (:class:`Context`), one
condition of the Check tree with its ``--`` resolved (:class:`Condition`), and the value helpers
every operator shares (what counts as empty, how a comparator is resolved).

CORE semantics kept here once, so no operator re-decides them:

- *empty* is None, NaN, the empty string, or an empty list/set/dict (CORE's null flavours);
- a condition's ``value`` names a column of the frame when such a column exists, unless
  ``value_is_literal: true``; otherwise it is a literal;
- a condition naming a variable the frame lacks raises :class:`MissingVariable`; the Check tree
  decides what that means (an ``any`` survives it while one branch can still be evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from narwhals.dtypes import DType

from trialkit.validators.core.library import Library
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import Dataset, Study


class NotApplicable(Exception):
    """The rule cannot be evaluated on this dataset (CORE: skipped); the message says why."""


class MissingVariable(NotApplicable):
    """A condition, operation or match names a variable the frame does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} not in the dataset")
        self.name = name


class NotExecutable(Exception):
    """The rule needs something trialkit does not hold (an operator, metadata, a define.xml)."""


@dataclass
class Context:
    frame: pd.DataFrame
    dataset: Dataset
    study: Study
    library: Library
    rule: CoreRule
    wildcard: str = ""
    cache: dict = field(default_factory=dict)      # per rule and dataset, for operators that reuse work
    constants: dict = field(default_factory=dict)  # operation results that are one value on every record
    keys: dict = field(default_factory=dict)       # expressions' key columns (expressions.Columns.key)

    def constant(self, name: Any) -> Any:
        """The value an operation put on every record under ``name`` (None if ``name`` is not such a
        column): operators look a list up once instead of once per record."""
        return self.constants.get(name) if isinstance(name, str) and self.has(name) else None

    def column(self, name: str) -> pd.Series:
        if name not in self.frame.columns:
            raise MissingVariable(name)
        return self.frame[name]

    def has(self, name: Any) -> bool:
        return isinstance(name, str) and name in self.frame.columns

    def dtype(self, name: str) -> DType:
        """What the column holds, as the operators' expressions (validators/core/expressions.py) ask:
        an object column is String only when every value is text or empty (pandas' inference, in C),
        else Object (lists, text mixed with numbers), which no expression evaluates."""
        key = ("dtype", id(self.frame), name)
        if key not in self.cache:
            series = self.column(name)
            if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
                inferred = pd.api.types.infer_dtype(series, skipna=True)
                self.cache[key] = nw.String() if inferred in ("string", "empty") else nw.Object()
            else:
                self.cache[key] = nw.from_native(series.to_frame(), eager_only=True).schema[name]
        return self.cache[key]

    def lists_possible(self) -> bool:
        """Whether an operation may have put lists of names on the records (``exists`` looks inside)."""
        return bool(self.rule.operations)

    def key(self, name: str, expression: nw.Expr) -> str:
        """Recorded here; check.py adds the key columns to the frame it evaluates expressions on."""
        self.keys[name] = expression
        return name

    def regex(self, pattern: str) -> str:
        """The pattern as the pandas engine runs it: Python's ``re``, CORE's own dialect."""
        return pattern

    def comparator(self, cond: Condition) -> Any:
        """The condition's value: the column it names, or the literal (always with value_is_literal)."""
        value = cond.value
        if cond.params.get("value_is_literal"):
            return value
        if self.has(value):
            return self.frame[value]
        return value

    def false(self) -> pd.Series:
        return pd.Series(False, index=self.frame.index)

    def resolve(self, name: Any) -> Any:
        return resolve_wildcard(name, self.wildcard)


@dataclass(frozen=True)
class Condition:
    operator: str
    target: str | None
    value: Any
    params: dict


def resolve_wildcard(value: Any, wildcard: str) -> Any:
    """``--`` at the start of a name (or of each name of a list) becomes the dataset's prefix."""
    if isinstance(value, str):
        return wildcard + value[2:] if value.startswith("--") else value
    if isinstance(value, list):
        return [resolve_wildcard(v, wildcard) for v in value]
    return value


def condition(leaf: dict, wildcard: str) -> Condition:
    params = {k: resolve_wildcard(v, wildcard) for k, v in leaf.items() if k not in ("operator", "name", "value")}
    return Condition(leaf["operator"], resolve_wildcard(leaf.get("name"), wildcard),
                     resolve_wildcard(leaf.get("value"), wildcard), params)


# -- value helpers shared by operators -------------------------------------------------------------

def is_empty_value(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if isinstance(value, (list, set, dict, tuple)):
        return len(value) == 0 or (len(value) == 1 and not isinstance(value, dict) and next(iter(value)) is None)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def empty(series: pd.Series) -> pd.Series:
    """CORE's null flavours, vectorized: None, NaN, '' (not blanks), empty collections."""
    if series.dtype.kind in "fiub":
        return series.isna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if holds_collections(series):
        return _empty_mixed(series)
    return (series.isna() | series.eq("")).astype(bool)


def _empty_mixed(series: pd.Series) -> pd.Series:
    """:func:`empty` of an object column that may hold lists: text, numbers and None vectorized (for
    them :func:`is_empty_value` is exactly "null or ''"), only the other objects one by one. Value
    check frames mix text with numbers in one column of mostly distinct objects, which one by one
    cost a Python call per record."""
    objects = series.to_numpy(dtype=object)
    scalar = np.fromiter((v is None or isinstance(v, (str, float, int)) for v in objects), dtype=bool,
                         count=len(objects))
    out = pd.Series(False, index=series.index)
    plain_values = series[scalar]
    out[scalar] = (plain_values.isna() | plain_values.eq("")).to_numpy(dtype=bool)
    if not scalar.all():
        out[~scalar] = per_object(series[~scalar], is_empty_value).to_numpy(dtype=bool)
    return out


def per_object(series: pd.Series, fn) -> pd.Series:
    """``fn`` once per distinct object of a column that holds lists (unhashable, so not once per
    distinct value): an operation puts the same list object on every record of a group, so this is
    once per group instead of once per record."""
    objects = series.to_numpy(dtype=object)
    _, first, codes = np.unique(series.map(id).to_numpy(), return_index=True, return_inverse=True)
    results = np.array([fn(objects[i]) for i in first], dtype=object)
    return pd.Series(results[codes], index=series.index)


def holds_collections(series: pd.Series) -> bool:
    """Whether an object column may hold lists (operation results do; data read from files never):
    pandas' type inference runs in C, so plain text columns are told apart without a Python call
    per value."""
    if series.dtype != object:
        return False
    return pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty", "floating", "integer",
                                                                 "mixed-integer-float", "boolean")


def as_series(value: Any, index: pd.Index) -> pd.Series:
    """A comparator as a Series aligned to the frame (a scalar repeated; a list kept whole per row)."""
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, (list, set, tuple, dict)):
        return repeated(value, index)
    return pd.Series(value, index=index, dtype=object if isinstance(value, str) or value is None else None)


def repeated(value: Any, index: pd.Index) -> pd.Series:
    """``value`` itself (the one object: a list stays one list) on every record, an object column:
    what ``pd.Series([value] * len(index), dtype=object)`` makes, without building and converting a
    list of the records' length (some 10 ms for 100,000 records, rule after rule)."""
    values = np.empty(len(index), dtype=object)
    values.fill(value)
    return pd.Series(values, index=index)


def text(series: pd.Series) -> pd.Series:
    """Values as text for string operators: numbers without a trailing '.0' when whole, as CORE's
    regex conversion does; empty values stay None."""
    if series.dtype.kind in "fi":
        return series.map(lambda v: None if pd.isna(v) else (f"{v:.0f}" if float(v).is_integer() else str(v)))
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    return series.map(_text_value)


def _text_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float):
        return f"{v:.0f}" if v.is_integer() else str(v)
    if isinstance(v, (int, np.integer)):
        return str(v)
    return v
