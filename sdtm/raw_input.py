"""Reading a raw export for the SDTM stage: every form, with provenance and structural checks.

The export is read by ``trialkit.formats.read_export`` (CSV, SAS7BDAT, XPT, XLSX or ODM); every
finding is first written naming ``<form>.csv`` and its record's position, and ``located`` then names
the file the user has and, for ODM, the record's locator. Rows that cannot become SDTM records go
to the ledger's rejected list with a reason and a finding: a record cut off by a truncated file, a
record without a subject, a subject not in the subject list, an exact duplicate record, a second
record for a subject in a one-row-per-subject form, every record of a form the raw dictionary does
not know.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.display import show_list
from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.formats.export import EVENT_COLUMNS, RawExport
from trialkit.formats.reading import WHOLE_EXPORT
from trialkit.ledger import Ledger
from trialkit.raw_dictionary import Form, RawDictionary, check_form, load_raw_dictionary
from trialkit.spec import shipped_studies, study_dir

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


def _mismatch(export: RawExport, dictionary: RawDictionary, studyid: str, subject_form: str) -> str | None:
    """Why ``export`` cannot be of the study, or None when it can be: none of the raw dictionary's
    forms is there, the subject list (the form every subject is checked against) is not, or it
    holds no record with the study's STUDYID."""
    if not set(dictionary.forms) & set(export.forms):
        return f"none of its forms ({show_list((f'{n}.csv' for n in dictionary.forms), 4)}) is in the export"
    subjects = export.forms.get(subject_form)
    if subjects is None:
        return f"its subject list {subject_form}.csv is not in the export, so no record could be mapped"
    if "STUDYID" not in subjects.frame:
        return None       # the form's own checks report the missing column
    ids = set(subjects.frame["STUDYID"].str.strip())
    if ids and studyid not in ids:
        return f"its {subjects.source} holds STUDYID {show_list(sorted(ids), 3)}, not {studyid}"
    return None


def check_export_study(export: RawExport, study: str | Path, dictionary: RawDictionary, studyid: str, subject_form: str) -> None:
    """A usage error (exit 2, before anything is written) when the export is not of the study given
    with --study (or of the default study when --study was left out), naming the shipped study it
    looks like, if one: mapping it anyway would write every dataset empty."""
    from trialkit.sdtm.engine import load_study_config

    why = _mismatch(export, dictionary, studyid, subject_form)
    if why is None:
        return
    matches = []
    for name in shipped_studies():
        if Path(study_dir(name)) == Path(study_dir(study)):
            continue
        other = load_study_config(name)
        if _mismatch(export, load_raw_dictionary(name), other.studyid, other.subject_form) is None:
            matches.append(name)
    hint = f"it looks like an export of {matches[0]}: give --study {matches[0]}" if matches else \
        "give --study with the study the export belongs to"
    raise InputError(f"not an export of study {Path(str(study)).name} ({studyid}): {why}; {hint} "
                     f"(shipped studies: {', '.join(shipped_studies())}, or a study folder)", file=str(export.path))


def form_presence_findings(name: str, form: Form, frame: pd.DataFrame | None) -> list[Finding]:
    """A form absent from the export, or present with its header line only: an error when the raw
    dictionary marks it expected (the export is incomplete, and every count drawn from it would be
    0), a warning otherwise (a form with nothing to report may be left out)."""
    if frame is not None and len(frame):
        return []
    problem = "form not in the export" if frame is None else "form has no records (header line only)"
    if form.expected:
        return [Finding("error", f"{name}.csv", None, None, "", f"{problem}, but the raw dictionary marks it expected: "
                        "the export is incomplete", f"raw_dictionary.yaml:forms.{name}.expected", kind="form_expected")]
    if frame is None:
        return [Finding("warning", f"{name}.csv", None, None, "", f"{problem}; read as empty", kind="form_missing")]
    return []


def missing_column_findings(name: str, form: Form, frame: pd.DataFrame) -> list[Finding]:
    """One error per dictionary column the file lacks (the form cannot be mapped without it), naming
    the file's columns the dictionary does not know: a renamed column shows up as both."""
    missing = [c for c in form.columns if c not in frame.columns]
    unknown = _unlisted(form, frame)
    hint = f"; the file has {show_list(unknown)}, which the raw dictionary does not list" if unknown else ""
    return [Finding("error", f"{name}.csv", None, c, "", f"column missing from the header: the form cannot be mapped{hint}",
                    f"raw_dictionary.yaml:forms.{name}.fields.{c}", kind="columns_missing") for c in missing]


