"""CORE rules on Spark DataFrames (``trialkit validate --engine spark``): the interpreter's own run
(validators/core/engine.run_rules: scope, statuses, split datasets, findings) with the one step that
touches records, evaluating the Check tree, done by Spark.

The Check tree is the same tree reading (check.combine) over the same operator expressions
(expressions.py) that the pandas engine evaluates, and, for a condition without an expression, the
operator's own code on batches of records (a record-wise operator) or on partitions of whole groups
(an across-records one with group variables; spark_record_wise.py): here as one Spark filter per
rule and dataset that brings back only the flagged records' keys and output variables; the findings
are then made by the pandas engine's code (outcome.findings). Scope and the engine's shortcuts read a
dataset's columns and first record, which is all the pandas-side Study holds of its records here,
beside its file's metadata (variables, labels, lengths, size) and, from one Spark job per dataset
(_profile), its number of records and, when a rule asks, each variable's number of empty values.
That is all the metadata rule types read (Dataset Metadata, Variable Metadata and Domain Presence
Checks, Variable Metadata Checks against Library Metadata, with the operations that read metadata
and the standard only): those run on the driver by the pandas engine's own code
(engine.evaluate_rule). A value check whose verdict on a value reads that value alone runs by the
pandas engine's code on each partition of the records (spark_value_checks.py).

Match Datasets are joined on Spark as the pandas engine joins them (validators/core/spark_joins.py
says which); a split domain's parts are read together, as Study.content reads them. Operations: those
reading metadata run on the driver by the pandas engine's code (DRIVER_OPERATIONS); ``distinct`` and
``record_count`` of a dataset's records (kept by a ``filter`` if the operation has one) are read by
Spark, a list becoming the literal list its conditions compare with (beyond LIST_LIMIT values, a
Spark frame of them that a containment condition joins on: spark_operations.DistinctValues) and a
value a column on every record; ``min_date``, ``max_date`` and ``record_count`` per group, and
``dy``, become a column of each record's value, and ``distinct`` per group a list (a Spark array)
on each record (spark_operations.py). An operation on the evaluated dataset's own domain under Match Datasets reads
the joined records, as the pandas engine reads its merged frame. A rule not expressible on Spark
yet is "not executed" with the reason, never passed: a value check reading other records than the
value's, a metadata rule with Match Datasets, a metadata rule's operation reading records or
``variable_max_size``, a Match Datasets spark_joins does not make, any other operation, an operation
reading another split dataset, an operator without an expression reading any record of the dataset
(no group variables), or a group's records on a joined frame.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd
from narwhals.dtypes import DType

from trialkit.validators.core import operations, spark_joins, spark_value_checks
from trialkit.validators.core.check import combine
from trialkit.validators.core.context import Condition, Context, MissingVariable, NotApplicable, NotExecutable, resolve_wildcard
from trialkit.validators.core.engine import RuleResult, evaluate_rule, require_checked_variables, run_rules
from trialkit.validators.core.expressions import Unported, is_empty, leaf
from trialkit.validators.core.library import Library
from trialkit.validators.core.operations import DomainNotFound
from trialkit.validators.core.operators import group_variables, record_wise
from trialkit.validators.core.outcome import CoreFinding, findings, targets
from trialkit.validators.core.regex_dialect import for_java
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.spark_joins import as_written, held_as, spark_condition
from trialkit.validators.core.spark_operations import (GROUPED, VALUE, DistinctValues, GroupTable, Membership, StudyDays,
                                                       group_table, study_days_of)
from trialkit.validators.core.spark_record_wise import RecordWise, names_in
from trialkit.validators.core.spark_value_checks import VALUE_CHECKS
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study, study_from_frames, transport_rounded
from trialkit.validators.inputs import DatasetFile
from trialkit.validators.spark_engine import NOT_ON_SPARK

# the operators a ``distinct`` list is compared with as a literal list (expressions_sets.py)
LIST_OPERATORS = ("is_contained_by", "is_not_contained_by", "is_contained_by_case_insensitive",
                  "is_not_contained_by_case_insensitive")


# rule types that read a dataset's metadata, not its records (validators/core/frames.py): their frames
# are built from the files' metadata and _profile's counts, by the pandas engine's code
LIBRARY_METADATA = "Variable Metadata Check against Library Metadata"
METADATA_RULE_TYPES = ("Dataset Metadata Check", "Variable Metadata Check", "Domain Presence Check", LIBRARY_METADATA)
# the operations that read metadata and the standard only (operations/metadata.py), never a record
METADATA_OPERATIONS = ("dataset_names", "extract_metadata", "variable_exists", "get_column_order_from_dataset",
                       "get_column_order_from_library", "get_model_column_order", "get_model_filtered_variables",
                       "required_variables", "expected_variables", "permissible_variables")
# the operations a Spark task may run beside its records (spark_value_checks.py): those that give
# the same result in every task (not dataset_names: a task's study holds its one dataset)
TASK_OPERATIONS = tuple(o for o in METADATA_OPERATIONS if o != "dataset_names")
# the operations run by the pandas engine's code on the driver (in a Record Data rule or a metadata
# rule type): they read the study's datasets' names, columns and first records and the standard, never the records
DRIVER_OPERATIONS = (*METADATA_OPERATIONS, "study_domains", "domain_label", "domain_is_custom",
                     "related_domain_is_custom", "variable_count")
# the operations that read a dataset's records, run by Spark (without group: one list, one count)
RECORD_OPERATIONS = ("distinct", "record_count")
# a longer distinct list (USUBJIDs of a large pool) is looked up by a join (DistinctValues), not
# written into the plan as a literal list
LIST_LIMIT = 10000
PART = "@part"          # which part of a split domain a record comes from (not a SAS name)


class SparkColumns:
    """A Spark frame's columns as expressions.Columns: no operation has run, so no lists."""

    def __init__(self, schema: dict[str, DType]) -> None:
        self.schema = schema
        self.keys: dict[str, nw.Expr] = {}
        self.record_wise = RecordWise()       # conditions without an expression, by the operator's code
        self.derived_columns: dict[str, GroupTable | StudyDays | Membership] = {}    # operations' per-record values
        self.identity: list[str] | None = None      # the columns naming a record (None: a joined frame)

    def key(self, name: str, expression: nw.Expr) -> str:
        """Recorded here; the dataset's Spark job adds the key columns before the flags."""
        self.keys[name] = expression
        return name

    def has(self, name) -> bool:
        return isinstance(name, str) and name in self.schema

    def constant(self, name: str, value: str | float) -> str:
        """A column ``name`` holding ``value`` on every record (an operation's result), added by the
        dataset's Spark job with the key columns."""
        dtype = nw.Boolean() if isinstance(value, bool) else nw.Int64() if isinstance(value, int) else \
            nw.Float64() if isinstance(value, float) else nw.String()
        self.schema[name] = dtype
        return self.key(name, nw.lit(value, dtype))

    def derived(self, name: str, values: GroupTable | StudyDays | Membership) -> str:
        """A column ``name`` holding each record's value of an operation, added by the dataset's Spark job."""
        self.schema[name] = values.dtype
        self.derived_columns[name] = values
        return name

    def mark(self) -> tuple[int, int]:
        """Where the job's columns stand before a rule adds its own (see :meth:`rollback`)."""
        return len(self.record_wise.conditions), len(self.derived_columns)

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget the columns a rule added since ``mark``: it turned out not to run."""
        self.record_wise.rollback(mark[0])
        for name in list(self.derived_columns)[mark[1]:]:
            del self.derived_columns[name]

    def added(self, frame: nw.LazyFrame, rounded: bool) -> nw.LazyFrame:
        """``frame`` with every column the rules' trees read beside the records': key columns and
        operations' constants and per-record values, record-wise flags (``rounded``: numbers of an XPT file)."""
        frame = frame.with_columns(**self.keys) if self.keys else frame
        for name, values in self.derived_columns.items():
            frame = values.onto(frame, name)
        return self.record_wise.added(frame, rounded, self.identity)

    def dtype(self, name: str) -> DType:
        if name not in self.schema:
            raise MissingVariable(name)
        return self.schema[name]

    def lists_possible(self) -> bool:
        return False

    def regex(self, pattern: str) -> str:
        """Spark's regex is Java's: the pattern rewritten to keep Python's verdicts."""
        return for_java(pattern)


