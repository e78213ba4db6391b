"""Tests of trialkit.display: values in messages as the data hold them, never as Python sees them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialkit.display import plain_values, show, show_list, show_values
from trialkit.findings import Finding


# ---- Test 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "variable", "shown"), [
    (np.float64(19725.0), "RANDDT", "2014-01-02"),            # a SAS date: days since 1960-01-01
    (np.float64(1704067200.0 + 3600), "ADTM", "2013-12-31T01:00:00"),
    (np.float64(np.nan), "RANDDT", "missing"),
    (None, None, "missing"),
    ("", None, "missing"),
    (np.float64(12.5), "AVAL", "12.5"),
    (np.float64(3.0), "AESEQ", "3"),
    (np.int64(7), None, "7"),
    (pd.Timestamp("2021-03-01"), None, "2021-03-01"),
    (pd.Timestamp("2021-03-01 14:30"), None, "2021-03-01T14:30:00"),
    (np.datetime64("2021-03-01"), None, "2021-03-01"),
    ("31-APR-2017", "RANDDAT", "'31-APR-2017'"),
    (np.bool_(True), None, "true"),
])
def test_display_01_show_gives_the_value_as_a_reader_knows_it(value, variable, shown):
    """Test 1: numbers as written, SAS dates of *DT / *DTM variables as ISO 8601, timestamps as ISO
    8601, text in quotes, 'missing' for nothing; no repr anywhere."""
    assert show(value, variable) == shown
    assert "np." not in show(value, variable) and "Timestamp" not in show(value, variable)


# ---- Test 2 ------------------------------------------------------------------------------------
def test_display_02_columns_and_lists():
    """Test 2: the column forms agree with show / plain value by value; show_list names the first
    ones and counts the rest."""
    values = pd.Series([19725.0, np.nan, 19725.0, 0.0])
    assert plain_values(values, "TRTSDT").tolist() == ["2014-01-02", "", "2014-01-02", "1960-01-01"]
    assert show_values(pd.Series([3.0, np.nan]), "AVAL").tolist() == ["3", "missing"]
    assert show_list(["SEX", "RACE"]) == "SEX, RACE"
    assert show_list([f"C{k}" for k in range(12)], 3) == "C0, C1, C2 and 9 more"


# ---- Test 3 ------------------------------------------------------------------------------------
def test_display_03_a_finding_reads_file_row_column_value_and_spec_key():
    """Test 3: a finding's line names the file, row, column, value (quoted) and the spec key."""
    f = Finding("error", "enrol.csv", 6, "RANDDAT", "31-APR-2017", "impossible date",
                "DM.yaml:sources[0].variables.RFSTDTC", "0101-001", "date")
    assert str(f) == ("error: enrol.csv row 6 column RANDDAT: impossible date (value '31-APR-2017') "
                      "[spec DM.yaml:sources[0].variables.RFSTDTC]")
    assert str(Finding("error", "death.csv", None, None, "", "form not in the export")) == \
        "error: death.csv: form not in the export"
