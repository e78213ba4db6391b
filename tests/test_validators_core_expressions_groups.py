"""CORE's uniqueness operators as window expressions: on every case the operator's pandas code, the
expression on pandas and the expression on Spark give the same flags (tests/core_three_ways.py):
sets and relationships with empty values ('', null, NaN: one group), the text '_NaN_' CORE
fills empty values with, numbers (-0.0 is 0.0), several key columns, variables the dataset lacks.

One local Spark session serves the module.
"""

from __future__ import annotations

import math

import pytest
from core_three_ways import assert_three_equal, three_ways, unported_on_both


pytestmark = pytest.mark.spark

RECORDS = {
    "USUBJID": ["S1", "S1", "S1", "S2", "S2", "S3", "S3", None, None, "", "_NaN_", "S4", "S4"],
    "TESTCD": ["A", "A", "B", "A", "A", "A", "C", "A", "A", "A", "A", "D", "D"],
    "TEST": ["Alpha", "Alpha", "Beta", "Alpha", "alpha", "Alpha", None, "Alpha", "", "Alpha", "Alpha", "Delta", "Delta"],
    "NUM": [1.0, 1.0, 2.0, math.nan, None, 0.0, -0.0, 3.0, 3.0, math.nan, 4.0, 5.0, 5.0],
    "NUM2": [1.0, 2.0, 2.0, math.nan, math.nan, 0.0, 0.0, 3.0, None, 1.0, 4.0, 5.0, 6.0],
    "SEQ": [1, 2, 1, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7],
}


def test_01_unique_sets_group_empty_values_as_core_does(spark):
    sets = [("USUBJID", ["TESTCD"]), ("USUBJID", "TESTCD"), ("NUM", ["USUBJID"]), ("SEQ", ["USUBJID", "TESTCD"]),
            ("TEST", ["USUBJID", "NUM", "MISSING"]), ("NUM", "NUM2"), ("USUBJID", []), ("MISSING", ["TEST"])]
    leaves = [{"name": name, "operator": op, "value": value} for name, value in sets
              for op in ("is_unique_set", "is_not_unique_set")]
    results = three_ways(spark, RECORDS, leaves)
    assert_three_equal(results)
    flags = {(r[0]["name"], r[0]["operator"], repr(r[0]["value"])): r[1] for r in results}
    assert flags[("USUBJID", "is_not_unique_set", "['TESTCD']")][7:11] == [True, True, False, True]  # None ~ '_NaN_'
    assert flags[("NUM", "is_not_unique_set", "['USUBJID']")][3:7] == [True, True, True, True]    # NaN ~ None, -0.0 ~ 0.0


def test_02_relationships_either_way_round(spark):
    pairs = [("TEST", "TESTCD"), ("TESTCD", "TEST"), ("NUM", "TESTCD"), ("TESTCD", "NUM2"), ("TEST", ["TESTCD", "USUBJID"]),
             ("SEQ", "NUM"), ("USUBJID", "SEQ")]
    leaves = [{"name": name, "operator": op, "value": value} for name, value in pairs
              for op in ("is_not_unique_relationship", "is_unique_relationship")]
    assert_three_equal(three_ways(spark, RECORDS, leaves))


def test_03_a_regex_reduction_or_a_missing_variable(spark):
    unported_on_both(spark, RECORDS, {"name": "USUBJID", "operator": "is_not_unique_set", "value": ["TEST"],
                                      "regex": "^A"})


def test_04_present_on_multiple_rows_within_a_group(spark):
    leaves = [{"name": name, "operator": op, "value": value, "within": within}
              for name, within in (("TESTCD", "USUBJID"), ("NUM", "USUBJID"), ("TEST", "TESTCD"), ("USUBJID", "USUBJID"))
              for value in (None, 1, "2") for op in ("present_on_multiple_rows_within", "not_present_on_multiple_rows_within")]
    assert_three_equal(three_ways(spark, RECORDS, leaves))
