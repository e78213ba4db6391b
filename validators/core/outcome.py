"""Flagged records into findings, as the CORE engine reports them.

The variables a finding shows are the rule's ``Output Variables`` (``--`` resolved), or else the
variables its conditions name, in order. A variable the frame lacks shows as "Not in dataset".
Sensitivity decides how many findings: ``Record`` one per flagged record, ``Dataset`` one per
dataset (the first flagged record's values, no record number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from trialkit.validators.core.context import Context, is_empty_value, resolve_wildcard
from trialkit.validators.core.rules import leaves
from trialkit.validators.core.study import ROW, SOURCE

NOT_IN_DATASET = "Not in dataset"


@dataclass(frozen=True)
class CoreFinding:
    rule: str                        # CORE-000351
    dataset: str                     # the dataset the record is in (LBCH for a split LB)
    row: int | None                  # 1-based record number there; None for dataset-level findings
    variables: tuple[str, ...]
    values: tuple[Any, ...]          # None for a null value
    message: str
    usubjid: str | None = None
    seq: float | None = None

    def value_text(self, i: int) -> str:
        """A value as CORE's CSV report writes it: '' for null, Python's str() otherwise (31.0)."""
        value = self.values[i]
        return "" if value is None else str(value)


def targets(ctx: Context) -> list[str]:
    """The variables findings show, in order, without repeats."""
    if ctx.rule.output_variables:
        names = [v.replace("--", ctx.wildcard, 1) for v in ctx.rule.output_variables]
    else:
        names = [resolve_wildcard(leaf.get("name"), ctx.wildcard) for leaf in leaves(ctx.rule.check) if leaf.get("name")]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def findings(ctx: Context, flagged: pd.Series) -> list[CoreFinding]:
    rows = ctx.frame[flagged.to_numpy(dtype=bool)]
    if rows.empty:
        return []
    names = _with_listed_columns(targets(ctx), rows, ctx)
    message = ctx.rule.message.replace("--", ctx.wildcard)
    seq_name = f"{ctx.dataset.domain or ''}SEQ"
    present = [n for n in names if n in rows.columns]
    if ctx.rule.sensitivity == "Dataset":
        first = rows.iloc[0]
        values = tuple(_value(first[n]) if n in present else NOT_IN_DATASET for n in names)
        source = ", ".join(sorted(set(rows[SOURCE].astype(str)))) if SOURCE in rows else ctx.dataset.name
        return [CoreFinding(ctx.rule.core_id, source, None, tuple(names), values, message)]
    columns = {n: rows[n].tolist() for n in present}
    sources = rows[SOURCE].tolist() if SOURCE in rows else [ctx.dataset.name] * len(rows)
    numbers = rows["row_number"] if "row_number" in rows else rows[ROW] if ROW in rows else pd.Series(
        range(1, len(rows) + 1), index=rows.index)
    subjects = rows["USUBJID"].tolist() if "USUBJID" in rows else [None] * len(rows)
    seqs = rows[seq_name].tolist() if seq_name in rows else [None] * len(rows)
    out = []
    for i, (source, number) in enumerate(zip(sources, numbers.tolist())):
        values = tuple(_value(columns[n][i]) if n in columns else NOT_IN_DATASET for n in names)
        out.append(CoreFinding(ctx.rule.core_id, str(source), None if pd.isna(number) else int(number), tuple(names),
                               values, message, _text_or_none(subjects[i]), _number_or_none(seqs[i])))
    return out


def _with_listed_columns(names: list[str], rows: pd.DataFrame, ctx: Context) -> list[str]:
    """Targets whose values are lists of column names bring those columns in too (CORE does so
    for operation results such as the variables of a dataset)."""
    out = list(names)
    for name in names:
        if name in rows.columns and rows[name].dtype == object:
            for value in rows[name]:
                if isinstance(value, list):
                    out += [v for v in value if isinstance(v, str) and v in ctx.frame.columns and v not in out]
    return out


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return [None if is_empty_value(v) else v for v in value]
    return None if is_empty_value(value) else value


def _text_or_none(value: Any) -> str | None:
    return None if is_empty_value(value) else str(value)


def _number_or_none(value: Any) -> float | None:
    try:
        return None if is_empty_value(value) else float(value)
    except (TypeError, ValueError):
        return None
