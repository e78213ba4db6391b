"""The raw data dictionary of a study (specs/studies/<study>/raw_dictionary.yaml).

It is the contract between an EDC export and the SDTM specs: every form, every field, its type, its
codes and its date format. The simulator writes what it says; ``check_form`` reads a form back and
lists every value that breaks it, naming form, row, field and value, so the same check serves the
simulator's tests and the SDTM stage's reading of real exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.days import parse_days
from trialkit.display import show
from trialkit.errors import SpecError
from trialkit.formats.csv_form import read_csv_form, truncated_record
from trialkit.spec import load_yaml, study_dir
from trialkit.vectorize import per_unique

FIELD_TYPES = {"text", "code", "integer", "decimal", "date", "time", "sci"}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
LOCAL_DATE_FORMATS = {"DD.MM.YYYY": "%d.%m.%Y", "DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y",
                      "YYYY-MM-DD": "%Y-%m-%d", "DD-MM-YYYY": "%d-%m-%Y"}
EDC_DATE = re.compile(r"^(\d{2}|UN)-(" + "|".join(MONTHS) + r"|UNK)-(\d{4})$")
PATTERNS = {
    "integer": r"^-?\d+$",
    "time": r"^([01]\d|2[0-3]):[0-5]\d$",
    "sci": r"^\d(\.\d+)?E[-+]\d{2}$",
}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    required: bool = False
    codes: dict[str, str] = field(default_factory=dict)
    format: str | None = None      # dates: edc | site_local | one layout for every row (a key of LOCAL_DATE_FORMATS)
    partial: bool = False          # dates: UN / UNK allowed
    decimal: str | None = None     # decimals: site_local
    pattern: str | None = None     # text: a regular expression every value matches


@dataclass(frozen=True)
class Form:
    name: str
    label: str
    fields: tuple[Field, ...]
    one_row_per_subject: bool = False
    expected: bool = False         # every export of the study has records in it: missing or empty is an error
    record_keys: tuple[str, ...] = ()   # fields that, with SUBJID, tell one record of a repeating form from another

    @property
    def identifiers(self) -> list[str]:
        """What identifies a record of the form (``trialkit diff`` matches records by it): SUBJID,
        plus ``record_keys`` when the dictionary declares them; else, for a repeating form, the form's
        date fields (a repeating form records something that happened, and when is what tells two
        records apart: a visit, an assessment, a dose)."""
        if self.record_keys or self.one_row_per_subject:
            return ["SUBJID", *self.record_keys]
        return ["SUBJID", *(f.name for f in self.fields if f.type == "date")]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]


@dataclass(frozen=True)
class Finding:
    """One value that breaks the dictionary. ``row`` is the 1-based data row (file line - 1)."""

    form: str
    row: int
    field: str
    value: str
    problem: str

    def __str__(self) -> str:
        return f"{self.form}.csv row {self.row} column {self.field}: {self.problem} (value {show(self.value)})"


@dataclass(frozen=True)
class RawDictionary:
    path: Path
    study: str
    forms: dict[str, Form]
    site_formats: dict[str, dict[str, str]]   # country -> {date: strftime pattern, decimal: "." or ","}


def _flatten(items: list) -> list:
    out = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _mapping(value, path: Path, key: str) -> dict:
    """``value`` when it is a YAML mapping (missing: empty), else a SpecError naming the key: a
    dictionary of the wrong shape is told, never a Python error from deep inside the loader."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"expected a mapping here, found {type(value).__name__ if not isinstance(value, list) else 'a list'}",
                        file=str(path), key=key)
    return value


