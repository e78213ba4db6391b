"""Conditions without a Spark expression, evaluated on Spark by the pandas engine's own operator.

A condition whose operator has no narwhals expression (expressions.Unported: the date comparisons
and ``is_complete_date``, ``type_insensitive`` or ``value_is_reference`` equality, numeric order of
text, a regex Java cannot read as Python does...) but reads only the record it judges
(operators.record_wise) gives the same verdict on any slice of the records. On Spark it becomes a
column computed by a pandas UDF: each Arrow batch of the columns the condition names is a small
pandas frame, the operator's code (check.operator_flags, as the pandas engine runs it) gives its
flags. One definition for both engines, and no expression tree in the plan (the date comparisons,
once written as Spark expressions, exhausted the driver's heap when a dataset's rules ran as one job).

An operator whose verdict reads other records of a group (operators.group_variables: the records of
a subject in order, the next record, a group's last record, a group's most frequent value) gives
the same verdict on any slice holding whole groups: the records are shuffled by the group
variables, each Spark partition (its records in file order, by the record identity: number, and
part of a split dataset) is one pandas frame the operator's code runs on, and its flags are joined
back onto the records by that identity. A joined frame (Match Datasets) has no one identity per
record: such a condition stays off Spark there.

The batch holds every column the condition names (target, the value and the options' names, where
they are columns; every column for ``value_is_reference``, whose values name columns), so a name is
read as a column exactly where the pandas engine reads it as one; the operator sees no other record
(but its group's) and no study (neither kind reads one). Numbers of an XPT dataset are rounded as
the pandas engine reads them (study.transport_rounded).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from trialkit.validators.core.check import operator_flags
from trialkit.validators.core.context import Condition, Context, MissingVariable, resolve_wildcard
from trialkit.validators.core.operators import known
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import transport_rounded


def names_in(value: Any, wildcard: str) -> list[str]:
    """The names in a condition's value or option: text, lists of them, a sort spec's ``name``."""
    if isinstance(value, str):
        return [resolve_wildcard(value, wildcard)]
    if isinstance(value, dict):
        return names_in(value.get("name"), wildcard)
    return [n for v in value for n in names_in(v, wildcard)] if isinstance(value, list) else []


def inputs(cond: Condition, schema: dict, wildcard: str) -> list[str]:
    """The columns the condition's operator may read, in the frame's order; MissingVariable when
    the target is not one (as the operator raises on the pandas engine)."""
    if cond.target not in schema:
        raise MissingVariable(str(cond.target))
    if cond.params.get("value_is_reference"):
        return list(schema)
    value = [] if cond.params.get("value_is_literal") else names_in(cond.value, wildcard)
    named = {cond.target, *value, *(n for v in cond.params.values() for n in names_in(v, wildcard))}
    return [c for c in schema if c in named]


class RecordWise:
    """The conditions of one Spark job evaluated by their operators' code, each a flag column named
    ``@record{n}``: record-wise ones on any batch of records, across-records ones on partitions of
    whole groups (``groups``: the variables the records are shuffled by)."""

    def __init__(self) -> None:
        self.conditions: dict[str, tuple[Condition, CoreRule, str, list[str], list[str] | None]] = {}

    def flag(self, cond: Condition, rule: CoreRule, wildcard: str, schema: dict, groups: list[str] | None = None
             ) -> nw.Expr:
        """The condition's flags as a column of the job's frame (added by :meth:`added`)."""
        names = inputs(cond, schema, wildcard)
        if groups is not None:
            names = [c for c in schema if c in {*names, *groups}]
        name = f"@record{len(self.conditions)}"
        self.conditions[name] = (cond, rule, wildcard, names, groups)
        return nw.col(name)

    def rollback(self, mark: int) -> None:
        """Forget the conditions flagged since there were ``mark`` (a rule that turned out not to run)."""
        for name in list(self.conditions)[mark:]:
            del self.conditions[name]

    def added(self, frame: nw.LazyFrame, rounded: bool, identity: list[str]) -> nw.LazyFrame:
        """``frame`` with every flag column; ``rounded``: the dataset is XPT (numbers rounded first);
        ``identity``: the columns naming a record of the frame (its number; its part's, split)."""
        if not self.conditions:
            return frame
        native = nw.to_native(frame)
        flags = {name: _udf(cond, rule, wildcard, names, rounded)(*(native[f"`{n}`"] for n in names))
                 for name, (cond, rule, wildcard, names, groups) in self.conditions.items() if groups is None}
        native = native.withColumns(flags) if flags else native
        for name, (cond, rule, wildcard, names, groups) in self.conditions.items():
            if groups is not None:
                native = native.join(_grouped(native, name, cond, rule, wildcard, names, groups, rounded, identity),
                                     on=identity, how="left")
        return nw.from_native(native)


def _grouped(native, name: str, cond: Condition, rule: CoreRule, wildcard: str, names: list[str], groups: list[str],
             rounded: bool, identity: list[str]):
    """The condition's flags by record identity: the records shuffled by ``groups``, each partition
    one pandas frame in file order, the operator's code over it."""
    from pyspark.sql import types as T

    columns = [*identity, *(n for n in names if n not in identity)]
    out = T.StructType([*(native.schema[k] for k in identity), T.StructField(name, T.BooleanType())])

    def run(batches):
        frame = in_file_order(batches, identity)
        if frame is not None:
            found = _flags(frame.drop(columns=identity), cond, rule, wildcard, rounded)
            yield frame[identity].assign(**{name: found.to_numpy()})
    return native.select(*(native[f"`{c}`"] for c in columns)).repartition(*(native[f"`{g}`"] for g in groups)) \
        .mapInPandas(run, out)


def as_read(frame: pd.DataFrame, rounded: bool) -> pd.DataFrame:
    """A batch as the pandas engine holds the same records: an operation's list per record a Python
    list (Arrow hands a Spark array over as a numpy array), an XPT file's numbers rounded."""
    for name in frame.columns:
        given = frame[name].dropna() if frame[name].dtype == object else ()
        if len(given) and isinstance(given.iat[0], np.ndarray):        # a Spark array column: every value one
            frame[name] = frame[name].map(lambda v: list(v) if isinstance(v, np.ndarray) else v)
    return transport_rounded(frame) if rounded else frame


def _udf(cond: Condition, rule: CoreRule, wildcard: str, names: list[str], rounded: bool):
    """A pandas UDF giving the condition's flags on each batch of the ``names`` columns."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("boolean")
    def flags(*columns: pd.Series) -> pd.Series:
        return _flags(pd.DataFrame(dict(zip(names, columns))), cond, rule, wildcard, rounded)
    return flags


def _flags(records: pd.DataFrame, cond: Condition, rule: CoreRule, wildcard: str, rounded: bool) -> pd.Series:
    """The operator's code on a batch or partition of records, in a Python worker (which registers
    the operator families on first use); ``rounded``: an XPT file's numbers, rounded as pandas reads them."""
    known()
    records = as_read(records, rounded)
    return operator_flags(Context(records, None, None, None, rule, wildcard=wildcard), cond)


def in_file_order(batches, order: list[str]) -> pd.DataFrame | None:
    """A Spark partition's Arrow batches as one pandas frame, its records in file order (by the
    record-number columns ``order``); None when the partition has no record (a partition of a file
    scan that holds none gets no batch at all)."""
    batches = list(batches)
    frame = pd.concat(batches, ignore_index=True) if batches else None
    return None if frame is None or frame.empty else frame.sort_values(order, kind="stable").reset_index(drop=True)
