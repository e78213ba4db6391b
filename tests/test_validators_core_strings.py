"""String operators of the CORE interpreter (validators/core/operators/strings.py): numbered cases,
tiny inline frames, the exact flags CORE's engine gives, empty values, numbers stored as numbers or
as text, and variables the dataset lacks."""

from __future__ import annotations

import pytest
from core_check import check, frame

from trialkit.validators.core.context import MissingVariable

CODES = frame(SETCD=["ABCDEFGHI", "ABCDEFGH", "123456789", None, ""], N=[123456789.0, 1.0, None, 2.0, 3.0],
              WIDTH=[9.0, 7.0, 9.0, 1.0, 0.0], OTHER=["ABCDEFGHIJ", "ABCDEFGH", "12", "X", ""])


def test_01_longer_than_a_number_counts_text_only():
    assert check(CODES, {"name": "SETCD", "operator": "longer_than", "value": 8}) == [True, False, True, False, False]
    # a column of numbers has no length (CORE's string length is for text)
    assert check(CODES, {"name": "N", "operator": "longer_than", "value": 2}) == [False] * 5


def test_02_longer_than_another_column():
    # a column of text: its values' lengths; a column of numbers: the numbers
    assert check(CODES, {"name": "SETCD", "operator": "longer_than", "value": "OTHER"}) == [False, False, True, False, False]
    assert check(CODES, {"name": "SETCD", "operator": "longer_than", "value": "WIDTH"}) == [False, True, False, False, False]


def test_03_shorter_is_the_complement_so_values_without_length_are_shorter():
    assert check(CODES, {"name": "SETCD", "operator": "shorter_than", "value": 9}) == [False, True, False, True, True]
    assert check(CODES, {"name": "SETCD", "operator": "shorter_than_or_equal_to", "value": 8}) == [
        False, True, False, True, True]
    assert check(CODES, {"name": "SETCD", "operator": "longer_than_or_equal_to", "value": 9}) == [
        True, False, True, False, False]


def test_04_equal_length():
    assert check(CODES, {"name": "SETCD", "operator": "has_equal_length", "value": "OTHER"}) == [
        False, True, False, False, True]
    assert check(CODES, {"name": "SETCD", "operator": "has_not_equal_length", "value": 9}) == [
        False, True, False, True, True]


def test_05_a_missing_variable_is_not_applicable():
    with pytest.raises(MissingVariable):
        check(CODES, {"name": "TSVAL", "operator": "longer_than", "value": 200})


DOMAINS = frame(DOMAIN=["APSU", "AE", "xapx", None, "ap"], QNAM=["AESEQ", "RACE1", "RACEOTH", None, "SEQ"],
                NUM=[12.0, 1.5, None, 3.0, 40.0])


def test_06_prefix_regex_searches_the_first_characters():
    flags = check(DOMAINS, {"name": "DOMAIN", "operator": "prefix_matches_regex", "prefix": 2, "value": "(AP|ap)"})
    assert flags == [True, False, False, False, True]
    flags = check(DOMAINS, {"name": "DOMAIN", "operator": "not_prefix_matches_regex", "prefix": 2, "value": "(AP|ap)"})
    assert flags == [False, True, True, False, False]      # an empty value is never flagged either way


def test_07_suffix_regex_and_numbers_as_text():
    assert check(DOMAINS, {"name": "QNAM", "operator": "suffix_matches_regex", "suffix": 3, "value": "SEQ"}) == [
        True, False, False, False, True]
    assert check(DOMAINS, {"name": "QNAM", "operator": "not_suffix_matches_regex", "suffix": 3, "value": "(OTH)"}) == [
        True, True, False, False, True]
    # numbers are matched as their text: 12.0 is '12', 1.5 is '1.5'
    assert check(DOMAINS, {"name": "NUM", "operator": "suffix_matches_regex", "suffix": 1, "value": r"^\d$"}) == [
        True, True, False, True, True]


def test_08_matches_regex_from_the_start():
    assert check(DOMAINS, {"name": "QNAM", "operator": "matches_regex", "value": "RACE"}) == [False, True, True, False, False]
    assert check(DOMAINS, {"name": "QNAM", "operator": "not_matches_regex", "value": "RACE"}) == [
        True, False, False, False, True]
    assert check(DOMAINS, {"name": "NUM", "operator": "matches_regex", "value": r"^\d+$"}) == [True, False, False, True, True]


