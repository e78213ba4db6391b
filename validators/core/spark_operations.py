"""CORE operations whose value differs from record to record, on Spark: ``min_date``, ``max_date``,
``record_count`` and ``distinct`` (a list) per group of a dataset's records, and ``dy`` (the study
day), computed by the pandas engine's own operation code and matched back onto the evaluated
records as the pandas engine matches them.

Each operation reads whole groups only, so the records are shuffled by the group variables (every
record of a group in one Spark partition), each partition is one pandas frame in file order (its
record numbers: min_date's "the first record listed wins a tie"), and the operation's code
(operations/dates.py, operations/values.py) gives each group's value there. The table of groups is
then left-joined onto the evaluation frame on the group variables (their ``group_aliases`` on the
records' side), null keys meeting null keys as pandas' ``merge`` pairs them (spark_joins): the
pandas engine's ``onto_records`` / merge, where a record whose group the operation's records lack
gets no value.

``dy``: each DM subject's first record's RFSTDTC (the least record number, pandas'
``drop_duplicates``) is left-joined onto the evaluated records on USUBJID (null-safe), and a pandas
UDF computes the study day from the record's date and that start by operations/dates.study_days.

``distinct`` of a dataset's records without a group is a literal list in the conditions
(on_spark), unless it is longer than a Spark expression takes well (the USUBJIDs of a pooled
database): then DistinctValues, the values as a Spark frame, which a containment condition looks
each record's value up in by a left join (Membership), the same verdicts as the list's ``isin``.

Not here (the rule says "not run on spark" with the reason): other grouped operations, a group naming
an operation's result (``$TIMING_VARIABLES``), group keys of text on one side and numbers on the other.
A list per record has no expression: the conditions reading it run as the operator's code
(spark_record_wise.py), the Spark arrays handed to it as Python lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import narwhals as nw
import pandas as pd

from trialkit.validators.core.context import Context, MissingVariable, NotExecutable, resolve_wildcard
from trialkit.validators.core.expressions import TEXT
from trialkit.validators.core.expressions_sets import Lookup
from trialkit.validators.core.operations import OPERATIONS, Operation, known
from trialkit.validators.core.operations.dates import study_days
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.spark_joins import null_safe_join
from trialkit.validators.core.spark_record_wise import in_file_order
from trialkit.validators.spark_engine import NOT_ON_SPARK

GROUPED = ("min_date", "max_date", "record_count", "distinct")
VALUE = "@value"


@dataclass(frozen=True)
class GroupTable:
    """An operation's value per group: ``table`` holds the group ``keys`` and VALUE; ``on`` are the
    evaluated records' names for the keys (their aliases)."""

    table: nw.LazyFrame
    keys: tuple[str, ...]
    on: tuple[str, ...]
    dtype: nw.dtypes.DType

    def onto(self, frame: nw.LazyFrame, name: str) -> nw.LazyFrame:
        """``frame`` with each record's group's value as column ``name`` (:func:`joined`)."""
        return joined(frame, name, self)


@dataclass(frozen=True)
class StudyDays:
    """``dy`` of the evaluated records' ``target`` date: ``starts`` holds each DM subject's USUBJID
    and first RFSTDTC (as ``@start``)."""

    starts: nw.LazyFrame
    target: str
    dtype: ClassVar[nw.dtypes.DType] = nw.Int64()

    def onto(self, frame: nw.LazyFrame, name: str) -> nw.LazyFrame:
        """``frame`` with each record's study day as column ``name`` (null where there is none)."""
        from pyspark.sql.functions import pandas_udf

        schema = frame.collect_schema()
        for needed in (self.target, "USUBJID"):
            if needed not in schema:
                raise MissingVariable(needed)
        start = f"@start:{name}"
        native = nw.to_native(null_safe_join(frame, self.starts, ["USUBJID"], ["USUBJID"], [nw.col("@start").alias(start)],
                                             "left", f"@{name}:"))

        @pandas_udf("long")
        def days(dates: pd.Series, starts: pd.Series) -> pd.Series:
            return study_days(dates, starts).astype("Int64")
        return nw.from_native(native.withColumn(name, days(native[f"`{self.target}`"], native[f"`{start}`"]))
                              .drop(start))


@dataclass(frozen=True)
class DistinctValues(Lookup):
    """``distinct`` of a dataset's records (no group) giving more values than a literal list takes
    (on_spark.LIST_LIMIT): ``values``, the distinct values in column VALUE (no null, no NaN), which a
    containment condition looks a record's value up in by a left join (:class:`Membership`), as the
    pandas engine looks it up in its list. ``what`` names the operation and target, for messages."""

    values: nw.LazyFrame
    dtype: nw.dtypes.DType
    what: str

    def found(self, columns, key: nw.Expr, kind: str, lowered: bool) -> nw.Expr:
        """A column of the evaluated frame (``columns``: on_spark.SparkColumns), True where ``key``
        is among the values; text is never among numbers (pandas' ``isin``), numbers are compared as numbers."""
        if kind == TEXT and self.dtype != nw.String:
            return nw.lit(False)
        return nw.col(columns.derived(f"@in{len(columns.derived_columns)}:{self.what}", Membership(self, key, lowered)))

    def __repr__(self) -> str:
        return f"the distinct values of {self.what}"


