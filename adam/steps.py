"""Spec steps that build a dataset top to bottom, in the order an admiral template reads.

A study's ADSL spec is a list of steps, each one verb of the derivation library:

    dates:     {NEWDT: --DTC variable, ...}              derive_vars_dt, no imputation, or
               {NEWDT: {dtc, impute: D|M|Y, fill: first|last|mid, min_dates, max_dates}}
                                                          imputed, with the flag NEWDTF (admiral's rules)
    study_day: {NEWDY: {date: DATE, reference: DATE}}     derive_vars_dy (no day 0)
    merged:    {dataset, filter, order, mode, new_vars, exist_flag}   derive_vars_merged by USUBJID
    constant:  {VAR: {dataset, filter, variable, date}}   one value for every subject (e.g. cut-off)
    offset:    {VAR: {from: DATE, days: N, otherwise: {from: DATE, days: N}}}
    interval:  {VAR: {from: DATE, to: DATE, unit: days|months}}   months = days / 30.4375
    latest:    {VAR: [DATE, DATE, ...]}                    the latest of several dates per subject
    condition: {VAR: {cases: [{if: EXPR, then: VALUE or {assign: VAR}}, ...], else: VALUE}}
    flag:      {VAR: EXPR}                                 Y / N

Step kinds and keys are checked when the spec is loaded; a spec never runs code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.adam.derive import derive_vars_dt, derive_vars_dy, derive_vars_merged
from trialkit.adam.errors import AdamError
from trialkit.display import show
from trialkit.errors import SpecError
from trialkit.expressions import first_match, parse

KINDS = ("dates", "study_day", "merged", "constant", "offset", "interval", "latest", "condition", "flag")
DATE_KEYS = {"dtc", "impute", "fill", "min_dates", "max_dates"}


def check_steps(steps: list, path: Path) -> list[tuple[str, dict, str]]:
    out = []
    for k, step in enumerate(steps or []):
        key = f"steps[{k}]"
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in KINDS:
            raise SpecError(f"each step is one of {', '.join(KINDS)}", file=str(path), key=key)
        kind, body = next(iter(step.items()))
        if not isinstance(body, dict) or not body:
            raise SpecError(f"{kind}: takes a mapping", file=str(path), key=key)
        if kind == "merged":
            unknown = set(body) - {"dataset", "filter", "order", "mode", "new_vars", "exist_flag"}
            if unknown or "dataset" not in body or not ({"new_vars", "exist_flag"} & set(body)):
                raise SpecError("merged: takes dataset, new_vars and/or exist_flag, and optionally filter, order, mode",
                                file=str(path), key=key)
            if body.get("filter"):
                parse(body["filter"], file=str(path), key=f"{key}.merged.filter")
        if kind == "condition":
            for var, rule in body.items():
                if not isinstance(rule, dict) or "cases" not in rule or set(rule) - {"cases", "else"}:
                    raise SpecError("condition: VAR: {cases: [...], else: VALUE}", file=str(path), key=f"{key}.condition.{var}")
                for i, b in enumerate(rule["cases"]):
                    if not isinstance(b, dict) or set(b) != {"if", "then"}:
                        raise SpecError("each branch needs if: and then:", file=str(path), key=f"{key}.condition.{var}[{i}]")
                    parse(b["if"], file=str(path), key=f"{key}.condition.{var}[{i}].if")
        if kind == "flag":
            for var, expr in body.items():
                parse(expr, file=str(path), key=f"{key}.flag.{var}")
        if kind == "dates":
            for var, d in body.items():
                if isinstance(d, dict) and ("dtc" not in d or set(d) - DATE_KEYS or d.get("impute", "n") not in ("n", "D", "M", "Y")):
                    raise SpecError("dates: NEWDT: --DTC or {dtc, impute: D|M|Y, fill: first|last|mid, min_dates, max_dates}",
                                    file=str(path), key=f"{key}.dates.{var}")
        if kind == "study_day":
            for var, d in body.items():
                if not isinstance(d, dict) or set(d) != {"date", "reference"}:
                    raise SpecError("study_day: NEWDY: {date: DATE, reference: DATE}", file=str(path), key=f"{key}.study_day.{var}")
        if kind == "constant":
            for var, c in body.items():
                if not isinstance(c, dict) or not {"dataset", "variable"} <= set(c) or set(c) - {"dataset", "variable", "filter", "date"}:
                    raise SpecError("constant: VAR: {dataset, variable, filter, date}", file=str(path), key=f"{key}.constant.{var}")
                if c.get("filter"):
                    parse(c["filter"], file=str(path), key=f"{key}.constant.{var}.filter")
        out.append((kind, body, f"{path.name}:{key}"))
    return out


def step_outputs(steps: list[tuple[str, dict, str]]) -> set[str]:
    """The variables checked steps create, as apply_steps creates them (imputed dates add their
    --DTF flag), so a spec can be checked before any data is read."""
    names = set()
    for kind, body, _ in steps:
        if kind == "merged":
            names |= set(body.get("new_vars") or {}) | ({body["exist_flag"]} if body.get("exist_flag") else set())
        elif kind == "dates":
            names |= set(body) | {f"{v}F" for v, d in body.items() if isinstance(d, dict)}
        else:
            names |= set(body)
    return names


def apply_steps(frame: pd.DataFrame, steps: list[tuple[str, dict, str]], datasets: dict[str, pd.DataFrame],
                name: str) -> pd.DataFrame:
    for kind, body, key in steps:
        if kind == "dates":
            for new, d in body.items():
                if not new.endswith("DT"):
                    raise AdamError(f"{key}: a date variable's name ends in DT ({new})", dataset=name, variables=[new])
                if isinstance(d, dict):
                    frame = derive_vars_dt(frame, new[:-2], d["dtc"], highest_imputation=d.get("impute", "n"),
                                           date_imputation=d.get("fill", "first"), flag_imputation=True,
                                           min_dates=d.get("min_dates"), max_dates=d.get("max_dates"), dataset_name=name)
                else:
                    frame = derive_vars_dt(frame, new[:-2], d, highest_imputation="n", flag_imputation=False, dataset_name=name)
        elif kind == "study_day":
            for var, d in body.items():
                frame = derive_vars_dy(frame, d["reference"], {var: d["date"]}, dataset_name=name)
        elif kind == "merged":
            add = datasets.get(body["dataset"])
            if add is None:
                raise AdamError(f"{key}: dataset {body['dataset']} is not available", dataset=body["dataset"])
            frame = derive_vars_merged(frame, add, ["USUBJID"], new_vars=body.get("new_vars") or {}, filter_add=body.get("filter"),
                                       order=body.get("order"), mode=body.get("mode"), exist_flag=body.get("exist_flag"),
                                       dataset_name=name, add_name=body["dataset"])
        elif kind == "constant":
            for var, c in body.items():
                src = datasets.get(c["dataset"])
                if src is None:
                    raise AdamError(f"{key}: dataset {c['dataset']} is not available", dataset=c["dataset"])
                rows = src[parse(c["filter"]).evaluate(src).to_numpy()] if c.get("filter") else src
                values = rows[c["variable"]].unique()
                if len(values) != 1:
                    raise AdamError(f"{key}: expected one value of {c['variable']}, found {len(values)}", dataset=c["dataset"],
                                    variables=[c["variable"]])
                value = values[0]
                if c.get("date"):
                    value = pd.to_datetime(str(value), format="%Y-%m-%d", errors="coerce")
                    if pd.isna(value):
                        raise AdamError(f"{key}: {c['variable']} = {show(values[0])} is not a complete ISO 8601 date",
                                        dataset=c["dataset"], variables=[c["variable"]])
                frame[var] = value
        elif kind == "offset":
            for var, o in body.items():
                value = frame[o["from"]] + pd.to_timedelta(o["days"], unit="D")
                if "otherwise" in o:
                    alt = frame[o["otherwise"]["from"]] + pd.to_timedelta(o["otherwise"]["days"], unit="D")
                    value = value.where(frame[o["from"]].notna(), alt)
                frame[var] = value
        elif kind == "interval":
            for var, o in body.items():
                days = (frame[o["to"]] - frame[o["from"]]).dt.days
                frame[var] = days / 30.4375 if o.get("unit") == "months" else days.astype(float)
        elif kind == "latest":
            for var, columns in body.items():
                frame[var] = frame[list(columns)].max(axis=1)
        elif kind == "condition":
            for var, rule in body.items():
                branches = [(parse(b["if"]), b["then"]) for b in rule["cases"]]
                frame[var] = first_match(frame, branches, rule.get("else"))
        elif kind == "flag":
            for var, expr in body.items():
                result = parse(expr).evaluate(frame)
                if not pd.api.types.is_bool_dtype(result):
                    raise AdamError(f"{key}: flag {var} needs a condition, not a value ({expr!r})", dataset=name, variables=[var])
                frame[var] = np.where(result.to_numpy(), "Y", "N")
    return frame
