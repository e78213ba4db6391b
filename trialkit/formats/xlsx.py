"""Raw forms from an Excel workbook (XLSX): one sheet per form, named by the sheet; its first row
is the header, every later non-empty row one record (the row in findings is the record's 1-based
position, blank rows skipped, and its locator names the sheet and row: "sheet ae row 12").

Read with openpyxl in read-only mode (rows streamed, the workbook never whole in memory). What a
spreadsheet can hold that an export should not is refused at its cell: an empty header cell (merged
header cells or a second header row leave one), and a formula (openpyxl reads the formula, not its
value, and an export's value must be the value the EDC held).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.formats.export import ExportForm
from trialkit.formats.text import value_text


def _sheet_form(sheet, path: Path) -> tuple[ExportForm, list[Finding]]:
    from openpyxl.utils import get_column_letter

    rows = sheet.iter_rows()
    header_cells = next(rows, ())
    header = [value_text(c.value).strip() for c in header_cells]
    while header and header[-1] == "":
        header.pop()
    where = f"{path.name} sheet {sheet.title}"
    for k, name in enumerate(header):
        if name == "":
            raise InputError(f"header cell {get_column_letter(k + 1)}1 is empty: merged header cells or several header rows? "
                             "The first row must name every column, one cell each", file=where, column=get_column_letter(k + 1))
    records, lines = [], []
    findings: list[Finding] = []
    for line, cells in enumerate(rows, start=2):
        values = [value_text(c.value) for c in cells]
        if not any(v.strip() for v in values):
            continue
        extra = [v for v in values[len(header):] if v.strip()]
        if extra:
            raise InputError(f"row {line} has a value in column {get_column_letter(len(header) + 1)} or further, which the "
                             "header does not name: merged header cells or several header rows? The first row must name "
                             "every column, one cell each", file=where, row=line)
        for k, c in enumerate(cells[:len(header)]):
            if c.data_type == "f":
                findings.append(Finding("error", path.name, len(records) + 1, header[k], values[k],
                                        f"sheet {sheet.title} cell {get_column_letter(k + 1)}{line} holds a formula, not a value: read as ''; "
                                        "export values, not formulas"))
                values[k] = ""
        records.append((values + [""] * len(header))[:len(header)])
        lines.append(f"sheet {sheet.title} row {line}")
    if len(set(header)) < len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"column(s) {', '.join(dup)} appear more than once in the header", file=where)
    frame = pd.DataFrame(records, columns=header, dtype=str)
    return ExportForm(sheet.title, frame, path.name, pd.Series(lines, dtype=str)), findings


def read_xlsx(path: Path, sheet: str | None = None) -> tuple[dict[str, ExportForm], list[Finding]]:
    """Every sheet of the workbook as a form (only ``sheet`` when given: ``--sheet``, a workbook
    holding more than the export; each other sheet gets a notice), and what reading them found."""
    # imported here, not at the top: every reader of trialkit.formats (trace reads one CSV) would pay 0.15 s
    import openpyxl

    path = Path(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:   # openpyxl raises zipfile, KeyError and its own errors for a broken workbook
        raise InputError(f"cannot read as an Excel workbook ({type(exc).__name__}: {exc})", file=str(path)) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f"no sheet named \"{sheet}\" (--sheet); the workbook's sheets: {', '.join(book.sheetnames)}",
                             file=str(path))
        forms, findings = {}, []
        for ws in book.worksheets:
            if sheet is not None and ws.title != sheet:
                findings.append(Finding("notice", path.name, None, None, "", f"sheet {ws.title} not read: --sheet {sheet} "
                                        "names the one sheet to read"))
                continue
            form, found = _sheet_form(ws, path)
            forms[form.name] = form
            findings += found
        return forms, findings
    finally:
        book.close()