def run_on_spark(rules: list[CoreRule], frames: dict[str, nw.LazyFrame], files: dict[str, DatasetFile], row: str,
                 standard: str, version: str, library: Library) -> list[RuleResult]:
    """Every rule of ``rules`` over the Spark ``frames`` (records numbered in column ``row``;
    ``files``: each dataset's file and metadata, for the metadata rules and XPT's rounding), with the
    statuses the pandas engine gives."""
    heads = {name: frame.head(1).collect().to_pandas().drop(columns=[row]) for name, frame in frames.items()}
    study = study_from_frames(heads, files, standard, version)
    if any(r.rule_type in (*METADATA_RULE_TYPES, *VALUE_CHECKS) for r in rules):
        _profile(study, frames, emptiness=any(r.rule_type == LIBRARY_METADATA for r in rules))
    paths = {name: file.path for name, file in files.items()}
    return run_rules(rules, study, library, evaluate=_Batched(rules, frames, paths, row))


def _profile(study: Study, frames: dict[str, nw.LazyFrame], emptiness: bool) -> None:
    """What the metadata rules read of the records, one Spark job per dataset: its number of records,
    the length of a Char variable whose file does not declare it (a Parquet file from elsewhere;
    the pandas engine measures the values: the longest in UTF-8 bytes, at least 1) and, with
    ``emptiness`` (a rule against library metadata asks whether a variable is partly or wholly
    empty), each variable's number of empty values as context.empty counts them."""
    from pyspark.sql import functions as F

    for dataset in study.datasets:
        frame = frames[dataset.name]
        schema = frame.collect_schema()
        measured = [v.name for v in dataset.variables if v.type == "Char" and v.length is None and v.name in schema]
        counted = [name for name in schema if name in dataset.frame.columns] if emptiness else []
        # emptiness as the expressions define it, counted natively in the same job as the lengths
        read = [*(nw.col(name) for name in measured),
                *(is_empty(nw.col(name), schema[name]).alias(f"@empty{i}") for i, name in enumerate(counted))]
        native = nw.to_native(frame.select(*read) if read else frame)
        counts = native.agg(F.count(F.lit(1)).alias("@records"),
                            *(F.max(F.octet_length(F.col(f"`{name}`"))).alias(name) for name in measured),
                            *(F.count_if(F.col(f"`@empty{i}`")).alias(f"@empty{i}") for i in range(len(counted)))).first()
        dataset.records = int(counts["@records"])
        dataset.variables = tuple(replace(v, length=max(int(counts[v.name] or 0), 1)) if v.name in measured else v
                                  for v in dataset.variables)
        if emptiness:
            dataset.empties = {name: int(counts[f"@empty{i}"]) for i, name in enumerate(counted)}


