"""What an export's values say about each field: the raw dictionary entry a data manager would write.

A field's type, codes, date layout and required-ness are read off its values (and, for ODM, off the
study metadata that came with them: CodeList decodes, Mandatory, the ItemDef's Question). Where the
values cannot decide (every date reads as both DD/MM/YYYY and MM/DD/YYYY), the guess is written with
a note that ``trialkit scaffold`` turns into a "to check" comment; nothing is decided silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from trialkit.errors import InputError
from trialkit.formats.export import ExportForm, ExportMetadata
from trialkit.raw_dictionary import EDC_DATE, PATTERNS

KEYS = ("STUDYID", "SITEID", "SUBJID")
# a form name is a file stem and a YAML key; a field name is a column the specs name (dots for ODM ItemOIDs)
FORM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
# text values with at most this many distinct (trimmed, upper-case) spellings, each seen on average
# this often, are codes: a verbatim term or a comment repeats far less
CODE_MAX_DISTINCT = 12
CODE_MIN_REPEAT = 4
YES_NO = {"Y", "N", "YES", "NO", "U", "UNK", "NA"}    # a yes/no box is coded however few records show it
# integers are codes only when they are few small numbers (1/2 for sex, 0-5 for a grade)
INTEGER_CODE_MAX = 6
# names of free-text fields (terms, names, comments): text however few values an export shows
FREE_TEXT = re.compile(r"(TERM|VERB|VERBATIM|DECOD|PT|PTNM|SOC|SOCNM|LLT|HLT|TRT|NAME|COM|COMMENT|SPEC|DESC|TEXT|OTH)$")
DISTINCT_KEPT = 50
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
ISO_PARTIAL = re.compile(r"^\d{4}(-\d{2})?$")
SLASH_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
LAYOUTS = {"YYYY-MM-DD": ("%Y-%m-%d", ISO_DATE), "DD.MM.YYYY": ("%d.%m.%Y", re.compile(r"^\d{2}\.\d{2}\.\d{4}$")),
           "DD-MM-YYYY": ("%d-%m-%Y", re.compile(r"^\d{2}-\d{2}-\d{4}$"))}
DECIMAL = re.compile(r"^-?\d+\.\d+$|^-?\d+$")
DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


@dataclass
class FieldGuess:
    name: str
    label: str
    type: str
    required: bool
    codes: dict[str, str] = field(default_factory=dict)
    format: str | None = None
    partial: bool = False
    notes: list[str] = field(default_factory=list)     # written as "# to check: ..." beside the field
    distinct: tuple[str, ...] = ()                     # the first distinct values seen (trimmed), for recognizing domains

    def entry(self) -> dict:
        """The raw dictionary's field entry (trialkit.raw_dictionary.Field's keys)."""
        out = {"name": self.name, "label": self.label, "type": self.type, "required": self.required}
        if self.format:
            out["format"] = self.format
        if self.partial:
            out["partial"] = True
        if self.codes:
            out["codes"] = dict(self.codes)
        return out


@dataclass
class FormGuess:
    name: str
    source: str
    label: str
    fields: list[FieldGuess]
    one_row_per_subject: bool
    subjects: int
    records: int


def _all(values: pd.Series, pattern: re.Pattern) -> bool:
    return bool(values.str.match(pattern).all())


def _date_guess(values: pd.Series) -> tuple[str | None, bool, list[str]] | None:
    """(layout, partial, notes) when every value is a date of one kind; None when they are not dates."""
    upper = values.str.upper()
    if _all(upper, EDC_DATE):
        return "edc", bool(upper.str.match(r"^UN-|^\d{2}-UNK-|^UN-UNK-").any()), []
    for layout, (fmt, shape) in LAYOUTS.items():
        if _all(values, shape):
            if pd.to_datetime(values, format=fmt, errors="coerce").notna().mean() >= 0.95:
                return layout, False, []
    parts = values.str.extract(SLASH_DATE)
    if parts[0].notna().all():
        first, second = parts[0].astype(int), parts[1].astype(int)
        if (first > 12).any() and (second > 12).any():
            return None, False, ["values read as DD/MM/YYYY and as MM/DD/YYYY in different rows: sites write dates "
                                 "in their own layout (format: site_local with a sites: table)"]
        if (first > 12).any():
            return "DD/MM/YYYY", False, []
        if (second > 12).any():
            return "MM/DD/YYYY", False, []
        return "DD/MM/YYYY", False, [f"every date ({values.iloc[0]}, ...) reads as DD/MM/YYYY and as MM/DD/YYYY; "
                                     "DD/MM/YYYY assumed"]
    if _all(values, ISO_DATETIME):
        return None, False, ["ISO 8601 date-times: the raw dictionary has no date-time type; kept as text (map the "
                             "date part with a date field or split date and time in the export)"]
    if values.str.contains("-").any() and (values.str.match(ISO_PARTIAL) | values.str.match(ISO_DATE)).all():
        return None, False, ["ISO 8601 dates, some partial (YYYY or YYYY-MM): the raw dictionary's partial dates "
                             "are edc (DD-MON-YYYY); kept as text"]
    layouts = [shape for _, shape in LAYOUTS.values()] + [SLASH_DATE]
    if sum(values.str.match(shape).any() for shape in layouts) > 1 and \
            pd.concat([values.str.match(shape) for shape in layouts], axis=1).any(axis=1).all():
        return None, False, ["dates written in several layouts (DD.MM.YYYY, DD/MM/YYYY, YYYY-MM-DD...): site-local "
                             "dates need format: site_local and a sites: table of each country's layout; kept as text"]
    return None


def _codes(values: pd.Series) -> dict[str, str]:
    """Observed codes: one per trimmed, upper-case spelling, written as sites wrote it most often."""
    trimmed = values.str.strip()
    spelling = trimmed.groupby(trimmed.str.upper()).agg(lambda s: s.value_counts().index[0])
    return {str(v): str(v) for v in sorted(spelling, key=natural_order)}


def natural_order(value: str):
    """Sort key: numbers by value, then text (so codes 1, 2, 10 and visits WK6, WK12 read in order)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(value)) if t]