@dataclass(frozen=True)
class Membership:
    """Whether each evaluated record's ``key`` (an expression of its columns) is among ``lookup``'s
    values (``lowered``: in lower case): a derived column of the dataset's Spark job."""

    lookup: DistinctValues
    key: nw.Expr
    lowered: bool
    dtype: ClassVar[nw.dtypes.DType] = nw.Boolean()

    def onto(self, frame: nw.LazyFrame, name: str) -> nw.LazyFrame:
        """``frame`` with column ``name``: True where the record's key is found, False elsewhere
        (a null key never is). The values are distinct (lower-cased ones made distinct again), so
        the left join keeps every record once."""
        values = self.lookup.values
        if self.lowered:
            values = values.select(nw.col(VALUE).str.to_lowercase()).unique()
        key = f"@key:{name}"
        found = values.select(nw.col(VALUE).alias(key), nw.lit(True).alias(name))
        return (frame.with_columns(self.key.alias(key)).join(found, on=key, how="left").drop(key)
                .with_columns(nw.col(name).fill_null(False)))


def study_days_of(dm: nw.LazyFrame, target: str, row: str) -> StudyDays:
    """``dy`` of ``target`` against the Spark frame ``dm`` of DM's records (numbered in ``row``)."""
    schema = dm.collect_schema()
    for needed in ("USUBJID", "RFSTDTC"):
        if needed not in schema:
            raise MissingVariable(needed)
    first = nw.col(row) == nw.col(row).min().over("USUBJID")
    return StudyDays(dm.filter(first).select("USUBJID", nw.col("RFSTDTC").alias("@start")), target)


def group_table(source: nw.LazyFrame, params: dict, domain: str, wildcard: str, rule: CoreRule, order: list[str]
                ) -> GroupTable:
    """The operation ``params`` (one of GROUPED, with a ``group``) over the Spark frame ``source`` of
    ``domain``'s records, in file order by the record-number columns ``order``; ``wildcard``: the
    evaluated dataset's prefix, which a ``--`` in the group stands for (the target's stands for the
    domain's), as on pandas."""
    keys = [resolve_wildcard(g, wildcard) for g in params["group"]]
    aliases = list(params.get("group_aliases") or [])
    on = [aliases[i] if i < len(aliases) else k for i, k in enumerate(keys)]
    if any(k.startswith("$") for k in keys):       # before the names are looked up: it is no column of the records
        raise NotExecutable(f"{NOT_ON_SPARK}: operation {params['id']} groups by an operation's result")
    counted = params["operator"] == "record_count"
    target = None if counted else resolve_wildcard(params.get("name"), domain)
    schema = source.collect_schema()
    for name in (*keys, *(params.get("filter") or {}), *([] if counted else [target])):
        if name not in schema:
            raise MissingVariable(name)
    call = {k: v for k, v in params.items() if k != "group_aliases"}    # matched onto the records here, by the join
    # only the columns the operation reads go to the partitions: a partition holds whole groups (a
    # test's records of a pooled LB, say), so its frame is as wide as this, not as the dataset
    read = dict.fromkeys([*keys, *(params.get("filter") or {}), *([] if counted else [target]), *order])
    native = nw.to_native(source.select(*read))
    from pyspark.sql import types as T

    if counted:
        kind, dtype = T.LongType(), nw.Int64()
    elif params["operator"] == "distinct":      # each group's sorted list of the target's values
        kind, dtype = T.ArrayType(native.schema[target].dataType), nw.List(schema[target])
    else:
        kind, dtype = T.StringType(), nw.String()
    out = T.StructType([*(native.schema[k] for k in keys), T.StructField(VALUE, kind)])
    table = native.repartition(*(native[f"`{k}`"] for k in keys)).mapInPandas(
        _per_partition(call, keys, domain, wildcard, rule, order), out)
    return GroupTable(nw.from_native(table), tuple(keys), tuple(on), dtype)


def _per_partition(params: dict, keys: list[str], domain: str, wildcard: str, rule: CoreRule, order: list[str]):
    """What each Spark partition runs: its records as one frame in file order, the operation's value
    for each of their groups."""
    def run(batches):
        records = in_file_order(batches, order)
        if records is None:
            return
        known()                     # a Python worker registers the operations on first use
        records = records.drop(columns=order)
        ctx = Context(records, None, None, None, rule, wildcard=wildcard)
        target = resolve_wildcard(params.get("name"), domain)
        result = OPERATIONS[params["operator"]](Operation(str(params["id"]), params["operator"], target, params, ctx,
                                                          records, None))
        if isinstance(result, pd.DataFrame):          # min_date / max_date: one row per group
            column = str(params["id"]) if str(params["id"]) in result.columns else target
            table = result[[*keys, column]].rename(columns={column: VALUE})
        else:                                         # record_count, distinct: its value on each record read
            table = records[keys].assign(**{VALUE: result}).drop_duplicates(subset=keys)
        yield table.astype({VALUE: "Int64" if params["operator"] == "record_count" else object})
    return run


def joined(frame: nw.LazyFrame, name: str, group: GroupTable) -> nw.LazyFrame:
    """``frame`` with the operation's value of each record's group as column ``name`` (null where
    the operation's records have no such group)."""
    left_schema, right_schema = frame.collect_schema(), group.table.collect_schema()
    for a, b in zip(group.on, group.keys):
        if a not in left_schema:
            raise MissingVariable(a)
        if (left_schema[a] == nw.String) != (right_schema[b] == nw.String):
            raise NotExecutable(f"{NOT_ON_SPARK}: matching an operation's groups on {a} = {b}, text with numbers, "
                                "is not on spark yet")
    return null_safe_join(frame, group.table, list(group.on), list(group.keys), [nw.col(VALUE).alias(name)], "left",
                          f"@{name}:")
