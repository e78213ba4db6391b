"""Match Datasets on Spark: the plain keyed joins (another dataset by name, on Keys, inner or left)
made on the Spark frames as the pandas engine makes them (validators/core/merge.py), so that the
Check tree then runs on the joined frame as on a single dataset.

What is joined, in which order, the ``DM.RFSTDTC`` renames, the keys (``--`` resolved, Left / Right
pairs), a missing key (not applicable) and the joined frame's column names (``.DM`` on a clash)
are merge.py's and joins.py's own functions; only the join itself is written here, with pandas'
semantics: null keys meet null keys (pandas ``merge`` pairs them; a Spark equi-join does not, so
each key is joined as the pair "is null" / value-or-filler), and a right side with several records
for a key repeats the left record once per partner, in the right's order (the frame is sorted by
the left record number, then each right side's own, which are kept for that).

Spark's column resolution reads a dot as a struct field, so the joined frame's dotted names
(``DM.RFSTDTC``, ``AGE.DM``) are held as :func:`spark_name` and the check's conditions renamed to
them (:func:`spark_condition`); the flagged records take their names back before findings.

Not on Spark yet (the reason is the rule's "not executed"): Child joins, SUPP-- and RELREC (the
relationship merges of relationships.py), keys of text on one side and numbers on the other (pandas
refuses some such merges and not others), and a right dataset of another file format than the
evaluated one (XPT values are rounded as CORE reads them: merge.py joins each as its own reader gave it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw

from trialkit.validators.core.context import Condition, Context, NotExecutable
from trialkit.validators.core.joins import require_keys, right_names
from trialkit.validators.core.merge import SUPP_NAMES, Match, plan, referenced_names, renames
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.spark_engine import NOT_ON_SPARK

TEXT_FILLER = ""        # a null key's value beside its "is null" flag: any value does, the flag decides


def unported(rule: CoreRule) -> str:
    """Why the rule's Match Datasets cannot be joined on Spark yet ('' when they can)."""
    for match in (Match.from_rule(m) for m in rule.match_datasets):
        if match.child:
            return f"Match Datasets {match.name} as Child is not on spark yet"
        if match.name == "RELREC" or match.name.startswith(SUPP_NAMES):
            return f"Match Datasets {match.name} (a relationship merge) is not on spark yet"
    return ""


def signature(rule: CoreRule) -> tuple:
    """What the joined frame of ``rule`` depends on besides the dataset: rules with the same share
    one joined frame (and one Spark job) per dataset."""
    dotted = sorted(n for n in referenced_names(rule) if "." in n)
    return repr(rule.match_datasets), tuple(dotted)


def spark_name(name: str) -> str:
    """A column name Spark resolves as one column (no dot; ``@`` is in no SAS name)."""
    return name.replace(".", "@")


def joined(ctx: Context, frames: dict[str, nw.LazyFrame], paths: dict[str, Path], row: str
           ) -> tuple[nw.LazyFrame, list[str], bool]:
    """The Spark frame of ``ctx.dataset`` with the rule's Match Datasets joined (names as
    :func:`spark_name`), the right sides' record-number columns (to order repeated records by),
    and whether a join was inner (records can drop out: the frame may be empty)."""
    frame, order, inner = frames[ctx.dataset.name], [], False
    referenced = referenced_names(ctx.rule)
    for i, (match, other) in enumerate(plan(ctx)):
        if paths[other.name].suffix.lower() != paths[ctx.dataset.name].suffix.lower():
            raise NotExecutable(f"{NOT_ON_SPARK}: joining {other.name}, a file of another format, is not on spark yet")
        right = frames[other.name]
        right = right.rename({c: spark_name(n) for c, n in renames(right.columns, match.name, referenced).items()})
        frame = _join(frame, right, match, ctx.dataset.domain, row, f"@right{i}")
        order.append(f"@right{i}")
        inner = inner or match.join != "left"
    return frame, order, inner


