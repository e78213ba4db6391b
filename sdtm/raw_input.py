"""Reading a raw export folder for the SDTM stage: every form, with provenance and structural checks.

Rows that cannot become SDTM records go to the ledger's rejected list with a reason and a finding:
a record cut off by a truncated file, a record without a subject, a subject not in the subject list,
an exact duplicate record, a second record for a subject in a one-row-per-subject form.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.findings import Finding
from trialkit.ledger import Ledger
from trialkit.raw_dictionary import (
    RawDictionary,
    check_form,
    read_form,
    truncation_findings,
)

# dictionary problems reported at reading; dates and codes recoded through CT are reported by the
# mapping that reads them (with the spec key), so they are not reported twice
REPORTED_AT_READING = {"required value missing": ("error", "required"), "value not in codes": ("error", "codelist")}


def _reject(frame: pd.DataFrame, mask: pd.Series, form: str, reason: str, column: str, ledger: Ledger,
            findings: list[Finding], severity: str = "error") -> pd.DataFrame:
    bad = frame[mask.to_numpy()]
    ledger.reject(form, bad["_row"], reason)
    findings += [Finding(severity, f"{form}.csv", int(r), column, str(v), f"record rejected: {reason}", None, str(s), "rejected")
                 for r, v, s in zip(bad["_row"], bad[column] if column in bad else [""] * len(bad), bad.get("SUBJID", [""] * len(bad)))]
    return frame[~mask.to_numpy()]


def dictionary_findings(frame: pd.DataFrame, name: str, dictionary: RawDictionary, ct_fields: set[tuple[str, str]]) -> list[Finding]:
    """Values that break the raw dictionary's contract and that no mapping will report: a required
    value left empty, a code outside its codes in a field not recoded through CT (a condition on
    such a field would otherwise fall through to its else branch without a word)."""
    form = dictionary.forms[name]
    out = []
    for f in check_form(frame[form.columns], form, dictionary, dates=False):
        severity, kind = REPORTED_AT_READING.get(f.problem, (None, None))
        if severity is None or (f.problem == "value not in codes" and (name, f.field) in ct_fields):
            continue
        pos = f.row - 1
        out.append(Finding(severity, f"{name}.csv", int(frame["_row"].iloc[pos]), f.field, f.value,
                           f"raw dictionary: {f.problem}", None, str(frame["SUBJID"].iloc[pos]), kind))
    return out


def read_raw(raw_dir: Path, dictionary: RawDictionary, subject_form: str, ledger: Ledger,
             findings: list[Finding], ct_fields: set[tuple[str, str]] = frozenset()) -> dict[str, pd.DataFrame]:
    forms: dict[str, pd.DataFrame] = {}
    for name, form in dictionary.forms.items():
        path = Path(raw_dir) / f"{name}.csv"
        if not path.is_file():
            findings.append(Finding("warning", f"{name}.csv", None, None, "", "form not in the export; read as empty",
                                    kind="form_missing"))
            frame = pd.DataFrame(columns=form.columns, dtype=str)
        else:
            frame = read_form(path)
        frame.insert(0, "_row", np.arange(1, len(frame) + 1))
        ledger.read(name, len(frame))
        missing = [c for c in form.columns if c not in frame.columns]
        if missing:
            findings.append(Finding("error", f"{name}.csv", None, missing[0], "", f"column(s) {missing} missing: form cannot be mapped",
                                    kind="columns_missing"))
            ledger.reject(name, frame["_row"], f"form lacks column(s) {missing}")
            frame = frame.iloc[0:0].reindex(columns=["_row", *form.columns], fill_value="")
        if path.is_file():
            for t in truncation_findings(path, form):
                frame = _reject(frame, frame["_row"] == t.row, name, "record cut off (truncated file)", t.field, ledger, findings)
        frame = _reject(frame, frame["SUBJID"].str.strip() == "", name, "no subject identifier (SUBJID empty)", "SUBJID", ledger, findings)
        values = frame[form.columns]
        exact = values.duplicated(keep="first")
        frame = _reject(frame, exact, name, "exact duplicate of an earlier record", "SUBJID", ledger, findings, "warning")
        if form.one_row_per_subject:
            again = frame["SUBJID"].str.strip().duplicated(keep="first")
            frame = _reject(frame, again, name, f"second record for the subject in one-row-per-subject form {name}", "SUBJID", ledger, findings)
        frame["SUBJID"] = frame["SUBJID"].str.strip()
        findings += dictionary_findings(frame.reset_index(drop=True), name, dictionary, ct_fields)
        forms[name] = frame
    subjects = forms[subject_form]
    known = set(subjects["SUBJID"])
    country = subjects.set_index("SUBJID")["COUNTRY"].str.strip() if "COUNTRY" in subjects else pd.Series(dtype=str)
    for name, frame in forms.items():
        if name != subject_form:
            frame = _reject(frame, ~frame["SUBJID"].isin(known), name, f"subject not in {subject_form}", "SUBJID", ledger, findings)
        frame = frame.copy()
        frame["_country"] = frame["SUBJID"].map(country)
        forms[name] = frame.reset_index(drop=True)
    return forms
