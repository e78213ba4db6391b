"""SE and SV: the subject-level trial design datasets, derived from the other domains.

SV lists each visit a subject had (VISITNUM/VISIT with its first and last date among the findings
domains named in study.yaml). A visit of the trial design (TV) is pre-specified (SVPRESP = Y) and,
being in the data, occurred (SVOCCUR = Y); an unscheduled visit has both null (the SDTMIG's SV
assumptions: SVOCCUR says whether a planned visit occurred; for unplanned visits SVPRESP and SVOCCUR
are null).

SE places each subject in the trial elements of study.yaml: each element has a start and an end,
each a DM date variable or a list of them (the first one the subject has: screening ends at the
first dose, or at randomization for a subject never treated); ``etcd_from: ARMCD`` takes the element
code of the subject's arm (the treatment element). Elements abut, as SDTMIG 3.4 section 5.3
(assumption 8) wants: the end of one element is the start of the next, which study.yaml says by
naming the same date. ELEMENT, TAETORD and EPOCH come from TA, so SE can never disagree with the
trial design. Both carry study days (--STDY, --ENDY) from DM.RFSTDTC, like every other domain.
"""

from __future__ import annotations

import pandas as pd

from trialkit.sdtm.dates import study_day

SV_VARIABLES = ("STUDYID", "DOMAIN", "USUBJID", "VISITNUM", "VISIT", "SVPRESP", "SVOCCUR", "SVSTDTC", "SVENDTC", "SVSTDY",
                "SVENDY")
SE_VARIABLES = ("STUDYID", "DOMAIN", "USUBJID", "SESEQ", "ETCD", "ELEMENT", "TAETORD", "EPOCH", "SESTDTC", "SEENDTC",
                "SESTDY", "SEENDY")


def _first_date(dm: pd.DataFrame, names) -> pd.Series:
    """The first of DM's date variables ``names`` (one name or a list) that each subject has, else ''."""
    names = [names] if isinstance(names, str) else list(names)
    out = dm[names[0]].astype(str)
    for name in names[1:]:
        out = out.where(out != "", dm[name].astype(str))
    return out


def _reference(frame: pd.DataFrame, dm: pd.DataFrame) -> pd.Series:
    return frame["USUBJID"].map(dm.set_index("USUBJID")["RFSTDTC"]).fillna("")


def subject_visits(studyid: str, built: dict[str, pd.DataFrame], domains: list[str], planned: set[float]) -> pd.DataFrame:
    """SV from the visits of ``domains``; ``planned``: the VISITNUMs of TV."""
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
    sv = sv.fillna({"SVSTDTC": "", "SVENDTC": ""}).sort_values(["USUBJID", "VISITNUM"]).reset_index(drop=True)
    sv.insert(0, "DOMAIN", "SV")
    sv.insert(0, "STUDYID", studyid)
    pre = sv["VISITNUM"].isin(planned)
    sv["SVPRESP"] = pre.map({True: "Y", False: ""})
    sv["SVOCCUR"] = sv["SVPRESP"]
    reference = _reference(sv, built["DM"])
    sv["SVSTDY"] = study_day(sv["SVSTDTC"], reference)
    sv["SVENDY"] = study_day(sv["SVENDTC"], reference)
    return sv


def subject_elements(studyid: str, dm: pd.DataFrame, ta: pd.DataFrame, elements: list[dict]) -> pd.DataFrame:
    parts = []
    for e in elements:
        start = _first_date(dm, e["start"])
        end = _first_date(dm, e["end"]) if e.get("end") else pd.Series("", index=dm.index)
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
    reference = _reference(se, dm)
    se["SESTDY"] = study_day(se["SESTDTC"], reference)
    se["SEENDY"] = study_day(se["SEENDTC"], reference)
    return se.drop(columns=["ARMCD"]).fillna({"ELEMENT": "", "EPOCH": ""})
