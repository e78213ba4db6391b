"""Make the small pharmaverse subset in this folder from pharmaverseadam's package data.

pharmaverseadam (https://github.com/pharmaverse/pharmaverseadam, Apache-2.0) ships admiral's template
outputs as R data files. This script reads data/adsl.rda, data/adrs_onco.rda and data/adtte_onco.rda
(with the `rdata` package: ``pip install rdata``; not a trialkit dependency), keeps the subjects
chosen below and the variables the event definitions use, turns R dates (days since 1970-01-01) into
SAS dates (days since 1960-01-01, format DATE9.) and writes adsl.xpt, adrs.xpt and adtte.xpt.

    python tests/data/pharmaverse/make_pharmaverse.py PATH/TO/pharmaverseadam
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd
import rdata

from trialkit.xpt import DatasetMeta, Variable, write_xpt

HERE = Path(__file__).parent
R_TO_SAS_DAYS = 3653          # 1960-01-01 to 1970-01-01
KEEP = {
    "adsl": ["STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "RACE", "ARM", "ACTARM", "TRT01P", "EOSSTT",
             "RANDDT", "TRTSDT", "LSTALVDT", "DTHDT", "DTHFL"],
    "adrs": ["STUDYID", "USUBJID", "ASEQ", "PARAMCD", "PARAM", "AVALC", "ADT", "ANL01FL"],
    "adtte": ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC", "CNSDTDSC",
              "SRCDOM", "SRCVAR", "SRCSEQ"],
}
# variable labels as pharmaverseadam documents them (R/adsl.R, R/adrs_onco.R, R/adtte_onco.R)
LABELS = {"STUDYID": "Study Identifier", "USUBJID": "Unique Subject Identifier", "SUBJID": "Subject Identifier for the Study",
          "SITEID": "Study Site Identifier", "AGE": "Age", "AGEU": "Age Units", "SEX": "Sex", "RACE": "Race",
          "ARM": "Description of Planned Arm", "ACTARM": "Description of Actual Arm",
          "TRT01P": "Planned Treatment for Period 01", "EOSSTT": "End of Study Status", "RANDDT": "Date of Randomization",
          "TRTSDT": "Date of First Exposure to Treatment", "LSTALVDT": "Date Last Known Alive", "DTHDT": "Date of Death",
          "DTHFL": "Subject Death Flag", "ASEQ": "Analysis Sequence Number", "PARAMCD": "Parameter Code",
          "PARAM": "Parameter", "AVALC": "Analysis Value (C)", "ADT": "Analysis Date", "ANL01FL": "Analysis Flag 01",
          "STARTDT": "Time-to-Event Origin Date for Subject", "AVAL": "Analysis Value", "CNSR": "Censor",
          "EVNTDESC": "Event or Censoring Description", "CNSDTDSC": "Censor Date Description", "SRCDOM": "Source Data",
          "SRCVAR": "Source Variable", "SRCSEQ": "Source Sequence Number"}


def _read(repo: Path, name: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # rdata notes the R classes it maps to data frames
        frame = rdata.read_rda(repo / "data" / f"{name}.rda")[name]
    return pd.DataFrame({str(c): frame[c] for c in frame.columns})


def _subjects(adtte: pd.DataFrame) -> list[str]:
    """Every subject with an OS or PFS event or a censoring other than at randomization, plus the
    first five censored at randomization: every kind of record the definitions give."""
    tte = adtte[adtte["PARAMCD"].isin(["OS", "PFS"])]
    kinds = tte["CNSR"].astype(int).eq(0) | ~tte["EVNTDESC"].isin(["Randomization", "Alive"])
    special = sorted(set(tte.loc[kinds, "USUBJID"]))
    others = sorted(set(tte["USUBJID"]) - set(special))[:5]
    return special + others


def _write(frame: pd.DataFrame, name: str, label: str) -> None:
    variables = []
    for column in frame.columns:
        values = frame[column]
        if column.endswith("DT"):
            frame[column] = pd.to_numeric(values, errors="coerce") + R_TO_SAS_DAYS
            variables.append(Variable(column, LABELS[column], "Num", 8, "DATE9."))
        elif pd.api.types.is_numeric_dtype(values):
            frame[column] = pd.to_numeric(values, errors="coerce").astype(float)
            variables.append(Variable(column, LABELS[column], "Num", 8))
        else:
            frame[column] = values.astype(object).where(values.notna(), "").astype(str)
            variables.append(Variable(column, LABELS[column], "Char",
                                      max(1, int(frame[column].str.len().max() or 1))))
    write_xpt(frame.reset_index(drop=True), DatasetMeta(name.upper(), label, tuple(variables)), HERE / f"{name}.xpt")


def main(repo: Path) -> None:
    adtte = _read(repo, "adtte_onco")
    subjects = _subjects(adtte)
    adsl = _read(repo, "adsl")
    adrs = _read(repo, "adrs_onco")
    _write(adsl[adsl["USUBJID"].isin(subjects)][KEEP["adsl"]].copy(), "adsl", "Subject-Level Analysis Dataset")
    adrs = adrs[adrs["USUBJID"].isin(subjects) & adrs["PARAMCD"].isin(["PD", "DEATH", "LSTA"])]
    _write(adrs[KEEP["adrs"]].copy(), "adrs", "Response Analysis Dataset")
    _write(adtte[adtte["USUBJID"].isin(subjects)][KEEP["adtte"]].copy(), "adtte", "Time-to-Event Analysis Dataset")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
