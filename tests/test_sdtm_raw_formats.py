"""The SDTM stage reads every export format alike: one small simulated export, written as CSV and
converted to XPT, XLSX and ODM (simulate's ODM writer) here, maps to the same datasets; findings
name the file the user has and, for ODM, the record's locator; folders with stray entries give findings or errors."""

import os
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from trialkit.errors import InputError
from trialkit.formats import read_export
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.sdtm.engine import run_sdtm
from trialkit.simulate import odm
from trialkit.simulate.export_formats import record_places
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.writer import write_export

STUDY = "ball_relapse"


def to_xlsx(forms, path):
    book = openpyxl.Workbook(write_only=True)
    for name, frame in forms.items():
        sheet = book.create_sheet(name)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
    book.save(path)


def whole_records(folder):
    """The CSV export's forms; the record a truncated CSV cuts off is not carried over: the other
    formats hold only whole records."""
    return {n: f.frame.iloc[:f.truncated - 1 if f.truncated else None] for n, f in read_export(folder).forms.items()}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    base = tmp_path_factory.mktemp("raw_formats")
    dictionary = load_raw_dictionary(STUDY)
    profile = load_profile(STUDY)
    write_export(simulate_study(profile, 12, 7), dictionary, base / "csv", dirty=1)
    forms = whole_records(base / "csv")
    (base / "xpt").mkdir()
    for name, frame in forms.items():
        pyreadstat.write_xport(frame, str(base / "xpt" / f"{name}.xpt"), table_name=name[:8])
    (base / "xlsx").mkdir()
    to_xlsx(forms, base / "xlsx" / "export.xlsx")
    odm.write_odm(forms, dictionary, base / "export.xml", study_oid=profile.study.studyid, file_oid="F",
                  created="2024-01-01T00:00:00")
    return base


@pytest.fixture(scope="module")
def results(exports):
    return {fmt: run_sdtm(STUDY, exports / fmt if fmt != "odm" else exports / "export.xml") for fmt in ("csv", "xpt", "xlsx", "odm")}


@pytest.fixture(scope="module")
def odm_places(exports):
    """(form, CSV record number) -> where the ODM file holds that record (its position and locator):
    simulate's ODM writer groups each subject's records, so positions differ from the CSV's."""
    forms = whole_records(exports / "csv")
    place = record_places("odm", forms, {name: "export.xml" for name in forms})
    return {(name, k): place(name, k) for name, frame in forms.items() for k in range(1, len(frame) + 1)}


def as_csv_rows(frame, places):
    """The dataset with each provenance row (_row, _row_N of the form in _form, _form_N) the CSV record number."""
    back = {(form, p["row"]): k for (form, k), p in places.items()}
    frame = frame.copy()
    for column in [c for c in frame.columns if c.startswith("_row")]:
        forms = frame["_form" + column[len("_row"):]]
        frame[column] = [back.get((f, r), r) for f, r in zip(forms, frame[column])]
    return frame


@pytest.mark.parametrize("fmt", ["xpt", "xlsx", "odm"])
def test_same_datasets_as_csv(results, odm_places, fmt):
    csv = results["csv"].datasets
    other = results[fmt].datasets
    assert set(other) == set(csv)
    for name in csv:
        got = as_csv_rows(other[name], odm_places) if fmt == "odm" else other[name]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), csv[name].reset_index(drop=True), check_dtype=False,
                                      obj=f"{fmt} {name}")


@pytest.mark.parametrize("fmt,source", [("xpt", ".xpt"), ("xlsx", "export.xlsx"), ("odm", "export.xml")])
def test_findings_name_the_file_and_record(results, odm_places, fmt, source):
    csv = [f for f in results["csv"].findings if f.row is not None and "cut off" not in f.message]
    other = [f for f in results[fmt].findings if f.row is not None]
    assert all(f.source.endswith(source) for f in other)
    if fmt != "odm":
        assert csv and [(f.row, f.column, f.value, f.message) for f in other] == [(f.row, f.column, f.value, f.message) for f in csv]
        return
    # the ODM finding names the same record by its place in the file and its locator
    expected = []
    for f in csv:
        place = odm_places[(Path(f.source).stem, f.row)]
        expected.append((place["row"], place["locator"], f.column, f.value, f.message))
    assert csv and sorted((f.row, f.record, f.column, f.value, f.message) for f in other) == sorted(expected)
    assert all(f.record.startswith(f"{f.subject}/{odm.EVENT}/") for f in other if f.subject)