def _join(left: nw.LazyFrame, right: nw.LazyFrame, match: Match, domain: str | None, row: str,
          right_row: str) -> nw.LazyFrame:
    left_keys = [spark_name(k) for k in match.side_keys("Left", domain)]
    right_keys = [spark_name(k) for k in match.side_keys("Right", match.name)]
    right_columns = [c for c in right.columns if c != row]
    require_keys(left.columns, right_columns, left_keys, right_keys)
    left_schema, right_schema = left.collect_schema(), right.collect_schema()
    for a, b in zip(left_keys, right_keys):
        if _is_text(left_schema[a]) != _is_text(right_schema[b]):
            raise NotExecutable(f"{NOT_ON_SPARK}: joining {match.name} on {a} = {b}, text with numbers, "
                                "is not on spark yet")
    names = {c: spark_name(n) for c, n in right_names(left.columns, right_columns, left_keys, right_keys,
                                                     match.name).items()}
    carried = [*[nw.col(c).alias(n) for c, n in names.items()], nw.col(row).alias(right_row)]
    return null_safe_join(left, right, left_keys, right_keys, carried, "left" if match.join == "left" else "inner", "@")


def null_safe_join(left: nw.LazyFrame, right: nw.LazyFrame, left_keys: list[str], right_keys: list[str],
                   carried: list[nw.Expr], how: str, tag: str) -> nw.LazyFrame:
    """``left`` joined (``how``: inner or left) with the ``carried`` columns of ``right``, on the keys
    as pandas' ``merge`` pairs them: null keys meet null keys (:func:`_null_safe`; its join columns
    named after ``tag`` and left out of the result)."""
    left_on = _null_safe(left_keys, left.collect_schema(), f"{tag}left")
    right_on = _null_safe(right_keys, right.collect_schema(), f"{tag}right")
    right = right.select(*carried, *[e.alias(n) for n, e in right_on.items()])
    return left.with_columns(**left_on).join(right, left_on=list(left_on), right_on=list(right_on), how=how).drop(*left_on)


def _null_safe(keys: list[str], schema: dict, tag: str) -> dict[str, nw.Expr]:
    """Each key as two join columns, "is null" (NaN counts, as in pandas) and the value, a filler
    where null: null keys then meet each other as pandas' ``merge`` pairs them."""
    out = {}
    for i, key in enumerate(keys):
        null = nw.col(key).is_null()
        if schema[key].is_float():
            null = null | nw.col(key).is_nan()
        out[f"{tag}:null{i}"] = null
        out[f"{tag}:value{i}"] = nw.when(~null).then(nw.col(key)).otherwise(
            nw.lit(TEXT_FILLER) if _is_text(schema[key]) else nw.lit(0))
    return out


def _is_text(dtype) -> bool:
    return dtype == nw.String


def held_as(name: str, columns) -> str:
    """The column ``name`` as a Spark frame with ``columns`` holds it: a dotted name as its
    :func:`spark_name` where the frame has that (a joined frame), else as it is."""
    return spark_name(name) if "." in name and spark_name(name) in columns else name


def spark_condition(cond: Condition, columns) -> Condition:
    """``cond`` with the variables it names as the Spark frame with ``columns`` holds them
    (:func:`held_as`); a literal value is left as written."""
    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return held_as(value, columns)
        return [swap(v) for v in value] if isinstance(value, list) else value
    value = cond.value if cond.params.get("value_is_literal") else swap(cond.value)
    return Condition(cond.operator, swap(cond.target), value, {k: swap(v) for k, v in cond.params.items()})


def as_written(text: str, cond: Condition) -> str:
    """``text`` (a reason a condition is not on Spark) with the Spark names :func:`spark_condition`
    gave ``cond``'s dotted variables back as the rule writes them (``DM@RFSTDTC`` -> ``DM.RFSTDTC``)."""
    def names(value: Any):
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for v in value:
                yield from names(v)
    for name in names([cond.target, cond.value, *cond.params.values()]):
        if "." in name:
            text = text.replace(spark_name(name), name)
    return text
