"""``read_folder`` holds repeated text as category columns (validators/inputs.py ``compact``): the
rules give the same findings on them as on object columns, with plain str values."""

from __future__ import annotations

import pandas as pd

from trialkit.validators.adam_schema import validate_adam
from trialkit.validators.inputs import read_folder
from trialkit.vectorize import compact, plain
from trialkit.xpt import DatasetMeta, Variable, write_xpt


def test_inputs_01_repeated_text_is_category_distinct_text_stays_object(tmp_path):
    """Test 1: in XPT and CSV alike, a text column with fewer distinct values than half its records
    becomes a category, a mostly distinct one stays object, numbers stay float; labels survive."""
    dm = pd.DataFrame({"USUBJID": [f"S-{i}" for i in range(6)], "SEX": ["F", "M", "F", "F", "M", "F"],
                       "AGE": [5.0, 7.0, 9.0, 11.0, 13.0, 15.0]})
    meta = DatasetMeta("DM", "Demographics", (Variable("USUBJID", "Unique Subject Identifier", "Char"),
                                              Variable("SEX", "Sex", "Char"), Variable("AGE", "Age", "Num")))
    write_xpt(dm, meta, tmp_path / "dm.xpt")
    dm.assign(VISIT="WEEK 1").to_csv(tmp_path / "sv.csv", index=False)
    datasets, unreadable = read_folder(tmp_path)
    assert unreadable == []
    for name in ("DM", "SV"):
        frame = datasets[name]
        assert isinstance(frame["SEX"].dtype, pd.CategoricalDtype), name
        assert frame["USUBJID"].dtype == object, name
        assert frame["SEX"].tolist() == dm["SEX"].tolist()
    assert isinstance(datasets["SV"]["VISIT"].dtype, pd.CategoricalDtype)
    assert datasets["DM"]["AGE"].dtype == float
    assert datasets["DM"].attrs["labels"]["SEX"] == "Sex"
    assert plain(datasets["DM"])["SEX"].dtype == object


def test_inputs_02_adam_rules_same_findings_on_category_columns():
    """Test 2: ADSL and ADTTE as object and as category columns give the same findings; a variable
    copied from ADSL is compared subject by subject (a category Series mapped through category values
    mixes them up in pandas), and the finding's value is a plain str."""
    n = 6
    adsl = pd.DataFrame({"STUDYID": ["S"] * n, "USUBJID": [f"S-{i}" for i in range(n)],
                         "SUBJID": [str(i) for i in range(n)], "SITEID": ["01"] * n, "AGE": [5.0] * n,
                         "AGEU": ["YEARS"] * n, "SEX": ["F", "M"] * 3, "RACE": ["WHITE"] * n, "ARM": ["A"] * n,
                         "ACTARM": ["A"] * n, "TRT01P": ["A"] * n, "EOSSTT": ["ONGOING"] * n,
                         "SAFFL": ["Y", "N"] * 3, "ITTFL": ["Y"] * n})
    subjects = adsl.iloc[:2]    # S-0 (SAFFL Y) and S-1 (N): each category of USUBJID maps to another one of SAFFL
    adtte = pd.DataFrame({"STUDYID": "S", "USUBJID": subjects["USUBJID"].repeat(3).to_numpy(),
                          "PARAMCD": ["EFS", "OS", "RFS"] * 2,
                          "PARAM": ["Event-Free Survival", "Overall Survival", "Relapse-Free Survival"] * 2,
                          "AVAL": 10.0, "CNSR": 0.0, "STARTDT": 21900.0, "ADT": 21909.0,
                          "SAFFL": subjects["SAFFL"].repeat(3).to_numpy()})
    adtte.loc[0, "SAFFL"] = "N"
    as_object = validate_adam({"ADSL": adsl, "ADTTE": adtte})
    compacted = {"ADSL": compact(adsl.copy()), "ADTTE": compact(adtte.copy())}
    assert isinstance(compacted["ADSL"]["SAFFL"].dtype, pd.CategoricalDtype)
    assert isinstance(compacted["ADTTE"]["USUBJID"].dtype, pd.CategoricalDtype)
    assert validate_adam(compacted) == as_object
    copied = [f for f in as_object if f.rule == "TK-ADAM-0015"]
    assert [(f.variable, f.usubjid, f.row, f.value) for f in copied] == [("SAFFL", "S-0", 1, "N")]
    assert type(copied[0].value) is str and type(copied[0].usubjid) is str


def test_inputs_03_categories_are_fresh_strings_not_the_cells():
    """Test 3: the categories are copies of the distinct strings, not cell objects of the column read,
    so that dropping the column frees the memory the reader allocated its cells in."""
    cells = pd.Series([f"VISIT {i % 3}" for i in range(12)], dtype=object)
    originals = {id(v) for v in cells}
    frame = compact(pd.DataFrame({"VISIT": cells.copy()}))
    assert list(frame["VISIT"].cat.categories) == ["VISIT 0", "VISIT 1", "VISIT 2"]
    assert not {id(v) for v in frame["VISIT"].cat.categories} & originals
    assert frame["VISIT"].tolist() == cells.tolist()


def test_inputs_04_forked_reading_gives_what_one_process_reads(tmp_path):
    """Test 4: read_folder with two forked readers returns the same frames (dtypes, labels), the same
    file metadata and the same finding for a file that cannot be read as one process does."""
    from reference_data import PILOT_SLICE

    folder = tmp_path / "sdtm"
    folder.mkdir()
    for path in sorted((PILOT_SLICE / "sdtm").glob("*.xpt"))[:6]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "xx.xpt").write_bytes(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!0000")   # cut short
    one_meta, two_meta = {}, {}
    one, one_findings = read_folder(folder, "cp1252", one_meta)
    two, two_findings = read_folder(folder, "cp1252", two_meta, workers=2)
    assert list(two) == list(one) and len(one) == 6
    for name in one:
        pd.testing.assert_frame_equal(two[name], one[name])
        assert two[name].attrs["labels"] == one[name].attrs["labels"]
    assert two_meta == one_meta
    assert [f.dataset for f in one_findings] == ["XX"] and two_findings == one_findings


def test_inputs_05_a_fifo_or_a_device_is_a_finding_never_opened(tmp_path):
    """Test 5: a FIFO named ae.csv (opening it would wait for a writer for ever) and an xpt that is a
    symlink to /dev/zero (it never ends) are each TK-IO-0001, not read; the regular file is read."""
    import os

    dm = pd.DataFrame({"USUBJID": ["S-1"], "SEX": ["F"]})
    write_xpt(dm, DatasetMeta("DM", "Demographics", (Variable("USUBJID", "Subject", "Char"), Variable("SEX", "Sex", "Char"))),
              tmp_path / "dm.xpt")
    os.mkfifo(tmp_path / "ae.csv")
    (tmp_path / "lb.xpt").symlink_to("/dev/zero")
    datasets, findings = read_folder(tmp_path, workers=2)
    assert list(datasets) == ["DM"]
    assert {(f.dataset, f.rule) for f in findings} == {("AE", "TK-IO-0001"), ("LB", "TK-IO-0001")}
    assert all("not a regular file" in f.message for f in findings)
