"""The CSV reader: every way a CSV export can be broken is a finding or an error at its place."""

import os

import pytest

from trialkit.errors import InputError
from trialkit.formats.csv_form import read_csv_form

HEADER = "STUDYID,SITEID,SUBJID,AETERM\n"


def write(tmp_path, text, name="ae.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_values_are_read_as_text_exactly(tmp_path):
    form, findings = read_csv_form(write(tmp_path, HEADER + "S1,01,01-001,007\nS1,01,01-002,\n"))
    assert form.frame["AETERM"].tolist() == ["007", ""] and form.source == "ae.csv" and findings == []


def test_undecodable_byte_names_line_and_offset(tmp_path):
    path = write(tmp_path, HEADER.encode() + "S1,01,01-001,Übelkeit\n".encode("latin-1"))
    with pytest.raises(InputError) as err:
        read_csv_form(path)
    offset = len(HEADER) + len("S1,01,01-001,")
    assert f"line 2, byte offset {offset}" in str(err.value) and "--encoding" in str(err.value)
    assert read_csv_form(path, "latin-1")[0].frame["AETERM"].iloc[0] == "Übelkeit"


def test_semicolon_delimiter_is_read_with_a_finding(tmp_path):
    form, findings = read_csv_form(write(tmp_path, HEADER.replace(",", ";") + "S1;01;01-001;RASH\n"))
    assert form.frame["AETERM"].tolist() == ["RASH"]
    assert [f.value for f in findings] == [";"] and "not by commas" in findings[0].message


def test_nul_byte_is_an_error_at_its_line(tmp_path):
    with pytest.raises(InputError, match="line 3: NUL"):
        read_csv_form(write(tmp_path, HEADER + "S1,01,01-001,A\nS1,01,01-002,B\x00\n"))


def test_extra_field_on_the_first_record_is_that_cause(tmp_path):
    with pytest.raises(InputError) as err:
        read_csv_form(write(tmp_path, HEADER + "S1,01,01-001,RASH,ITCHY\nS1,01,01-002,FEVER\n"))
    assert err.value.row == 2 and "first record has 5 fields, the header 4" in str(err.value)


def test_duplicate_header_column_is_a_finding_and_not_read_twice(tmp_path):
    form, findings = read_csv_form(write(tmp_path, "STUDYID,SUBJID,AETERM,AETERM\nS1,01-001,A,B\n"))
    assert list(form.frame.columns) == ["STUDYID", "SUBJID", "AETERM"]
    assert [(f.column, f.severity) for f in findings] == [("AETERM", "error")]


@pytest.mark.parametrize("last", ['S1,01,01-003,"TWO\nLINES', "S1,01,01-003", "S1,01\u2028,01"],
                         ids=["quoted newline", "short", "U+2028"])
def test_truncated_last_record_is_marked(tmp_path, last):
    text = HEADER + 'S1,01,01-001,"A\nB"\n\nS1,01,01-002,C\n' + last
    if last.count('"') % 2:
        with pytest.raises(InputError, match="truncated"):
            read_csv_form(write(tmp_path, text))
        return
    form, _ = read_csv_form(write(tmp_path, text))
    assert form.truncated == 3 == len(form.frame)


def test_complete_file_without_final_newline_is_not_truncated(tmp_path):
    form, _ = read_csv_form(write(tmp_path, HEADER + "S1,01,01-001,A"))
    assert form.truncated is None


def test_bad_files_shipped_give_their_errors():
    folder = os.path.join(os.path.dirname(__file__), "data", "bad")   # the corpus of tests/data/bad/README.md
    with pytest.raises(InputError, match="cannot be decoded as utf-8"):
        read_csv_form(os.path.join(folder, "latin1.csv"))


def test_a_header_wider_than_any_form_is_refused_before_parsing(tmp_path):
    """A CSV with 10,001 columns (a 9.5 MB file of a million took 47 s and 2.9 GB to fail with an
    unrelated message) is refused at its header line, naming the count."""
    from trialkit.formats.csv_form import MAX_COLUMNS

    path = tmp_path / "enrol.csv"
    width = MAX_COLUMNS + 1
    path.write_text(",".join(f"C{i}" for i in range(width)) + "\n" + ",".join("x" * width) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"header has {width:,} columns") as err:
        read_csv_form(path)
    assert "enrol.csv" in str(err.value)
