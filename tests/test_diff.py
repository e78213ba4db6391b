"""trialkit diff (trialkit/diff/): two transfers compared by natural keys, never by row position."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from trialkit.cli import main
from trialkit.diff.folders import diff_folders
from trialkit.diff.output import write_html
from trialkit.diff.records import NEW, OLD
from trialkit.errors import InputError, SpecError
from trialkit.xpt import DatasetMeta, Variable, read_xpt, write_xpt


def write_domain(folder: Path, name: str, frame: pd.DataFrame) -> None:
    """A tiny XPT dataset: Num for numeric columns, Char otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    variables = tuple(Variable(c, c, "Num" if pd.api.types.is_numeric_dtype(frame[c]) else "Char") for c in frame.columns)
    write_xpt(frame, DatasetMeta(name, name, variables), folder / f"{name.lower()}.xpt")


def dm(subjects=("S-1", "S-2", "S-3"), studyid="ST1") -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": list(subjects), "SEX": "F"})


def ae(rows: list[tuple], studyid="ST1") -> pd.DataFrame:
    """(USUBJID, AESEQ, AEDECOD, AESTDTC, AESEV) per record."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "AESEQ", "AEDECOD", "AESTDTC", "AESEV"])
    return frame.assign(STUDYID=studyid, DOMAIN="AE", AESEQ=frame["AESEQ"].astype(float))[
        ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AEDECOD", "AESTDTC", "AESEV"]]


AE_OLD = [("S-1", 1, "Nausea", "2020-01-02", "MILD"), ("S-1", 2, "Fever", "2020-01-05", "MILD"),
          ("S-2", 1, "Rash", "2020-02-01", "MODERATE")]


@pytest.fixture
def sdtm_pair(tmp_path):
    """old/ and new/ SDTM folders: new has one AE changed (AESEV), one added, one removed."""
    write_domain(tmp_path / "old", "DM", dm())
    write_domain(tmp_path / "new", "DM", dm())
    write_domain(tmp_path / "old", "AE", ae(AE_OLD))
    write_domain(tmp_path / "new", "AE", ae([("S-1", 1, "Nausea", "2020-01-02", "SEVERE"),
                                             ("S-2", 1, "Rash", "2020-02-01", "MODERATE"),
                                             ("S-3", 1, "Cough", "2020-03-01", "MILD")]))
    return tmp_path / "old", tmp_path / "new"


def _dataset(result, name):
    return next(d for diffs in result.sections.values() for d in diffs if d.name == name)


def test_diff_01_added_removed_changed_with_variable_and_values(sdtm_pair):
    result = diff_folders(*sdtm_pair)
    assert result.kind == "sdtm" and result.studyid == "ST1"
    diff = _dataset(result, "AE")
    assert diff.keys == ["STUDYID", "USUBJID", "AEDECOD", "AESTDTC"]          # the SDTMIG's, without --study
    assert diff.added[["USUBJID", "AEDECOD"]].values.tolist() == [["S-3", "Cough"]]
    assert diff.removed[["USUBJID", "AEDECOD"]].values.tolist() == [["S-1", "Fever"]]
    assert diff.changes[["USUBJID", "AEDECOD", "variable", "old", "new"]].values.tolist() == [
        ["S-1", "Nausea", "AESEV", "MILD", "SEVERE"]]
    assert not _dataset(result, "DM").differs and result.differs


def test_diff_02_seq_renumbered_and_rows_reordered_is_no_change(tmp_path):
    write_domain(tmp_path / "old", "DM", dm())
    write_domain(tmp_path / "old", "AE", ae(AE_OLD))
    renumbered = [(s, 3 - seq if s == "S-1" else seq, *rest) for s, seq, *rest in reversed(AE_OLD)]
    write_domain(tmp_path / "new", "DM", dm())
    write_domain(tmp_path / "new", "AE", ae(renumbered))
    supp = {"STUDYID": "ST1", "RDOMAIN": "AE", "USUBJID": "S-1", "IDVAR": "AESEQ", "QNAM": "AETRTEM", "QLABEL": "TE",
            "QVAL": "Y"}
    write_domain(tmp_path / "old", "SUPPAE", pd.DataFrame([{**supp, "IDVARVAL": "2"}]))      # Fever was AESEQ 2 ...
    write_domain(tmp_path / "new", "SUPPAE", pd.DataFrame([{**supp, "IDVARVAL": "1"}]))      # ... and is AESEQ 1 now
    result = diff_folders(tmp_path / "old", tmp_path / "new")
    assert not result.differs, [d.records() for diffs in result.sections.values() for d in diffs if d.differs]
    assert _dataset(result, "AE").ignored == ["AESEQ"]


def test_diff_03_a_dataset_on_one_side_only_is_added_or_removed(sdtm_pair, tmp_path):
    old, new = sdtm_pair
    write_domain(new, "CM", pd.DataFrame({"STUDYID": ["ST1"], "DOMAIN": "CM", "USUBJID": "S-1", "CMSEQ": [1.0],
                                          "CMTRT": "Paracetamol", "CMSTDTC": "2020-01-01"}))
    (old / "ae.xpt").unlink()
    result = diff_folders(old, new)
    cm, ae_diff = _dataset(result, "CM"), _dataset(result, "AE")
    assert (cm.old_records, cm.new_records, len(cm.added)) == (None, 1, 1)
    assert (ae_diff.old_records, ae_diff.new_records, len(ae_diff.added)) == (None, 3, 3)


def test_diff_04_duplicate_keys_are_a_finding_and_the_rest_is_compared(sdtm_pair):
    old, new = sdtm_pair
    write_domain(new, "AE", ae([("S-1", 1, "Nausea", "2020-01-02", "SEVERE"), ("S-2", 1, "Rash", "2020-02-01", "MILD"),
                                ("S-2", 2, "Rash", "2020-02-01", "MODERATE")]))
    diff = _dataset(diff_folders(old, new), "AE")
    assert diff.duplicates == [{"dataset": "AE", "side": "new", "rows": [2, 3],
                                "keys": {"STUDYID": "ST1", "USUBJID": "S-2", "AEDECOD": "Rash", "AESTDTC": "2020-02-01"}}]
    assert diff.changes[["USUBJID", "variable", "new"]].values.tolist() == [["S-1", "AESEV", "SEVERE"]]
    assert diff.removed["AEDECOD"].tolist() == ["Fever"]
    # old Rash (MODERATE) is paired with its identical record of the repeated new key; the other is added
    assert diff.added[["AEDECOD", NEW]].values.tolist() == [["Rash", 1]]


def test_diff_04b_repeated_keys_on_both_sides_paired_by_content_then_in_file_order(tmp_path):
    """Test 4b: three Rash records of one subject and day in the old transfer, two in the new: the
    identical one pairs first (though it moved), the changed one pairs with the first left in file
    order, the last old one is removed; nothing is added."""
    old_rows = [("S-1", 1, "Rash", "2020-02-01", "MILD"), ("S-1", 2, "Rash", "2020-02-01", "SEVERE"),
                ("S-1", 3, "Rash", "2020-02-01", "MODERATE")]
    new_rows = [("S-1", 1, "Rash", "2020-02-01", "SEVERE"), ("S-1", 2, "Rash", "2020-02-01", "LIFE THREATENING")]
    for side, rows in (("old", old_rows), ("new", new_rows)):
        write_domain(tmp_path / side, "DM", dm())
        write_domain(tmp_path / side, "AE", ae(rows))
    diff = _dataset(diff_folders(tmp_path / "old", tmp_path / "new"), "AE")
    assert [d["rows"] for d in diff.duplicates] == [[1, 2, 3], [1, 2]]
    assert diff.changes[["variable", "old", "new", OLD, NEW]].values.tolist() == [["AESEV", "MILD", "LIFE THREATENING", 0, 1]]
    assert diff.removed[OLD].tolist() == [2] and diff.added.empty


def test_diff_05_different_studies_and_kinds_exit_2(sdtm_pair, tmp_path, runner):
    old, _ = sdtm_pair
    write_domain(tmp_path / "other", "DM", dm(studyid="ST2"))
    done = runner.invoke(main, ["diff", str(old), str(tmp_path / "other")])
    assert done.exit_code == 2 and "different studies" in done.output and "ST2" in done.output
    done = runner.invoke(main, ["diff", str(old), str(old), "--study", "ball_relapse"])
    assert done.exit_code == 2 and "STUDYID ST1, not BALLR01" in done.output
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "dm.csv").write_text("STUDYID,SUBJID\nST1,1\n", encoding="utf-8")
    done = runner.invoke(main, ["diff", str(old), str(tmp_path / "raw")])
    assert done.exit_code == 2 and "different kinds" in done.output
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither a raw export"):
        diff_folders(old, tmp_path / "empty")


def test_diff_06_exit_codes_json_and_html(sdtm_pair, tmp_path, runner):
    old, new = sdtm_pair
    assert runner.invoke(main, ["diff", str(old), str(new)]).exit_code == 0
    done = runner.invoke(main, ["diff", str(old), str(new), "--fail-on-change", "--json", str(tmp_path / "d.json")])
    assert done.exit_code == 1, done.output
    report = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    ae_json = next(d for d in report["datasets"] if d["dataset"] == "AE")
    assert ae_json["changes"] == [{"STUDYID": "ST1", "USUBJID": "S-1", "AEDECOD": "Nausea", "AESTDTC": "2020-01-02",
                                   "old_row": 1, "new_row": 1, "variable": "AESEV", "old": "MILD", "new": "SEVERE"}]
    assert (ae_json["added"], ae_json["removed"], ae_json["changed"]) == (1, 1, 1)
    assert runner.invoke(main, ["diff", str(old), str(old), "--fail-on-change"]).exit_code == 0


def test_diff_07_html_escapes_values(sdtm_pair):
    old, new = sdtm_pair
    write_domain(new, "AE", ae([("S-1", 1, "Nausea", "2020-01-02", "<script>alert(1)</script>")]))
    page = write_html(diff_folders(old, new), new.parent / "diff.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http" not in page                                  # self-contained: no CDN, no external file


def sas_day(iso: str) -> float:
    return float((pd.Timestamp(iso) - pd.Timestamp("1960-01-01")).days)


def test_diff_08_adtte_record_matched_on_subject_and_parameter(tmp_path):
    adsl = pd.DataFrame({"STUDYID": "ST1", "USUBJID": ["S-1", "S-2"], "TRTSDT": [sas_day("2017-01-01")] * 2})
    adtte = pd.DataFrame({"STUDYID": "ST1", "USUBJID": ["S-1", "S-1"], "PARAMCD": ["OS", "EFS"],
                          "ADT": [sas_day("2017-08-04"), sas_day("2017-03-01")], "CNSR": [1.0, 0.0],
                          "SRCDOM": ["ADSL", "CE"], "SRCSEQ": [float("nan"), 1.0]})
    later = adtte.assign(ADT=[sas_day("2017-05-06"), sas_day("2017-03-01")], CNSR=[0.0, 0.0])
    for side, frame in (("old", adtte), ("new", later)):
        write_domain(tmp_path / side, "ADSL", adsl)
        write_domain(tmp_path / side, "ADTTE", frame)
    result = diff_folders(tmp_path / "old", tmp_path / "new")
    diff = _dataset(result, "ADTTE")
    assert result.kind == "adam" and diff.keys == ["STUDYID", "USUBJID", "PARAMCD"]
    assert diff.changes[["PARAMCD", "variable", "old", "new"]].values.tolist() == [
        ["OS", "ADT", "2017-08-04", "2017-05-06"], ["OS", "CNSR", "1", "0"]]    # dates as ISO 8601, never SAS days
    assert [s["subject"] for s in result.subjects] == ["S-1"]


def test_diff_09_raw_forms_matched_by_the_dictionary_record_keys(demo, tmp_path):
    new = tmp_path / "raw"
    shutil.copytree(demo / "raw", new)
    form = pd.read_csv(new / "ae.csv", dtype=str, keep_default_na=False)
    subject, spid = form["SUBJID"].iloc[0], form["AESPID"].iloc[0]
    form.loc[0, "AETOXGR"] = "4" if form.loc[0, "AETOXGR"] != "4" else "3"
    form.iloc[::-1].to_csv(new / "ae.csv", index=False)                  # rows in another order
    result = diff_folders(demo / "raw", new)
    diff = _dataset(result, "ae")
    assert diff.keys == ["SUBJID", "AESPID"] and result.study == "ball_relapse"
    assert diff.changes[["SUBJID", "AESPID", "variable"]].values.tolist() == [[subject, spid, "AETOXGR"]]
    assert not diff.added.shape[0] and not diff.removed.shape[0]
    assert [d.name for d in result.sections["raw"] if d.differs] == ["ae"]


def test_diff_10_record_keys_must_be_fields_of_the_form(tmp_path):
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.spec import study_dir

    study = tmp_path / "study"
    shutil.copytree(study_dir("solid_tumour"), study)
    text = (study / "raw_dictionary.yaml").read_text(encoding="utf-8")
    (study / "raw_dictionary.yaml").write_text(text.replace("record_keys: [AENUM]", "record_keys: [AENO]"), encoding="utf-8")
    with pytest.raises(SpecError, match="AENO") as err:
        load_raw_dictionary(study)
    assert err.value.key == "forms.adverse.record_keys"


@pytest.fixture(scope="module")
def edited_run(demo, tmp_path_factory):
    """The demo's raw export with one adverse event raised to grade 4 (a subject who had none of
    grade >= 3), run again: (that subject, the new run's folder)."""
    from trialkit.pipeline import run_pipeline

    folder = tmp_path_factory.mktemp("edited_run")
    shutil.copytree(demo / "raw", folder / "raw")
    form = pd.read_csv(folder / "raw" / "ae.csv", dtype=str, keep_default_na=False)
    worst = pd.to_numeric(form["AETOXGR"], errors="coerce").groupby(form["SUBJID"]).transform("max")
    row = int((worst < 3).to_numpy().nonzero()[0][0])
    form.loc[row, "AETOXGR"] = "4"
    form.to_csv(folder / "raw" / "ae.csv", index=False)
    run_pipeline("ball_relapse", folder / "raw", folder / "out")
    return f"BALLR01-{form.loc[row, 'SUBJID']}", folder / "out"


def test_diff_11_two_runs_the_edited_record_and_the_report_cell_it_moved(demo, edited_run, runner, tmp_path):
    usubjid, new = edited_run
    done = runner.invoke(main, ["diff", str(demo), str(new), "--json", str(tmp_path / "d.json"), "--html",
                                str(tmp_path / "d.html")])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert report["kind"] == "run" and report["study"] == "ball_relapse"
    sdtm_ae = next(d for d in report["datasets"] if d["section"] == "sdtm" and d["dataset"] == "AE")
    assert [(c["USUBJID"], c["variable"], c["new"]) for c in sdtm_ae["changes"]] == [(usubjid, "AETOXGR", "4")]
    moved = {d["dataset"] for d in report["summary"] if d["added"] or d["removed"] or d["changed"]}
    assert moved == {"AE", "ADAE"}
    table6 = next(t for t in report["report"] if t["table"] == "table6")
    assert any(c["row"] == "Grade >= 3" for c in table6["cells"])
    assert usubjid in table6["subjects"] and "ADAE" in table6["datasets"]
    assert "table6 | Grade >= 3" in done.output


def test_diff_12_adtte_change_traced_to_its_sdtm_source_record_and_raw_row():
    from trialkit.diff.explain import explain_subjects, raw_labels
    from trialkit.diff.records import diff_records

    ce_old = pd.DataFrame({"STUDYID": "ST1", "USUBJID": ["S-1", "S-1"], "CESEQ": [1.0, 2.0], "CETERM": ["RELAPSE", "SMN"],
                           "CESTDTC": ["2020-05-01", "2021-01-01"]})
    ce_new = pd.DataFrame({"STUDYID": "ST1", "USUBJID": ["S-1", "S-1", "S-1"], "CESEQ": [1.0, 2.0, 3.0],
                           "CETERM": ["RELAPSE", "RELAPSE", "SMN"], "CESTDTC": ["2020-03-01", "2020-05-01", "2021-01-01"]})
    adtte_old = pd.DataFrame({"STUDYID": "ST1", "USUBJID": ["S-1"], "PARAMCD": ["EFS"], "AVAL": [120.0], "CNSR": [0.0],
                              "SRCDOM": ["CE"], "SRCSEQ": [1.0]})
    adtte_new = adtte_old.assign(AVAL=[60.0])               # the earlier relapse (new CESEQ 1) is the event now
    keys = ["STUDYID", "USUBJID", "CETERM", "CESTDTC"]
    sdtm = [diff_records("CE", ce_old, ce_new, keys, ("CESEQ",))]
    sdtm[0].kept = {"CESEQ": (ce_old["CESEQ"].to_numpy(), ce_new["CESEQ"].to_numpy())}
    adam = [diff_records("ADTTE", adtte_old, adtte_new, ["STUDYID", "USUBJID", "PARAMCD"])]
    adam[0].kept = {c: (adtte_old[c].to_numpy(), adtte_new[c].to_numpy()) for c in ("SRCDOM", "SRCSEQ")}
    provenance = pd.DataFrame({"dataset": "CE", "record": [1, 2, 3], "form": "relapse", "row": [7, 8, 9], "file": "relapse.csv",
                               "locator": ""})
    [subject] = explain_subjects(adam, sdtm, (None, raw_labels(provenance)))
    assert subject["subject"] == "S-1"
    assert subject["analysis"] == [{"dataset": "ADTTE", "change": "changed", "record": "PARAMCD=EFS",
                                    "detail": "AVAL: 120 -> 60"}]
    assert subject["sdtm_sources"] == [{"dataset": "CE", "change": "added", "record": "CETERM=RELAPSE; CESTDTC=2020-03-01",
                                        "detail": "", "raw": "relapse.csv row 7"}]
    assert subject["sdtm_other"] == []


def test_diff_12b_raw_records_of_an_odm_export_are_named_by_their_locator():
    """Test 12b: behind an SDTM record mapped from an ODM export the diff names the record as the
    export locates it (SubjectKey / StudyEvent / Form / ItemGroup), as trace does, not as a CSV row."""
    from trialkit.diff.explain import raw_labels
    from trialkit.provenance import raw_record

    provenance = pd.DataFrame({"dataset": ["AE", "AE", "DM"], "record": [1, 1, 1], "form": ["ae", "ae", "dm"], "row": [3, 4, 1],
                               "file": ["export.xml", "export.xml", "dm.csv"],
                               "locator": ["01-001/SE.C1/ae/IG.ae[1]", "01-001/SE.C1/ae/IG.ae[2]", ""]})
    labels = raw_labels(provenance).set_index(["dataset", "row"])["raw"]
    assert labels["AE", 0] == "export.xml record 01-001/SE.C1/ae/IG.ae[1], export.xml record 01-001/SE.C1/ae/IG.ae[2]"
    assert labels["DM", 0] == "dm.csv row 1" == raw_record("dm.csv", 1, "")


def test_diff_13_raw_exports_in_any_format_compared_as_the_sdtm_stage_reads_them(tmp_path, runner):
    """Test 13: the same simulated export as CSV and as ODM-XML, XLSX or SAS7BDAT has no
    differences (each read by trialkit.formats, as ``trialkit sdtm`` reads it); one AE grade edited
    in the CSV is the one change against the ODM file; a FIFO named like a form is said, not
    skipped in silence; ``--encoding`` reads a Latin-1 export (before: UTF-8 CSV only)."""
    from trialkit.cli import run_simulation

    for fmt in ("csv", "odm", "xlsx", "sas7bdat"):
        run_simulation("ball_relapse", 12, 4, tmp_path / fmt, None, 0, 0.0, fmt)
    for fmt in ("odm", "xlsx", "sas7bdat"):
        result = diff_folders(tmp_path / "csv", tmp_path / fmt)
        assert result.kind == "raw" and not result.differs and len(result.sections["raw"]) >= 10, fmt
    shutil.copytree(tmp_path / "csv", tmp_path / "latin_new")
    form = pd.read_csv(tmp_path / "csv" / "ae.csv", dtype=str, keep_default_na=False)
    subject, spid, term = form["SUBJID"].iloc[0], form["AESPID"].iloc[0], form["AETERM"].iloc[0]
    form.loc[0, "AETERM"] = "Fièvre"
    form.to_csv(tmp_path / "csv" / "ae.csv", index=False)
    result = diff_folders(tmp_path / "odm", tmp_path / "csv")
    assert [d.name for d in result.sections["raw"] if d.differs] == ["ae"]
    assert _dataset(result, "ae").changes[["SUBJID", "AESPID", "variable", "new"]].values.tolist() == \
        [[subject, spid, "AETERM", "Fièvre"]]
    latin_old, latin_new = tmp_path / "latin_old", tmp_path / "latin_new"
    shutil.copytree(tmp_path / "csv", latin_old)
    for path in [*latin_old.glob("*.csv"), *latin_new.glob("*.csv")]:
        path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    os.mkfifo(latin_new / "cm2.csv")
    result = runner.invoke(main, ["diff", str(latin_old), str(latin_new), "--encoding", "latin-1",
                                  "--json", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    assert "cm2.csv" in result.output and "FIFO" in result.output
    written = json.loads((tmp_path / "d.json").read_text())
    assert [note["side"] for note in written["reading"]] == ["new"]
    changes = [c for d in written["datasets"] for c in d["changes"]]
    assert [(c["variable"], c["old"], c["new"]) for c in changes] == [("AETERM", "Fièvre", term)]


def test_diff_14_srcseq_compared_as_the_sdtm_record_it_points_at(tmp_path):
    """Test 14: a CE record inserted before a subject's relapse renumbers CESEQ, so ADTTE's SRCSEQ
    goes from 1 to 2 while it points at the same relapse: with each run's SDTM that is no change
    (before: a changed SRCSEQ for every such subject); a source that really moved (S-2's event now
    the second malignancy) is a change shown as the records, not the numbers. ADaM folders diffed
    alone (no SDTM to look in) still compare the numbers."""
    from trialkit.diff.folders import diff_adam, open_transfer

    def ce(rows):
        frame = pd.DataFrame(rows, columns=["USUBJID", "CESEQ", "CETERM", "CESTDTC"])
        return frame.assign(STUDYID="ST1", DOMAIN="CE", CESEQ=frame["CESEQ"].astype(float))

    def adtte(rows):
        frame = pd.DataFrame(rows, columns=["USUBJID", "AVAL", "SRCSEQ"])
        return frame.assign(STUDYID="ST1", PARAMCD="EFS", CNSR=0.0, SRCDOM="CE", AVAL=frame["AVAL"].astype(float),
                            SRCSEQ=frame["SRCSEQ"].astype(float))

    for side, ce_rows, adtte_rows in (
            ("old", [("S-1", 1, "RELAPSE", "2020-05-01"), ("S-2", 1, "RELAPSE", "2020-06-01"), ("S-2", 2, "SMN", "2020-04-01")],
             [("S-1", 120, 1), ("S-2", 150, 1)]),
            ("new", [("S-1", 1, "INFECTION", "2020-03-01"), ("S-1", 2, "RELAPSE", "2020-05-01"),
                     ("S-2", 1, "RELAPSE", "2020-06-01"), ("S-2", 2, "SMN", "2020-04-01")],
             [("S-1", 120, 2), ("S-2", 90, 2)])):
        write_domain(tmp_path / side / "sdtm", "DM", dm(("S-1", "S-2")))
        write_domain(tmp_path / side / "sdtm", "CE", ce(ce_rows))
        write_domain(tmp_path / side / "adam", "ADTTE", adtte(adtte_rows))
    old, new = (open_transfer(tmp_path / side / "adam", "adam") for side in ("old", "new"))
    sdtm = tuple(open_transfer(tmp_path / side / "sdtm", "sdtm") for side in ("old", "new"))
    [diff] = diff_adam(old, new, None, sdtm)
    changes = diff.changes.sort_values("variable")[["USUBJID", "variable", "old", "new"]].values.tolist()
    assert changes == [["S-2", "AVAL", "150", "90"],
                       ["S-2", "SRCSEQ", "CETERM=RELAPSE; CESTDTC=2020-06-01", "CETERM=SMN; CESTDTC=2020-04-01"]]
    assert list(diff.kept["SRCSEQ"][1]) == [2.0, 2.0]          # explain still follows the numbers of each side
    [alone] = diff_adam(old, new, None)
    assert sorted(alone.changes.loc[alone.changes["variable"] == "SRCSEQ", "USUBJID"]) == ["S-1", "S-2"]


@pytest.mark.reference
def test_diff_17_pilot_ae_with_repeated_keys_one_term_recoded_one_record_deleted(tmp_path):
    """Test 17 (the CDISC pilot's AE, written by others: its SDTMIG keys repeat for 2,000+ records):
    a new transfer with one term recoded, one record deleted and the rows shuffled shows exactly the
    recoded record removed and added under its new term, the deleted one removed, nothing changed."""
    from reference_data import PILOT

    old_ae, meta = read_xpt(PILOT / "sdtm" / "ae.xpt", encoding="cp1252")
    recoded, deleted = 5, 10                                   # record 6 repeats the keys of record 7
    new_ae = old_ae.copy()
    new_ae.loc[recoded, "AEDECOD"] = "RECODED TERM"
    new_ae = new_ae.drop(index=[deleted]).sample(frac=1, random_state=1)
    for side, frame in (("old", old_ae), ("new", new_ae)):
        (tmp_path / side).mkdir()
        write_xpt(frame, meta, tmp_path / side / "ae.xpt")
        (tmp_path / side / "dm.xpt").symlink_to(PILOT / "sdtm" / "dm.xpt")
    diff = _dataset(diff_folders(tmp_path / "old", tmp_path / "new", encoding="cp1252"), "AE")
    assert len(diff.duplicates) > 100
    assert diff.removed[OLD].tolist() == [recoded, deleted] and diff.changes.empty
    assert diff.added["AEDECOD"].tolist() == ["RECODED TERM"]
