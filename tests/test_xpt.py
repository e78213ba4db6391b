"""Tests of trialkit.xpt: XPT v5 writing with xportr's checks, and reading (CDISC pilot files).

Numbered cases, tiny inline frames. Each refusal is checked for what it must name (dataset,
variable, row) and for leaving no file behind. The pilot files are real SAS-made XPTs: the part of
the CDISC pilot study vendored in tests/data (whole files, or some subjects' records as SAS wrote them).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from reference_data import PILOT_SLICE as PILOT

from trialkit.errors import TrialkitError
from trialkit.xpt import (
    DatasetMeta,
    Variable,
    XptError,
    XptIssue,
    check_dataset,
    read_xpt,
    write_xpt,
)

DM = DatasetMeta("DM", "Demographics", (
    Variable("STUDYID", "Study Identifier", "Char"),
    Variable("USUBJID", "Unique Subject Identifier", "Char", length=20),
    Variable("AGE", "Age", "Num"),
    Variable("SEX", "Sex", "Char", length=1),
    Variable("BRTHDT", "Date of Birth", "Num", format="DATE9."),
    Variable("RFSTDTM", "Reference Start Datetime", "Num", format="DATETIME20."),
))


def dm_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["STUDY1", "STUDY1", "STUDY1"],
        "USUBJID": ["STUDY1-001", "STUDY1-002", "STUDY1-003"],
        "AGE": [63.0, np.nan, 71.5],
        "SEX": ["F", None, "M"],
        "BRTHDT": pd.to_datetime(["1950-03-01", None, "1942-12-31"]),
        "RFSTDTM": pd.to_datetime(["2014-01-02 08:30:00", "2014-01-03 00:00:00", None]),
    })


def with_var(meta: DatasetMeta, var_name: str, **changes) -> DatasetMeta:
    """meta with variable ``var_name`` changed (or renamed, with changes['name'])."""
    variables = tuple(dataclasses.replace(v, **changes) if v.name == var_name else v
                      for v in meta.variables)
    return dataclasses.replace(meta, variables=variables)


def refused(df, meta, tmp_path, **kw) -> XptError:
    """write_xpt must raise XptError and leave the folder empty."""
    with pytest.raises(XptError) as info:
        write_xpt(df, meta, tmp_path / "dm.xpt", **kw)
    assert list(tmp_path.iterdir()) == [], "nothing may be written when the checks fail"
    return info.value


# ---- Test 1: round trip of a DM-like frame --------------------------------------------------

def test_xpt_01_round_trip_dm_like(tmp_path):
    df = dm_frame()
    path = write_xpt(df, DM, tmp_path / "dm.xpt")
    assert path == tmp_path / "dm.xpt"
    pd.testing.assert_frame_equal(df, dm_frame())  # the caller's frame is not touched

    back, meta = read_xpt(path)
    assert list(back.columns) == [v.name for v in DM.variables]
    expected = df.assign(
        SEX=["F", "", "M"],
        BRTHDT=(df["BRTHDT"] - pd.Timestamp("1960-01-01")).dt.days.astype(float),
        RFSTDTM=(df["RFSTDTM"] - pd.Timestamp("1960-01-01")).dt.total_seconds(),
    )
    pd.testing.assert_frame_equal(back, expected)
    assert back["BRTHDT"].iloc[0] == -3593.0  # 1950-03-01 in SAS days
    assert np.isnan(back["BRTHDT"].iloc[1]) and np.isnan(back["AGE"].iloc[1])

    # metadata comes back as written; declared lengths are the stored lengths, undeclared ones
    # the longest value (pyreadstat cannot be told a length: trialkit pads one value)
    assert (meta.name, meta.label) == ("DM", "Demographics")
    lengths = {v.name: v.length for v in meta.variables}
    assert lengths == {"STUDYID": 6, "USUBJID": 20, "AGE": 8, "SEX": 1, "BRTHDT": 8, "RFSTDTM": 8}
    assert [dataclasses.replace(v, length=None) for v in meta.variables] == \
        [dataclasses.replace(v, length=None) for v in DM.variables]

    # dates=True gives the datetimes back
    back_dates, _ = read_xpt(path, dates=True)
    pd.testing.assert_series_equal(back_dates["BRTHDT"], df["BRTHDT"])
    pd.testing.assert_series_equal(back_dates["RFSTDTM"], df["RFSTDTM"])


def test_xpt_02_python_dates_and_times_are_converted(tmp_path):
    import datetime as dt
    meta = DatasetMeta("LB", "Laboratory", (
        Variable("USUBJID", "Unique Subject Identifier", "Char"),
        Variable("LBDT", "Date of Collection", "Num", format="DATE9."),
        Variable("LBTM", "Time of Collection", "Num", format="TIME8."),
    ))
    df = pd.DataFrame({"USUBJID": ["A", "B"], "LBDT": [dt.date(1960, 1, 2), None],
                       "LBTM": [dt.time(1, 0, 30), None]})
    back, _ = read_xpt(write_xpt(df, meta, tmp_path))
    assert back["LBDT"].tolist()[0] == 1.0 and np.isnan(back["LBDT"].iloc[1])
    assert back["LBTM"].tolist()[0] == 3630.0


# ---- Test 3: the file really is XPT version 5 -----------------------------------------------

def test_xpt_03_file_is_version_5(tmp_path):
    path = write_xpt(dm_frame(), DM, tmp_path / "dm.xpt")
    head = path.read_bytes()[:80]
    assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")
    assert b"LIBV8" not in head
    assert path.stat().st_size % 80 == 0
    # an independent reader that only knows v5: pandas' own XPORT parser. (Its row count is not
    # trusted: for records under 80 bytes it takes any blank 8-byte word in the last 80 bytes
    # for padding, here the blanks padding USUBJID, and reports 2 rows.)
    other = pd.read_sas(path, format="xport", encoding="utf-8")
    assert list(other.columns) == [v.name for v in DM.variables]
    assert other.iloc[0].tolist() == ["STUDY1", "STUDY1-001", 63.0, "F", -3593.0, 1704270600.0]


# ---- Test 4: labels -------------------------------------------------------------------------

def test_xpt_04_label_of_41_characters_is_refused(tmp_path):
    meta = with_var(DM, "AGE", label="A" * 41)
    err = refused(dm_frame(), meta, tmp_path)
    assert isinstance(err, TrialkitError)
    assert "DM.AGE" in str(err) and "41 characters" in str(err)
    assert "dm.xpt" in str(err)  # names the file
    assert [(i.dataset, i.variable) for i in err.issues] == [("DM", "AGE")]


def test_xpt_05_dataset_name_and_label(tmp_path):
    long_label = dataclasses.replace(DM, label="D" * 41)
    assert "DM: dataset label is 41 characters" in str(refused(dm_frame(), long_label, tmp_path))
    non_ascii = with_var(DM, "AGE", label="Âge")
    assert "non-ASCII" in str(refused(dm_frame(), non_ascii, tmp_path))
    bad_name = dataclasses.replace(DM, name="DEMOGRAPH")
    with pytest.raises(XptError, match="9 characters"):
        write_xpt(dm_frame(), bad_name, tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---- Test 6: variable names -----------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [
    ("USUBJIDXX", "9 characters"),
    ("age", "upper case"),
    ("ÄGE", "ASCII letters and digits"),
    ("AGE_Y", "ASCII letters and digits"),
    ("1AGE", "start with a letter"),
])
def test_xpt_06_bad_variable_name(tmp_path, name, problem):
    meta = with_var(DM, "AGE", name=name)
    df = dm_frame().rename(columns={"AGE": name})
    err = refused(df, meta, tmp_path)
    assert f"DM.{name}" in str(err) and problem in str(err)


# ---- Test 7: 200 bytes ----------------------------------------------------------------------

def test_xpt_07_value_over_200_bytes_names_the_row(tmp_path):
    meta = with_var(DM, "STUDYID", length=None)
    df = dm_frame()
    df.loc[1, "STUDYID"] = "x" * 201
    err = refused(df, meta, tmp_path)
    issue = err.issues[0]
    assert (issue.variable, issue.row) == ("STUDYID", 2)
    assert str(issue) == "DM.STUDYID row 2: value is 201 bytes, XPT v5 allows 200"
    assert issue.value.endswith("...") and len(issue.value) == 40  # shown cut

    # bytes, not characters: 101 'é' are 202 utf-8 bytes
    df.loc[1, "STUDYID"] = "é" * 101
    err = refused(df, meta, tmp_path, strict=False)
    assert "row 2: value is 202 bytes" in str(err)


# ---- Test 8: columns against metadata -------------------------------------------------------

def test_xpt_08_missing_and_extra_columns(tmp_path):
    df = dm_frame().drop(columns=["SEX"]).assign(RACE="WHITE")
    err = refused(df, DM, tmp_path)
    text = [str(i) for i in err.issues]
    assert "DM.SEX: is in the metadata but missing from the data frame" in text
    assert any(t.startswith("DM.RACE: column is not in the metadata") for t in text)


def test_xpt_09_column_order_follows_metadata(tmp_path):
    df = dm_frame()
    shuffled = df[list(reversed(df.columns))]
    back, meta = read_xpt(write_xpt(shuffled, DM, tmp_path / "dm.xpt"))
    assert list(back.columns) == [v.name for v in DM.variables]
    assert [v.name for v in meta.variables] == [v.name for v in DM.variables]


# ---- Test 10: types -------------------------------------------------------------------------

def test_xpt_10_num_column_holding_strings(tmp_path):
    df = dm_frame().astype({"AGE": object})
    df.loc[2, "AGE"] = "71 years"
    err = refused(df, DM, tmp_path)
    assert "DM.AGE row 3: Num variable holds str '71 years', not a number" in str(err)


@pytest.mark.parametrize("column, values, problem", [
    ("SEX", [1, 2, 3], "Char variable holds int64 values"),
    ("SEX", ["F", 2, "M"], "row 2: Char variable holds int 2"),
    ("AGE", [True, False, True], "holds True/False"),
    ("AGE", pd.Series([1.0, True, None], dtype=object), "row 2: holds True/False"),
    ("AGE", [1e100, 1.0, 2.0], "beyond the IBM float range"),
    ("AGE", [np.inf, 1.0, 2.0], "is infinite"),
    ("AGE", pd.to_datetime(["2020-01-01"] * 3), "holds dates but has no format"),
])
def test_xpt_11_wrong_values_for_the_type(tmp_path, column, values, problem):
    df = dm_frame()
    df[column] = values
    err = refused(df, DM, tmp_path, strict=False)
    assert f"DM.{column}" in str(err) and problem in str(err)


# ---- Test 12: declared lengths --------------------------------------------------------------

def test_xpt_12_declared_length_shorter_than_data(tmp_path):
    meta = with_var(DM, "USUBJID", length=10)
    df = dm_frame()
    df.loc[1, "USUBJID"] = "STUDY1-0002"
    err = refused(df, meta, tmp_path)
    assert "DM.USUBJID row 2: value is 11 bytes, longer than the declared length 10" in str(err)
    too_long = with_var(DM, "USUBJID", length=201)
    assert "length is 201, XPT v5 allows 200" in str(refused(dm_frame(), too_long, tmp_path))


# ---- Test 13: non-ASCII values are a warning ------------------------------------------------

def test_xpt_13_non_ascii_value_warns(tmp_path):
    df = dm_frame()
    df.loc[2, "STUDYID"] = "STÜDY1"
    issues = check_dataset(df, DM, strict=False)
    assert [(i.variable, i.row, i.severity) for i in issues] == [("STUDYID", 3, "warning")]
    assert str(issues[0]).endswith("[warning]")
    strict = check_dataset(df, DM, strict=True)
    assert strict[0].severity == "error" and "refused in strict mode" in strict[0].message

    refused(df, DM, tmp_path, strict=True)  # strict mode refuses; the default (as xportr) warns
    back, _ = read_xpt(write_xpt(df, DM, tmp_path / "dm.xpt", strict=False))
    assert back["STUDYID"].tolist() == ["STUDY1", "STUDY1", "STÜDY1"]


# ---- Test 14: formats and other metadata ----------------------------------------------------

@pytest.mark.parametrize("var, changes, problem, severity", [
    ("AGE", {"format": "$8."}, "character ('$') format on a Num variable", "error"),
    ("SEX", {"format": "8."}, "a Char variable needs a '$' format", "error"),
    ("BRTHDT", {"format": "DATE9"}, "is not a SAS format", "error"),
    ("AGE", {"format": "LONGFORMAT12."}, "XPT v5 keeps 8", "error"),
    ("AGE", {"format": "40.2"}, "width from 1 to 32", "error"),
    ("AGE", {"type": "Integer"}, "must be 'Char' or 'Num'", "error"),
    ("AGE", {"label": ""}, "variable label is empty", "warning"),
    ("AGE", {"format": "MYFMT."}, "not a standard SAS format", "warning"),
    ("AGE", {"length": 4}, "numbers are stored in 8 bytes", "warning"),
])
def test_xpt_14_metadata_checks(var, changes, problem, severity):
    issues = check_dataset(dm_frame(), with_var(DM, var, **changes), strict=False)
    assert {i.variable for i in issues} == {var}
    assert issues[0].severity == severity and problem in issues[0].message


def test_xpt_15_date_format_checks():
    # a numeric ADaM date without a format, and a DATE9. value with a time of day
    meta = DatasetMeta("ADSL", "Subject-Level Analysis Dataset", (
        Variable("USUBJID", "Unique Subject Identifier", "Char"),
        Variable("TRTSDT", "Date of First Exposure to Treatment", "Num"),
        Variable("TRTEDT", "Date of Last Exposure to Treatment", "Num", format="DATE9."),
    ))
    trtedt = pd.to_datetime(["2014-01-02", "2014-01-03 12:00"], format="ISO8601")
    df = pd.DataFrame({"USUBJID": ["A", "B"], "TRTSDT": [19725.0, 19726.0], "TRTEDT": trtedt})
    issues = check_dataset(df, meta, strict=False)
    assert [(i.variable, i.row, i.severity) for i in issues] == [
        ("TRTSDT", None, "warning"), ("TRTEDT", 2, "warning")]
    assert "without a format" in issues[0].message and "time of day" in issues[1].message


def test_xpt_16_blank_trailing_rows_of_char_only_dataset():
    # v5 has no row count: readers drop trailing all-blank records (measured with pyreadstat)
    meta = DatasetMeta("CO", "Comments", (Variable("COVAL", "Comment", "Char"),))
    df = pd.DataFrame({"COVAL": ["first", "", None]})
    issues = check_dataset(df, meta)
    assert [str(i) for i in issues] == [
        "CO row 2: rows 2-3 are blank in every variable of a character-only dataset: XPT v5 "
        "stores no row count, so readers drop trailing blank rows"]
    assert check_dataset(pd.DataFrame({"COVAL": ["", "last"]}), meta) == []


def test_xpt_17_directory_target_and_file_name(tmp_path):
    assert write_xpt(dm_frame(), DM, tmp_path) == tmp_path / "dm.xpt"
    other = tmp_path / "sub"
    other.mkdir()
    with pytest.raises(XptError, match="submissions expect dm.xpt"):
        write_xpt(dm_frame(), DM, other / "demog.xpt", strict=True)
    assert list(other.iterdir()) == []
    assert write_xpt(dm_frame(), DM, other / "demog.xpt", strict=False).is_file()
    with pytest.raises(XptError, match="does not exist"):
        write_xpt(dm_frame(), DM, tmp_path / "missing" / "dm.xpt")


def test_xpt_18_issue_str_is_one_line():
    issue = XptIssue("AE", "AETERM", 12, "x" * 230, "value is 230 bytes, XPT v5 allows 200")
    assert str(issue) == "AE.AETERM row 12: value is 230 bytes, XPT v5 allows 200"
    assert str(XptIssue("AE", None, None, None, "dataset label is empty", "warning")) == \
        "AE: dataset label is empty [warning]"


# ---- Test 19: the CDISC pilot's real files --------------------------------------------------

def test_xpt_19_read_pilot_dm_and_ae():
    dm, dm_meta = read_xpt(PILOT / "sdtm" / "dm.xpt", encoding="cp1252")
    assert dm.shape == (306, 25) and dm["USUBJID"].is_unique
    assert dm_meta.name == "DM" and dm_meta.label == ""  # the pilot files carry no dataset label
    assert dm_meta.variable("USUBJID") == Variable("USUBJID", "Unique Subject Identifier",
                                                   "Char", 11)
    assert dm_meta.variable("AGE") == Variable("AGE", "Age", "Num", 8)
    assert dm["RFICDTC"].eq("").all()  # blank character values come back as ''

    ae, ae_meta = read_xpt(PILOT / "sdtm" / "ae.xpt", encoding="cp1252")  # three subjects' records
    assert ae.shape == (15, 37) and ae_meta.name == "AE"
    assert ae_meta.variable("AETERM").label == "Reported Term for the Adverse Event"
    assert set(ae["USUBJID"]) <= set(dm["USUBJID"])


def test_xpt_20_pilot_cp1252_text_needs_the_encoding():
    # ts.xpt holds a cp1252 right single quote (0x92) in TSVAL
    ts, _ = read_xpt(PILOT / "sdtm" / "ts.xpt", encoding="cp1252")
    assert len(ts) == 48
    assert "Alzheimer’s Disease" in ts["TSVAL"].iloc[7]
    latin1, _ = read_xpt(PILOT / "sdtm" / "ts.xpt", encoding="latin-1")
    assert "Alzheimer\x92s" in latin1["TSVAL"].iloc[7]
    with pytest.raises(XptError, match=r"ts\.xpt.*--encoding cp1252"):
        read_xpt(PILOT / "sdtm" / "ts.xpt")


def test_xpt_21_pilot_adsl_dates_and_rewrite(tmp_path):
    adsl, meta = read_xpt(PILOT / "adam" / "adsl.xpt", encoding="cp1252")
    assert len(adsl) == 254 and meta.variable("TRTSDT").format == "DATE9."
    with_dates, _ = read_xpt(PILOT / "adam" / "adsl.xpt", encoding="cp1252", dates=True)
    assert with_dates["TRTSDT"].iloc[0] == pd.Timestamp("2014-01-02")

    # a real dataset written again reads back identical, stored lengths included; strict
    # refuses it only because the pilot has no dataset label
    with pytest.raises(XptError, match="ADSL: dataset label is empty"):
        write_xpt(adsl, meta, tmp_path, strict=True)
    labelled = dataclasses.replace(meta, label="Subject-Level Analysis Dataset")
    again, again_meta = read_xpt(write_xpt(adsl, labelled, tmp_path))
    pd.testing.assert_frame_equal(again, adsl)
    assert again_meta == labelled


# ---- Test 22: unreadable files --------------------------------------------------------------

def test_xpt_22_truncated_or_missing_file(tmp_path):
    data = (PILOT / "sdtm" / "dm.xpt").read_bytes()
    cut = tmp_path / "dm_cut.xpt"
    cut.write_bytes(data[:1000])
    with pytest.raises(XptError, match=r"dm_cut\.xpt.*truncated"):
        read_xpt(cut)
    # cut inside the data: pyreadstat would return fewer rows without a word
    cut.write_bytes(data[:8033])
    with pytest.raises(XptError, match=r"dm_cut\.xpt.*not a multiple of 80"):
        read_xpt(cut)
    junk = tmp_path / "junk.xpt"
    junk.write_bytes(b"not a transport file".ljust(800))
    with pytest.raises(XptError, match=r"junk\.xpt: unreadable"):
        read_xpt(junk)
    with pytest.raises(XptError, match=r"nothere\.xpt: XPT file does not exist"):
        read_xpt(tmp_path / "nothere.xpt")


def test_sas_date_variables_keep_missing_as_nat_and_never_convert_a_nan(monkeypatch):
    """*DT SAS day numbers become dates, missing ones NaT, other variables untouched, and no NaN
    reaches pandas' unit conversion (pandas 2.x raises FloatingPointError there at random:
    pandas-dev/pandas#58419)."""
    import numpy as np

    from trialkit import xpt

    seen = []
    convert = xpt.pd.to_timedelta

    def spy(values, **kwargs):
        seen.append(bool(pd.Series(values).isna().any()))
        return convert(values, **kwargs)

    monkeypatch.setattr(xpt.pd, "to_timedelta", spy)
    frame = pd.DataFrame({"ADT": [0.0, np.nan, 22735.0, np.nan], "AVAL": [1.0, np.nan, 2.0, 3.0]}, index=[3, 5, 7, 9])
    out = xpt.sas_date_variables(frame)
    assert out.index.tolist() == [3, 5, 7, 9]
    assert out["ADT"].tolist()[0] == pd.Timestamp("1960-01-01") and out["ADT"].tolist()[2] == pd.Timestamp("2022-03-31")
    assert out["ADT"].isna().tolist() == [False, True, False, True]
    assert out["AVAL"].equals(frame["AVAL"]) and seen == [False]
