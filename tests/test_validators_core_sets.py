"""CORE containment operators (validators/core/operators/sets.py): a value in a literal list, in its
row's list (a column of lists, as ``distinct`` gives) or among a column's values; collections that
contain, share and order elements."""

from __future__ import annotations

import pytest
from core_context import context, flags

from trialkit.validators.core.context import MissingVariable

LISTS = ["V1", "V2"]


def test_01_is_contained_by_a_literal_list_never_holds_an_empty_value():
    ctx = context({"ACTARM": ["Screen Failure", "Drug A", None, ""]})
    assert flags(ctx, "is_contained_by", "ACTARM", ["Screen Failure", "Not Assigned"]) == [True, False, False, False]
    assert flags(ctx, "is_not_contained_by", "ACTARM", ["Screen Failure", "Not Assigned"]) == [False, True, True, True]


def test_02_is_contained_by_compares_types_as_stored():
    ctx = context({"TEXT": ["1", "2"], "NUMBER": [1.0, 2.0]})
    assert flags(ctx, "is_contained_by", "TEXT", [1]) == [False, False]
    assert flags(ctx, "is_contained_by", "NUMBER", [1]) == [True, False]
    assert flags(ctx, "is_contained_by", "TEXT", ["1"]) == [True, False]


def test_03_a_column_of_lists_is_read_row_by_row():
    ctx = context({"VISIT": ["V1", "V3", None, "V2"], "$visits": [LISTS, LISTS, LISTS, None]})
    assert flags(ctx, "is_contained_by", "VISIT", "$visits") == [True, False, False, False]
    assert flags(ctx, "is_not_contained_by", "VISIT", "$visits") == [False, True, True, True]


def test_04_a_plain_column_is_read_whole_and_an_empty_value_finds_an_empty_one():
    ctx = context({"ARMCD": ["A", "B", None], "OTHER": ["B", "C", "D"], "GAPPY": ["A", None, "Z"]})
    assert flags(ctx, "is_contained_by", "ARMCD", "OTHER") == [False, True, False]
    assert flags(ctx, "is_contained_by", "ARMCD", "GAPPY") == [True, False, True]


def test_05_value_is_literal_keeps_a_column_name_as_text():
    ctx = context({"ARMCD": ["OTHER", "B"], "OTHER": ["B", "C"]})
    assert flags(ctx, "is_contained_by", "ARMCD", ["OTHER"], value_is_literal=True) == [True, False]


def test_06_a_target_holding_lists_is_contained_when_any_element_is():
    ctx = context({"$names": [["AESEQ", "XX"], ["YY"], None]})
    assert flags(ctx, "is_contained_by", "$names", ["AESEQ"]) == [True, False, False]


def test_07_case_insensitive_forms_fold_both_sides():
    ctx = context({"ARM": ["Screen Failure", "SCREEN FAILURE", "Other", None]})
    assert flags(ctx, "is_contained_by_case_insensitive", "ARM", ["screen failure"]) == [True, True, False, False]
    assert flags(ctx, "is_not_contained_by_case_insensitive", "ARM", ["screen failure"]) == [False, False, True, True]


def test_08_a_missing_target_is_a_missing_variable():
    ctx = context({"ARM": ["A"]})
    with pytest.raises(MissingVariable):
        flags(ctx, "is_contained_by", "ACTARM", ["A"])


def test_09_prefix_and_suffix_are_looked_up_in_the_list():
    ctx = context({"variable_name": ["AESEQ", "XXSEQ", None], "dataset_name": ["SUPPAE", "SUPPXX", "AE"]})
    assert flags(ctx, "prefix_is_contained_by", "variable_name", ["AE", "DM"], prefix=2) == [True, False, False]
    assert flags(ctx, "prefix_is_not_contained_by", "variable_name", ["AE", "DM"], prefix=2) == [False, True, True]
    assert flags(ctx, "suffix_is_contained_by", "dataset_name", ["AE", "DM"], suffix=2) == [True, False, True]
    assert flags(ctx, "suffix_is_not_contained_by", "dataset_name", ["AE", "DM"], suffix=2) == [False, True, False]


