"""Value checks on Spark (Rule Types "Value Check with Variable Metadata" and "... with Dataset
Metadata"): one row per variable and value of a dataset, beside the variable's or the dataset's
metadata, as validators/core/frames.py builds them.

A value check whose verdict on a value reads that value alone (frames.record_local: no operator
across records, no operation over records, no Match Datasets) gives each value the same verdict on
any slice of the records. So each Spark partition of a dataset's records is checked by the pandas
engine's own code (engine.flag: the frame its rule type builds, the operations, the check,
frames.spread) as a dataset of its own that carries the evaluated dataset's metadata: its name,
label, file, variables (the first part's columns, as pandas melts a split domain) and its number
of records over every part, which the metadata profile counted. The flagged rows come back pickled
(a value column mixes text and numbers, which no Arrow column holds), each with its record's number
in its file and its part instead of its place in the partition, and are put in the pandas engine's
order: by record number, then part, then variable. Findings are then made on the driver as for any
rule (outcome.findings), so Sensitivity "Dataset" keeps the first flagged value of the whole dataset.

Operations: those that give the same result in every task (on_spark.TASK_OPERATIONS: metadata and
the standard only).
"""

from __future__ import annotations

import pickle
from dataclasses import replace

import narwhals as nw
import pandas as pd

from trialkit.validators.core import frames, operations
from trialkit.validators.core.context import Context, NotApplicable, NotExecutable
from trialkit.validators.core.engine import flag
from trialkit.validators.core.library import Library
from trialkit.validators.core.operators import known
from trialkit.validators.core.outcome import CoreFinding, findings
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.spark_record_wise import in_file_order
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study, transport_rounded

VALUE_CHECKS = ("Value Check with Variable Metadata", "Value Check with Dataset Metadata")
PART, BLOB = "@part", "blob"


def unported(rule: CoreRule, task_operations: tuple[str, ...]) -> str:
    """Why the value check cannot run on Spark yet ('' when it can); ``task_operations``: those a
    task may run."""
    if not frames.record_local(rule):
        return f"a {rule.rule_type} whose verdict reads other records is not on spark yet"
    other = [p.get("operator") for p in rule.operations if p.get("operator") not in task_operations]
    if other:
        return f"operation {other[0]} in a {rule.rule_type} is not on spark yet"
    if "variable_max_size" in str(rule.data):
        return f"variable_max_size (a pass over the values) in a {rule.rule_type} is not on spark yet"
    return ""


def value_checks(rules: list[CoreRule], dataset: Dataset, study: Study, library: Library,
                 spark_frames: dict[str, nw.LazyFrame], row: str, transport: bool
                 ) -> dict[str, list[CoreFinding] | Exception]:
    """The findings (or why not: NotApplicable, NotExecutable) of each value check of ``rules`` on
    ``dataset`` (every part of a split domain), in one Spark job: each task checks its records with
    every rule, sharing the values it melts. Records are read from ``spark_frames`` (numbered in
    column ``row``; ``transport``: XPT numbers, rounded as the pandas engine reads them)."""
    parts = study.siblings(dataset)
    total = sum(d.record_count for d in parts)
    if total == 0:
        return {r.core_id: NotApplicable(f"{dataset.name} has no records to check") for r in rules}
    blobs = None
    for i, part in enumerate(parts):
        native = nw.to_native(spark_frames[part.name])
        task = _task(rules, dataset, library, study, row, i, part.name, total, transport)
        out = native.mapInPandas(task, f"{BLOB} binary")
        blobs = out if blobs is None else blobs.unionAll(out)
    found: dict[str, list] = {r.core_id: [] for r in rules}
    for blob in blobs.toPandas()[BLOB]:
        for rule_id, rows in pickle.loads(blob).items():
            found[rule_id].append(rows)
    outcomes: dict[str, list[CoreFinding] | Exception] = {}
    for rule in rules:
        failed = next((f for f in found[rule.core_id] if isinstance(f, Exception)), None)
        if failed is not None or not found[rule.core_id]:
            outcomes[rule.core_id] = failed or []
            continue
        # a record's values are in one partition, in variable order there: sorting by record and part keeps that
        rows = pd.concat(found[rule.core_id], ignore_index=True).sort_values([ROW, PART], kind="stable")
        rows = rows.drop(columns=[PART]).reset_index(drop=True)
        ctx = Context(rows, dataset, study, library, rule, wildcard=dataset.wildcard)
        outcomes[rule.core_id] = findings(ctx, pd.Series(True, index=rows.index))
    return outcomes


def _task(rules: list[CoreRule], dataset: Dataset, library: Library, study: Study, row: str, part: int, name: str,
          total: int, transport: bool):
    """A Spark task's work on one partition of part ``name``: its records as a dataset with the
    evaluated dataset's metadata, checked by the pandas engine with each rule; one pickled dict per
    partition of each rule's flagged rows (or the NotApplicable / NotExecutable the check raised)."""
    standard, version, columns = study.standard, study.version, list(dataset.frame.columns)

    def run(batches):
        known()                     # a Python worker registers the operators and operations on first use
        operations.known()
        records = in_file_order(batches, [row])
        if records is None:
            return
        numbers = records[row].to_numpy()
        records = records.drop(columns=[row]).reindex(columns=columns)
        records = transport_rounded(records) if transport else records
        alone = replace(dataset, frame=records, records=total)
        alone_study = Study([alone], standard, version)
        out: dict[str, pd.DataFrame | Exception] = {}
        for rule in rules:
            try:
                ctx, flagged = flag(rule, alone, alone_study, library)
            except (NotApplicable, NotExecutable) as exc:
                out[rule.core_id] = exc
                continue
            rows = ctx.frame[flagged.to_numpy(dtype=bool)].copy()
            if not rows.empty:
                rows[ROW] = numbers[rows[ROW].to_numpy(dtype="int64") - 1]
                rows["row_number"], rows[SOURCE], rows[PART] = rows[ROW], name, part
                out[rule.core_id] = rows
        if out:
            yield pd.DataFrame({BLOB: [pickle.dumps(out)]})
    return run
