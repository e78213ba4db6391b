"""Tests of trialkit.sdtm.dates: raw EDC and site-local dates to ISO 8601, times, study days.

Numbered cases, tiny inline series. A value that is not a date is never guessed at: the ISO value
stays '' and the problem text says why; partial dates stay partial.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialkit.sdtm.dates import edc_to_iso, layout_to_iso, local_to_iso, study_day, with_time


def _edc(values, **kw):
    iso, problem = edc_to_iso(pd.Series(values, dtype=object), **kw)
    return iso.tolist(), problem.tolist()


# ---- Test 1: complete and partial EDC dates ---------------------------------------------------

def test_dates_01_complete_date():
    assert _edc(["05-JAN-2019", "31-DEC-2020", "29-FEB-2020"]) == (["2019-01-05", "2020-12-31", "2020-02-29"], ["", "", ""])


def test_dates_02_unknown_day_keeps_year_and_month():
    assert _edc(["UN-JAN-2019", "UN-DEC-2020"]) == (["2019-01", "2020-12"], ["", ""])


def test_dates_03_unknown_day_and_month_keeps_year():
    assert _edc(["UN-UNK-2019"]) == (["2019"], [""])


# ---- Test 4: problems -------------------------------------------------------------------------

def test_dates_04_day_with_unknown_month_is_a_problem():
    assert _edc(["12-UNK-2019"]) == ([""], ["day given with an unknown month"])


@pytest.mark.parametrize("value", ["31-APR-2019", "29-FEB-2019", "00-JAN-2019", "32-JAN-2019"])
def test_dates_05_impossible_date(value):
    assert _edc([value]) == ([""], ["impossible date"])


@pytest.mark.parametrize("value", ["2019-01-05", "5-JAN-2019", "05-Jan-19", "05-JANUARY-2019", "05 JAN 2019", "UNK-UNK-2019", "x"])
def test_dates_06_not_dd_mon_yyyy(value):
    assert _edc([value]) == ([""], ["not a DD-MON-YYYY date"])


# ---- Test 7: case and whitespace slips are accepted --------------------------------------------

def test_dates_07_lower_case_and_spaces_accepted():
    assert _edc(["05-jan-2019 ", "  un-feb-2019", "un-unk-2019\t"]) == (["2019-01-05", "2019-02", "2019"], ["", "", ""])


# ---- Test 8: partial dates where a complete date is required -----------------------------------

def test_dates_08_partial_not_allowed_is_a_problem():
    iso, problem = _edc(["UN-JAN-2019", "UN-UNK-2019", "05-JAN-2019", "12-UNK-2019"], partial_allowed=False)
    assert iso == ["", "", "2019-01-05", ""]
    assert problem == ["partial date where a complete date is required"] * 2 + ["", "day given with an unknown month"]


# ---- Test 9: empty ---------------------------------------------------------------------------

def test_dates_09_empty_is_empty_without_problem():
    assert _edc(["", "   "]) == (["", ""], ["", ""])
    assert _edc(["", " "], partial_allowed=False) == (["", ""], ["", ""])


def test_dates_10_index_is_kept():
    iso, problem = edc_to_iso(pd.Series(["05-JAN-2019", "x"], index=[7, 3]))
    assert iso.index.tolist() == [7, 3] and problem.index.tolist() == [7, 3]
    assert iso[7] == "2019-01-05" and problem[3] == "not a DD-MON-YYYY date"


# ---- Test 11: site-local dates, one format per row --------------------------------------------

def test_dates_11_local_formats_per_row():
    values = pd.Series(["05.01.2019", "05/01/2019", "2019-01-05", "31/12/2019"])
    formats = pd.Series(["%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d", "%d/%m/%Y"])
    iso, problem = local_to_iso(values, formats)
    assert iso.tolist() == ["2019-01-05", "2019-01-05", "2019-01-05", "2019-12-31"]
    assert problem.tolist() == ["", "", "", ""]


def test_dates_12_local_value_in_another_sites_format_names_the_format():
    values = pd.Series(["05/01/2019", "31.02.2019", "2019-01-05", "05.01.2019"])
    formats = pd.Series(["%d.%m.%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d"])
    iso, problem = local_to_iso(values, formats)
    assert iso.tolist() == ["", "", "", ""]
    assert problem.tolist() == [
        "not a valid date in the site's format %d.%m.%Y",
        "not a valid date in the site's format %d.%m.%Y",
        "not a valid date in the site's format %d/%m/%Y",
        "not a valid date in the site's format %Y-%m-%d",
    ]


def test_dates_13_local_unknown_site_is_a_problem_unless_empty():
    values = pd.Series(["05.01.2019", "", "05.01.2019"])
    formats = pd.Series([np.nan, np.nan, "%d.%m.%Y"], dtype=object)
    iso, problem = local_to_iso(values, formats)
    assert iso.tolist() == ["", "", "2019-01-05"]
    assert problem.tolist() == ["site of the subject unknown: cannot read its local date format", "", ""]


def test_dates_14_local_empty_and_padded_values():
    iso, problem = local_to_iso(pd.Series(["", " 05.01.2019 "]), pd.Series(["%d.%m.%Y", "%d.%m.%Y"]))
    assert iso.tolist() == ["", "2019-01-05"] and problem.tolist() == ["", ""]


# ---- Test 15: times --------------------------------------------------------------------------

def test_dates_15_time_appended_to_complete_date():
    out, problem = with_time(pd.Series(["2019-01-05", "2019-01-06"]), pd.Series(["14:30", " 00:05 "]))
    assert out.tolist() == ["2019-01-05T14:30", "2019-01-06T00:05"]
    assert problem.tolist() == ["", ""]


def test_dates_16_no_time_leaves_the_date():
    out, problem = with_time(pd.Series(["2019-01-05", "2019-01"]), pd.Series(["", ""]))
    assert out.tolist() == ["2019-01-05", "2019-01"] and problem.tolist() == ["", ""]


@pytest.mark.parametrize("time", ["25:00", "14:60", "2:30", "14.30", "1430"])
def test_dates_17_bad_time_is_a_problem_and_dropped(time):
    out, problem = with_time(pd.Series(["2019-01-05"]), pd.Series([time]))
    assert out.tolist() == ["2019-01-05"]
    assert problem.tolist() == ["not a valid HH:MM time"]


def test_dates_18_time_with_partial_date_is_dropped():
    out, _ = with_time(pd.Series(["2019-01", "2019", ""]), pd.Series(["14:30", "14:30", "14:30"]))
    assert out.tolist() == ["2019-01", "2019", ""]


def test_dates_19_time_with_partial_date_is_reported():
    _, problem = with_time(pd.Series(["2019-01"]), pd.Series(["14:30"]))
    assert problem.tolist() != [""]


# ---- Test 20: study day ----------------------------------------------------------------------

def _dy(dtc, ref):
    return study_day(pd.Series(dtc, dtype=object), pd.Series(ref, dtype=object)).tolist()


def test_dates_20_study_day_has_no_day_zero():
    ref = ["2019-01-05"] * 4
    assert _dy(["2019-01-05", "2019-01-04", "2019-01-06", "2018-12-31"], ref) == [1.0, -1.0, 2.0, -5.0]


def test_dates_21_study_day_of_partial_or_missing_date_is_nan():
    out = _dy(["2019-01", "2019", "", "2019-01-05", "2019-01-05"], ["2019-01-05", "2019-01-05", "2019-01-05", "2019-01", ""])
    assert all(np.isnan(out))


def test_dates_22_study_day_ignores_the_time_part():
    assert _dy(["2019-01-05T23:59", "2019-01-04T00:01"], ["2019-01-05T12:00", "2019-01-05"]) == [1.0, -1.0]


def test_dates_23_study_day_is_float_and_keeps_the_index():
    out = study_day(pd.Series(["2019-01-10"], index=[4]), pd.Series(["2019-01-01"], index=[4]))
    assert out.dtype == "float64" and out.index.tolist() == [4] and out[4] == 10.0


# ---- Test 24: dates in one layout for every row -----------------------------------------------

def test_dates_24_layout_dates_impossible_and_malformed_told_apart():
    values = pd.Series(["01/31/2022", " 12/01/2021 ", "02/30/2022", "31/01/2022", "2022-01-31", ""], index=list("abcdef"))
    iso, problem = layout_to_iso(values, "MM/DD/YYYY")
    assert iso.index.tolist() == list("abcdef")
    assert iso.tolist() == ["2022-01-31", "2021-12-01", "", "", "", ""]
    assert problem.tolist() == ["", "", "impossible date", "impossible date", "not a MM/DD/YYYY date", ""]


# ---- Test 25: the whole ISO 8601 year range (0001-9999) -----------------------------------------

def test_dates_25_far_years_are_dates_not_impossible():
    # valid calendar days, merely implausible: plausibility is a validator rule, not a parse problem
    assert _edc(["01-JAN-0001", "31-DEC-9999", "15-JUN-1700", "30-FEB-2021"]) == (
        ["0001-01-01", "9999-12-31", "1700-06-15", ""], ["", "", "", "impossible date"])
    iso, problem = layout_to_iso(pd.Series(["12/31/9999", "02/29/1700"]), "MM/DD/YYYY")
    assert iso.tolist() == ["9999-12-31", ""] and problem.tolist() == ["", "impossible date"]


def test_dates_26_study_day_of_a_far_date_does_not_overflow():
    out = study_day(pd.Series(["1700-01-01", "0001-01-01", "9999-12-31"]), pd.Series(["2020-01-01"] * 3))
    assert out.tolist() == [-116877.0, -737424.0, 2914635.0]  # as datetime.date counts them
