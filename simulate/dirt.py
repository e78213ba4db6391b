"""Documented defects injected into a rendered export (``trialkit simulate --dirty LEVEL``).

Each defect is a thing real transfers contain and the later stages must catch: an impossible date,
a code outside its codelist, a required field left empty, two rows for one subject in a
one-row-per-subject form, and a file cut off mid-record. Every defect is returned as a manifest entry
(kind, form, row, field, original and injected value), and nothing else in the export changes: the
defects draw from their own random stream, so a clean and a dirty export of the same seed differ in
exactly the listed places.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.raw_dictionary import EDC_DATE, LOCAL_DATE_FORMATS, MONTHS, RawDictionary
from trialkit.simulate.export import KEY_FIELDS

DEFECTS_PER_KIND = {0: 0, 1: 1, 2: 5}
IMPOSSIBLE_DAYS = ("31-APR", "30-FEB", "31-JUN", "31-SEP", "31-NOV", "32-JAN")
UNKNOWN_CODES = ("UNK", "9", "N/A", "?", "XX")


def _entry(kind: str, form: str, row: int, field: str, original: str, injected: str, **extra) -> dict:
    """``row``: the 1-based record of the form's frame; the writer turns it into the format's place."""
    return {"kind": kind, "form": form, "row": row, "field": field, "original": original, "injected": injected, **extra}


def last_rows_of_largest(forms: dict[str, pd.DataFrame], per_record: list[str], count: int) -> list[tuple[str, int]]:
    """The records a cut loses where each form is a file of its own (CSV, XPT): the last record of
    each of the ``count`` largest forms with several records per subject."""
    largest = sorted(per_record, key=lambda n: -len(forms[n]))[:count]
    return [(name, len(forms[name]) - 1) for name in largest]


class _Cells:
    """Picks distinct (form, row, field) cells that satisfy a condition, at random."""

    def __init__(self, forms: dict[str, pd.DataFrame], rng: np.random.Generator, reserved: set) -> None:
        self.forms, self.rng, self.used = forms, rng, set(reserved)

    def pick(self, candidates: list[tuple[str, str]], ok, tries: int = 1000) -> tuple[str, int, str] | None:
        """``ok(form, field, values)``: which cells of the field may take the defect."""
        rows = [np.flatnonzero(ok(form, field, self.forms[form][field]).to_numpy()) for form, field in candidates]
        usable = np.array([len(r) > 0 for r in rows], dtype=float)  # spread defects over fields, not rows
        if usable.sum() == 0:
            return None
        for _ in range(tries):
            k = self.rng.choice(len(candidates), p=usable / usable.sum())
            row = int(rows[k][self.rng.integers(len(rows[k]))])
            form, field = candidates[k]
            if (form, row) not in self.used:
                self.used.add((form, row))  # one defect per record, so each finding has one cause
                return form, row, field
        return None


def inject_defects(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, level: int, rng: np.random.Generator, *,
                   cut_records=last_rows_of_largest, keys_are_structure: bool = False) -> list[dict]:
    """Change ``forms`` in place; the cut files are only listed here and cut when written.

    ``cut_records(forms, per_record_forms, count)`` says which records the format's equivalent of a
    truncated file loses ([] where a cut file could not be opened at all); ``keys_are_structure``
    (ODM: the subject is the SubjectData element) keeps STUDYID, SITEID and SUBJID from being emptied.
    """
    count = DEFECTS_PER_KIND[level]
    if count == 0:
        return []
    entries = []
    per_record = [name for name, f in dictionary.forms.items() if not f.one_row_per_subject and len(forms[name]) >= 2]
    cells = _Cells(forms, rng, set())

    fields = [(name, f) for name, form in dictionary.forms.items() for f in form.fields]
    # dates written in one layout for every row: the EDC's own (DD-MON-YYYY) or a fixed one (MM/DD/YYYY)
    layouts = {(n, f.name): f.format for n, f in fields if f.type == "date" and (f.format == "edc" or f.format in LOCAL_DATE_FORMATS)}
    codes = {(n, f.name): f.codes for n, f in fields if f.type == "code"}
    required = [(n, f.name) for n, f in fields if f.required and not (keys_are_structure and f.name in KEY_FIELDS)]

    # duplicate subjects first, from clean rows; both rows and the appended one take no other defect
    one_row = [name for name, f in dictionary.forms.items() if f.one_row_per_subject and len(forms[name]) >= 2]
    for k in range(count):
        form = one_row[k % len(one_row)]
        frame = forms[form]
        free = [r for r in rng.permutation(len(frame))[: 4 * count + 2] if (form, int(r)) not in cells.used][:2]
        a, b = (int(r) for r in free)
        row = frame.iloc[[b]].copy()
        original = row["SUBJID"].iloc[0]
        row["SUBJID"], row["SITEID"] = frame.at[a, "SUBJID"], frame.at[a, "SITEID"]
        forms[form] = pd.concat([frame, row], ignore_index=True)
        cells.used |= {(form, a), (form, b), (form, len(frame))}
        entries.append(_entry("duplicate_subject", form, len(forms[form]), "SUBJID", original, frame.at[a, "SUBJID"],
                              duplicate_of=a + 1))
    cut = [hit for hit in cut_records(forms, per_record, count) if hit not in cells.used]
    cells.used |= set(cut)

    for _ in range(count):
        hit = cells.pick(list(layouts), lambda form, field, v: _complete_date(v, layouts[(form, field)]))
        if hit:
            form, row, field = hit
            original = forms[form].at[row, field]
            injected = _impossible(original, layouts[(form, field)], IMPOSSIBLE_DAYS[rng.integers(len(IMPOSSIBLE_DAYS))])
            forms[form].at[row, field] = injected
            entries.append(_entry("impossible_date", form, row + 1, field, original, injected))
        hit = cells.pick(list(codes), lambda form, field, v: v.str.strip() != "")
        if hit:
            form, row, field = hit
            allowed = {c.upper() for c in codes[(form, field)]}
            injected = next(c for c in rng.permutation(UNKNOWN_CODES) if c not in allowed)
            original = forms[form].at[row, field]
            forms[form].at[row, field] = str(injected)
            entries.append(_entry("unknown_code", form, row + 1, field, original, str(injected)))
        hit = cells.pick(required, lambda form, field, v: v.str.strip() != "")
        if hit:
            form, row, field = hit
            original = forms[form].at[row, field]
            forms[form].at[row, field] = ""
            entries.append(_entry("missing_required", form, row + 1, field, original, ""))

    for form, row in cut:
        entries.append(_entry("truncated_file", form, row + 1, "", "", "", note="file cut off inside this record"))
    return entries


def _complete_date(values: pd.Series, layout: str) -> pd.Series:
    """Complete dates of the layout (no unknown parts), the cells an impossible day can replace."""
    if layout == "edc":
        return values.str.match(EDC_DATE) & ~values.str.startswith("UN") & ~values.str.contains("UNK")
    return pd.to_datetime(values, format=LOCAL_DATE_FORMATS[layout], errors="coerce").notna()


def _impossible(original: str, layout: str, day_month: str) -> str:
    """The original date's year with an impossible day and month (``day_month`` as '31-APR'), written
    in the field's layout."""
    day, month = day_month.split("-")
    year = original[-4:] if layout == "edc" else str(pd.to_datetime(original, format=LOCAL_DATE_FORMATS[layout]).year)
    if layout == "edc":
        return f"{day_month}-{year}"
    number = f"{MONTHS.index(month) + 1:02d}"
    return LOCAL_DATE_FORMATS[layout].replace("%d", day).replace("%m", number).replace("%Y", year)

