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


def two_sheets(tmp_path):
    """A workbook holding a demographics form and a sheet that is no form (a cover note)."""
    book = openpyxl.Workbook()
    dm = book.active
    dm.title = "dm"
    for row in [["STUDYID", "SITEID", "SUBJID", "SEX"], ["S1", "01", "001", "F"], ["S1", "01", "002", "M"], ["S1", "02", "003", "F"]]:
        dm.append(row)
    book.create_sheet("cover").append(["Exported on 2024-05-01 by the data manager"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_sheet_option_reads_one_named_sheet(tmp_path):
    from trialkit.formats import read_export

    path = two_sheets(tmp_path)
    export = read_export(path, sheet="dm")
    assert list(export.forms) == ["dm"] and export.forms["dm"].frame["SUBJID"].tolist() == ["001", "002", "003"]
    assert [(f.severity, f.source, f.message) for f in export.findings] == [
        ("notice", "book.xlsx", "sheet cover not read: --sheet dm names the one sheet to read")]
    with pytest.raises(InputError) as err:
        read_export(path, sheet="ae")
    assert str(err.value) == f'{path}: no sheet named "ae" (--sheet); the workbook\'s sheets: dm, cover'
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "dm.csv").write_text("STUDYID,SITEID,SUBJID\nS1,01,001\n")
    with pytest.raises(InputError, match="--sheet dm names a sheet of an XLSX workbook, but the export is a folder of CSV files"):
        read_export(tmp_path / "csv", sheet="dm")


def test_sheet_option_on_the_cli(tmp_path, runner):
    from trialkit.cli import main

    path = two_sheets(tmp_path)
    whole = runner.invoke(main, ["scaffold", str(path), "--study", "s", "--out", str(tmp_path / "all")])
    assert whole.exit_code == 2 and "column Exported on 2024-05-01" in whole.output    # the cover note is no form
    done = runner.invoke(main, ["scaffold", str(path), "--sheet", "dm", "--study", "s", "--out", str(tmp_path / "s")])
    assert done.exit_code == 0, done.output
    assert "forms:\n  dm:" in (tmp_path / "s" / "raw_dictionary.yaml").read_text() and "cover" not in (tmp_path / "s" / "raw_dictionary.yaml").read_text()
    for command in (["sdtm", "--study", str(tmp_path / "s")], ["run", "--study", str(tmp_path / "s")]):
        refused = runner.invoke(main, [*command, str(path), "--sheet", "DM", "--out", str(tmp_path / command[0])])
        assert refused.exit_code == 2 and 'no sheet named "DM" (--sheet); the workbook\'s sheets: dm, cover' in refused.output + (refused.stderr or "")
    ran = runner.invoke(main, ["sdtm", "--study", str(tmp_path / "s"), str(path), "--sheet", "dm", "--out", str(tmp_path / "sdtm")])
    assert ran.exit_code in (0, 1) and (tmp_path / "sdtm" / "dm.xpt").exists(), ran.output
