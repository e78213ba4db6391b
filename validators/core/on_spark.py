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
from trialkit.validators.core.regex_dialect import for_java
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study, study_from_frames, transport_rounded
from trialkit.validators.spark_engine import NOT_ON_SPARK


class SparkColumns:
    """A Spark frame's columns as expressions.Columns: no operation has run, so no lists."""

    def __init__(self, schema: dict[str, DType]) -> None:
        self.schema = schema
        self.keys: dict[str, nw.Expr] = {}

    def key(self, name: str, expression: nw.Expr) -> str:
        """Recorded here; the dataset's Spark job adds the key columns before the flags."""
        self.keys[name] = expression
        return name

    def has(self, name) -> bool:
        return isinstance(name, str) and name in self.schema

    def dtype(self, name: str) -> DType:
        if name not in self.schema:
            raise MissingVariable(name)
        return self.schema[name]

    def lists_possible(self) -> bool:
        return False

    def regex(self, pattern: str) -> str:
        """Spark's regex is Java's: the pattern rewritten to keep Python's verdicts."""
        return for_java(pattern)


def run_on_spark(rules: list[CoreRule], frames: dict[str, nw.LazyFrame], paths: dict[str, Path], row: str,
                 standard: str, version: str, library: Library) -> list[RuleResult]:
    """Every rule of ``rules`` over the Spark ``frames`` (records numbered in column ``row``;
    ``paths``: each dataset's file, for XPT's rounding), with the statuses the pandas engine gives."""
    heads = {name: frame.head(1).collect().to_pandas().drop(columns=[row]) for name, frame in frames.items()}
    study = study_from_frames(heads, {}, standard, version)
    for dataset in study.datasets:
        dataset.filename = paths[dataset.name].name
    return run_rules(rules, study, library, evaluate=_Batched(rules, frames, paths, row))


class _Batched:
    """The engine's per-rule, per-dataset evaluation, answered from one Spark job per dataset: on the
    first rule asking about a dataset, every rule's tree there becomes a flag column and one filter
    brings back the records any rule flags (a job per rule and dataset cost ten times more on the
    demo). A rule that cannot run there keeps its reason, raised when the engine asks."""

    def __init__(self, rules: list[CoreRule], frames: dict[str, nw.LazyFrame], paths: dict[str, Path], row: str):
        self.rules, self.frames, self.paths, self.row = rules, frames, paths, row
        self.outcomes: dict[str, dict[str, list[CoreFinding] | Exception]] = {}

    def __call__(self, rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> list[CoreFinding]:
        if dataset.name not in self.outcomes:
            self.outcomes[dataset.name] = self._evaluate_all(dataset, study, library)
        outcome = self.outcomes[dataset.name][rule.core_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _evaluate_all(self, dataset: Dataset, study: Study, library: Library
                      ) -> dict[str, list[CoreFinding] | Exception]:
        frame, row = self.frames[dataset.name], self.row
        columns = SparkColumns(dict(frame.collect_schema()))
        outcomes: dict[str, list[CoreFinding] | Exception] = {}
        flags, keep, contexts = {}, [row], {}
        for rule in self.rules:
            try:
                flags[rule.core_id], wanted = _tree(rule, dataset, study, columns)
            except (NotApplicable, NotExecutable) as exc:
                outcomes[rule.core_id] = exc
                continue
            contexts[rule.core_id] = ctx = Context(dataset.frame, dataset, study, library, rule, wildcard=dataset.wildcard)
            keep += [c for c in (*wanted, *targets(ctx)) if columns.has(c)]
        names = {rule_id: f"@flag{i}" for i, rule_id in enumerate(flags)}
        rows = pd.DataFrame()
        if flags:
            # ~row is null: a tree of literals only (exists) is no record-wise predicate for filter
            frame = frame.with_columns(**columns.keys) if columns.keys else frame
            rows = (frame.with_columns(**{names[r]: e for r, e in flags.items()})
                    .filter(~nw.col(row).is_null() & nw.any_horizontal(*[nw.col(n) for n in names.values()],
                                                                       ignore_nulls=True))
                    .select(*dict.fromkeys(keep), *names.values()).collect().to_pandas()
                    .sort_values(row, kind="stable").rename(columns={row: ROW}).reset_index(drop=True))
            if self.paths[dataset.name].suffix.lower() == ".xpt":
                rows = transport_rounded(rows)
            rows[SOURCE] = dataset.name
        for rule_id, name in names.items():
            ctx = contexts[rule_id]
            ctx.frame = rows[rows[name].eq(True).to_numpy()].drop(columns=list(names.values())).reset_index(drop=True)
            outcomes[rule_id] = findings(ctx, pd.Series(True, index=ctx.frame.index))
        return outcomes


def _tree(rule: CoreRule, dataset: Dataset, study: Study, columns: SparkColumns) -> tuple[nw.Expr, list[str]]:
    """The rule's Check tree on ``dataset`` as one expression, and the record keys findings show;
    NotApplicable / NotExecutable as the pandas engine would raise them, or as Spark cannot run it."""
    why = _unported(rule, dataset, study)
    if why:
        raise NotExecutable(f"{NOT_ON_SPARK}: {why}")
    require_checked_variables(rule, dataset)
    if dataset.frame.empty:
        raise NotApplicable(f"{dataset.name} has no records to check")

    def on_leaf(cond):
        try:
            return leaf(cond, columns)
        except Unported as exc:
            raise NotExecutable(f"{NOT_ON_SPARK}: {exc}") from exc
    return (combine(rule.check, dataset.wildcard, on_leaf, nw.lit(True), nw.lit(False)),
            ["USUBJID", f"{dataset.domain or ''}SEQ"])


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
