"""BDS datasets (ADRS) from collected findings and derived parameters, declared in the study's spec.

Collected parameters take one SDTM test each: a filter, the character result (a variable, or cases
in the spec grammar), the date and the --SEQ that identifies the record. AVISIT/AVISITN come from
VISIT/VISITNUM, ADT from the --DTC (no imputation), ADY from the reference date, and ANL01FL marks
the record used per subject, parameter and visit (the last by date and sequence).

Derived parameters summarize a collected one per subject, for every ADSL subject (ITT), over the
records their ``filter`` keeps (it may name ADSL variables, e.g. ``ADT <= DCUTDT``):
``yes_if`` gives Y when any qualifying record meets the condition, N otherwise (a subject with no
qualifying record is N, e.g. an untreated subject has no MRD remission); ``best`` picks the first
value of a ranked list that the subject reached, ``else`` when none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.adam.derive import derive_var_extreme_flag, derive_vars_dt, derive_vars_dy
from trialkit.adam.errors import AdamError
from trialkit.errors import SpecError
from trialkit.expressions import first_match, parse

COLLECTED_KEYS = {"paramcd", "param", "parcat1", "dataset", "filter", "avalc", "date", "seq"}
DERIVED_KEYS = {"paramcd", "param", "parcat1", "from", "filter", "yes_if", "best", "else"}


def check_parameters(collected: list, derived: list, path: Path) -> None:
    codes = set()
    for kind, items, allowed in (("parameters", collected, COLLECTED_KEYS), ("derived", derived, DERIVED_KEYS)):
        for k, p in enumerate(items or []):
            key = f"{kind}[{k}]"
            if not isinstance(p, dict) or set(p) - allowed:
                raise SpecError(f"unknown key(s) {sorted(set(p) - allowed) if isinstance(p, dict) else p}", file=str(path), key=key)
            code = str(p.get("paramcd", ""))
            if not code or len(code) > 8 or code in codes:
                raise SpecError("PARAMCD is required, unique and at most 8 characters", file=str(path), key=f"{key}.paramcd")
            codes.add(code)
            for expr_key in ("filter", "yes_if"):
                if p.get(expr_key):
                    parse(p[expr_key], file=str(path), key=f"{key}.{expr_key}")
            if kind == "derived" and ("yes_if" in p) == ("best" in p):
                raise SpecError("a derived parameter takes yes_if: or best:, one of them", file=str(path), key=key)
            if kind == "derived" and p.get("from") not in codes:
                raise SpecError(f"from: must name a parameter declared before it ({p.get('from')!r})", file=str(path), key=f"{key}.from")


def _avalc(p: dict, frame: pd.DataFrame) -> pd.Series:
    rule = p["avalc"]
    if isinstance(rule, str):
        return frame[rule].astype(str)
    return first_match(frame, [(parse(c["if"]), c["then"]) for c in rule["cases"]], rule.get("else", ""))


def collected(p: dict, sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, reference: str) -> pd.DataFrame:
    src = sdtm.get(p["dataset"])
    if src is None:
        raise AdamError(f"{p['paramcd']}: dataset {p['dataset']} is not available", dataset=p["dataset"])
    domain = p["dataset"]
    frame = src[src["USUBJID"].isin(adsl["USUBJID"])]
    if p.get("filter"):
        frame = frame[parse(p["filter"]).evaluate(frame).to_numpy()]
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({
        "USUBJID": frame["USUBJID"], "PARAMCD": p["paramcd"], "PARAM": p["param"], "PARCAT1": p.get("parcat1", ""),
        "AVALC": _avalc(p, frame), "AVISIT": frame.get("VISIT", ""), "AVISITN": frame.get("VISITNUM", np.nan),
        "DTC": frame[p["date"]].astype(str), "SRCDOM": domain, "SRCVAR": p["date"],
        "SRCSEQ": pd.to_numeric(frame[p["seq"]], errors="coerce") if p.get("seq") else np.nan,
    })
    out = derive_vars_dt(out, "A", "DTC", highest_imputation="n", flag_imputation=False, dataset_name="ADRS")
    out = out.merge(adsl[["USUBJID", reference]], on="USUBJID", how="left")
    out = derive_vars_dy(out, reference, {"ADY": "ADT"}, dataset_name="ADRS")
    return out.drop(columns=["DTC", reference])


def derived(p: dict, records: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    base = records[records["PARAMCD"] == p["from"]]
    if p.get("filter"):
        # the filter may name ADSL variables (ADT <= DCUTDT: a best response at the data cut-off)
        expr = parse(p["filter"])
        from_adsl = sorted(expr.fields - set(base.columns))
        lacking = [v for v in from_adsl if v not in adsl]
        if lacking:
            raise AdamError(f"{p['paramcd']}: filter uses variables that neither its records nor ADSL have: {', '.join(lacking)}",
                            dataset="ADSL", variables=lacking)
        work = base.merge(adsl[["USUBJID", *from_adsl]], on="USUBJID", how="left") if from_adsl else base
        base = base[expr.evaluate(work).to_numpy()]
    subjects = adsl[["USUBJID"]].copy()
    if "yes_if" in p:
        hits = base[parse(p["yes_if"]).evaluate(base).to_numpy()]
        value = np.where(subjects["USUBJID"].isin(hits["USUBJID"]), "Y", "N")
    else:
        rank = {v: i for i, v in enumerate(p["best"])}
        ranked = base.assign(_rank=base["AVALC"].map(rank)).dropna(subset=["_rank"])
        best = ranked.sort_values(["USUBJID", "_rank"]).drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]
        value = subjects["USUBJID"].map(best).fillna(p.get("else", "")).to_numpy()
    return subjects.assign(PARAMCD=p["paramcd"], PARAM=p["param"], PARCAT1=p.get("parcat1", ""), AVALC=value,
                           AVISIT="", AVISITN=np.nan, SRCDOM="ADRS", SRCVAR="AVALC", SRCSEQ=np.nan, ANL01FL="Y")


def build_bds(collected_params: list, derived_params: list, sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame,
              reference: str, adsl_vars: list[str]) -> pd.DataFrame:
    records = pd.concat([collected(p, sdtm, adsl, reference) for p in collected_params], ignore_index=True)
    records["_vis"] = records["AVISITN"].fillna(-1)
    records = derive_var_extreme_flag(records, ["USUBJID", "PARAMCD", "_vis"], ["ADT", "SRCSEQ"], "ANL01FL", mode="last",
                                      check_type="warning", dataset_name="ADRS").drop(columns="_vis")
    parts = [records] + [derived(p, records, adsl) for p in derived_params]
    out = pd.concat(parts, ignore_index=True)
    out = out.merge(adsl[["STUDYID", "USUBJID", *adsl_vars]], on="USUBJID", how="left")
    order = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "PARCAT1", "AVALC", "ADT", "ADY", "AVISIT", "AVISITN", "ANL01FL",
             "SRCDOM", "SRCVAR", "SRCSEQ", *adsl_vars]
    out = out[order].sort_values(["USUBJID", "PARAMCD", "ADT"], kind="stable", na_position="last").reset_index(drop=True)
    out["AVISIT"] = out["AVISIT"].fillna("")
    return out
