"""Operators over groups of records: uniqueness of sets and relationships, consistency across a
dataset, presence on several rows, order and next records (CORE Operator.md, "Data Uniqueness &
Integrity", "Data Consistency", "Sequential & Ordering Relationships").

Every operator here groups whole columns (pandas groupby, sort, shift), never record by record.
Where CORE treats empty values alike (``None`` and NaN fill the same group) so does trialkit.

``is_unique_set`` (without ``regex``), ``is_unique_relationship``, ``present_on_multiple_rows_within``
and their complements have narwhals window expressions (expressions_groups.py) that both engines
evaluate; the code here runs only ``regex`` reductions and object columns for them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import Condition, Context, MissingVariable, empty
from trialkit.validators.core.iso8601 import read_dates
from trialkit.validators.core.operators import complement, operator
from trialkit.validators.core.operators.sets import expanded, rowwise
from trialkit.vectorize import per_unique

NULL_KEY = "_NaN_"     # what CORE fills empty values with before grouping


def names(ctx: Context, values: Any) -> list[str]:
    """Column names from a name or a list of names (a column of lists standing for the names in
    its first record), in order, without repeats."""
    return list(dict.fromkeys(v for v in expanded(ctx, values) if isinstance(v, str)))


def _listed(values: Any) -> list:
    """A name or list of names as a list (empty when there is none): an operator's group variables."""
    return [values] if isinstance(values, str) else list(values) if isinstance(values, list) else []


def _present(ctx: Context, wanted: list[str], what: str) -> list[str]:
    """The wanted columns the frame has (CORE leaves the others out); none at all is a missing variable."""
    have = [n for n in wanted if ctx.has(n)]
    if not have:
        raise MissingVariable(", ".join(wanted) or what)
    return have


def _null(frame: pd.DataFrame) -> pd.DataFrame:
    """CORE's empty value for keys: None, NaN or ''."""
    return frame.isna() | frame.astype(object).eq("")


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), NULL_KEY)


def _first_match(regex: str, value: Any) -> Any:
    """The first match of the pattern in a text (its first group when it has groups), else None."""
    found = re.findall(regex, value)
    return found[0] if found else None


# -- uniqueness -----------------------------------------------------------------------------------

@operator("is_unique_set", across_records=True)
def is_unique_set(ctx: Context, cond: Condition) -> pd.Series:
    """No other record has the same values of the target and the comparator variables together
    (empty values alike). ``regex`` first reduces the text columns whose first value it matches
    to their first match (comparing dates by their date part, say)."""
    columns = _present(ctx, names(ctx, [cond.target, cond.value]), "the set's variables")
    frame = ctx.frame[columns].copy()
    regex = cond.params.get("regex")
    if regex:
        for name in columns:
            present = frame[name].dropna()
            sample = present.iat[0] if len(present) else None
            if isinstance(sample, str) and sample and re.match(regex, sample):
                frame[name] = per_unique(frame[name].astype(object), lambda u: u.map(
                    lambda v: _first_match(regex, v) if isinstance(v, str) and v else v))
    counts = _filled(frame).groupby(columns, sort=False, dropna=False)[columns[0]].transform("size")
    return counts <= 1


complement("is_not_unique_set", "is_unique_set")


