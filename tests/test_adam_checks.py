"""Tests of trialkit.adam.checks (and the AdamError it raises): the checks every derivation runs first.

Numbered cases, tiny inline frames. A failed check must be an AdamError whose text names the dataset,
the variables or keys, and the offending rows (1-based positions), with all duplicates on
``err.records`` the way admiral's get_duplicates_dataset() shows them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from trialkit.adam.checks import (
    assert_unique,
    assert_variables,
    get_duplicates,
    signal_duplicates,
)
from trialkit.adam.errors import AdamError, AdamWarning
from trialkit.errors import TrialkitError

ADSL = pd.DataFrame({
    "STUDYID": ["S1"] * 5,
    "USUBJID": ["01", "02", "01", "03", "01"],
    "AGE": [30, 41, 30, 52, 33],
})


# ---- Test 1: assert_variables --------------------------------------------------------------------

def test_checks_01_assert_variables_passes_when_all_present():
    assert_variables(ADSL, ["USUBJID", "AGE"], "ADSL")


def test_checks_02_assert_variables_names_dataset_and_every_missing_variable():
    with pytest.raises(AdamError) as info:
        assert_variables(ADSL, ["USUBJID", "TRTSDT", "AGE", "SAFFL"], "ADSL")
    err = info.value
    assert err.dataset == "ADSL" and err.variables == ("TRTSDT", "SAFFL")
    assert str(err).startswith("dataset ADSL: ")
    assert "TRTSDT, SAFFL" in str(err) and "USUBJID" in str(err)  # what is there helps spot a typo


def test_checks_03_adam_error_is_a_trialkit_error():
    assert issubclass(AdamError, TrialkitError)
    err = AdamError("bad", dataset="ADAE", keys=["USUBJID", "AESEQ"], rows=[3, 4])
    assert str(err) == "dataset ADAE, keys USUBJID, AESEQ: bad" and err.rows == (3, 4)


# ---- Test 4: assert_unique -----------------------------------------------------------------------

def test_checks_04_assert_unique_passes_on_unique_keys():
    assert_unique(ADSL.drop_duplicates("USUBJID"), ["USUBJID"], "ADSL")
    assert_unique(ADSL.iloc[1:], ["USUBJID", "AGE"], "ADSL")  # 01 twice, but with different AGE


def test_checks_05_duplicates_listed_with_values_and_rows():
    with pytest.raises(AdamError) as info:
        assert_unique(ADSL, ["STUDYID", "USUBJID"], "ADSL")
    err, text = info.value, str(info.value)
    assert err.dataset == "ADSL" and err.keys == ("STUDYID", "USUBJID")
    assert "STUDYID='S1', USUBJID='01' at rows 1, 3, 5" in text
    assert "1 key value on 3 rows" in text
    assert err.rows == (1, 3, 5)
    assert err.records["AGE"].tolist() == [30, 30, 33]  # the offending records themselves


def test_checks_06_first_few_key_values_shown_count_of_all_given():
    frame = pd.DataFrame({"K": np.repeat(np.arange(8), 2)})
    with pytest.raises(AdamError) as info:
        assert_unique(frame, ["K"], "X")
    text = str(info.value)
    assert "8 key values on 16 rows" in text and "K=0 at rows 1, 2" in text and "K=4 at rows 9, 10" in text
    assert "K=5" not in text and "and 3 more key values" in text
    assert len(info.value.rows) == 16


def test_checks_07_row_numbers_of_a_subset_refer_to_the_full_dataset():
    subset = ADSL.iloc[[2, 4]]
    with pytest.raises(AdamError) as info:
        assert_unique(subset, ["USUBJID"], "ADSL", row_numbers=[3, 5], context="after the filter")
    assert "after the filter: " in str(info.value) and "at rows 3, 5" in str(info.value)


def test_checks_08_missing_key_values_are_duplicates_of_each_other():
    frame = pd.DataFrame({"USUBJID": ["01", None, np.nan, "02"]})
    with pytest.raises(AdamError) as info:
        assert_unique(frame, ["USUBJID"], "DM")
    assert "USUBJID=missing at rows 2, 3" in str(info.value)


def test_checks_09_assert_unique_on_missing_key_variable_is_an_error():
    with pytest.raises(AdamError, match="AESEQ"):
        assert_unique(ADSL, ["USUBJID", "AESEQ"], "ADAE")


# ---- Test 10: get_duplicates ---------------------------------------------------------------------

def test_checks_10_get_duplicates_returns_all_duplicates_grouped():
    frame = pd.DataFrame({"K": ["b", "a", "b", "c", "a"], "V": [1, 2, 3, 4, 5]}, index=[10, 11, 12, 13, 14])
    dups = get_duplicates(frame, ["K"])
    assert dups["K"].tolist() == ["b", "b", "a", "a"]  # groups in order of first appearance
    assert dups.index.tolist() == [10, 12, 11, 14]  # index labels kept


def test_checks_11_get_duplicates_empty_when_unique():
    assert get_duplicates(ADSL.drop_duplicates("USUBJID"), ["USUBJID"]).empty


# ---- Test 12: signal_duplicates (admiral's check_type) ---------------------------------------------

def test_checks_12_signal_duplicates_error_warning_none():
    with pytest.raises(AdamError):
        signal_duplicates(ADSL, ["USUBJID"], "ADSL", "error")
    with pytest.warns(AdamWarning, match="USUBJID='01' at rows 1, 3, 5"):
        signal_duplicates(ADSL, ["USUBJID"], "ADSL", "warning")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        signal_duplicates(ADSL, ["USUBJID"], "ADSL", "none")


def test_checks_13_signal_duplicates_rejects_unknown_check_type():
    with pytest.raises(AdamError, match="check_type"):
        signal_duplicates(ADSL, ["USUBJID"], "ADSL", "message")
