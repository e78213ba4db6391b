"""The XLSX reader: one sheet per form; merged or multi-row headers and formulas are refused."""

import openpyxl
import pytest

from trialkit.errors import InputError
from trialkit.formats.detect import detect_format
from trialkit.formats.xlsx import read_xlsx


def workbook(tmp_path, rows, title="ae", merge=None):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    path = tmp_path / "export.xlsx"
    book.save(path)
    return path


def test_sheet_is_a_form_of_text(tmp_path):
    path = workbook(tmp_path, [["SUBJID", "AESEQ", "DOSE"], ["01-001", 1, 2.5], [None, None, None], ["01-002", 2, None]])
    assert detect_format(path) == "xlsx"
    forms, findings = read_xlsx(path)
    assert forms["ae"].frame.to_dict("list") == {"SUBJID": ["01-001", "01-002"], "AESEQ": ["1", "2"], "DOSE": ["2.5", ""]}
    assert forms["ae"].locators.tolist() == ["sheet ae row 2", "sheet ae row 4"] and findings == []


def test_formula_is_a_finding_at_its_cell(tmp_path):
    forms, findings = read_xlsx(workbook(tmp_path, [["SUBJID", "N"], ["01-001", "=1+2"]]))
    assert forms["ae"].frame["N"].tolist() == [""]
    assert [(f.row, f.column, f.value) for f in findings] == [(1, "N", "=1+2")] and "cell B2" in findings[0].message


@pytest.mark.parametrize("rows,merge", [([["SUBJID", "Event", None], ["01-001", "A", "B"]], "B1:C1"),
                                        ([["SUBJID", "Event", None, "X"], ["01-001", "A", "B", "C"]], "B1:C1"),
                                        ([["Subject", "Adverse event", None], [None, "TERM", "GRADE"]], None)],
                         ids=["merged header cells", "merged in the middle", "two header rows"])
def test_header_that_does_not_name_every_column(tmp_path, rows, merge):
    with pytest.raises(InputError, match="merged header cells or several header rows"):
        read_xlsx(workbook(tmp_path, rows, merge=merge))