class _Batched:
    """The engine's per-rule, per-dataset evaluation, answered from one Spark job per dataset and
    joined frame: on the first rule asking about a dataset, every rule's tree on the same frame (the
    dataset's, or the same Match Datasets joined onto it, spark_joins.signature) becomes a flag
    column and one filter brings back the records any rule flags (a job per rule and dataset cost
    ten times more on the demo). A rule that cannot run there keeps its reason, raised when the
    engine asks."""

    def __init__(self, rules: list[CoreRule], frames: dict[str, nw.LazyFrame], paths: dict[str, Path], row: str):
        self.rules, self.frames, self.paths, self.row = rules, frames, paths, row
        self.signatures = {r.core_id: _signature(r) for r in rules}
        self.off_tasks = {r.core_id: spark_value_checks.unported(r, TASK_OPERATIONS) for r in rules
                          if r.rule_type in VALUE_CHECKS}      # why a value check cannot run in tasks ('' when it can)
        self.outcomes: dict[tuple, dict[str, list[CoreFinding] | Exception]] = {}
        self.read: dict[tuple, list | int | GroupTable | DistinctValues] = {}    # by operation, dataset and call

    def __call__(self, rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> list[CoreFinding]:
        if rule.rule_type in METADATA_RULE_TYPES:
            why = _unported(rule, dataset, study)
            if why:
                raise NotExecutable(f"{NOT_ON_SPARK}: {why}")
            # the file's metadata and the profile's counts are all these rules read: the pandas engine's code
            return evaluate_rule(rule, dataset, study, library)
        # a split domain's parts evaluate the same records (all parts), whichever part the engine asks about
        parts = tuple(d.name for d in study.siblings(dataset))
        if rule.rule_type in VALUE_CHECKS:
            if self.off_tasks[rule.core_id]:
                raise NotExecutable(f"{NOT_ON_SPARK}: {self.off_tasks[rule.core_id]}")
            key = (parts, VALUE_CHECKS)
            if key not in self.outcomes:
                self.outcomes[key] = self._value_checks(dataset, study, library)
        else:
            key = (parts, self.signatures[rule.core_id])
            if key not in self.outcomes:
                rules = [r for r in self.rules if self.signatures[r.core_id] == key[1]
                         and r.rule_type not in (*METADATA_RULE_TYPES, *VALUE_CHECKS)]
                self.outcomes[key] = self._evaluate_all(rules, dataset, study, library)
        outcome = self.outcomes[key][rule.core_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _value_checks(self, dataset: Dataset, study: Study, library: Library) -> dict[str, list[CoreFinding] | Exception]:
        """Every value check Spark runs, on ``dataset``, in one Spark job (spark_value_checks.py)."""
        rules = [r for r in self.rules if r.rule_type in VALUE_CHECKS and not self.off_tasks[r.core_id]]
        transport = self.paths[dataset.name].suffix.lower() == ".xpt"
        try:
            return spark_value_checks.value_checks(rules, dataset, study, library, self.frames, self.row, transport)
        except _task_errors() as exc:
            failed = _job_failed(dataset, exc)
            return {r.core_id: failed for r in rules}

    def _evaluate_all(self, rules: list[CoreRule], dataset: Dataset, study: Study, library: Library
                      ) -> dict[str, list[CoreFinding] | Exception]:
        outcomes: dict[str, list[CoreFinding] | Exception] = {}
        runnable = []
        for rule in rules:
            why = _unported(rule, dataset, study)
            if why:
                outcomes[rule.core_id] = NotExecutable(f"{NOT_ON_SPARK}: {why}")
            else:
                runnable.append(rule)
        try:
            frame, order, inner = self._frame(runnable, dataset, study, library)
        except (NotApplicable, NotExecutable) as exc:
            return {**outcomes, **{rule.core_id: exc for rule in runnable}}
        row = self.row
        columns = SparkColumns(dict(frame.collect_schema()))
        split = len(study.siblings(dataset)) > 1
        lead = [PART] if split else []          # a split domain's records: part by part, each in file order
        columns.identity = None if order else [*lead, row]
        flags, keep, contexts = {}, [*lead, row, *order, *([SOURCE] if split else [])], {}
        empty = all(d.frame.empty for d in study.siblings(dataset))
        for rule in runnable:
            mark = columns.mark()
            try:
                results = self._operations(rule, dataset, study, library, frame, lead, order)
                flags[rule.core_id], wanted = _tree(rule, dataset, empty, columns, results)
            except (NotApplicable, NotExecutable) as exc:
                columns.rollback(mark)          # no column for a rule that does not run
                outcomes[rule.core_id] = exc
                continue
            contexts[rule.core_id] = ctx = Context(dataset.frame, dataset, study, library, rule, wildcard=dataset.wildcard)
            keep += [*wanted, *targets(ctx)]
        held = {c: held_as(c, columns.schema) for c in keep}         # the collected columns, by their names
        held = {c: h for c, h in held.items() if columns.has(h)}
        names = {rule_id: f"@flag{i}" for i, rule_id in enumerate(flags)}
        rows = pd.DataFrame()
        transport = self.paths[dataset.name].suffix.lower() == ".xpt"
        if flags:
            # ~row is null: a tree of literals only (exists) is no record-wise predicate for filter
            frame = columns.added(frame, rounded=transport)
            try:
                rows = (frame.with_columns(**{names[r]: e for r, e in flags.items()})
                        .filter(~nw.col(row).is_null() & nw.any_horizontal(*[nw.col(n) for n in names.values()],
                                                                           ignore_nulls=True))
                        .select(*dict.fromkeys(held.values()), *names.values()).collect().to_pandas())
            except _task_errors() as exc:
                failed = _job_failed(dataset, exc)
                return {**outcomes, **{r: failed for r in names}}
            rows = (rows.sort_values([*lead, row, *order], kind="stable").drop(columns=[*lead, *order])
                    .rename(columns={**{h: c for c, h in held.items()}, row: ROW})
                    .reset_index(drop=True))
            if transport:
                rows = transport_rounded(rows)
            if not split:
                rows[SOURCE] = dataset.name
            if inner and rows.empty and frame.select(row).head(1).collect().is_empty():
                return {**outcomes, **{r: NotApplicable(f"{dataset.name} has no records to check") for r in names}}
        for rule_id, name in names.items():
            ctx = contexts[rule_id]
            ctx.frame = rows[rows[name].eq(True).to_numpy()].drop(columns=list(names.values())).reset_index(drop=True)
            outcomes[rule_id] = findings(ctx, pd.Series(True, index=ctx.frame.index))
        return outcomes

    def _operations(self, rule: CoreRule, dataset: Dataset, study: Study, library: Library, joined: nw.LazyFrame,
                    lead: list[str], order: list[str]) -> dict[str, Any]:
        """Each operation's result by its id: those that read metadata by the pandas engine's code on
        the driver (DRIVER_OPERATIONS); ``distinct`` (a list) and ``record_count`` (a number) of a
        dataset's records, as _unported allows them, from that dataset's Spark frame, once per
        dataset, call and filter; a grouped operation as its table of groups (spark_operations). An
        operation reading the evaluated dataset's own domain reads the evaluated frame, ``joined``
        (a split dataset's parts, with the Match Datasets joined; its records in the order of the
        part and record-number columns ``lead``, row and ``order``), as the pandas engine reads its
        evaluation frame then (operations.holds_records_of)."""
        results: dict[str, Any] = {}
        for params in rule.operations:
            if params["operator"] in DRIVER_OPERATIONS:
                ctx = Context(dataset.frame, dataset, study, library, rule, wildcard=dataset.wildcard)
                results[str(params["id"])] = operations.evaluate(params, ctx)[1]
                continue
            if params["operator"] == "dy":       # the evaluated records' dates against DM's RFSTDTC
                dm = study.by_name("DM")
                if dm is None:
                    raise DomainNotFound(f"operation {params['id']} (dy) needs DM, which the study does not have")
                if len(study.siblings(dm)) > 1:
                    raise NotExecutable(f"{NOT_ON_SPARK}: operation {params['id']} reads split dataset DM")
                target = resolve_wildcard(params.get("name"), dataset.wildcard)
                results[str(params["id"])] = study_days_of(self.frames[dm.name], target, self.row)
                continue
            domain = params.get("domain") or dataset.unsplit_name        # CORE: without a domain, the dataset's own
            if operations.holds_records_of(dataset.frame, domain):        # the evaluated records themselves
                frame, read, sort = joined, (dataset.unsplit_name, _signature(rule)), [*lead, self.row, *order]
            else:
                source = study.by_name(domain)
                if source is None:
                    raise DomainNotFound(f"operation {params['id']} reads domain {domain}, which the study does not have")
                if len(study.siblings(source)) > 1:
                    raise NotExecutable(f"{NOT_ON_SPARK}: operation {params['id']} reads split dataset {domain}")
                frame, read, sort = self.frames[source.name], (source.name,), [self.row]
            prefix = params.get("domain") or dataset.wildcard       # what -- in the operation's names stands for
            if params.get("group"):         # one plan per call: rules making the same call share its table
                call = repr(sorted((k, v) for k, v in params.items() if k != "id"))
                key = ("group", *read, dataset.wildcard, call)
                if key not in self.read:
                    self.read[key] = group_table(frame, params, prefix, dataset.wildcard, rule, sort)
                results[str(params["id"])] = self.read[key]
                continue
            counted = params["operator"] == "record_count"
            target = None if counted else resolve_wildcard(params.get("name"), prefix)
            kept = params.get("filter") or {}
            key = (params["operator"], *read, target, tuple(sorted(kept.items())))
            if key not in self.read:
                schema = frame.collect_schema()
                for name in (*([] if counted else [target]), *kept):
                    if name not in schema:
                        raise MissingVariable(name)
                if kept:
                    frame = frame.filter(*(_passes(nw.col(name), schema[name], value) for name, value in kept.items()))
                self.read[key] = int(frame.select(nw.len()).collect().item()) if counted else \
                    _distinct(frame, target, f"{params['id']} ({target} of {read[0]})")
            results[str(params["id"])] = self.read[key]
        return results

    def _frame(self, rules: list[CoreRule], dataset: Dataset, study: Study, library: Library
               ) -> tuple[nw.LazyFrame, list[str], bool]:
        """The frame the rules evaluate: the dataset's (a split dataset's parts concatenated), with
        their Match Datasets joined (spark_joins.joined: the right sides' record-number columns,
        whether a join was inner)."""
        siblings = study.siblings(dataset)
        if len(siblings) > 1:       # the parts concatenated, as Study.content does for the pandas engine
            types: dict[str, set] = {}
            for d in siblings:
                for name, kind in self.frames[d.name].collect_schema().items():
                    types.setdefault(name, set()).add(str(kind))
            mixed = sorted(name for name, kinds in types.items() if len(kinds) > 1)
            if mixed:           # Spark's union would cast one to the other, and fail on the first text
                raise NotExecutable(f"{NOT_ON_SPARK}: the parts of split dataset {dataset.unsplit_name} hold "
                                    f"{mixed[0]} as different types")
            parts = [self.frames[d.name].with_columns(nw.lit(d.name).alias(SOURCE), nw.lit(i).alias(PART))
                     for i, d in enumerate(siblings)]
            records = nw.concat(parts, how="diagonal")
        else:
            records = self.frames[dataset.name]
        if not rules or not rules[0].match_datasets:
            return records, [], False
        ctx = Context(dataset.frame, dataset, study, library, rules[0], wildcard=dataset.wildcard)
        return spark_joins.joined(ctx, {**self.frames, dataset.name: records}, self.paths, self.row)


def _distinct(frame: nw.LazyFrame, target: str, what: str) -> list | DistinctValues:
    """The target's distinct non-empty values (null and NaN left out), sorted; beyond LIST_LIMIT
    of them, a Spark frame of them (``what``: the operation, for messages). Unrounded, as Spark
    compares the records' own values (the pandas engine rounds both)."""
    dtype = frame.collect_schema()[target]
    values = frame.select(nw.col(target).alias(VALUE)).drop_nulls()
    if dtype.is_float():
        values = values.filter(~nw.col(VALUE).is_nan())
    values = values.unique()
    head = values.head(LIST_LIMIT + 1).collect().to_pandas()[VALUE]
    return sorted(head) if len(head) <= LIST_LIMIT else DistinctValues(values, dtype, what)


def _task_errors() -> tuple[type[Exception], ...]:
    """The errors of a Spark job whose task failed (the pandas engine's or an operator's code raising
    there): they fail the rules the job evaluates, not the run (_job_failed); a JVM gone
    (Py4JNetworkError) fails the run (spark_session.driver_alive). Imported when an error is met,
    as pyspark is an extra."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    return PySparkException, Py4JJavaError


def _job_failed(dataset: Dataset, exc: Exception) -> NotExecutable:
    """What each rule of a failed Spark job on ``dataset`` gets (_task_errors)."""
    return NotExecutable(f"{NOT_ON_SPARK}: the Spark job evaluating it on {dataset.name} failed: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    """The line of a Spark error that says what failed (a Python worker's exception, else the first)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    python = [line for line in lines if ":" in line and line.split(":")[0].lower().endswith(("error", "exception", "variable"))]
    return (python[-1] if python else lines[0] if lines else type(exc).__name__)[:300]


def _passes(column: nw.Expr, dtype: DType, value) -> nw.Expr:
    """An operation's ``filter`` on one variable as operations/values._kept reads it: equal to the value
    (text to text, number to number: a text never equals a number), or, for a value ending in ``&``,
    text starting with the rest; a null never passes."""
    never = column.is_null() & nw.lit(False)       # False on every record (narwhals filters by no bare literal)
    if isinstance(value, str) and value.endswith("&"):
        passes = column.cast(nw.String).str.starts_with(value[:-1]) if not dtype.is_numeric() else never
    elif isinstance(value, str) != (not dtype.is_numeric()):
        passes = never
    else:
        passes = column == value
    return passes.fill_null(False)


def _signature(rule: CoreRule) -> tuple:
    """The frame a rule evaluates, besides the dataset: () for the dataset's own. A ``distinct``
    list per group (a Spark array joined onto every record) also makes a frame of its own: in one
    job with the dataset's other rules (the CDISC pilot's QS: 284 rules, 120,000 records, the SV
    visits per subject) the plan exhausted the driver's 2 GB heap before a record was counted;
    in a job of its own (a few more seconds) it runs."""
    lists = tuple(repr(sorted((k, str(v)) for k, v in p.items() if k != "id")) for p in rule.operations
                  if p.get("operator") == "distinct" and p.get("group"))
    return (spark_joins.signature(rule) if rule.match_datasets else ()) + lists


def _tree(rule: CoreRule, dataset: Dataset, empty: bool, columns: SparkColumns, results: dict[str, Any]
          ) -> tuple[nw.Expr, list[str]]:
    """The rule's Check tree on ``dataset`` as one expression, and the record keys findings show;
    NotApplicable / NotExecutable as the pandas engine would raise them, or as Spark cannot run it.
    ``results``: the operations' results by id. A list is a literal list where a condition compares
    with it (the pandas engine puts the same list on every record, and looks a value up in it as in a
    literal list: an empty value never in it, since distinct drops empty values), and DistinctValues
    (too many values for a literal list) the same lookup by a join; a text, number or
    truth value is a column holding it on every record, as the pandas engine adds it, and a group
    table or study days a column holding each record's value."""
    require_checked_variables(rule, dataset)
    if empty:
        raise NotApplicable(f"{dataset.name} has no records to check")
    lists = {k: v for k, v in results.items() if isinstance(v, (list, DistinctValues))}
    # the other results as columns of the job's frame, by id: the column's name
    as_columns = {k: columns.constant(f"{k}@{rule.core_id}", v) for k, v in results.items()
                  if isinstance(v, (str, int, float, bool))}
    as_columns |= {k: columns.derived(f"{k}@{rule.core_id}", v) for k, v in results.items()
                   if isinstance(v, (GroupTable, StudyDays))}

    def on_leaf(cond):
        value = cond.value if isinstance(cond.value, str) and not cond.params.get("value_is_literal") else None
        if cond.target in as_columns or value in as_columns:
            cond = replace(cond, target=as_columns.get(cond.target, cond.target), value=as_columns.get(value, cond.value))
        elif rule.operations and (cond.target in lists or isinstance(cond.value, str) and cond.value.startswith("$")):
            if cond.target in lists or cond.value not in lists or cond.operator not in LIST_OPERATORS:
                raise NotExecutable(f"{NOT_ON_SPARK}: operator {cond.operator} with {cond.target} and "
                                    f"{cond.value} (an operation's result) has no expression yet")
            cond = replace(cond, value=lists[cond.value], params={**cond.params, "value_is_literal": True})
        held = spark_condition(cond, columns.schema)
        try:
            return leaf(held, columns)
        except Unported as exc:
            why = exc
        if isinstance(held.value, DistinctValues):        # the operator's code reads lists, not Spark frames
            raise NotExecutable(f"{NOT_ON_SPARK}: {as_written(str(why), cond)}") from why
        if record_wise(cond.operator):
            return columns.record_wise.flag(held, rule, dataset.wildcard, columns.schema)
        groups = _groups(held, columns, dataset.wildcard)
        if groups is None:
            raise NotExecutable(f"{NOT_ON_SPARK}: {as_written(str(why), cond)}") from why
        return columns.record_wise.flag(held, rule, dataset.wildcard, columns.schema, groups)
    return (combine(rule.check, dataset.wildcard, on_leaf, nw.lit(True), nw.lit(False)),
            ["USUBJID", f"{dataset.domain or ''}SEQ"])


def _groups(cond: Condition, columns: SparkColumns, wildcard: str) -> list[str] | None:
    """The variables to shuffle the records by so that an across-records operator's code sees whole
    groups (operators.group_variables), None when there are none (the verdict may read any record),
    they name an operation's result, or the frame is a join (its records have no one identity); a
    variable the operator reads missing raises MissingVariable, as its code does on pandas
    (``is_inconsistent_across_dataset`` groups by those of its variables the dataset has)."""
    variables = group_variables(cond)
    if not variables or columns.identity is None:
        return None
    names = [resolve_wildcard(v, wildcard) for v in variables]
    if any(not isinstance(n, str) or n.startswith("$") for n in names):
        return None
    present = [n for n in names if columns.has(n)]
    read = [] if cond.operator == "is_inconsistent_across_dataset" else \
        [*names, *(n for v in (cond.value, cond.params.get("ordering")) for n in names_in(v, wildcard))]
    missing = [n for n in read if not columns.has(n)] or ([] if present else names)
    if missing:
        raise MissingVariable(missing[0])
    return present


def _unported(rule: CoreRule, dataset: Dataset, study: Study) -> str:
    """Why the rule cannot run on Spark yet ('' when it can)."""
    if rule.rule_type in METADATA_RULE_TYPES:
        unported = [p.get("operator") for p in rule.operations if p.get("operator") not in DRIVER_OPERATIONS]
        if rule.match_datasets or unported or "variable_max_size" in str(rule.data):
            what = "Match Datasets" if rule.match_datasets else \
                f"operation {unported[0]}" if unported else "variable_max_size (a pass over the values)"
            return f"{what} in a {rule.rule_type} is not on spark yet"
        return ""
    if rule.rule_type != "Record Data":
        return f"rule type {rule.rule_type} is not on spark yet"
    why = spark_joins.unported(rule)
    if why:
        return why
    for params in rule.operations:
        if params.get("operator") in DRIVER_OPERATIONS or (params.get("operator") == "dy"
                                                           and set(params) <= {"id", "operator", "name"}):
            continue
        name, grouped = params.get("operator"), bool(params.get("group"))
        allowed = {"id", "operator", "domain", "name", "filter", *(("group", "group_aliases") if grouped else ())}
        domain = params.get("domain") or ""
        if not ((name in GROUPED if grouped else name in RECORD_OPERATIONS) and not domain.endswith("--") and set(params) <= allowed
                and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in (params.get("filter") or {}).values())
                and domain not in ("RELREC", "RELSUB", "CO") and not domain.startswith(("SUPP", "SQ"))):
            return f"operation {name}{' by group' if grouped else ''} is not on spark yet"
    return ""
