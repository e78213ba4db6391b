"""CORE's date validity and duration operators as expressions: on every case the operator's pandas
code (operators/dates.py, reading iso8601), the expression on pandas and the expression on Spark give
the same flags (tests/core_three_ways.py), on hand-written edge cases: full and partial dates,
date-times with and without seconds, fractions, time zones, uncertain values (2019---15, intervals,
time only), calendar errors, digits of other scripts, empty and garbage values, numbers. The
completeness operators and the comparisons have no expression on either engine.

One local Spark session serves the module.
"""

from __future__ import annotations

import itertools
import math

import pytest
from core_three_ways import assert_three_equal, three_ways, unported_on_both

from trialkit.validators.core.iso8601 import DATE, READABLE, UNCERTAIN, _isoparses, read_dates

pytestmark = pytest.mark.spark

DATES = ["2020", "2020-03", "2020-03-15", "2020-03-15T10:30", "2020-03-15T10:30:45", "2020-03-15T10:30:45.5",
         "2020-03-15T10:30:45.1234567", "2020-03-15T00:30+01:00", "2020-03-01T00:30+01:00", "2020-01-01T00:10+00:30",
         "2020-03-14T23:30-01:00", "2020-03-15T10:30Z", "2020-03-15T10", "2020-02-29", "2019-02-29", "2020-04-31",
         "2020-13", "2020-29", "0000-01-01", "0001-01-01T00:30+01:00", "9999-12-31T23:30-01:00", "2020-03-15\n",
         "2020---15", "--03-15", "2020-03--T10:30", "2020-03-15T-:30", "2020/2020-03-15", "2020-03/2020-04",
         "2020-02-30/2020-03", "-----T10:30", "2020-03-15T10:30:45.0000005/2021", "2020-03-15T10:30:45.1234567/2021",
         "٢٠٢٠-03-15", "٢٠٢٠--03-15", "2020-03-15T10:30:45.٥", "2020-03-15 10:30", "20200315", "2020-W11",
         "-2020--03", "", None, math.nan, "garbage", "UNK", "2020-3-15", "2020-03-15T24:00", "2020-03-15T10:30:"]
RECORDS = {"DTC": DATES, "NUM": [float(i) for i in range(len(DATES))]}
COMPARISONS = ["date_equal_to", "date_not_equal_to", "date_greater_than", "date_greater_than_or_equal_to",
               "date_less_than", "date_less_than_or_equal_to"]


def test_01_readable_is_dateutil_on_every_form_date_lets_through_without_uncertainty():
    """iso8601.READABLE with the calendar check (what the expression tests) gives dateutil's verdict."""
    years = ["2019", "2020", "1900", "2000", "0000", "0001", "9999", "-2019", "-", "٢٠١٩"]
    months = ["", "-05", "-02", "-12", "-13", "-04", "-٠5"]
    days = ["", "-06", "-29", "-30", "-31", "-1٥"]
    times = ["", "T10", "T10:30", "T10:30:15", "T10:30:15.5", "T10:30:15.1234567", "T10:30:", "T10:30:.5", "T10:",
             "T1٠:30", "T10:30:15.٥", "T-"]
    zones = ["", "Z", "+01:00", "-01:00", "+23:59", "z"]
    checked = 0
    for parts in itertools.product(years, months, days, times, zones, ["", "\n"]):
        value = "".join(parts)
        if not DATE.match(value) or any(mark in value for mark in UNCERTAIN):
            continue
        checked += 1
        facts = read_dates(__import__("pandas").Series([value]))
        assert bool(facts.valid[0]) == _isoparses(value), value
        if READABLE.match(value) is None:
            assert not _isoparses(value), value
    assert checked > 10_000


def test_02_invalid_date_agrees_on_every_value(spark):
    results = three_ways(spark, RECORDS, [{"name": n, "operator": "invalid_date"} for n in ("DTC", "NUM")])
    assert_three_equal(results)
    flags = dict(zip(DATES, results[0][1]))
    assert flags["2020-03-15T10:30"] is False and flags["2020---15"] is False and flags["٢٠٢٠--03-15"] is False
    assert flags["2019-02-29"] is True and flags["2020-03-15\n"] is True and flags[None] is True
    assert flags["٢٠٢٠-03-15"] is True and flags["20200315"] is True     # dateutil reads it, DATE does not
    assert results[1][1] == [True] * len(DATES)                          # numbers are never dates


def test_03_invalid_duration_agrees_on_every_value(spark):
    values = ["P1Y", "P1Y2M3DT4H5M6S", "PT4H", "P2W", "P1.5Y", "P1.5Y2M", "P1Y,2M", "P1Y,2M3D", "P1,Y2M", "P1,5Y",
              "PT1,5H2M", "P1Y2.5M", "-P1D", "P", "PT", "P1YT", "P1Y\n", "P١Y", "P1D2W", "", None, math.nan, "1Y",
              "P1.5W", "P1Y.5M", "P0.5DT1H"]
    records = {"DUR": values, "N": list(range(len(values)))}
    leaves = [{"name": name, "operator": "invalid_duration", **extra} for name in ("DUR", "N")
              for extra in ({}, {"negative": False}, {"negative": True})]
    results = three_ways(spark, records, leaves)
    assert_three_equal(results)
    flags = dict(zip(values, results[0][1]))
    assert flags["P1Y,2M3D"] is False and flags["P1.5Y2M"] is True and flags["-P1D"] is False
    assert dict(zip(values, results[1][1]))["-P1D"] is True           # negative: false


def test_04_completeness_and_comparisons_have_no_expression(spark):
    for operator in ["is_complete_date", "is_incomplete_date"] + COMPARISONS:
        unported_on_both(spark, {"DTC": ["2020-03-15"], "B": ["2020"]}, {"name": "DTC", "operator": operator, "value": "B"})