def extra_column_findings(name: str, form: Form, frame: pd.DataFrame) -> list[Finding]:
    """A warning per column the raw dictionary does not list (when none is missing: then the
    missing column's finding names them): its values are not read."""
    if any(c not in frame.columns for c in form.columns):
        return []
    return [Finding("warning", f"{name}.csv", None, c, "", "column not in the raw dictionary: its values are not read",
                    f"raw_dictionary.yaml:forms.{name}.fields") for c in _unlisted(form, frame)]


def _unlisted(form: Form, frame: pd.DataFrame) -> list[str]:
    """The frame's columns the raw dictionary does not list, but for an ODM record's study event
    (EVENT_COLUMNS): where the record sits in the export, which its locator names too, not a field
    of the form; a dictionary lists them only to map VISIT from them."""
    return [c for c in frame.columns if c not in form.columns and not c.startswith("_") and c not in EVENT_COLUMNS]


def unknown_form_findings(export: RawExport, dictionary: RawDictionary, ledger: Ledger) -> list[Finding]:
    """Forms of the export the raw dictionary does not list: every record goes to the ledger as
    rejected, and a finding names the file (and, for a name that differs only in case, the form it
    would have been: names are matched exactly, as the specs name them)."""
    known = {n.lower(): n for n in dictionary.forms}
    out = []
    for name, ef in export.forms.items():
        if name in dictionary.forms:
            continue
        ledger.read(name, len(ef.frame))
        other = known.get(name.lower())
        reason = (f"form {name} is named in another case than the raw dictionary's form {other}: rename it" if other
                  else "not a form of the raw dictionary")
        ledger.reject(name, list(range(1, len(ef.frame) + 1)), reason)
        out.append(Finding("error" if other else "warning", ef.source, None, None, name,
                           f"{reason}; its {len(ef.frame)} record(s) are not read", "raw_dictionary.yaml:forms", kind="rejected"))
    return out


def located(findings: list[Finding], export: RawExport, forms) -> list[Finding]:
    """``findings`` with each ``<form>.csv`` source named as the file the user has (the SAS or XPT
    file, the workbook, the ODM file) and, where the export gives one, the record's locator."""
    names = {f"{n}.csv": export.forms.get(n) for n in forms}
    out = []
    for f in findings:
        if f.source not in names:
            out.append(f)
            continue
        ef = names[f.source]
        if ef is None:
            source = export.path.name if export.format in WHOLE_EXPORT else f.source
            out.append(f if source == f.source else replace(f, source=source))
            continue
        record = ef.locators.iloc[f.row - 1] if ef.locators is not None and f.row and f.row <= len(ef.locators) else f.record
        out.append(f if (ef.source, record) == (f.source, f.record) else replace(f, source=ef.source, record=record))
    return out


def read_raw(export: RawExport, dictionary: RawDictionary, subject_form: str, ledger: Ledger,
             findings: list[Finding], ct_fields: set[tuple[str, str]] = frozenset()) -> dict[str, pd.DataFrame]:
    forms: dict[str, pd.DataFrame] = {}
    findings += export.findings
    findings += unknown_form_findings(export, dictionary, ledger)
    for name, form in dictionary.forms.items():
        read = export.forms.get(name)
        frame = read.frame.copy() if read is not None else None
        findings += form_presence_findings(name, form, frame)
        if frame is None:
            frame = pd.DataFrame(columns=form.columns, dtype=str)
        frame.insert(0, "_row", np.arange(1, len(frame) + 1))
        ledger.read(name, len(frame))
        missing = missing_column_findings(name, form, frame)
        findings += extra_column_findings(name, form, frame)
        if missing:
            findings += missing
            ledger.reject(name, frame["_row"], f"form lacks column(s) {show_list(f.column for f in missing)}")
            frame = frame.iloc[0:0].reindex(columns=["_row", *form.columns], fill_value="")
        if read is not None and read.truncated and not missing:
            cut = frame["_row"] == read.truncated
            given = [c for c in form.columns if frame.loc[cut, c].ne("").any()]
            frame = _reject(frame, cut, name, "record cut off (truncated file)", given[-1] if given else form.columns[0], ledger, findings)
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
