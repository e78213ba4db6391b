"""Operations on the records' values: distinct values, counts of records, of variables and of
values across the study, minimum, maximum and mean (CORE Operations.md, "Data Aggregation &
Statistical Operations" and ``distinct``).

Without ``group`` an operation gives one value (a number, a sorted list) that every record sees.
With ``group`` it gives one value per group of the records it reads, matched back onto the
evaluation records by the group variables (renamed by ``group_aliases`` when given; a group
variable holding a list of names, such as ``$TIMING_VARIABLES``, stands for those names); a record
whose group the records read do not have gets an empty value. ``filter`` keeps the records whose
variables equal the given values (a value ending in ``&`` keeps those starting with the rest).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import MissingVariable, resolve_wildcard
from trialkit.validators.core.operations import Operation, operation
from trialkit.validators.core.operators.groups import names
from trialkit.validators.core.operators.sets import rowwise
from trialkit.vectorize import per_unique


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise MissingVariable(name)
    return frame[name]


def _kept(op: Operation) -> pd.Series:
    """Which records the operation reads pass its ``filter`` (all of them without one)."""
    keep = pd.Series(True, index=op.source.index)
    for name, value in (op.param("filter") or {}).items():
        values = _column(op.source, name)
        if isinstance(value, str) and value.endswith("&"):
            keep &= values.astype(object).str.startswith(value[:-1], na=False).astype(bool)
        else:
            keep &= values.astype(object).eq(value)
    return keep


def _keys(op: Operation) -> list[str]:
    keys = names(op.ctx, op.group)
    for name in keys:
        _column(op.source, name)
    return keys


def onto_records(op: Operation, table: pd.DataFrame, keys: list[str], value: str) -> pd.Series:
    """The table's ``value`` for each evaluation record, matched on the group ``keys`` (their
    ``group_aliases`` on the records' side); None where no group matches."""
    aliases = list(op.param("group_aliases") or [])
    frame_keys = [aliases[i] if i < len(aliases) else k for i, k in enumerate(keys)]
    for name in frame_keys:
        _column(op.ctx.frame, name)
    right = table[keys + [value]].set_axis(frame_keys + ["@value"], axis=1)
    left = op.ctx.frame[frame_keys].astype(object)
    merged = left.merge(right.astype({k: object for k in frame_keys}), on=frame_keys, how="left")
    result = merged["@value"].set_axis(op.ctx.frame.index).astype(object)
    return result.where(result.notna(), None)


# -- distinct -------------------------------------------------------------------------------------

@operation("distinct")
def distinct(op: Operation) -> Any:
    """The target's distinct non-empty values, sorted: one list for the records read, or one per
    group. ``value_is_reference``: the target names variables, kept when the dataset its record's
    RDOMAIN (``referenced_domain_variable``) names has such a variable."""
    keys = names(op.ctx, op.group) if op.group else []
    found = op.per_source(lambda: _distinct(op), keys)
    return onto_records(op, found, keys, "@value") if op.group else found


def _distinct(op: Operation) -> Any:
    """The sorted list of distinct values, or with a ``group`` the table of each group (the values of
    its ``keys``) and its list (``@value``)."""
    source = op.source[_kept(op)]
    values = _referenced(op, source) if op.param("value_is_reference") else _column(source, op.target)
    if not op.group:
        return sorted(values.dropna().unique())
    keys = _keys(op)
    groups = source[keys].dropna()
    group = groups.groupby(keys, sort=False).ngroup()
    table = groups.drop_duplicates().reset_index(drop=True)        # one row per group, numbered in order
    found = pd.DataFrame({"group": group, "value": values[group.index]}).dropna().drop_duplicates()
    found = found.sort_values(["group", "value"], kind="stable")
    # the sorted values cut where the group number changes: one sorted list per group that has values
    chunks = np.split(found["value"].to_numpy(dtype=object), np.flatnonzero(np.diff(found["group"].to_numpy())) + 1)
    lists = dict(zip(found["group"].unique(), (list(chunk) for chunk in chunks)))
    table["@value"] = pd.Series([lists.get(i, []) for i in range(len(table))], dtype=object)
    return table


