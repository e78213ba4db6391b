"""SE and SV: the subject-level trial design datasets, derived from the other domains.

SV lists each visit a subject had (VISITNUM/VISIT with its first and last date among the findings
domains named in study.yaml). SE places each subject in the trial elements of study.yaml: each
element has a start and an end DM date variable; ``etcd_from: ARMCD`` takes the element code of the
subject's arm (the treatment element), ``fallback_start`` covers subjects without the usual start
(follow-up of a subject never treated starts at randomization). ELEMENT, TAETORD and EPOCH come from
TA, so SE can never disagree with the trial design.
"""

from __future__ import annotations

import pandas as pd


def subject_visits(studyid: str, built: dict[str, pd.DataFrame], domains: list[str]) -> pd.DataFrame:
    parts = []
    for d in domains:
        frame = built.get(d)
        if frame is None or "VISITNUM" not in frame or frame.empty:
            continue
        dtc = frame[f"{d}DTC"].astype(str).str.slice(0, 10)
        parts.append(pd.DataFrame({"USUBJID": frame["USUBJID"], "VISITNUM": frame["VISITNUM"], "VISIT": frame["VISIT"],
                                   "day": dtc.where(dtc.str.len() == 10), "_form": frame["_form"], "_row": frame["_row"]}))
    if not parts:
        return pd.DataFrame()
    allv = pd.concat(parts, ignore_index=True).dropna(subset=["VISITNUM"])
    # first / last after one sort: text min / max per group would fall back to Python
    allv = allv.sort_values("day", kind="stable", na_position="last")
    sv = allv.groupby(["USUBJID", "VISITNUM", "VISIT"], as_index=False, sort=True).agg(
        SVSTDTC=("day", "first"), SVENDTC=("day", "last"), _form=("_form", "first"), _row=("_row", "first"))
    sv.insert(0, "DOMAIN", "SV")
    sv.insert(0, "STUDYID", studyid)
    return sv.fillna({"SVSTDTC": "", "SVENDTC": ""}).sort_values(["USUBJID", "VISITNUM"]).reset_index(drop=True)


def subject_elements(studyid: str, dm: pd.DataFrame, ta: pd.DataFrame, elements: list[dict]) -> pd.DataFrame:
    parts = []
    for e in elements:
        start = dm[e["start"]].astype(str)
        if "fallback_start" in e:
            start = start.where(start != "", dm[e["fallback_start"]].astype(str))
        end = dm[e["end"]].astype(str) if e.get("end") else pd.Series("", index=dm.index)
        etcd = dm[e["etcd_from"]] if "etcd_from" in e else pd.Series(e["etcd"], index=dm.index)
        keep = start != ""
        if e.get("only_if"):
            keep &= dm[e["only_if"]].astype(str) != ""
        parts.append(pd.DataFrame({"USUBJID": dm["USUBJID"], "ARMCD": dm["ARMCD"], "ETCD": etcd,
                                   "SESTDTC": start, "SEENDTC": end, "_form": dm["_form"], "_row": dm["_row"]})[keep.to_numpy()])
    se = pd.concat(parts, ignore_index=True)
    se = se.merge(ta[["ARMCD", "ETCD", "ELEMENT", "TAETORD", "EPOCH"]], on=["ARMCD", "ETCD"], how="left")
    se = se.sort_values(["USUBJID", "SESTDTC", "TAETORD"], kind="stable").reset_index(drop=True)
    se["SESEQ"] = (se.groupby("USUBJID").cumcount() + 1).astype(float)
    se.insert(0, "DOMAIN", "SE")
    se.insert(0, "STUDYID", studyid)
    return se.drop(columns=["ARMCD"]).fillna({"ELEMENT": "", "EPOCH": ""})
