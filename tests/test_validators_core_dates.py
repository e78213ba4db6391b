"""Date operators and operations of the CORE interpreter (validators/core/operators/dates.py,
operations/dates.py, and the ISO 8601 reader they share, iso8601.py): numbered cases, tiny inline
frames, the exact flags and values CORE's engine gives for complete, partial, uncertain and invalid
dates, time zones, empty values and variables the dataset lacks."""

from __future__ import annotations

import pandas as pd
import pytest
from core_check import check, frame, operation

from trialkit.validators.core.context import MissingVariable
from trialkit.validators.core.iso8601 import read_dates
from trialkit.validators.core.operations import DomainNotFound
from trialkit.validators.core.study import Dataset

# -- the reader ------------------------------------------------------------------------------------

def test_01_precision_and_instant_of_partial_uncertain_and_zoned_dates():
    dates = read_dates(pd.Series(["2019", "2019-05-06T10:30", "2019---15", "2019/2019-05-06", "--12-15",
                                  "2019-01-01T23:00-05:00", "2019-02-30", None], dtype=object))
    # the last part known without a gap from the year (-1: the year is unknown); 2019-02-30 is read, if invalid
    assert dates.precision.fillna(-1).tolist() == [0, 4, 0, 2, -1, 4, 2, -1]
    # unknown parts at their defaults (an unknown year is 1970); an interval's start takes what it lacks
    # from its end; zones go to UTC
    assert [str(m) for m in dates.moment.iloc[:6]] == [
        "2019-01-01 00:00:00", "2019-05-06 10:30:00", "2019-01-15 00:00:00", "2019-05-06 00:00:00",
        "1970-12-15 00:00:00", "2019-01-02 04:00:00"]
    assert dates.valid.tolist() == [True, True, True, True, True, True, False, False]


# -- completeness, validity, durations ----------------------------------------------------------------

DTC = frame(AEDTC=["2019-02-03", "2019-02-03T10:30+01:00", "2019-02", "2019", "2019-02-30", "2019---15", None,
                   "20190203", "2019-05/2019-06", "--12-15"])


def test_02_complete_dates_are_full_calendar_dates():
    assert check(DTC, {"name": "AEDTC", "operator": "is_complete_date"}) == [
        True, True, False, False, False, False, False, True, False, False]
    # the complement: partial, invalid and empty values are incomplete
    assert check(DTC, {"name": "AEDTC", "operator": "is_incomplete_date"}) == [
        False, False, True, True, True, True, True, False, True, True]


def test_03_invalid_dates():
    # 2019-02-30 is no day; an empty value and the basic format are invalid; uncertainty and intervals are valid
    assert check(DTC, {"name": "AEDTC", "operator": "invalid_date"}) == [
        False, False, False, False, True, False, True, True, False, False]


def test_04_numbers_are_never_dates():
    numbers = frame(X=[2019.0, None])
    assert check(numbers, {"name": "X", "operator": "invalid_date"}) == [True, True]
    assert check(numbers, {"name": "X", "operator": "is_complete_date"}) == [False, False]


def test_05_invalid_durations():
    values = frame(TSVAL=["P1Y2M", "PT4H30M", "P2W", "-P1D", "P1.5Y2M", "P1Y2.5M", "PT", "P", "P18Y", None])
    assert check(values, {"name": "TSVAL", "operator": "invalid_duration", "negative": False}) == [
        False, False, False, True, True, False, True, True, False, True]
    # negative durations are allowed unless 'negative: false'
    assert check(values, {"name": "TSVAL", "operator": "invalid_duration"}) == [
        False, False, False, False, True, False, True, True, False, True]


# -- comparisons ---------------------------------------------------------------------------------------

PAIRS = frame(ST=["2019-05-10", "2019-05", "2019-05-10T08:00", "2019-05-11", None, "2019-02-30", "2019-05-10"],
              EN=["2019-05-10", "2019-05-10", "2019-05-10", "2019-05-10", "2019-05-10", "2019-05-10", None])


def flags(operator: str, **params) -> list[bool]:
    return check(PAIRS, {"name": "ST", "operator": operator, "value": "EN", **params})


def test_06_comparisons_at_the_precision_both_dates_share():
    # 2019-05 against 2019-05-10 compares months; 10:00 against a day compares days
    assert flags("date_less_than") == [False, False, False, False, False, False, False]
    assert flags("date_less_than_or_equal_to") == [True, True, True, False, False, False, False]
    assert flags("date_greater_than") == [False, False, False, True, False, False, False]
    assert flags("date_greater_than_or_equal_to") == [True, True, True, True, False, False, False]


def test_07_equality_also_wants_the_same_precision_unless_auto():
    assert flags("date_equal_to") == [True, False, False, False, False, False, False]
    assert flags("date_not_equal_to") == [False, True, True, True, False, False, False]
    assert flags("date_equal_to", date_component="auto") == [True, True, True, False, False, False, False]
    assert flags("date_not_equal_to", date_component="auto") == [False, False, False, True, False, False, False]