def _referenced(op: Operation, source: pd.DataFrame) -> pd.Series:
    """The target's value where the dataset named by the record's referenced domain has that variable."""
    domains = _column(source, op.param("referenced_domain_variable", "RDOMAIN")).astype(object)
    variables = _column(source, op.target).astype(object)

    def known(domain: Any, variable: Any) -> bool:
        dataset = op.ctx.study.by_name(domain) if isinstance(domain, str) and domain else None
        return dataset is not None and variable in dataset.frame.columns
    return variables.where(rowwise(known, domains, variables))


# -- counts ---------------------------------------------------------------------------------------

@operation("record_count")
def record_count(op: Operation) -> Any:
    """How many records pass the filter: in all, or per group of the group variables (empty values
    forming their own group; with a filter, a record with an empty group value is not counted).
    ``regex`` groups text values by their first match (2022-01-14 for 2022-01-14T08:00)."""
    keep = _kept(op)
    if not op.group:
        return int(keep.sum())
    keys = _keys(op)
    grouping = op.source[keys].astype(object)
    if op.param("regex"):
        grouping = grouping.apply(lambda column: _matched(column, op.param("regex")))
    if op.param("filter"):
        keep &= grouping.notna().all(axis=1)
    counts = keep.groupby([grouping[k] for k in keys], sort=False, dropna=False).transform("sum")
    table = op.source[keys].assign(**{"@count": counts.astype(int)}).drop_duplicates(subset=keys)
    return onto_records(op, table, keys, "@count")


def _matched(column: pd.Series, regex: str) -> pd.Series:
    """A text column whose first value the pattern matches, each text cut to its match."""
    present = column.dropna()
    sample = present.iat[0] if len(present) else None
    if not (isinstance(sample, str) and re.match(regex, sample)):
        return column

    def cut(value: Any) -> Any:
        match = re.match(regex, value) if isinstance(value, str) and value else None
        return match.group(0) if match else value
    return per_unique(column, lambda u: u.map(cut))


@operation("variable_count")
def variable_count(op: Operation) -> int:
    """In how many domains of the study the variable exists (``--`` read as each domain's prefix)."""
    datasets = {d.unsplit_name: d for d in op.ctx.study.datasets}.values()
    name = op.param("name")
    return sum(resolve_wildcard(name, d.wildcard) in d.frame.columns for d in datasets)


@operation("variable_value_count")
def variable_value_count(op: Operation) -> dict:
    """For each value of the variable, in how many domains of the study it occurs."""
    datasets = {d.domain: d for d in op.ctx.study.datasets}.values()
    counts: Counter = Counter()
    for dataset in datasets:
        variable = resolve_wildcard(op.param("name"), dataset.wildcard)
        records = op.ctx.study.content(dataset)
        if variable in records.columns:
            counts.update(records[variable].unique())
    return dict(counts)


# -- minimum, maximum, mean -----------------------------------------------------------------------

def _aggregate(op: Operation, how: str) -> Any:
    values = _column(op.source, op.target)
    if not op.group:
        return getattr(values, how)()
    keys = _keys(op)
    table = values.groupby([op.source[k] for k in keys]).agg(how).rename("@value").reset_index()
    return onto_records(op, table, keys, "@value")


@operation("min")
def minimum(op: Operation) -> Any:
    """The target's smallest value: over the records read, or per group."""
    return _aggregate(op, "min")


@operation("max")
def maximum(op: Operation) -> Any:
    """The target's largest value: over the records read, or per group."""
    return _aggregate(op, "max")


@operation("mean")
def mean(op: Operation) -> Any:
    """The target's mean: over the records read, or per group."""
    return _aggregate(op, "mean")
