"""CORE operators over groups of records (validators/core/operators/groups.py): unique sets and
relationships, consistency, repeated values, next and last records, sort order."""

from __future__ import annotations

import pytest
from core_context import context, flags

from trialkit.validators.core.context import MissingVariable

SE = {"DOMAIN": ["SE"] * 5, "USUBJID": ["1", "2", "1", "1", "2"], "SESEQ": [2.0, 1.0, 1.0, 3.0, 2.0],
      "SESTDTC": ["2020-01-05", "2020-02-01", "2020-01-01", "2020-01-09", "2020-02-03"],
      "SEENDTC": ["2020-01-08", "2020-02-03", "2020-01-05", None, "2020-02-04"]}


def test_01_not_unique_set_flags_every_record_of_a_repeated_combination():
    ctx = context({"DOMAIN": ["AE"] * 4, "USUBJID": ["1", "1", "2", "1"], "AESEQ": [1.0, 1.0, 1.0, 2.0]})
    assert flags(ctx, "is_not_unique_set", "--SEQ", ["USUBJID"]) == [True, True, False, False]
    assert flags(ctx, "is_unique_set", "--SEQ", ["USUBJID"]) == [False, False, True, True]


def test_02_empty_values_form_one_value_and_missing_set_variables_are_left_out():
    ctx = context({"USUBJID": ["1", "1", "1"], "AESPID": [None, None, "A"]})
    assert flags(ctx, "is_not_unique_set", "AESPID", ["USUBJID", "AEGRPID"]) == [True, True, False]
    with pytest.raises(MissingVariable):
        flags(ctx, "is_not_unique_set", "XXSPID", ["XXGRPID"])


def test_03_regex_compares_the_matched_part_and_a_list_column_names_set_variables():
    ctx = context({"USUBJID": ["1", "1", "1"], "AEDTC": ["2020-01-01T08:00", "2020-01-01T09:00", "2020-01-02"],
                   "$timing": [["AEDTC"]] * 3})
    assert flags(ctx, "is_not_unique_set", "USUBJID", ["$timing"], regex=r"^\d{4}-\d{2}-\d{2}") == [True, True, False]
    assert flags(ctx, "is_not_unique_set", "USUBJID", ["$timing"]) == [False, False, False]


def test_04_not_unique_relationship_flags_both_sides_of_a_one_to_many():
    ctx = context({"AETERM": ["HEADACHE", "HEADACHE", "NAUSEA", "VOMITING", "RASH", "ITCH", None, None],
                   "AEDECOD": ["Headache", "Migraine", "Nausea", "Nausea", "Rash", None, "Rash", "Pain"]})
    # RASH goes with Rash only, but Rash also with an empty term; ITCH and Pain only with empty values
    assert flags(ctx, "is_not_unique_relationship", "AETERM", "AEDECOD") == [True] * 5 + [False, True, False]
    assert flags(ctx, "is_unique_relationship", "AETERM", "AEDECOD") == [False] * 5 + [True, False, True]


def test_05_not_unique_relationship_with_several_comparators():
    ctx = context({"TESTCD": ["A", "A", "B", "B"], "TEST": ["a", "a", "b", "b"], "CAT": ["X", "Y", "X", "X"]})
    assert flags(ctx, "is_not_unique_relationship", "TESTCD", ["TEST", "CAT"]) == [True, True, False, False]


def test_06_inconsistent_across_dataset_flags_the_minority_or_every_record_of_a_tie():
    ctx = context({"TESTCD": ["L", "L", "L", "W", "W", "H"], "STRESU": ["mm", "mm", "cm", "mm", "cm", None]})
    assert flags(ctx, "is_inconsistent_across_dataset", "STRESU", "TESTCD") == [False, False, True, True, True, False]


def test_07_inconsistent_across_dataset_groups_empty_values_and_reads_a_regex_group():
    ctx = context({"USUBJID": ["1", "1", "1", "2", "2"],
                   "DTC": ["2020-01-01T08:00", "2020-01-01T09:00", None, "2020-01-01", "2020-01-02"]})
    assert flags(ctx, "is_inconsistent_across_dataset", "DTC", ["USUBJID"], regex=r"^(\d{4}-\d{2}-\d{2})") == [
        False, False, True, True, True]


def test_08_present_on_multiple_rows_within_a_group():
    ctx = context({"USUBJID": ["1", "1", "1", "2", "2"], "RELID": ["R1", "R1", "R2", "R1", None]})
    assert flags(ctx, "present_on_multiple_rows_within", "RELID", within="USUBJID") == [True, True, False, False, False]
    assert flags(ctx, "not_present_on_multiple_rows_within", "RELID", within="USUBJID") == [
        False, False, True, True, True]
    assert flags(ctx, "present_on_multiple_rows_within", "RELID", 2, within="USUBJID") == [False] * 5