def test_10_prefix_against_a_column_of_lists():
    ctx = context({"variable_name": ["AESEQ", "LBSEQ"], "$domains": [["AE", "DM"], ["AE", "DM"]]})
    assert flags(ctx, "prefix_is_contained_by", "variable_name", "$domains", prefix=2) == [True, False]


def test_11_contains_a_literal_searches_text_and_lists():
    ctx = context({"AEDUR": ["-P1D", "P1D", None], "$decods": [["DEATH", "COMPLETED"], [], None]})
    assert flags(ctx, "contains", "AEDUR", "-") == [True, False, False]
    assert flags(ctx, "does_not_contain", "AEDUR", "-") == [False, True, True]
    assert flags(ctx, "contains", "$decods", "DEATH", value_is_literal=True) == [True, False, False]
    assert flags(ctx, "does_not_contain", "$decods", "DEATH", value_is_literal=True) == [False, True, True]


def test_12_contains_a_column_looks_among_all_the_targets_values():
    ctx = context({"TERM": ["A", "B", "C"], "WANTED": ["B", "Z", None]})
    assert flags(ctx, "contains", "TERM", "WANTED") == [True, False, False]


def test_13_contains_case_insensitive_on_lists_text_and_columns():
    ctx = context({"$tox": [["Grade", "Onset"], ["Severity"]], "TEXT": ["Mild RASH", "none"], "PART": ["rash", "NO"]})
    assert flags(ctx, "contains_case_insensitive", "$tox", "GRADE", value_is_literal=True) == [True, False]
    assert flags(ctx, "contains_case_insensitive", "TEXT", "rash", value_is_literal=True) == [True, False]
    assert flags(ctx, "contains_case_insensitive", "TEXT", "PART") == [True, True]
    assert flags(ctx, "does_not_contain_case_insensitive", "TEXT", "PART") == [False, False]


def test_14_contains_all_lists_against_lists_row_by_row():
    ctx = context({"$spec": [["C1", "C2", "C3"], ["C1", "C2"]], "$wanted": [["C1", "C3"], ["C1", "C3"]]})
    assert flags(ctx, "contains_all", "$spec", "$wanted") == [True, False]
    assert flags(ctx, "not_contains_all", "$spec", "$wanted") == [False, True]


def test_15_contains_all_of_a_literal_list_judges_the_dataset_on_its_first_record():
    ctx = context({"ACTARM": ["A", "B", "A"]})
    assert flags(ctx, "contains_all", "ACTARM", ["A", "B"]) == [True, False, False]
    assert flags(ctx, "not_contains_all", "ACTARM", ["A", "B"]) == [False, False, False]
    assert flags(ctx, "not_contains_all", "ACTARM", ["A", "C"]) == [True, False, False]


def test_16_shared_elements_of_lists_and_single_values():
    ctx = context({"$have": [["A", "B"], ["C"], ["A"]], "$timing": [["B", "X"], ["X"], ["A"]], "ONE": ["A", "C", "Z"]})
    assert flags(ctx, "shares_no_elements_with", "$have", "$timing") == [False, True, False]
    assert flags(ctx, "shares_at_least_one_element_with", "$have", "$timing") == [True, False, True]
    assert flags(ctx, "shares_exactly_one_element_with", "$have", "ONE") == [True, True, False]


def test_17_ordered_subset_keeps_relative_order_and_needs_every_element():
    order = ["STUDYID", "DOMAIN", "USUBJID", "AESEQ"]
    ctx = context({"$dataset": [["STUDYID", "USUBJID"], ["USUBJID", "STUDYID"], ["STUDYID", "XX"], None],
                   "$library": [order, order, order, order]})
    assert flags(ctx, "is_ordered_subset_of", "$dataset", "$library") == [True, False, False, False]
    assert flags(ctx, "is_not_ordered_subset_of", "$dataset", "$library") == [False, True, True, True]


def test_18_category_columns_compare_as_their_text():
    ctx = context({"ARM": ["A", "B", "A"]})
    ctx.frame["ARM"] = ctx.frame["ARM"].astype("category")
    assert flags(ctx, "is_contained_by", "ARM", ["A"]) == [True, False, True]
    assert flags(ctx, "contains", "ARM", "B") == [False, True, False]
