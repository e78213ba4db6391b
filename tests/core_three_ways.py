"""One CORE condition evaluated three ways, for the expression-parity tests: (a) by the operator's
pandas code (operators/*.py), (b) by its narwhals expression on the pandas frame, (c) by the same
expression on a Spark DataFrame of the same records (text as strings, numbers as doubles or longs,
empty values null: what Spark reads from trialkit's Parquet).

A table is one frame and many conditions: its Spark conditions run as one Spark job.
"""

from __future__ import annotations

import math

import narwhals as nw
import pandas as pd
from core_context import context

from trialkit.validators.core.check import evaluate
from trialkit.validators.core.context import condition
from trialkit.validators.core.expressions import Unported, leaf
from trialkit.validators.core.on_spark import SparkColumns
from trialkit.validators.core.operators import OPERATORS

ROW = "@i"


def on_pandas(ctx, leaf_node: dict) -> tuple[list[bool], list[bool]]:
    """(the operator's code, the expression on pandas), each as booleans in record order."""
    cond = condition(leaf_node, ctx.wildcard)
    code = pd.Series(OPERATORS[cond.operator](ctx, cond), index=ctx.frame.index).fillna(False).astype(bool)
    expression = leaf(cond, ctx)            # Unported here fails the test: the case must be ported
    frame = nw.from_native(ctx.frame, eager_only=True)
    frame = frame.with_columns(**ctx.keys) if ctx.keys else frame
    flags = _flags(frame, expression, len(ctx.frame))
    assert evaluate(leaf_node, ctx).tolist() == flags           # as the Check tree evaluates it
    return code.tolist(), flags


def _flags(frame, expression, rows: int) -> list[bool]:
    values = frame.select(expression.alias("@flag"))["@flag"].to_list()
    values = values * rows if len(values) == 1 and rows != 1 else values
    return [v is True for v in values]


def spark_frame(spark, records: dict):
    """The records as Spark reads them from Parquet: NaN and None null."""
    from pyspark.sql import types as T

    frame = pd.DataFrame(records)
    fields, columns = [T.StructField(ROW, T.LongType())], [list(range(len(frame)))]
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind == "f":
            kind = T.DoubleType()
        elif series.dtype.kind in "iu":
            kind = T.LongType()
        else:
            kind = T.StringType()
        fields.append(T.StructField(name, kind))
        columns.append([None if v is None or (isinstance(v, float) and math.isnan(v)) else
                        (int(v) if kind == T.LongType() else float(v) if kind == T.DoubleType() else v)
                        for v in series.tolist()])
    return spark.createDataFrame(list(zip(*columns)), T.StructType(fields))


def three_ways(spark, records: dict, leaves: list[dict], wildcard: str = "AE") -> list[tuple]:
    """For every leaf: (leaf, operator code, expression on pandas, expression on Spark)."""
    ctx = context(records)
    sdf = spark_frame(spark, records)
    frame = nw.from_native(sdf)
    columns = SparkColumns(dict(frame.collect_schema()))
    exprs, results = {}, []
    for i, node in enumerate(leaves):
        exprs[f"@f{i}"] = leaf(condition(node, wildcard), columns)
    frame = frame.with_columns(**columns.keys) if columns.keys else frame
    got = frame.select(nw.col(ROW), **exprs).collect().to_pandas().sort_values(ROW) if exprs else None
    for i, node in enumerate(leaves):
        code, on_pd = on_pandas(ctx, node)
        on_spark = [v is True for v in got[f"@f{i}"].tolist()]
        results.append((node, code, on_pd, on_spark))
    return results


def assert_three_equal(results: list[tuple]) -> None:
    wrong = [(node, code, on_pd, on_spark) for node, code, on_pd, on_spark in results
             if not code == on_pd == on_spark]
    assert not wrong, "\n".join(f"{n}\n  code   {c}\n  pandas {p}\n  spark  {s}" for n, c, p, s in wrong)


def unported_on_both(spark, records: dict, node: dict, on_pandas_too: bool = True) -> None:
    """The condition has no expression on Spark (and, ``on_pandas_too``, none on pandas: the
    operator's code runs it there)."""
    import pytest

    ctx = context(records)
    if on_pandas_too:
        with pytest.raises(Unported):
            leaf(condition(node, ctx.wildcard), ctx)
    columns = SparkColumns(dict(nw.from_native(spark_frame(spark, records)).collect_schema()))
    with pytest.raises(Unported):
        leaf(condition(node, ctx.wildcard), columns)
