"""CORE's containment and numeric-order operators as expressions: on every case the operator's
pandas code, the expression on pandas and the expression on Spark give the same flags
(tests/core_three_ways.py): literal lists with and without empty values, text against numbers,
case folding, NaN (Spark orders it above every number), text that reads as a number. A comparator
column (a lookup among all its values) has no expression on either engine.

One local Spark session serves the module.
"""

from __future__ import annotations

import math

import narwhals as nw
import pytest
from core_three_ways import assert_three_equal, three_ways, unported_on_both

from trialkit.validators.core.context import Condition
from trialkit.validators.core.expressions import Unported, leaf
from trialkit.validators.core.spark_operations import DistinctValues


pytestmark = pytest.mark.spark

RECORDS = {
    "TXT": ["Y", "N", "y", "", None, math.nan, "BEFORE", "UNKNOWN", "1", "\u0130", "\u03a3A\u03a3", "X-Y", "-"],
    "NUM": [0.0, -1.0, 1.0, math.nan, 2.5, 1e9, -0.0, None, 3.0, 0.5, 1.0, 2.0, 0.0],
    "INT": [0, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    "LOW": [1.0, 0.0, math.nan, 2.5, 2.5, 3.0, 0.0, 1.0, None, 0.5, 1.0, 2.0, 0.0],
}


def test_01_contained_by_literal_lists(spark):
    lists = [["Y", "N"], ["BEFORE", "COINCIDENT", "ONGOING", "AFTER", "UNKNOWN"], ["y", None], ["", "Y"], [1, "1"],
             [], "Y", ["\u0131", "\u03c3a\u03c3", "x-y"], [math.nan, "N"]]
    leaves = [{"name": "TXT", "operator": op, "value": value} for value in lists
              for op in ("is_contained_by", "is_not_contained_by", "is_contained_by_case_insensitive",
                         "is_not_contained_by_case_insensitive")]
    leaves += [{"name": name, "operator": op, "value": value} for name in ("NUM", "INT")
               for value in ([0, 1], [2.5, None], [-1.0], [1e9, 0.5]) for op in ("is_contained_by", "is_not_contained_by")]
    results = three_ways(spark, RECORDS, leaves)
    assert_three_equal(results)
    flags = {(r[0]["name"], r[0]["operator"], repr(r[0]["value"])): r[1] for r in results}
    assert flags[("TXT", "is_not_contained_by", "['Y', 'N']")][:6] == [False, False, True, True, True, True]
    assert flags[("TXT", "is_contained_by", "['y', None]")][2:6] == [True, False, True, True]   # null: the list's None


def test_02_contains_a_literal_text(spark):
    leaves = [{"name": name, "operator": op, "value": value} for name in ("TXT", "NUM") for value in ("-", "", "N", "Y")
              for op in ("contains", "does_not_contain")]
    assert_three_equal(three_ways(spark, RECORDS, leaves))


def test_03_numeric_order_against_literals_and_columns(spark):
    operators = ("greater_than", "greater_than_or_equal_to", "less_than", "less_than_or_equal_to")
    leaves = [{"name": name, "operator": op, "value": value} for name in ("NUM", "INT") for op in operators
              for value in (0, "0", 1.0, "2.5", "x", "LOW", "INT", -0.0)]
    leaves += [{"name": "NUM", "operator": "less_than", "value": "LOW", "value_is_literal": True}]
    results = three_ways(spark, RECORDS, leaves)
    assert_three_equal(results)
    flags = {(r[0]["name"], r[0]["operator"], str(r[0]["value"])): r[1] for r in results}
    assert flags[("NUM", "greater_than", "0")][3] is False          # NaN: Spark alone would say greater


@pytest.mark.parametrize("node", [
    {"name": "TXT", "operator": "is_contained_by", "value": "TXT"},              # all of a column's values
    {"name": "NUM", "operator": "is_contained_by", "value": ["1"]},              # text against numbers
    {"name": "NUM", "operator": "is_contained_by_case_insensitive", "value": [1]},
    {"name": "TXT", "operator": "contains", "value": "TXT"},
    {"name": "TXT", "operator": "contains", "value": 1},
    {"name": "TXT", "operator": "less_than", "value": 1},                       # text parsed as numbers
    {"name": "NUM", "operator": "less_than", "value": "TXT"},
    {"name": "NUM", "operator": "less_than", "value": [1]},
    {"name": "NUM", "operator": "less_than", "value": True},
])
def test_04_what_a_record_cannot_answer_alone_has_no_expression(spark, node):
    unported_on_both(spark, RECORDS, node)


class _Numbers:
    """Columns of numbers only, as an expression asks about them."""

    def has(self, name) -> bool:
        return name == "NUM"

    def dtype(self, name: str):
        return nw.Float64()


@pytest.mark.parametrize("kind", ["Date", "Boolean", "String"])
def test_05_numbers_are_looked_up_among_numbers_only(kind):
    """A distinct list too long for a literal (a Spark frame of its values) is no lookup for numbers
    unless its values are numbers, as a literal list of dates, truth values or text is not."""
    values = DistinctValues(None, getattr(nw, kind)(), "$values (X of XX)")
    with pytest.raises(Unported, match="on numbers with the distinct values of"):
        leaf(Condition("is_contained_by", "NUM", values, {"value_is_literal": True}), _Numbers())