def infer_field(name: str, values: pd.Series, *, label: str = "", mandatory: bool = False,
                codelist: dict[str, str] | None = None, data_type: str | None = None) -> FieldGuess:
    """The raw dictionary entry of one field from its values (text, '' = missing) and what the
    export's metadata says of it (ODM: Question, Mandatory, CodeList, DataType)."""
    text = values.astype(str).str.strip()
    present = text[text != ""]
    required = bool(len(text)) and (mandatory or len(present) == len(text))
    guess = FieldGuess(name, label or name, "text", required, distinct=tuple(present.unique()[:DISTINCT_KEPT]))
    if name in KEYS:
        return guess
    if len(present) == 0:
        guess.notes.append("no value in the export: type unknown, text assumed")
        return guess
    if codelist:
        guess.type, guess.codes = "code", dict(codelist)
        extra = sorted(set(present.str.upper()) - {c.upper() for c in codelist})
        if extra:
            guess.codes.update({v: v for v in sorted(set(present[present.str.upper().isin(extra)]))})
            guess.notes.append(f"values {', '.join(extra[:5])} are not in the export's code list; added as codes")
        return guess
    dated = _date_guess(present)
    if dated is not None:
        layout, partial, notes = dated
        guess.notes += notes
        if layout:
            guess.type, guess.format, guess.partial = "date", layout, partial
        return guess
    if _all(present, re.compile(PATTERNS["time"])):
        guess.type = "time"
    elif _all(present.str.upper(), re.compile(PATTERNS["sci"])):
        guess.type = "sci"
    elif _all(present, re.compile(PATTERNS["integer"])):
        numbers = present.astype(int)
        small = present.nunique() <= INTEGER_CODE_MAX and numbers.between(0, 9).all() and data_type != "integer"
        if small and len(present) >= CODE_MIN_REPEAT * present.nunique():
            guess.type, guess.codes = "code", _codes(present)
        else:
            guess.type = "integer"
    elif _all(present, DECIMAL):
        guess.type = "decimal"
    elif (present.str.match(DECIMAL_COMMA) | present.str.match(DECIMAL)).all():
        guess.notes.append("decimals written with a comma in some rows: decimal: site_local needs a sites: table; kept as text")
    elif not FREE_TEXT.search(re.sub(r"[^A-Z0-9]", "", name.rsplit(".", 1)[-1].upper())):
        upper = set(present.str.upper())
        if upper <= YES_NO or (len(upper) <= CODE_MAX_DISTINCT and len(present) >= CODE_MIN_REPEAT * len(upper)):
            guess.type, guess.codes = "code", _codes(present)
    return guess


def _check_names(form: ExportForm) -> None:
    if not FORM_NAME.match(form.name):
        raise InputError(f"form name {form.name!r} cannot be a raw dictionary form (a file stem and YAML key: a letter, "
                         "then letters, digits, '_', '.' or '-'); rename it in the export", file=form.source)
    bad = [str(c) for c in form.frame.columns if not FIELD_NAME.match(str(c))]
    if bad:
        raise InputError(f"field name {bad[0]!r} cannot be a raw dictionary field (a letter, then letters, digits, '_' "
                         "or '.'); rename the column in the export", file=form.source, column=bad[0])
    duplicated = form.frame.columns[form.frame.columns.duplicated()]
    if len(duplicated):
        raise InputError("the column appears twice in the header", file=form.source, column=str(duplicated[0]))
    missing = [k for k in KEYS if k not in form.frame.columns]
    if missing:
        have = ", ".join(map(str, form.frame.columns[:8]))
        raise InputError(f"form {form.name} has no {'/'.join(missing)} column: every form needs STUDYID, SITEID and "
                         f"SUBJID to tell whose record it is (its columns: {have})", file=form.source, column=missing[0])
    empty = form.frame["SUBJID"].astype(str).str.strip() == ""
    if empty.any():
        row = int(empty.to_numpy().argmax()) + 1
        where = form.locators.iloc[row - 1] if form.locators is not None else None
        raise InputError(f"record without a subject identifier (SUBJID empty){f' at {where}' if where else ''}",
                         file=form.source, row=row, column="SUBJID")


def infer_form(form: ExportForm, metadata: ExportMetadata | None = None) -> FormGuess:
    """Every field of a form, the keys first, and whether the form holds one record per subject."""
    _check_names(form)
    meta_form = metadata.forms.get(form.name) if metadata else None
    fields = []
    for name in [*KEYS, *(c for c in form.frame.columns if c not in KEYS)]:
        item = metadata.items.get(name) if metadata else None
        codelist = metadata.codelists[item.codelist].items if item and item.codelist and item.codelist in metadata.codelists else None
        label = (item.question or item.name) if item else form.labels.get(name, "")
        fields.append(infer_field(name, form.frame[name], label=label, mandatory=bool(item and item.mandatory),
                                  codelist=codelist, data_type=item.data_type if item else None))
    subjid = form.frame["SUBJID"].astype(str).str.strip()
    label = meta_form.name if meta_form and meta_form.name != form.name else form.name
    return FormGuess(form.name, form.source, label, fields, bool(len(subjid)) and not subjid.duplicated().any(),
                     subjid.nunique(), len(subjid))
