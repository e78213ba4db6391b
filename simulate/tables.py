"""Write the rendered forms as table files: CSV, SAS transport (XPT v5), SAS7BDAT and an XLSX workbook.

Every format holds the same text values, each field a character variable (or a text cell), so that
the raw dictionary maps any of them unchanged; each writer returns the file of each form. Where the
format itself limits what it can hold, the limit is met openly, never by changing a value:

- XPT v5 names are 8 characters of letters and digits: the member name is the form name without
  '_' cut to 8 (``ex_blin`` -> ``EXBLIN``; the file keeps the form's name, ``ex_blin.xpt``); labels
  are cut to 40 characters. A value over 200 bytes, or a field name XPT cannot hold, stops the
  writer with an error naming form, field and record (trialkit.xpt's checks).
- XPT and SAS7BDAT keep no trailing blanks (SAS pads character values), so a code slip such as
  'CR ' reads back as 'CR'; leading blanks and case slips stay.
- XLSX: one sheet per form, a header row, every value a text cell ('' = an empty cell), written in
  openpyxl's write-only mode (rows streamed to the file, not held as cells).

A cut file (``--dirty``): the CSV loses the second half of its last line; the XPT is cut inside its
last observation (its size no longer a multiple of 80 bytes, which pyreadstat reads back silently
one record short). SAS7BDAT and XLSX have no such defect: a cut SAS7BDAT (pages) or XLSX (a zip
archive) cannot be opened at all, which is an unreadable file rather than a record defect.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pyreadstat

from trialkit.raw_dictionary import RawDictionary
from trialkit.xpt import DatasetMeta, Variable, write_xpt

XPT_LABEL = 40
WORKBOOK = "export.xlsx"


def truncate_last_line(data: bytes) -> bytes:
    """Cut the file inside its last record: keep the first half of the last line, no newline."""
    body = data.rstrip(b"\n")
    start = body.rfind(b"\n") + 1
    return body[: start + max(1, (len(body) - start) // 2)]


def write_csv(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, out: Path, cut: set[str]) -> dict[str, str]:
    files = {}
    for name, frame in forms.items():
        data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        (out / f"{name}.csv").write_bytes(truncate_last_line(data) if name in cut else data)
        files[name] = f"{name}.csv"
    return files


def member_name(form: str) -> str:
    """The XPT v5 member name of a form: letters and digits, upper case, at most 8."""
    return re.sub(r"[^A-Za-z0-9]", "", form).upper()[:8]


def _labels(dictionary: RawDictionary, form: str) -> dict[str, str]:
    return {f.name: f.label for f in dictionary.forms[form].fields}


def cut_inside_last_observation(path: Path, rows: int) -> None:
    """Cut an XPT v5 file in the middle of its last observation. Observations are stored back to
    back after the headers, the last 80-byte record padded with blanks; their width is the sum of
    the variables' stored widths (v5 stores no row count: ``rows`` is the frame's)."""
    width = sum(pyreadstat.read_xport(str(path), metadataonly=True)[1].variable_storage_width.values())
    size = path.stat().st_size
    start = size - math.ceil(rows * width / 80) * 80   # where the first observation begins
    with open(path, "r+b") as handle:
        handle.truncate(start + (rows - 1) * width + width // 2)


def write_xpt_files(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, out: Path, cut: set[str]) -> dict[str, str]:
    files = {}
    for name, frame in forms.items():
        labels = _labels(dictionary, name)
        meta = DatasetMeta(member_name(name), dictionary.forms[name].label[:XPT_LABEL],
                           tuple(Variable(c, labels.get(c, c)[:XPT_LABEL], "Char") for c in frame.columns))
        path = write_xpt(frame, meta, out / f"{name}.xpt")
        if name in cut:
            cut_inside_last_observation(path, len(frame))
        files[name] = path.name
    return files


def write_sas7bdat_files(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, out: Path, cut: set[str]) -> dict[str, str]:
    if cut:
        raise ValueError("a SAS7BDAT export has no cut-file defect")
    files = {}
    for name, frame in forms.items():
        labels = _labels(dictionary, name)
        pyreadstat.write_sas7bdat(frame, str(out / f"{name}.sas7bdat"), table_name=member_name(name),
                                  file_label=dictionary.forms[name].label,
                                  column_labels=[labels.get(c) for c in frame.columns])
        files[name] = f"{name}.sas7bdat"
    return files


def write_xlsx(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, out: Path, cut: set[str]) -> dict[str, str]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    if cut:
        raise ValueError("an XLSX export has no cut-file defect")
    book = Workbook(write_only=True)
    for name, frame in forms.items():
        sheet = book.create_sheet(title=name)

        def text(value: str):   # openpyxl takes a string starting with '=' for a formula
            if value.startswith("="):
                cell = WriteOnlyCell(sheet, value)
                cell.data_type = "s"
                return cell
            return value or None

        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            sheet.append([text(v) for v in row])
    book.save(out / WORKBOOK)
    return {name: WORKBOOK for name in forms}