def test_mixed_formats_for_one_form_are_an_error(exports, tmp_path):
    (tmp_path / "ae.csv").write_bytes((exports / "csv" / "ae.csv").read_bytes())
    (tmp_path / "ae.xpt").write_bytes((exports / "xpt" / "ae.xpt").read_bytes())
    with pytest.raises(InputError, match="two files for form ae: ae.csv and ae.xpt"):
        read_export(tmp_path)


def test_stray_entries_are_reported_not_read(exports, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for p in (exports / "csv").glob("*.csv"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "ae.csv").rename(folder / "AE.CSV")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    (folder / "cm.csv").rename(tmp_path / "cm.csv")
    (folder / "cm.csv").mkdir()
    os.mkfifo(folder / "mh.csv")
    (folder / "dev.csv").symlink_to("/dev/zero")
    result = run_sdtm(STUDY, folder)
    said = {}
    for f in result.findings:
        said.setdefault(f.source, []).append(f"{f.severity}: {f.message}")
    assert said["AE.CSV"] == ["error: form AE is named in another case than the raw dictionary's form ae: rename it; "
                              f"its {len(read_export(exports / 'csv').forms['ae'].frame)} record(s) are not read"]
    assert said["notes.csv"] == ["warning: not a form of the raw dictionary; its 1 record(s) are not read"]
    assert said["cm.csv"][0] == "warning: a folder, not a regular file: not read"
    assert said["mh.csv"] == ["warning: a FIFO, not a regular file: not read"]
    assert said["dev.csv"] == ["warning: a device (a symlink), not a regular file: not read"]
    (renamed,) = [r for r in result.ledger.reconciliation() if r["form"] == "AE"]
    assert renamed["rows_in"] == renamed["rejected"] > 0 and renamed["unaccounted"] == 0


def test_encoding_error_through_the_stage(exports, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for p in (exports / "csv").glob("*.csv"):
        (folder / p.name).write_bytes(p.read_bytes())
    lines = (folder / "cm.csv").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b",", b",\xdc", 1)     # a Latin-1 Ü in line 3
    (folder / "cm.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"cm.csv: line 3, byte offset \d+"):
        run_sdtm(STUDY, folder)
    assert run_sdtm(STUDY, folder, "latin-1").datasets


def test_sas_dates_the_dictionary_does_not_expect(exports, tmp_path):
    """A SAS date reads as YYYY-MM-DD; where the raw dictionary says DD-MON-YYYY (format: edc), each
    record is reported at the SAS file, row and column, not mapped on a guess."""
    folder = tmp_path / "xpt"
    folder.mkdir()
    for p in (exports / "xpt").glob("*.xpt"):
        (folder / p.name).write_bytes(p.read_bytes())
    dm = read_export(exports / "xpt").forms["dm"].frame
    dates = pd.to_datetime(dm["BRTHDAT"], format="%d-%b-%Y", errors="coerce")   # partial dates (UN-OCT-2009) left empty
    pyreadstat.write_xport(dm.assign(BRTHDAT=dates.dt.date), str(folder / "dm.xpt"), table_name="dm")
    found = {f.row: f for f in run_sdtm(STUDY, folder).findings if f.column == "BRTHDAT" and f.value}
    assert sorted(found) == [k + 1 for k in range(len(dm)) if pd.notna(dates.iloc[k])] and found
    assert all(f.source == "dm.xpt" and f.severity == "error" and f.value == dates.iloc[f.row - 1].strftime("%Y-%m-%d")
               for f in found.values())


def test_encoding_option_on_the_cli(exports, tmp_path, runner):
    from trialkit.cli import main

    folder = tmp_path / "raw"
    folder.mkdir()
    for p in (exports / "csv").glob("*.csv"):
        (folder / p.name).write_bytes(p.read_text(encoding="utf-8").encode("utf-16"))
    args = ["sdtm", "--study", STUDY, str(folder), "--out", str(tmp_path / "sdtm")]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2 and "--encoding" in refused.output + (refused.stderr or "")
    assert runner.invoke(main, [*args, "--encoding", "utf-16"]).exit_code == 1    # the dirty export's errors, read