def test_08_one_component_with_a_literal():
    births = frame(BRTHDTC=["2022-03", "2021", "2020-12-31", "2021---15", None])
    assert check(births, {"name": "BRTHDTC", "operator": "date_greater_than", "date_component": "year",
                          "value": "2021"}) == [True, False, False, False, False]
    # a missing month counts as January
    assert check(births, {"name": "BRTHDTC", "operator": "date_equal_to", "date_component": "month",
                          "value": "2000-01-31"}) == [False, True, False, True, False]


def test_09_time_zones_compare_in_utc():
    zoned = frame(A=["2019-01-01T23:00-05:00", "2019-01-01T23:00Z"], B=["2019-01-02", "2019-01-02"])
    assert check(zoned, {"name": "A", "operator": "date_greater_than_or_equal_to", "value": "B"}) == [True, False]


def test_10_a_value_naming_no_column_is_a_literal_and_a_missing_target_is_not_applicable():
    assert check(PAIRS, {"name": "ST", "operator": "date_equal_to", "value": "RFSTDTC"}) == [False] * 7
    with pytest.raises(MissingVariable):
        check(PAIRS, {"name": "RFSTDTC", "operator": "date_less_than", "value": "EN"})


# -- operations ----------------------------------------------------------------------------------------

DM = Dataset("DM", frame(USUBJID=["S1", "S2", "S3"], RFSTDTC=["2019-05-10", "2019-05", "2019-05-10T09:00"]))


def test_11_study_day_has_no_day_zero():
    records = frame(DOMAIN=["AE"] * 8, USUBJID=["S1", "S1", "S1", "S1", "S2", "S3", "S4", "S1"],
                    AEDTC=["2019-05-10", "2019-05-09", "2019-05-20T23:59", "2019-05", "2019-05-20", "2019-05-10T08:00",
                           "2019-05-10", None])
    assert operation(records, {"operator": "dy", "name": "--DTC"}, others=(DM,)) == [
        1, -1, 11, None, None, 1, None, None]


def test_12_study_day_needs_dm():
    records = frame(DOMAIN=["AE"], USUBJID=["S1"], AEDTC=["2019-05-10"])
    with pytest.raises(DomainNotFound):
        operation(records, {"operator": "dy", "name": "--DTC"})


EX = Dataset("EX", frame(USUBJID=["S1", "S1", "S1", "S2", "S2", "S3", None],
                         EXSTDTC=["2019-05-10T10:30:15.5", "2019-05", "2019-05-01", "2019-06---", None, None, "2018"]))
SUBJECTS = frame(USUBJID=["S1", "S2", "S3", "S4"], RFXSTDTC=["2019-05-01", None, None, None])


def test_13_earliest_date_per_subject_as_written():
    # 2019-05 and 2019-05-01 tie: the first listed wins; an uncertain date takes no part; no date: empty
    found = operation(SUBJECTS, {"operator": "min_date", "domain": "EX", "name": "EXSTDTC", "group": ["USUBJID"]},
                      name="DM", others=(EX,))
    assert [v if isinstance(v, str) else None for v in found] == ["2019-05", None, None, None]


def test_14_latest_date_to_the_second():
    found = operation(SUBJECTS, {"operator": "max_date", "domain": "EX", "name": "EXSTDTC", "group": ["USUBJID"]},
                      name="DM", others=(EX,))
    assert [v if isinstance(v, str) else None for v in found] == ["2019-05-10T10:30:15", None, None, None]
    # without a group: one value for every record
    assert operation(SUBJECTS, {"operator": "max_date", "domain": "EX", "name": "EXSTDTC"}, name="DM",
                     others=(EX,)) == ["2019-05-10T10:30:15"] * 4


def test_15_days_and_instants_are_the_datetimes_numpy_would_make():
    """The reader keeps days and instants as numpy's integers (iso8601._ticks, faster to gather than
    datetimes): the same datetime64 values numpy makes of the datetimes themselves, from year 1 to
    9999, before 1970, to the microsecond, NaT for none."""
    from datetime import datetime

    import numpy as np

    from trialkit.validators.core.iso8601 import _MICROSECOND, _SECOND, _ticks

    moments = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(1969, 12, 31, 23, 59, 59, 1),
               datetime(1970, 1, 1), datetime(2019, 5, 6, 10, 30, 0, 500), None]
    for unit, kind in ((_SECOND, "datetime64[s]"), (_MICROSECOND, "datetime64[us]")):
        days = [m if m is None else datetime(m.year, m.month, m.day) for m in moments] if unit == _SECOND else moments
        made = np.array([_ticks(m, unit) for m in days], dtype=np.int64).view(kind)
        np.testing.assert_array_equal(made, np.array(days, dtype=kind))