def test_09_starts_and_ends_with():
    assert check(DOMAINS, {"name": "QNAM", "operator": "starts_with", "value": "RACE", "value_is_literal": True}) == [
        False, True, True, False, False]
    assert check(DOMAINS, {"name": "QNAM", "operator": "ends_with", "value": "SEQ"}) == [True, False, False, False, True]
    # with a column as the value, CORE asks whether the text starts with any value of that column
    assert check(DOMAINS, {"name": "QNAM", "operator": "starts_with", "value": "DOMAIN"}) == [
        True, False, False, False, False]
    # numbers are not text
    assert check(DOMAINS, {"name": "NUM", "operator": "starts_with", "value": "1"}) == [False] * 5


NAMES = frame(dataset_name=["AEXX", "LBAE", "AE", None], OTHER=["AE", "LB", "XX", None], DOMAIN=["AE", "LB", "LB", "LB"])


def test_10_prefix_equal_to_the_domain_a_literal_or_a_column():
    assert check(NAMES, {"name": "dataset_name", "operator": "prefix_equal_to", "prefix": 2, "value": "DOMAIN"}) == [
        True, False, True, False]
    assert check(NAMES, {"name": "dataset_name", "operator": "prefix_equal_to", "prefix": 2, "value": "LB"}) == [
        False, True, False, False]
    assert check(NAMES, {"name": "dataset_name", "operator": "prefix_equal_to", "prefix": 2, "value": "OTHER"}) == [
        True, True, False, False]
    # the complement holds for an empty value
    assert check(NAMES, {"name": "dataset_name", "operator": "prefix_not_equal_to", "prefix": 2, "value": "DOMAIN"}) == [
        False, True, False, True]


def test_11_suffix_equal_to():
    assert check(NAMES, {"name": "dataset_name", "operator": "suffix_equal_to", "suffix": 2, "value": "AE"}) == [
        False, True, True, False]
    # DOMAIN is the dataset's domain prefix (AE, from its first record), not the DOMAIN column
    assert check(NAMES, {"name": "dataset_name", "operator": "suffix_not_equal_to", "suffix": 2, "value": "DOMAIN"}) == [
        True, False, False, True]


SUPP = frame(RDOMAIN=["AE", "LB", None, None, "2"], NAME=["SUPPAE", "SUPPAE", "SUPPAE", None, "SUPP2.0X"])


def test_12_equals_string_part():
    rule = {"name": "RDOMAIN", "operator": "equals_string_part", "regex": ".{4}(..).*", "value": "NAME"}
    assert check(SUPP, rule) == [True, False, False, False, False]
    # both empty: not equal, so the complement flags it
    assert check(SUPP, {**rule, "operator": "does_not_equal_string_part"}) == [False, True, True, True, True]
    # a literal is parsed once; type_insensitive reads '2.' and 2 alike
    assert check(SUPP, {**rule, "value": "SUPPLB", "value_is_literal": True}) == [False, True, False, False, False]
    assert check(SUPP, {**rule, "regex": r".{4}(\d\.)", "type_insensitive": True}) == [False, False, False, False, True]


def test_13_split_parts_have_equal_length():
    values = frame(X=["2003-12-01/2003-12-10", "2003-12-15T10:00/2003-12-15T10:30:15", "2003-12", "1/2/3", None])
    assert check(values, {"name": "X", "operator": "split_parts_have_equal_length"}) == [True, False, True, False, True]
    assert check(values, {"name": "X", "operator": "split_parts_have_unequal_length"}) == [False, True, False, True, False]
    assert check(values, {"name": "X", "operator": "split_parts_have_unequal_length", "separator": "T"}) == [
        False, True, False, False, False]


def test_14_title_case():
    labels = frame(L=["Subject ID", "Subject Id", "Date of Birth", "Date Of Birth", "Study Day per Visit", "the Label", None])
    assert check(labels, {"name": "L", "operator": "is_title_case"}) == [True, False, True, False, True, False, True]
    assert check(labels, {"name": "L", "operator": "is_not_title_case"}) == [False, True, False, True, False, True, False]
