"""Tests of trialkit.adam.derive: admiral's generic derivations, checked first, derived vectorized.

Numbered cases per function, tiny inline frames, results compared by keys (``expect_dfs_equal``, as
admiral's tests do). Every bad input must be an AdamError (or a SpecError for a forbidden expression)
whose text names the dataset, the variables and the offending rows. Expected imputations follow
admiral's documented rules (derive_vars_dt / impute_dtc_dt / restrict_imputed_dtc_dt).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from trialkit.adam.derive import (
    derive_extreme_event,
    derive_var_extreme_flag,
    derive_vars_dt,
    derive_vars_dy,
    derive_vars_merged,
)
from trialkit.adam.errors import AdamError, AdamWarning
from trialkit.errors import SpecError

NaT = pd.NaT


def expect_dfs_equal(base: pd.DataFrame, compare: pd.DataFrame, keys: list[str]) -> None:
    """Same columns and values, compared after sorting both by ``keys`` (row order is tested apart)."""
    assert sorted(base.columns) == sorted(compare.columns)
    a = base.sort_values(keys, kind="stable").reset_index(drop=True)
    b = compare[list(base.columns)].sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def d(*values):
    return pd.to_datetime(pd.Series(values, dtype=object))


# =====================================================================================================
# derive_vars_merged
# =====================================================================================================

ADSL = pd.DataFrame({"STUDYID": ["S"] * 4, "USUBJID": ["01", "02", "03", "04"], "AGE": [30, 41, 52, 63]})
EX = pd.DataFrame({
    "STUDYID": ["S"] * 6,
    "USUBJID": ["01", "01", "01", "02", "02", "03"],
    "EXSEQ": [1, 2, 3, 1, 2, 1],
    "EXDOSE": [0, 10, 10, 5, 5, 0],
    "EXSTDT": d("2020-01-01", "2020-01-02", "2020-01-09", "2020-02-05", "2020-02-01", "2020-03-01"),
})


def test_merged_01_one_to_one_merge():
    dm = pd.DataFrame({"USUBJID": ["03", "01", "02"], "ARM": ["B", "A", "A"], "SEX": ["F", "M", "F"]})
    actual = derive_vars_merged(ADSL, dm, by_vars=["USUBJID"])
    expected = ADSL.assign(ARM=["A", "A", "B", np.nan], SEX=["M", "F", "F", np.nan])
    expect_dfs_equal(expected, actual, keys=["USUBJID"])


def test_merged_02_new_vars_list_and_rename():
    dm = pd.DataFrame({"USUBJID": ["01", "02"], "ARM": ["A", "B"], "SEX": ["M", "F"]})
    actual = derive_vars_merged(ADSL, dm, ["USUBJID"], new_vars=["ARM"])
    assert list(actual.columns) == [*ADSL.columns, "ARM"]
    renamed = derive_vars_merged(ADSL, dm, ["USUBJID"], new_vars={"TRT01P": "ARM", "SEXN": "SEX"})
    assert renamed["TRT01P"].tolist()[:2] == ["A", "B"] and renamed["SEXN"].tolist()[:2] == ["M", "F"]


def test_merged_03_filter_add_selects_records():
    actual = derive_vars_merged(ADSL, EX, ["STUDYID", "USUBJID"], new_vars={"DOSE1DT": "EXSTDT"},
                                filter_add="EXSEQ == 1 and EXDOSE > 0")
    expected = ADSL.assign(DOSE1DT=d(NaT, "2020-02-05", NaT, NaT))
    expect_dfs_equal(expected, actual, keys=["USUBJID"])


def test_merged_04_first_by_order():
    actual = derive_vars_merged(ADSL, EX, ["STUDYID", "USUBJID"], new_vars={"TRTSDT": "EXSTDT"},
                                filter_add="EXDOSE > 0", order=["EXSTDT", "EXSEQ"], mode="first")
    expected = ADSL.assign(TRTSDT=d("2020-01-02", "2020-02-01", NaT, NaT))
    expect_dfs_equal(expected, actual, keys=["USUBJID"])


def test_merged_05_last_by_order_and_descending_order():
    last = derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars={"TRTEDT": "EXSTDT"}, order=["EXSTDT"], mode="last")
    assert last["TRTEDT"].tolist()[:3] == list(d("2020-01-09", "2020-02-05", "2020-03-01"))
    # the first record in descending EXSEQ is the highest EXSEQ
    desc = derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars={"LASTSEQ": "EXSEQ"}, order=["-EXSEQ"], mode="first")
    assert desc["LASTSEQ"].tolist()[:3] == [3, 2, 1]


def test_merged_06_missing_order_values_sort_last_in_both_directions():
    add = pd.DataFrame({"USUBJID": ["01", "01", "01"], "V": [2.0, np.nan, 1.0], "SEQ": [1, 2, 3]})
    last = derive_vars_merged(ADSL, add, ["USUBJID"], new_vars=["SEQ"], order=["V"], mode="last")
    desc = derive_vars_merged(ADSL, add, ["USUBJID"], new_vars=["SEQ"], order=["-V"], mode="last")
    assert last["SEQ"].iloc[0] == 2 and desc["SEQ"].iloc[0] == 2  # the missing V, as in admiral


def test_merged_07_exist_flag_y_n():
    actual = derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=[], filter_add="EXDOSE > 0",
                                order=["EXSEQ"], mode="first", exist_flag="SAFFL")
    assert actual["SAFFL"].tolist() == ["Y", "Y", "N", "N"]


def test_merged_08_duplicate_in_add_is_an_error_showing_rows():
    with pytest.raises(AdamError) as info:
        derive_vars_merged(ADSL, EX, ["STUDYID", "USUBJID"], new_vars={"TRTSDT": "EXSTDT"},
                           dataset_name="ADSL", add_name="EX")
    err, text = info.value, str(info.value)
    assert err.dataset == "EX" and err.keys == ("STUDYID", "USUBJID")
    assert "ADSL" in text and "USUBJID='01' at rows 1, 2, 3" in text and "USUBJID='02' at rows 4, 5" in text
    assert "2 key values on 5 rows" in text and err.rows == (1, 2, 3, 4, 5)
    assert err.records["EXSEQ"].tolist() == [1, 2, 3, 1, 2]


def test_merged_09_duplicate_rows_counted_after_filter_in_rows_of_dataset_add():
    with pytest.raises(AdamError) as info:
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], filter_add="EXDOSE == 10")
    assert "USUBJID='01' at rows 2, 3" in str(info.value) and "'02'" not in str(info.value)
    # once the filter leaves one record per subject, it merges
    ok = derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], filter_add="EXSEQ == 1")
    assert len(ok) == 4


@pytest.mark.parametrize("side", ["dataset", "dataset_add"])
def test_merged_10_missing_by_var_is_an_error(side):
    dm = pd.DataFrame({"USUBJID": ["01"], "ARM": ["A"]})
    args = (ADSL.drop(columns="USUBJID"), dm) if side == "dataset" else (ADSL, dm.rename(columns={"USUBJID": "SUBJ"}))
    with pytest.raises(AdamError) as info:
        derive_vars_merged(*args, ["USUBJID"], dataset_name="ADSL", add_name="DM")
    assert info.value.dataset == ("ADSL" if side == "dataset" else "DM")
    assert "USUBJID" in str(info.value) and info.value.variables == ("USUBJID",)


def test_merged_11_row_count_order_and_index_preserved():
    adae = pd.DataFrame({"USUBJID": ["03", "01", "09", "01", "03"], "AESEQ": [1, 1, 1, 2, 2]},
                        index=[40, 7, 7, 3, 99])  # unsorted, repeated keys, an unmatched subject, odd index
    adsl = pd.DataFrame({"USUBJID": ["01", "02", "03"], "TRTSDT": d("2020-01-01", "2020-02-01", "2020-03-01")})
    actual = derive_vars_merged(adae, adsl, ["USUBJID"])
    assert actual.index.tolist() == [40, 7, 7, 3, 99]
    assert actual[["USUBJID", "AESEQ"]].equals(adae)
    assert actual["TRTSDT"].tolist() == list(d("2020-03-01", "2020-01-01", NaT, "2020-01-01", "2020-03-01"))
    assert pd.api.types.is_datetime64_any_dtype(actual["TRTSDT"])  # dates stay dates


def test_merged_12_existing_variable_is_an_error():
    dm = pd.DataFrame({"USUBJID": ["01"], "AGE": [99], "ARM": ["A"]})
    with pytest.raises(AdamError) as info:
        derive_vars_merged(ADSL, dm, ["USUBJID"], dataset_name="ADSL")
    assert info.value.variables == ("AGE",) and "by_vars" in str(info.value)
    with pytest.raises(AdamError, match="AGE"):
        derive_vars_merged(ADSL, dm, ["USUBJID"], new_vars=["ARM"], exist_flag="AGE")


def test_merged_13_ties_in_order_warn_by_default_error_on_request():
    add = pd.DataFrame({"USUBJID": ["01", "01", "02"], "ADT": d("2020-01-01", "2020-01-01", "2020-01-05"),
                        "AVAL": [1, 2, 3]})
    with pytest.warns(AdamWarning, match="USUBJID=.01., ADT=2020-01-01 at rows 1, 2"):
        actual = derive_vars_merged(ADSL, add, ["USUBJID"], new_vars=["AVAL"], order=["ADT"], mode="first")
    assert actual["AVAL"].iloc[0] == 1  # the first of the tied records in input order
    with pytest.raises(AdamError, match="rows 1, 2"):
        derive_vars_merged(ADSL, add, ["USUBJID"], new_vars=["AVAL"], order=["ADT"], mode="first", check_type="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        derive_vars_merged(ADSL, add, ["USUBJID"], new_vars=["AVAL"], order=["ADT"], mode="first", check_type="none")


def test_merged_14_by_vars_with_different_names():
    add = pd.DataFrame({"SUBJ": ["02", "01"], "WEIGHT": [70.5, 80.0]})
    actual = derive_vars_merged(ADSL, add, {"USUBJID": "SUBJ"}, new_vars=["WEIGHT"])
    assert actual["WEIGHT"].tolist()[:2] == [80.0, 70.5] and "SUBJ" not in actual


def test_merged_15_mode_and_order_go_together():
    with pytest.raises(AdamError, match="needs order"):
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], mode="first")
    with pytest.raises(AdamError, match="without mode"):
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], order=["EXSTDT"])
    with pytest.raises(AdamError, match="mode"):
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], order=["EXSTDT"], mode="max")


def test_merged_16_filter_variables_checked_and_expressions_whitelisted():
    with pytest.raises(AdamError) as info:
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], filter_add="EXDOS > 0", add_name="EX")
    assert info.value.dataset == "EX" and info.value.variables == ("EXDOS",)
    with pytest.raises(SpecError):
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars=["EXSTDT"], filter_add="__import__('os')")


def test_merged_17_incompatible_key_types_are_an_error():
    add = pd.DataFrame({"USUBJID": [1, 2], "ARM": ["A", "B"]})
    with pytest.raises(AdamError, match="cannot join on USUBJID"):
        derive_vars_merged(ADSL, add, ["USUBJID"], dataset_name="ADSL")


def test_merged_18_new_var_missing_in_add_is_an_error():
    with pytest.raises(AdamError) as info:
        derive_vars_merged(ADSL, EX, ["USUBJID"], new_vars={"TRTSDT": "EXSTDTC"}, filter_add="EXSEQ == 1",
                           add_name="EX")
    assert info.value.dataset == "EX" and info.value.variables == ("EXSTDTC",)


# =====================================================================================================
# derive_vars_dt
# =====================================================================================================

PARTIAL = pd.DataFrame({"XXSTDTC": ["2019-07-18T15:25:40", "2019-07-18T15:25", "2019-07-18", "2019-02",
                                    "2019", "2019---07", "", None]})


def _dt(frame, **kw):
    out = derive_vars_dt(frame, "AST", "XXSTDTC", **kw)
    return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in out["ASTDT"]], out["ASTDTF"].tolist()


def test_dt_01_complete_dates_time_part_ignored():
    out = derive_vars_dt(PARTIAL, "AST", "XXSTDTC")
    assert out["ASTDT"].dtype == "datetime64[ns]"
    assert out["ASTDT"].tolist()[:3] == [pd.Timestamp("2019-07-18")] * 3  # normalized to the day
    assert out["ASTDTF"].tolist()[:3] == ["", "", ""]
    assert list(out.columns) == ["XXSTDTC", "ASTDT", "ASTDTF"]


def test_dt_02_no_imputation_partial_dates_missing():
    dates, flags = _dt(PARTIAL, highest_imputation="n")
    assert dates == ["2019-07-18"] * 3 + [None] * 5 and flags == [""] * 8


@pytest.mark.parametrize("date_imputation, expected", [
    ("first", "2019-02-01"), ("mid", "2019-02-15"), ("last", "2019-02-28"), ("02-10", "2019-02-10")])
def test_dt_03_day_imputation_leaves_year_only_dates_missing(date_imputation, expected):
    dates, flags = _dt(PARTIAL, highest_imputation="D", date_imputation=date_imputation)
    assert dates == ["2019-07-18"] * 3 + [expected, None, None, None, None]
    assert flags == ["", "", "", "D", "", "", "", ""]


@pytest.mark.parametrize("date_imputation, month_missing, day_missing", [
    ("first", "2019-01-01", "2019-02-01"),
    ("mid", "2019-06-30", "2019-02-15"),  # admiral: June 30 for a missing month, the 15th for a missing day
    ("last", "2019-12-31", "2019-02-28"),
    ("04-06", "2019-04-06", "2019-02-06"),
])
def test_dt_04_month_imputation(date_imputation, month_missing, day_missing):
    dates, flags = _dt(PARTIAL, highest_imputation="M", date_imputation=date_imputation)
    # "2019---07": the day below a missing month is not used (admiral's preserve = FALSE)
    assert dates == ["2019-07-18"] * 3 + [day_missing, month_missing, month_missing, None, None]
    assert flags == ["", "", "", "D", "M", "M", "", ""]


def test_dt_05_last_day_of_month_knows_leap_years():
    frame = pd.DataFrame({"XXSTDTC": ["2020-02", "2019-02", "2019-04", "2019-12"]})
    assert _dt(frame, highest_imputation="D", date_imputation="last")[0] == [
        "2020-02-29", "2019-02-28", "2019-04-30", "2019-12-31"]


def test_dt_06_mm_dd_impossible_for_the_month_gives_no_date():
    frame = pd.DataFrame({"XXSTDTC": ["2019-02", "2019"]})
    assert _dt(frame, highest_imputation="M", date_imputation="02-30")[0] == [None, None]


def test_dt_07_unknown_day_with_dashes():
    frame = pd.DataFrame({"XXSTDTC": ["2019-07--", "2019-07--T10:00", "2019----"]})
    dates, flags = _dt(frame, highest_imputation="M")
    assert dates == ["2019-07-01", "2019-07-01", "2019-01-01"] and flags == ["D", "D", "M"]


def test_dt_08_flag_imputation_options():
    assert "ASTDTF" not in derive_vars_dt(PARTIAL, "AST", "XXSTDTC", highest_imputation="M", flag_imputation=False)
    assert "ASTDTF" not in derive_vars_dt(PARTIAL, "AST", "XXSTDTC", flag_imputation="auto")
    assert "ASTDTF" in derive_vars_dt(PARTIAL, "AST", "XXSTDTC", highest_imputation="D", flag_imputation="auto")


AE = pd.DataFrame({
    "USUBJID": ["01", "02", "03", "04", "05", "06"],
    "AESTDTC": ["2020-12", "2020-11", "2020", "2020-12-02", "2020-12", ""],
    "TRTSDT": d("2020-12-06", "2020-12-06", "2020-12-06", "2020-12-06", NaT, "2020-12-06"),
    "RANDDT": d("2020-12-04", "2020-11-20", "2020-12-04", "2020-12-01", "2020-12-04", "2020-12-01"),
    "DCUTDT": d("2020-12-20", "2021-01-31", "2020-05-31", "2020-12-20", "2020-12-10", "2021-01-31"),
})


def _ast(**kw):
    out = derive_vars_dt(AE, "AST", "AESTDTC", **kw)
    return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in out["ASTDT"]], out["ASTDTF"].tolist()


def test_dt_09_min_dates_raise_the_imputed_date_only_within_the_partial_period():
    dates, flags = _ast(highest_imputation="M", min_dates=["TRTSDT"])
    assert dates == [
        "2020-12-06",  # December 2020 contains the treatment start: not before it
        "2020-11-01",  # November 2020 does not: the collected month is kept
        "2020-12-06",  # 2020 contains it
        "2020-12-02",  # complete dates never change, even before the min date
        "2020-12-01",  # no min date on this row
        None,          # no date and no year imputation
    ]
    assert flags == ["D", "D", "M", "", "D", ""]


def test_dt_10_several_min_dates_the_latest_in_range_wins():
    dates, _ = _ast(highest_imputation="M", min_dates=["RANDDT", "TRTSDT"])
    assert dates[:3] == ["2020-12-06", "2020-11-20", "2020-12-06"]
    assert dates[4] == "2020-12-04"  # TRTSDT missing: RANDDT applies alone


def test_dt_11_max_dates_lower_the_imputed_date_only_within_the_partial_period():
    dates, flags = _ast(highest_imputation="M", date_imputation="last", max_dates=["DCUTDT"])
    assert dates == [
        "2020-12-20",  # not after the cut-off in December
        "2020-11-30",  # cut-off in January 2021 is outside November 2020: ignored
        "2020-05-31",  # cut-off inside 2020
        "2020-12-02",  # complete
        "2020-12-10",
        None,
    ]
    assert flags == ["D", "D", "M", "", "D", ""]


def test_dt_12_max_date_applied_after_min_date():
    frame = pd.DataFrame({"AESTDTC": ["2020-12"], "TRTSDT": d("2020-12-15"), "DCUTDT": d("2020-12-10")})
    out = derive_vars_dt(frame, "AST", "AESTDTC", highest_imputation="M", min_dates=["TRTSDT"], max_dates=["DCUTDT"])
    assert out["ASTDT"].tolist() == [pd.Timestamp("2020-12-10")]


def test_dt_13_year_imputation_needs_min_or_max_dates():
    dates, flags = _ast(highest_imputation="Y", min_dates=["TRTSDT"])
    assert dates[5] == "2020-12-06" and flags[5] == "Y"  # no date at all: the min date, flagged Y
    dates, flags = _ast(highest_imputation="Y", date_imputation="last", max_dates=["DCUTDT"])
    assert dates[5] == "2021-01-31" and flags[5] == "Y"
    with pytest.raises(AdamError, match="needs min_dates"):
        derive_vars_dt(AE, "AST", "AESTDTC", highest_imputation="Y")
    with pytest.raises(AdamError, match="needs max_dates"):
        derive_vars_dt(AE, "AST", "AESTDTC", highest_imputation="Y", date_imputation="last", min_dates=["TRTSDT"])
    with pytest.raises(AdamError, match="'first' or 'last'"):
        derive_vars_dt(AE, "AST", "AESTDTC", highest_imputation="Y", date_imputation="mid", min_dates=["TRTSDT"])


def test_dt_14_year_imputation_without_a_usable_bound_stays_missing():
    frame = pd.DataFrame({"AESTDTC": ["", None], "TRTSDT": d("2022-01-01", NaT)})
    out = derive_vars_dt(frame, "AST", "AESTDTC", highest_imputation="Y", min_dates=["TRTSDT"])
    assert out["ASTDT"].tolist()[0] == pd.Timestamp("2022-01-01") and pd.isna(out["ASTDT"].iloc[1])
    assert out["ASTDTF"].tolist() == ["Y", ""]


@pytest.mark.parametrize("bad", ["2019-13", "2019-02-30", "19-01-05", "2019/01/05", "2019-1-5", "2019-07-18T25:00",
                                 "abc", "1500-01-01"])
def test_dt_15_invalid_dtc_is_an_error_naming_dataset_variable_rows(bad):
    frame = pd.DataFrame({"AESTDTC": ["2019-01-01", bad, "2019-02"]})
    with pytest.raises(AdamError) as info:
        derive_vars_dt(frame, "AST", "AESTDTC", dataset_name="AE")
    err = info.value
    assert err.dataset == "AE" and err.column == "AESTDTC" and err.rows == (2,)
    assert str(err).startswith("dataset AE, column AESTDTC: ") and f"row 2 {bad!r}" in str(err)


def test_dt_16_many_invalid_values_first_rows_shown_count_of_all():
    frame = pd.DataFrame({"AESTDTC": ["x"] * 7})
    with pytest.raises(AdamError) as info:
        derive_vars_dt(frame, "AST", "AESTDTC")
    assert "7 values" in str(info.value) and "row 5 " in str(info.value) and "row 6 " not in str(info.value)
    assert len(info.value.rows) == 7


def test_dt_17_checks_first():
    with pytest.raises(AdamError, match="XXSTDTC"):
        derive_vars_dt(AE, "AST", "XXSTDTC")
    with pytest.raises(AdamError, match="ASTDT"):
        derive_vars_dt(AE.assign(ASTDT=NaT), "AST", "AESTDTC")
    with pytest.raises(AdamError, match="datetime64"):
        derive_vars_dt(AE.assign(TRTSDT="2020-12-06"), "AST", "AESTDTC", highest_imputation="M", min_dates=["TRTSDT"])
    with pytest.raises(AdamError, match="highest_imputation"):
        derive_vars_dt(AE, "AST", "AESTDTC", highest_imputation="d")
    with pytest.raises(AdamError, match="date_imputation"):
        derive_vars_dt(AE, "AST", "AESTDTC", highest_imputation="M", date_imputation="13-01")


def test_dt_18_empty_dataset_and_index_kept():
    empty = derive_vars_dt(pd.DataFrame({"AESTDTC": pd.Series([], dtype=object)}), "AST", "AESTDTC")
    assert len(empty) == 0 and list(empty.columns) == ["AESTDTC", "ASTDT", "ASTDTF"]
    frame = pd.DataFrame({"AESTDTC": ["2019-01", "2019-01-05"]}, index=[9, 4])
    out = derive_vars_dt(frame, "AST", "AESTDTC", highest_imputation="D")
    assert out.index.tolist() == [9, 4] and out["ASTDT"].tolist() == list(d("2019-01-01", "2019-01-05"))


# =====================================================================================================
# derive_vars_dy
# =====================================================================================================

def test_dy_01_study_day_has_no_day_zero():
    frame = pd.DataFrame({
        "TRTSDT": d("2020-01-10", "2020-01-10", "2020-01-10", "2020-01-10", NaT),
        "ADT": d("2020-01-10", "2020-01-11", "2020-01-09", "2019-12-31", "2020-01-10"),
    })
    out = derive_vars_dy(frame, "TRTSDT", {"ADY": "ADT"})
    assert out["ADY"].tolist()[:4] == [1.0, 2.0, -1.0, -10.0]
    assert np.isnan(out["ADY"].iloc[4]) and out["ADY"].dtype == "float64"


def test_dy_02_missing_date_gives_missing_day_and_times_are_ignored():
    frame = pd.DataFrame({"TRTSDT": d("2020-01-10", "2020-01-10"),
                          "ASTDTM": pd.to_datetime(["2020-01-10 23:59", None]),
                          "AENDT": d(NaT, "2020-01-12")})
    out = derive_vars_dy(frame, "TRTSDT", ["ASTDTM", "AENDT"])  # names derived as admiral does
    assert out["ASTDY"].tolist()[0] == 1.0 and np.isnan(out["ASTDY"].iloc[1])
    assert np.isnan(out["AENDY"].iloc[0]) and out["AENDY"].iloc[1] == 3.0


def test_dy_03_checks_first():
    frame = pd.DataFrame({"TRTSDT": d("2020-01-10"), "ADT": d("2020-01-11"), "ADTC": ["2020-01-11"], "ADY": [2.0]})
    with pytest.raises(AdamError, match="ADY"):
        derive_vars_dy(frame, "TRTSDT", {"ADY": "ADT"})
    with pytest.raises(AdamError, match="datetime64"):
        derive_vars_dy(frame, "TRTSDT", {"XDY": "ADTC"})
    with pytest.raises(AdamError, match="does not end in DT"):
        derive_vars_dy(frame, "TRTSDT", ["ADTC"])
    with pytest.raises(AdamError) as info:
        derive_vars_dy(frame, "RANDDT", {"XDY": "ADT"}, dataset_name="ADVS")
    assert info.value.dataset == "ADVS" and info.value.variables == ("RANDDT",)


# =====================================================================================================
# derive_var_extreme_flag
# =====================================================================================================

ADVS = pd.DataFrame({
    "USUBJID": ["1", "1", "1", "2", "2", "3"],
    "AVISITN": [1, 2, 3, 1, 2, 1],
    "AVAL": [12.0, 9.0, np.nan, 42.0, 40.0, 14.0],
    "ABLFL": ["Y", "", "", "Y", "", ""],
})


def test_flag_01_first_per_by_group():
    actual = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "FIRSTFL", mode="first")
    expect_dfs_equal(ADVS.assign(FIRSTFL=["Y", "", "", "Y", "", "Y"]), actual, keys=["USUBJID", "AVISITN"])


def test_flag_02_last_and_descending_order():
    last = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "LASTFL", mode="last")
    assert last["LASTFL"].tolist() == ["", "", "Y", "", "Y", "Y"]
    high = derive_var_extreme_flag(ADVS, ["USUBJID"], ["-AVAL", "AVISITN"], "HIGHFL", mode="first")
    assert high["HIGHFL"].tolist() == ["Y", "", "", "Y", "", "Y"]


def test_flag_03_missing_order_values_sort_last():
    last = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVAL"], "LASTFL", mode="last")
    assert last["LASTFL"].tolist()[:3] == ["", "", "Y"]  # the missing AVAL, as in admiral


def test_flag_04_filter_restricts_the_candidates():
    actual = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "ANL01FL", mode="last",
                                     filter="ABLFL != 'Y' and present(AVAL)")
    assert actual["ANL01FL"].tolist() == ["", "Y", "", "", "Y", "Y"]


def test_flag_05_groups_without_qualifying_record_get_no_flag():
    actual = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "BASEFL", mode="first", filter="ABLFL == 'Y'")
    assert actual["BASEFL"].tolist() == ["Y", "", "", "Y", "", ""]
    none = derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "NOFL", mode="first", filter="AVAL > 100")
    assert none["NOFL"].tolist() == [""] * 6


def test_flag_06_ties_in_order_are_an_error_listing_the_rows():
    tied = ADVS.assign(AVISITN=[1, 1, 3, 1, 2, 1])
    with pytest.raises(AdamError) as info:
        derive_var_extreme_flag(tied, ["USUBJID"], ["AVISITN"], "FIRSTFL", mode="first", dataset_name="ADVS")
    err, text = info.value, str(info.value)
    assert err.dataset == "ADVS" and err.keys == ("USUBJID", "AVISITN")
    assert "USUBJID='1', AVISITN=1 at rows 1, 2" in text and err.rows == (1, 2)
    assert err.records["AVAL"].tolist() == [12.0, 9.0]


def test_flag_07_ties_outside_the_filter_do_not_count():
    tied = ADVS.assign(AVISITN=[1, 1, 3, 1, 2, 1])
    actual = derive_var_extreme_flag(tied, ["USUBJID"], ["AVISITN"], "FL", mode="first", filter="AVAL != 9")
    assert actual["FL"].tolist() == ["Y", "", "", "Y", "", "Y"]


def test_flag_08_check_type_warning_keeps_the_first_tied_record():
    tied = ADVS.assign(AVISITN=[1, 1, 3, 1, 2, 1])
    with pytest.warns(AdamWarning, match="rows 1, 2"):
        actual = derive_var_extreme_flag(tied, ["USUBJID"], ["AVISITN"], "FL", mode="first", check_type="warning")
    assert actual["FL"].tolist()[:2] == ["Y", ""]


def test_flag_09_true_false_values_index_and_order_kept():
    frame = ADVS.set_axis([5, 3, 8, 1, 0, 2]).iloc[::-1]
    actual = derive_var_extreme_flag(frame, ["USUBJID"], ["AVISITN"], "FL", mode="first", true_value="1",
                                     false_value="0")
    assert actual.index.tolist() == frame.index.tolist()
    assert actual["FL"].tolist() == ["1", "0", "1", "0", "0", "1"]  # subjects 3, 2, 2, 1, 1, 1 reversed


def test_flag_10_checks_first():
    with pytest.raises(AdamError, match="PARAMCD"):
        derive_var_extreme_flag(ADVS, ["USUBJID", "PARAMCD"], ["AVISITN"], "FL", mode="first")
    with pytest.raises(AdamError, match="ABLFL"):
        derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "ABLFL", mode="first")
    with pytest.raises(AdamError, match="mode"):
        derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "FL", mode="max")
    with pytest.raises(AdamError, match="order"):
        derive_var_extreme_flag(ADVS, ["USUBJID"], [], "FL", mode="first")
    with pytest.raises(AdamError) as info:
        derive_var_extreme_flag(ADVS, ["USUBJID"], ["AVISITN"], "FL", filter="ANL01FL == 'Y'", dataset_name="ADVS")
    assert info.value.dataset == "ADVS" and info.value.variables == ("ANL01FL",)


# ---- derive_extreme_event ------------------------------------------------------------------------

def _d(*values):
    return pd.to_datetime(list(values))


RELAPSE = pd.DataFrame({"USUBJID": ["1", "2"], "ADT": _d("2020-03-01", "2020-05-01"), "DESC": "RELAPSE"})
DEATH = pd.DataFrame({"USUBJID": ["1", "2", "3"], "ADT": _d("2020-02-01", "2020-05-01", "2020-06-01"), "DESC": "DEATH"})


def test_extreme_event_01_earliest_across_sources():
    """extreme event 1: the earliest record per subject across sources."""
    out = derive_extreme_event([RELAPSE, DEATH], ["USUBJID"], ["ADT"], "first").set_index("USUBJID")
    assert out.loc["1", "DESC"] == "DEATH" and out.loc["3", "DESC"] == "DEATH"
    assert len(out) == 3


def test_extreme_event_02_tie_goes_to_the_source_listed_first():
    """extreme event 2: subject 2 has both on one day; the source listed first wins, in both modes."""
    for mode in ("first", "last"):
        a = derive_extreme_event([RELAPSE, DEATH], ["USUBJID"], ["ADT"], mode).set_index("USUBJID")
        b = derive_extreme_event([DEATH, RELAPSE], ["USUBJID"], ["ADT"], mode).set_index("USUBJID")
        assert a.loc["2", "DESC"] == "RELAPSE" and b.loc["2", "DESC"] == "DEATH"


def test_extreme_event_03_latest_and_checks():
    """extreme event 3: mode last gives the latest; a source without the order variable is an
    AdamError naming it; an unknown mode is an error."""
    out = derive_extreme_event([RELAPSE, DEATH], ["USUBJID"], ["ADT"], "last").set_index("USUBJID")
    assert out.loc["1", "DESC"] == "RELAPSE"
    with pytest.raises(AdamError) as info:
        derive_extreme_event([RELAPSE.drop(columns="ADT")], ["USUBJID"], ["ADT"], dataset_name="ADTTE")
    assert "ADT" in info.value.variables
    with pytest.raises(AdamError, match="mode"):
        derive_extreme_event([RELAPSE], ["USUBJID"], ["ADT"], "middle")