def load_raw_dictionary(study: str | Path) -> RawDictionary:
    path = study_dir(study) / "raw_dictionary.yaml"
    data = _mapping(load_yaml(path), path, "(top level)")
    forms = {}
    for form_name, form in _mapping(data.get("forms"), path, "forms").items():
        form = _mapping(form, path, f"forms.{form_name}")
        raw_fields = form.get("fields") or []
        if not isinstance(raw_fields, list):
            raise SpecError("fields: is a list of field definitions", file=str(path), key=f"forms.{form_name}.fields")
        fields = []
        for k, raw in enumerate(_flatten(raw_fields)):
            key = f"forms.{form_name}.fields[{k}]"
            raw = _mapping(raw, path, key)
            try:
                f = Field(**{**raw, "codes": {str(c): str(v) for c, v in _mapping(raw.get("codes"), path, f"{key}.codes").items()}})
            except TypeError as exc:
                raise SpecError(f"bad field definition: {exc}", file=str(path), key=key) from None
            if not isinstance(f.type, str) or f.type not in FIELD_TYPES:
                raise SpecError(f"unknown field type {f.type!r}; expected one of {sorted(FIELD_TYPES)}", file=str(path), key=key)
            if not isinstance(f.name, str) or not f.name:
                raise SpecError(f"a field's name is text, not {f.name!r}", file=str(path), key=f"{key}.name")
            if f.pattern is not None:
                try:
                    re.compile(str(f.pattern))
                except re.error as exc:
                    raise SpecError(f"pattern {f.pattern!r} is not a regular expression: {exc}", file=str(path),
                                    key=f"{key}.pattern") from None
            if f.type == "code" and not f.codes:
                raise SpecError("code field without codes", file=str(path), key=key)
            if f.type == "date" and (not isinstance(f.format, str) or f.format not in ("edc", "site_local", *LOCAL_DATE_FORMATS)):
                raise SpecError(f"date field needs format: edc, site_local or one of {', '.join(LOCAL_DATE_FORMATS)}",
                                file=str(path), key=key)
            if f.type == "date" and f.partial and f.format != "edc":
                raise SpecError("partial: true needs format: edc (only the edc format writes unknown parts as UN / UNK)",
                                file=str(path), key=key)
            fields.append(f)
        record_keys = tuple(form.get("record_keys") or ())
        unknown = [k for k in record_keys if k not in {f.name for f in fields}]
        if unknown:
            raise SpecError(f"record_keys names field(s) the form does not have: {', '.join(unknown)}", file=str(path),
                            key=f"forms.{form_name}.record_keys")
        forms[str(form_name)] = Form(str(form_name), str(form.get("label", form_name)), tuple(fields),
                                     bool(form.get("one_row_per_subject")), bool(form.get("expected")), record_keys)
    site_formats = {}
    for country, fmt in _mapping(data.get("sites"), path, "sites").items():
        fmt = _mapping(fmt, path, f"sites.{country}")
        if not isinstance(fmt.get("date"), str) or fmt.get("date") not in LOCAL_DATE_FORMATS:
            raise SpecError(f"unknown local date format {fmt.get('date')!r}", file=str(path), key=f"sites.{country}.date")
        site_formats[country] = {"date": LOCAL_DATE_FORMATS[fmt["date"]], "decimal": fmt.get("decimal", ".")}
    return RawDictionary(path=path, study=str(data.get("study", "")), forms=forms, site_formats=site_formats)


def read_form(path: Path) -> pd.DataFrame:
    """Read a raw form as text, exactly as exported: no type guessing, empty field = ''.

    The SDTM stage's CSV reader (trialkit.formats.csv_form), so the simulator's tests read a form as
    the SDTM stage does: a file that cannot be parsed (e.g. cut inside a quoted field) is an
    InputError naming the file; a last record cut short is not an error here but a finding of
    ``truncation_findings``.
    """
    return read_csv_form(path)[0].frame


def truncation_findings(path: Path, form: Form) -> list[Finding]:
    """A file that does not end in a newline and whose last record has fewer fields than the header
    was cut off in transfer; pandas would quietly pad that record with empty fields."""
    cut = truncated_record(Path(path).read_bytes().decode("utf-8", errors="replace"), ",", len(form.columns))
    if cut is None:
        return []
    row, last, fields = cut
    return [Finding(form.name, row, form.columns[fields - 1] if fields else form.columns[0], last,
                    f"last record cut off: {fields} of {len(form.columns)} fields and no final newline (file truncated)")]


def _bad(mask: pd.Series, form: Form, f: Field, values: pd.Series, problem: str) -> list[Finding]:
    rows = np.flatnonzero(mask.to_numpy())
    return [Finding(form.name, int(r) + 1, f.name, values.iloc[r], problem) for r in rows]


