"""CORE's regular-expression and length operators as expressions: on every case the operator's
pandas code, the expression on pandas and the expression on Spark give the same flags
(tests/core_three_ways.py); the patterns are CORE's own (every one the shipped rules use) and edge
cases where Python's ``re`` and Java's regex part ways (Unicode digits and spaces, line terminators,
case folding). A pattern whose meaning cannot be kept in Java has no expression on either engine.

One local Spark session serves the module.
"""

from __future__ import annotations

import math

import pytest
from core_three_ways import assert_three_equal, three_ways, unported_on_both

from trialkit.validators.core.regex_dialect import UnportedRegex, for_java, python_class

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")]

TEXTS = ["123", "-0.5", "", None, math.nan, "abc", "ABC", "12a", "\u0661\u0662\u0663", " 12", "12\n", "a\nb",
         "a\rb", "x\u2028y", "\u00a0x", "\x1cx", "NI", "ni", "Unknown", "\u212a", "\u017f", "\u0130", "\u0131",
         "AESEQ", "APAE", "apx", "A", "2003-12-01", "Title Of Thing", "TITLE of thing", ".5", "1e5", "AB_C1234", "C]C}", "ABABQ"]

# every pattern of the shipped CORE rules' regex operators, then edge cases
CORE_PATTERNS = [".*[0-9].*", ".*[a-zA-Z].*", "^(.){21,}$", "^(.){9,}$", r"^-?(0|[1-9]\d*)(\.\d+)?$",
                 r"^[<>]?=?\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", "^[a-z(?-i)]{2}[a-z(?-i)]{1,2}",
                 "^[a-z(?-i)]{2}[a-z0-9(?-i)]{1,2}", r"^\d*\.?\d*$", r"^\s",
                 ("(?i:^(NI|No information|INV|Invalid|OTH|Other|PINF|Positive infinity|NINF|Negative infinity|UNC|"
                 "Unencoded|DER|Derived|UNK|Unknown|ASKU|Asked but unknown|NAV|Temporarily unavailable|NASK|Not asked|"
                 "TRC|Trace|MSK|Masked|QS|Sufficient Quantity)$)"), r"^(-?[1-9]\d*|0)$",
                 r"^-?(\d+(\.\d+)?$)|(\.\d+$)", "^[A-Z_][A-Z0-9_]{0,7}$", "^[a-zA-Z_][a-zA-Z0-9_]{0,7}$",
                 (r"^\s*[A-Z]\S*\s*((a|an|the|as|and|per|to|but|or|for|in|is|of|on|with|and\/or|is|within|from|"
                 r"([A-Z]\S*))\s*)*$")]
EDGE_PATTERNS = [r"\d+", r"\d", r"[\d.-]+$", r"\D", r"\S+$", "a.b", "x.y", "12$", "(?i:k)", "(?i:s)", "(?i:i)",
                 "(?i:unknown)", "A(?=E)", "A(?!E)", "AB\\_C", "[^A-Z]", "x{2,}", "", "C]", "C}", "E+?Q", "(A|B)*+"]


def test_01_matches_regex_and_its_complement_agree_on_every_core_pattern(spark):
    leaves = [{"name": "TXT", "operator": op, "value": p}
              for p in CORE_PATTERNS + EDGE_PATTERNS for op in ("matches_regex", "not_matches_regex")]
    results = three_ways(spark, {"TXT": TEXTS}, leaves)
    assert_three_equal(results)
    flags = {(r[0]["operator"], r[0]["value"]): r[1] for r in results}
    # the cases that tell re.match from a search, Unicode digits and an empty text apart
    assert flags[("matches_regex", r"\d+")][TEXTS.index("\u0661\u0662\u0663")] is True
    assert flags[("matches_regex", r"\d+")][TEXTS.index(" 12")] is False
    assert flags[("not_matches_regex", r"^\d*\.?\d*$")][TEXTS.index("")] is False      # '' is present, matches
    assert flags[("not_matches_regex", r"^\d*\.?\d*$")][TEXTS.index(None)] is False    # null is not flagged