def _mapped_to_several(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.Series:
    """Records whose (non-empty) key maps to more than one value: two different non-empty values,
    or a non-empty and an empty one."""
    key_null = _null(frame[keys]).any(axis=1)
    value_null = _null(frame[values]).any(axis=1)
    rows = frame[~key_null]
    if rows.empty:
        return pd.Series(False, index=frame.index)
    codes = pd.Series(rows.groupby(values, sort=False, dropna=False).ngroup().to_numpy(), index=rows.index,
                      dtype=float).where(~value_null[rows.index])
    grouped = codes.groupby([rows[k] for k in keys], sort=False, dropna=False)
    distinct = grouped.transform("nunique")
    with_null = codes.isna().groupby([rows[k] for k in keys], sort=False, dropna=False).transform("any")
    several = (distinct > 1) | ((distinct >= 1) & with_null)
    return several.reindex(frame.index, fill_value=False)


@operator("is_not_unique_relationship", across_records=True)
def is_not_unique_relationship(ctx: Context, cond: Condition) -> pd.Series:
    """The target and the comparator variable(s) are not one-to-one: the record's non-empty target
    value goes with more than one comparator value across the dataset, or its non-empty comparator
    value with more than one target value (an empty value on the other side counts as a value)."""
    others = cond.value if isinstance(cond.value, list) else [cond.value]
    frame = pd.DataFrame({n: ctx.column(n) for n in [cond.target, *others]}, index=ctx.frame.index)
    return _mapped_to_several(frame, [cond.target], others) | _mapped_to_several(frame, others, [cond.target])


complement("is_unique_relationship", "is_not_unique_relationship")


@operator("is_inconsistent_across_dataset", across_records=True, groups=lambda cond: _listed(cond.value))
def is_inconsistent_across_dataset(ctx: Context, cond: Condition) -> pd.Series:
    """Within each group of the comparator variables, the target takes more than one value: the
    records not holding the group's most frequent value are flagged, or every record of the group
    when the most frequent values tie. ``regex``: compare the first group the pattern captures."""
    target = ctx.column(cond.target)
    keys = _present(ctx, names(ctx, cond.value), "the grouping variables")
    frame = _filled(pd.concat([ctx.frame[keys], target.rename("@target")], axis=1))
    regex = cond.params.get("regex")
    if isinstance(regex, list):
        regex = regex[0] if regex else None
    if regex:
        pattern = regex if re.compile(regex).groups else f"({regex})"
        values = frame["@target"].astype(str)
        frame["@target"] = values.str.extract(pattern, expand=True)[0].fillna(frame["@target"])
    groups = [frame[k] for k in keys]
    value_count = frame.groupby([*groups, frame["@target"]], sort=False, dropna=False)["@target"].transform("size")
    by_group = value_count.groupby(groups, sort=False, dropna=False)
    most = by_group.transform("max")
    at_most = value_count == most
    tied = at_most.groupby(groups, sort=False, dropna=False).transform("sum") / most > 1
    several = frame.groupby(keys, sort=False, dropna=False)["@target"].transform("nunique") > 1
    return several & (tied | ~at_most)


@operator("present_on_multiple_rows_within", across_records=True, groups=lambda cond: _listed(cond.params.get("within")))
def present_on_multiple_rows_within(ctx: Context, cond: Condition) -> pd.Series:
    """The value occurs on more than ``value`` records (default 1) within its ``within`` group
    (empty values count as a value)."""
    limit = int(cond.value) if cond.value not in (None, "") else 1
    target, within = ctx.column(cond.target), ctx.column(cond.params["within"])
    frame = _filled(pd.DataFrame({"within": within, "target": target}))
    return frame.groupby(["within", "target"], sort=False, dropna=False)["target"].transform("size") > limit


complement("not_present_on_multiple_rows_within", "present_on_multiple_rows_within")


@operator("has_same_values", across_records=True)
def has_same_values(ctx: Context, cond: Condition) -> pd.Series:
    """The variable holds one value on every record (True on every record, or on none)."""
    return pd.Series(ctx.column(cond.target).nunique(dropna=False) <= 1, index=ctx.frame.index)


complement("has_different_values", "has_same_values")


@operator("value_has_multiple_references")
def value_has_multiple_references(ctx: Context, cond: Condition) -> pd.Series:
    """The value is counted more than once in the record's count mapping (the comparator, a column
    of {value: count} such as ``variable_value_count`` gives)."""
    counts = ctx.column(cond.value)
    return rowwise(lambda value, mapping: isinstance(mapping, dict) and (mapping.get(value) or 0) > 1,
                   ctx.column(cond.target), counts)


complement("value_does_not_have_multiple_references", "value_has_multiple_references")


# -- order ----------------------------------------------------------------------------------------

def _sorted(frame: pd.DataFrame, by: list[str], ascending: bool | list[bool] = True) -> pd.DataFrame:
    return frame.sort_values(by, ascending=ascending, kind="stable", na_position="last")


@operator("is_ordered_set", across_records=True)
def is_ordered_set(ctx: Context, cond: Condition) -> pd.Series:
    """Within each group of the comparator variables, the target's values are in ascending order
    in the dataset's record order: each record holds the value its position would hold sorted (a
    record with an empty group value has nothing to be out of order with)."""
    keys = names(ctx, cond.value)
    frame = pd.DataFrame({**{k: ctx.column(k) for k in keys}, "@target": ctx.column(cond.target)})
    as_is = frame.dropna(subset=keys)
    ordered = _sorted(as_is, keys + ["@target"])
    # both keep each group's records together in the same group order, so positions pair up
    as_is = _sorted(as_is, keys)
    same = pd.Series(as_is["@target"].to_numpy() == ordered["@target"].to_numpy(), index=as_is.index)
    return same.reindex(ctx.frame.index, fill_value=True)


complement("is_not_ordered_set", "is_ordered_set")


@operator("is_ordered_by", across_records=True)
def is_ordered_by(ctx: Context, cond: Condition) -> pd.Series:
    """The record holds the value its position would hold with the dataset sorted by the target
    (``order``: asc, the default, or dsc)."""
    order = cond.params.get("order", "asc")
    if order not in ("asc", "dsc"):
        raise ValueError(f"order must be asc or dsc, not {order!r}")
    values = ctx.column(cond.target)
    ordered = values.sort_values(ascending=order == "asc", kind="stable").to_numpy()
    return pd.Series(values.to_numpy() == ordered, index=values.index)


complement("is_not_ordered_by", "is_ordered_by")


def _last_within(ctx: Context, cond: Condition) -> tuple[pd.Series, pd.Series]:
    """Whether each record is the last of its group (the comparator), sorted by ``ordering``, and
    whether it belongs to a group at all (an empty group value does not)."""
    within = ctx.column(cond.value)
    by = [within.rename("@within")]
    if cond.params.get("ordering"):
        by.append(ctx.column(cond.params["ordering"]).rename("@order"))
    frame = pd.concat(by, axis=1)
    ordered = _sorted(frame, list(frame.columns))
    last = ~ordered["@within"].duplicated(keep="last")
    return last.reindex(ctx.frame.index), within.notna()


@operator("empty_within_except_last_row", across_records=True, groups=lambda cond: _listed(cond.value))
def empty_within_except_last_row(ctx: Context, cond: Condition) -> pd.Series:
    """Sorted by ``ordering`` within each group of the comparator, the value is empty on a record
    that is not the group's last (the last record is flagged by neither form)."""
    last, grouped = _last_within(ctx, cond)
    return grouped & ~last & empty(ctx.column(cond.target))


@operator("non_empty_within_except_last_row", across_records=True, groups=lambda cond: _listed(cond.value))
def non_empty_within_except_last_row(ctx: Context, cond: Condition) -> pd.Series:
    """Sorted by ``ordering`` within each group of the comparator, the value is present on a
    record that is not the group's last (the last record is flagged by neither form)."""
    last, grouped = _last_within(ctx, cond)
    return grouped & ~last & ~empty(ctx.column(cond.target))


@operator("has_next_corresponding_record", across_records=True, groups=lambda cond: _listed(cond.params.get("within")))
def has_next_corresponding_record(ctx: Context, cond: Condition) -> pd.Series:
    """Sorted by ``ordering`` within each ``within`` group, the target equals the comparator of the
    group's next record (empty values equal nothing); a group's last record has nothing to match
    and holds."""
    frame = pd.DataFrame({"within": ctx.column(cond.params["within"]), "order": ctx.column(cond.params["ordering"]),
                          "target": ctx.column(cond.target), "next": ctx.column(cond.value)})
    ordered = _sorted(frame, ["within", "order"])
    following = ordered.groupby("within", sort=False, dropna=False)["next"].shift(-1)
    last = ~ordered["within"].duplicated(keep="last")
    present = ordered["target"].notna() & following.notna()
    equal = pd.Series(np.equal(ordered["target"].to_numpy(dtype=object), following.to_numpy(dtype=object),
                               dtype=object).astype(bool), index=ordered.index)
    return (last | (present & equal)).reindex(ctx.frame.index)


complement("does_not_have_next_corresponding_record", "has_next_corresponding_record")


# -- target_is_sorted_by --------------------------------------------------------------------------

def _dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """For each value: whether CORE reads it as a date, and its precision as CORE's ``parse_date``
    counts it: the parts of the text before any '--' (2005-10 has 2, 2005-10-08 has 3)."""
    valid = read_dates(values).valid

    def parts(uniques: pd.Series) -> pd.Series:
        texts = uniques.map(lambda v: v.split("--", 1)[0] if isinstance(v, str) else "")
        return texts.map(lambda v: len([p for p in re.split(r"[-T:]", v) if p])).astype(int)
    return valid, per_unique(values.astype(object).where(valid), parts)


def _overlapping(frame: pd.DataFrame) -> pd.Series:
    """Records whose comparator date overlaps a less or more precise date of its group (2005-10 and
    2005-10-08: the more precise starts with the less precise): their order cannot be known."""
    valid, precision = _dates(frame["@by"])
    dated = pd.DataFrame({"group": frame["@group"], "text": frame["@by"], "precision": precision})[valid]
    dated = dated[dated.groupby("group", sort=False)["precision"].transform("nunique") > 1]
    if dated.empty:
        return pd.Series(False, index=frame.index)
    starts = per_unique(dated["text"], lambda u: u.map(_starts))
    prefixes = dated.assign(prefix=starts).explode("prefix").dropna(subset=["prefix"])
    pairs = prefixes.reset_index(names="longer").merge(
        dated.reset_index(names="shorter"), left_on=["group", "prefix"], right_on=["group", "text"],
        suffixes=("", "_shorter"))
    pairs = pairs[pairs["precision_shorter"] < pairs["precision"]]
    return pd.Series(frame.index.isin(pd.concat([pairs["longer"], pairs["shorter"]])), index=frame.index)


def _starts(text: str) -> list[str]:
    """The shorter dates a date text starts with, cut before a separator (2005 and 2005-10 for
    2005-10-08)."""
    cuts = [m.start() for m in re.finditer(r"[-T:]", text) if m.start() > 0]
    return [text[:c] for c in cuts if text[c - 1] not in "-T:"]


def _sorted_by_one(frame: pd.DataFrame, ascending: bool, nulls_last: bool) -> pd.Series:
    """Invalid records for one comparator (``@by``) of ``target_is_sorted_by``; ``frame`` holds
    ``@group``, ``@target`` and ``@by`` in the target's order within each group."""
    by, group = frame["@by"], frame["@group"]
    numeric = pd.api.types.is_numeric_dtype(by)
    null = by.isna()
    if not numeric:
        null |= per_unique(by.astype(object), lambda u: u.astype(str).str.strip().eq("")).astype(bool)
    position = frame.groupby(group, sort=False).cumcount()
    nulls_at = position.where(null).groupby(group, sort=False)
    values_at = position.where(~null).groupby(group, sort=False)
    if nulls_last:
        misplaced = nulls_at.transform("min") < values_at.transform("max")
    else:
        misplaced = nulls_at.transform("max") > values_at.transform("min")
    overlap = pd.Series(False, index=frame.index) if numeric else _overlapping(frame[~null]).reindex(
        frame.index, fill_value=False)
    checked = frame[~null & ~overlap]
    expected = checked.sort_values(["@group", "@by"], ascending=[True, ascending], kind="stable")
    actual, wanted = checked["@target"].to_numpy(dtype=object), expected["@target"].to_numpy(dtype=object)
    same = (actual == wanted) | (pd.isna(checked["@target"]).to_numpy() & pd.isna(expected["@target"]).to_numpy())
    unexpected = pd.Series(~same, index=checked.index).reindex(frame.index, fill_value=False)
    out_of_step = _out_of_step(frame[~null], ascending, numeric).reindex(frame.index, fill_value=False)
    return (null & misplaced) | overlap | unexpected | out_of_step


def _out_of_step(rows: pd.DataFrame, ascending: bool, numeric: bool) -> pd.Series:
    """Records whose comparator is out of order with the previous or next record's (in the
    target's order within the group); only numbers and ISO dates are compared, dates as text."""
    value = rows["@by"] if numeric else pd.Series(pd.factorize(rows["@by"], sort=True)[0], index=rows.index)
    grouped = value.groupby(rows["@group"], sort=False)
    before, after = grouped.shift(1), grouped.shift(-1)
    comparable = pd.Series(True, index=rows.index) if numeric else read_dates(rows["@by"]).valid
    if not ascending:
        before, after = after, before
    # a record with nothing before (or after) it in its group is in step on that side (NaN compares False)
    return comparable & ((value < before) | (value > after))


def _regex_number(regex: str, value: Any) -> Any:
    """The first group the pattern finds in the value, as a number when it reads as one."""
    if not isinstance(value, str) or not value:
        return np.nan
    match = re.search(regex, value)
    if not match or not match.groups():
        return np.nan
    try:
        return float(match.group(1))
    except ValueError:
        return match.group(1)


@operator("target_is_sorted_by", across_records=True, groups=lambda cond: _listed(cond.params.get("within")))
def target_is_sorted_by(ctx: Context, cond: Condition) -> pd.Series:
    """Within each ``within`` group, the target's order agrees with the order of each comparator in
    ``value`` (``name``, ``sort_order`` asc/desc, ``null_position`` last/first): sorted by the target,
    each record holds the target value it would hold sorted by the comparator, and empty comparator
    values sit at their end. Dates of different precision that overlap (2005-10, 2005-10-08) are
    not sorted. ``regex`` sorts by the first group it captures from the target (a number if it
    reads as one)."""
    within = pd.DataFrame({k: ctx.column(k) for k in names(ctx, cond.params.get("within"))}).dropna()
    group = within.groupby(list(within.columns), sort=False).ngroup()     # records without a group stay sorted
    target = ctx.column(cond.target)[group.index]
    if cond.params.get("regex"):
        target = per_unique(target.astype(object), lambda u: u.map(lambda v: _regex_number(cond.params["regex"], v)))
    result = pd.Series(True, index=ctx.frame.index)
    for spec in cond.value:
        frame = pd.DataFrame({"@group": group, "@target": target, "@by": ctx.column(ctx.resolve(spec["name"]))[group.index]})
        invalid = _sorted_by_one(_sorted(frame, ["@group", "@target"]), str(spec.get("sort_order", "asc")).lower() != "desc",
                                 spec.get("null_position", "last") != "first")
        result &= ~invalid.reindex(ctx.frame.index, fill_value=False)
    return result


complement("target_is_not_sorted_by", "target_is_sorted_by")