def _check_edc_dates(values: pd.Series, f: Field, form: Form) -> list[Finding]:
    parts = values.str.extract(EDC_DATE)
    shape_bad = parts[0].isna()
    partial = (parts[0] == "UN") | (parts[1] == "UNK")
    out = _bad(shape_bad, form, f, values, "not a DD-MON-YYYY date")
    if not f.partial:
        out += _bad(~shape_bad & partial, form, f, values, "partial date where a complete date is required")
    unknown_month_known_day = (parts[1] == "UNK") & (parts[0] != "UN")
    out += _bad(unknown_month_known_day, form, f, values, "day given with an unknown month")
    complete = ~shape_bad & ~partial
    parsed = parse_days(values.where(complete, ""), "%d-%b-%Y")
    out += _bad(complete & parsed.isna(), form, f, values, "impossible date")
    return out


def _check_local_dates(values: pd.Series, f: Field, form: Form, country: pd.Series | None, dictionary: RawDictionary) -> list[Finding]:
    if country is None:
        return []
    out = []
    fmt = country.map({c: v["date"] for c, v in dictionary.site_formats.items()})
    present = values != ""
    out += _bad(present & fmt.isna(), form, f, values, "site country has no local date format in the dictionary")
    for pattern in fmt.dropna().unique():
        mask = (fmt == pattern) & present
        parsed = parse_days(values.where(mask, ""), pattern)
        out += _bad(mask & parsed.isna(), form, f, values, f"not a valid date in the site's format {pattern}")
    return out


def _matches(values: pd.Series, pattern: str) -> pd.Series:
    """Whether each value matches ``pattern``, matched once per distinct value."""
    return per_unique(values, lambda u: u.str.match(pattern).astype(bool))


def _in_codes(values: pd.Series, codes) -> pd.Series:
    """Whether each value, trimmed and in any case, is one of ``codes``; once per distinct value."""
    allowed = {c.upper() for c in codes}
    return per_unique(values, lambda u: u.str.strip().str.upper().isin(allowed))


def check_form(frame: pd.DataFrame, form: Form, dictionary: RawDictionary, country: pd.Series | None = None,
               *, dates: bool = True) -> list[Finding]:
    """Every value of ``frame`` (read with read_form) that breaks the dictionary, in row order.

    ``country`` (aligned with the rows) is needed to check site-local dates; without it they are
    only checked for presence. ``dates=False`` leaves date values to a caller that parses them anyway.
    """
    missing = [c for c in form.columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in form.columns]
    findings = [Finding(form.name, 0, c, "", "column missing from the form") for c in missing]
    findings += [Finding(form.name, 0, c, "", "column not in the dictionary") for c in extra]
    if form.one_row_per_subject and "SUBJID" in frame.columns:
        subjid = frame["SUBJID"].astype(str).str.strip()
        repeated = subjid.duplicated(keep="first") & (subjid != "")
        findings += _bad(repeated, form, form.fields[[f.name for f in form.fields].index("SUBJID")], frame["SUBJID"].astype(str),
                         "second record for a subject in a one-row-per-subject form")
    for f in form.fields:
        if f.name not in frame.columns:
            continue
        values = frame[f.name].astype(str)
        empty = per_unique(values, lambda u: u.str.strip() == "")
        if f.required:
            findings += _bad(empty, form, f, values, "required value missing")
        present = ~empty
        if f.type == "code":
            findings += _bad(present & ~_in_codes(values, f.codes), form, f, values, "value not in codes")
        elif f.type in PATTERNS:
            findings += _bad(present & ~_matches(values, PATTERNS[f.type]), form, f, values, f"not a valid {f.type}")
        elif f.type == "decimal":
            sep = r"[.,]" if f.decimal == "site_local" else r"\."
            findings += _bad(present & ~_matches(values, rf"^-?\d+({sep}\d+)?$"), form, f, values, "not a valid decimal")
        elif f.type == "text" and f.pattern:
            findings += _bad(present & ~_matches(values, f.pattern), form, f, values, "does not match the field's pattern")
        elif f.type == "date" and not dates:
            continue
        elif f.type == "date" and f.format == "edc":
            findings += _check_edc_dates(values.where(present, "01-JAN-2000"), f, form)
        elif f.type == "date" and f.format in LOCAL_DATE_FORMATS:
            parsed = parse_days(values.where(present, ""), LOCAL_DATE_FORMATS[f.format])
            findings += _bad(present & parsed.isna(), form, f, values, f"not a valid {f.format} date")
        elif f.type == "date":
            findings += _check_local_dates(values.where(present, ""), f, form, country, dictionary)
    return sorted(findings, key=lambda x: (x.row, x.field))