def test_09_next_corresponding_record_follows_the_ordering_not_the_file_order():
    ctx = context(SE)
    assert flags(ctx, "has_next_corresponding_record", "SEENDTC", "SESTDTC", within="USUBJID", ordering="SESEQ") == [
        False, True, True, True, True]
    assert flags(ctx, "does_not_have_next_corresponding_record", "SEENDTC", "SESTDTC", within="USUBJID",
                 ordering="SESEQ") == [True, False, False, False, False]


def test_10_an_empty_value_never_corresponds():
    ctx = context({"USUBJID": ["1", "1", "1"], "SESEQ": [1.0, 2.0, 3.0], "SESTDTC": ["2020-01-01", None, None],
                   "SEENDTC": [None, None, "2020-01-09"]})
    assert flags(ctx, "does_not_have_next_corresponding_record", "SEENDTC", "SESTDTC", within="USUBJID",
                 ordering="SESEQ") == [True, True, False]


def test_11_empty_within_except_last_row_never_judges_the_last_record():
    ctx = context({**SE, "SEENDTC": [None, "2020-02-03", "", None, None]})
    assert flags(ctx, "empty_within_except_last_row", "SEENDTC", "USUBJID", ordering="SESTDTC") == [
        True, False, True, False, False]
    assert flags(ctx, "non_empty_within_except_last_row", "SEENDTC", "USUBJID", ordering="SESTDTC") == [
        False, True, False, False, False]


def test_12_target_is_sorted_by_a_date():
    spec = [{"name": "--STDTC", "sort_order": "asc", "null_position": "last"}]
    ctx = context({"DOMAIN": ["SE"] * 4, "USUBJID": ["1", "1", "1", "1"], "SESEQ": [1.0, 2.0, 4.0, 3.0],
                   "SESTDTC": ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]})
    assert flags(ctx, "target_is_not_sorted_by", "--SEQ", spec, within="USUBJID") == [False, False, True, True]
    assert flags(ctx, "target_is_sorted_by", "--SEQ", spec, within="USUBJID") == [True, True, False, False]
    descending = [{"name": "SESTDTC", "sort_order": "desc"}]
    assert flags(ctx, "target_is_not_sorted_by", "SESEQ", descending, within="USUBJID") == [True, True, True, True]


def test_13_target_is_sorted_by_flags_overlapping_dates_and_misplaced_empty_ones():
    spec = [{"name": "SMSTDTC", "sort_order": "asc", "null_position": "last"}]
    ctx = context({"USUBJID": ["1", "1", "1", "1", "2", "2", "2"], "SMSEQ": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0],
                   "SMSTDTC": ["2005-10", "2005-10-08", "2005-10-06", "2005-11", "2006-01-01", None, "2006-01-03"]})
    assert flags(ctx, "target_is_not_sorted_by", "SMSEQ", spec, within="USUBJID") == [
        True, True, True, False, False, True, False]
    first = [{"name": "SMSTDTC", "sort_order": "asc", "null_position": "first"}]
    assert flags(ctx, "target_is_not_sorted_by", "SMSEQ", first, within="USUBJID")[4:] == [False, True, False]


def test_14_target_is_sorted_by_a_number_captured_by_regex():
    spec = [{"name": "SMSTDTC", "sort_order": "asc"}]
    ctx = context({"USUBJID": ["1"] * 3, "MIDS": ["MIDS1", "MIDS10", "MIDS2"],
                   "SMSTDTC": ["2020-01-01", "2020-01-03", "2020-01-02"]})
    assert flags(ctx, "target_is_not_sorted_by", "MIDS", spec, within=["USUBJID"], regex=r".*?(\d+)$") == [
        False, False, False]
    assert flags(ctx, "target_is_not_sorted_by", "MIDS", spec, within=["USUBJID"]) == [False, True, True]


def test_15_same_values_ordered_sets_and_multiple_references():
    ctx = context({"USUBJID": ["1", "1", "2", "2"], "AESEQ": [1.0, 2.0, 2.0, 1.0], "MHCAT": ["A", "A", "A", "A"],
                   "RELID": ["R1", "R2", "R1", "R3"], "$counts": [{"R1": 2, "R2": 1}] * 4})
    assert flags(ctx, "has_same_values", "MHCAT") == [True] * 4
    assert flags(ctx, "has_different_values", "USUBJID") == [True] * 4
    assert flags(ctx, "is_ordered_set", "AESEQ", "USUBJID") == [True, True, False, False]
    assert flags(ctx, "is_not_ordered_set", "AESEQ", ["USUBJID"]) == [False, False, True, True]
    assert flags(ctx, "is_ordered_by", "AESEQ", order="asc") == [True, False, True, False]
    assert flags(ctx, "value_has_multiple_references", "RELID", "$counts") == [True, False, True, False]
    assert flags(ctx, "value_does_not_have_multiple_references", "RELID", "$counts") == [False, True, False, True]
