"""CORE rules on Spark DataFrames (``trialkit validate --engine spark``): the interpreter's own run
(validators/core/engine.run_rules: scope, statuses, split datasets, findings) with the one step that
touches records, evaluating the Check tree, done by Spark.

The Check tree is the same tree reading (check.combine) over the same operator expressions
(expressions.py) that the pandas engine evaluates: here as one Spark filter per rule and dataset that
brings back only the flagged records' keys and output variables; the findings are then made by the
pandas engine's code (outcome.findings). Scope and the engine's shortcuts read a dataset's columns
and first record, which is all the pandas-side Study holds here.

A rule not expressible on Spark yet is "not executed" with the reason, never passed: a rule type
other than Record Data, a Match Datasets or an operation, a split dataset, an operator or option
without an expression (expressions.Unported).
"""

from __future__ import annotations

from pathlib import Path

import narwhals as nw
import pandas as pd
from narwhals.dtypes import DType

from trialkit.validators.core.check import combine
from trialkit.validators.core.context import Context, MissingVariable, NotApplicable, NotExecutable
from trialkit.validators.core.engine import RuleResult, require_checked_variables, run_rules
from trialkit.validators.core.expressions import Unported, leaf
from trialkit.validators.core.library import Library
from trialkit.validators.core.outcome import CoreFinding, findings, targets
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study, study_from_frames, transport_rounded

NOT_ON_SPARK = "not run on spark"


class SparkColumns:
    """A Spark frame's columns as expressions.Columns: no operation has run, so no lists."""

    def __init__(self, schema: dict[str, DType]) -> None:
        self.schema = schema

    def has(self, name) -> bool:
        return isinstance(name, str) and name in self.schema

    def dtype(self, name: str) -> DType:
        if name not in self.schema:
            raise MissingVariable(name)
        return self.schema[name]

    def lists_possible(self) -> bool:
        return False


def run_on_spark(rules: list[CoreRule], frames: dict[str, nw.LazyFrame], paths: dict[str, Path], row: str,
                 standard: str, version: str, library: Library) -> list[RuleResult]:
    """Every rule of ``rules`` over the Spark ``frames`` (records numbered in column ``row``;
    ``paths``: each dataset's file, for XPT's rounding), with the statuses the pandas engine gives."""
    heads = {name: frame.head(1).collect().to_pandas().drop(columns=[row]) for name, frame in frames.items()}
    study = study_from_frames(heads, {}, standard, version)
    for dataset in study.datasets:
        dataset.filename = paths[dataset.name].name

    def evaluate(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> list[CoreFinding]:
        return _evaluate(rule, dataset, study, library, frames[dataset.name], row,
                         paths[dataset.name].suffix.lower() == ".xpt")
    return run_rules(rules, study, library, evaluate=evaluate)


def _evaluate(rule: CoreRule, dataset: Dataset, study: Study, library: Library, frame: nw.LazyFrame, row: str,
              xpt: bool) -> list[CoreFinding]:
    why = _unported(rule, dataset, study)
    if why:
        raise NotExecutable(f"{NOT_ON_SPARK}: {why}")
    require_checked_variables(rule, dataset)
    if dataset.frame.empty:
        raise NotApplicable(f"{dataset.name} has no records to check")
    columns = SparkColumns(dict(frame.collect_schema()))

    def on_leaf(cond):
        try:
            return leaf(cond, columns)
        except Unported as exc:
            raise NotExecutable(f"{NOT_ON_SPARK}: {exc}") from exc
    flagged = combine(rule.check, dataset.wildcard, on_leaf, nw.lit(True), nw.lit(False))
    ctx = Context(dataset.frame, dataset, study, library, rule, wildcard=dataset.wildcard)
    keys = ["USUBJID", f"{dataset.domain or ''}SEQ", *targets(ctx)]
    keep = [row, *dict.fromkeys(k for k in keys if columns.has(k))]
    # a tree of literals only (exists) is no record-wise predicate for filter: tie it to the records
    rows = frame.filter(~nw.col(row).is_null() & flagged).select(keep).collect().to_pandas().sort_values(row, kind="stable")
    rows = rows.rename(columns={row: ROW}).reset_index(drop=True)
    ctx.frame = (transport_rounded(rows) if xpt else rows).assign(**{SOURCE: dataset.name})
    return findings(ctx, pd.Series(True, index=ctx.frame.index))


def _unported(rule: CoreRule, dataset: Dataset, study: Study) -> str:
    """Why the rule cannot run on Spark yet ('' when it can)."""
    if rule.rule_type != "Record Data":
        return f"rule type {rule.rule_type} is not on spark yet"
    if rule.match_datasets:
        return "Match Datasets (joins) are not on spark yet"
    if rule.operations:
        return f"operation {rule.operations[0]['operator']} is not on spark yet"
    if len(study.siblings(dataset)) > 1:
        return f"split dataset {dataset.name} is not on spark yet"
    return ""