def test_02_prefix_and_suffix_forms_search_the_first_or_last_characters(spark):
    leaves = [{"name": "TXT", "operator": op, "value": value, side: count}
              for op, value, side, count in [
                  ("prefix_matches_regex", "(AP|ap)", "prefix", 2), ("not_prefix_matches_regex", "(AP|FA)", "prefix", 2),
                  ("not_prefix_matches_regex", "(AP|ap)", "prefix", 2), ("suffix_matches_regex", "SEQ", "suffix", 3),
                  ("suffix_matches_regex", "^[A-Z0-9]", "suffix", 1), ("not_suffix_matches_regex", "(OTH)", "suffix", 3),
                  ("suffix_matches_regex", r"\d", "suffix", 50), ("prefix_matches_regex", "^.$", "prefix", 1)]]
    assert_three_equal(three_ways(spark, {"TXT": TEXTS}, leaves))


def test_03_integer_columns_are_matched_as_their_digits(spark):
    numbers = {"N": [1, -20, 300, 0, 12345]}
    leaves = [{"name": "N", "operator": op, "value": p} for p in (r"^-?\d+$", "^[12]", r"^\d{3}$", "0$")
              for op in ("matches_regex", "not_matches_regex")]
    assert_three_equal(three_ways(spark, numbers, leaves))


@pytest.mark.parametrize("pattern", [r"\w+", "(?i)abc", "a{", "[[a]]", "[a&&b]", r"\bA", "(?P<x>a)", "(?<=a)b",
                                     "(?i:[a-z])", r"(?i:\d)", "[]a]", r"\Z", "a{,2}"])
def test_04_a_pattern_java_would_read_otherwise_has_no_expression_on_spark(spark, pattern):
    """Python runs it on pandas (its own dialect); Spark does not run it."""
    unported_on_both(spark, {"TXT": ["a"]}, {"name": "TXT", "operator": "matches_regex", "value": pattern},
                     on_pandas_too=False)
    with pytest.raises(UnportedRegex):
        for_java(pattern)


def test_05_floats_and_options_have_no_expression(spark):
    unported_on_both(spark, {"F": [1.0, 2.5]}, {"name": "F", "operator": "matches_regex", "value": "^1"})
    unported_on_both(spark, {"TXT": ["ABC"]}, {"name": "TXT", "operator": "suffix_matches_regex", "value": "C"})


def test_06_python_classes_are_python_s_own_characters():
    assert python_class(r"\d").startswith(r"\x{30}-\x{39}\x{660}-\x{669}")
    assert r"\x{1C}-\x{20}" in python_class(r"\s") and r"\x{3000}" in python_class(r"\s")


LENGTHS = {"TXT": ["", "a", "abcd", None, math.nan, "abcdefghi", "\u00e9\u00e9", "\U0001F600x", "12345678"],
           "N": [0, 1, 4, 4, 8, math.nan, 2, 2, 9.0],
           "OTHER": ["x", "", "abcd", "ab", None, "abcdefghi", "e", None, "1"]}
LENGTH_OPERATORS = ["longer_than", "longer_than_or_equal_to", "has_equal_length", "shorter_than",
                    "shorter_than_or_equal_to", "has_not_equal_length"]


def test_07_lengths_against_numbers_columns_and_texts(spark):
    leaves = [{"name": "TXT", "operator": op, "value": value} for op in LENGTH_OPERATORS
              for value in (8, 4, "2", 0, "abc", "N", "OTHER", None)]
    leaves += [{"name": "N", "operator": op, "value": 1} for op in LENGTH_OPERATORS]     # numbers: no length
    leaves += [{"name": "TXT", "operator": "longer_than", "value": "N", "value_is_literal": True}]
    results = three_ways(spark, LENGTHS, leaves)
    assert_three_equal(results)
    flags = {(r[0]["operator"], r[0]["name"], str(r[0].get("value"))): r[1] for r in results}
    assert flags[("longer_than", "TXT", "8")] == [False, False, False, False, False, True, False, False, False]
    assert flags[("shorter_than", "TXT", "8")][3] is True            # no length: the complement holds
    assert flags[("has_equal_length", "TXT", "2")][6:8] == [True, True]   # code points, not bytes


def test_08_starts_and_ends_with_a_literal(spark):
    records = {"TXT": ["AESEQ", "AE", "", None, math.nan, "None", "1.0x", "ae"], "N": [1, 2, 3, 4, 5, 6, 7, 8]}
    leaves = [{"name": name, "operator": op, "value": value} for name in ("TXT", "N")
              for op in ("starts_with", "ends_with") for value in ("AE", "SEQ", "", None, 1.0, "e")]
    leaves += [{"name": "TXT", "operator": "starts_with", "value": "N", "value_is_literal": True}]
    assert_three_equal(three_ways(spark, records, leaves))
    unported_on_both(spark, records, {"name": "TXT", "operator": "ends_with", "value": "TXT"})
