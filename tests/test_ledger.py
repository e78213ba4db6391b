"""Tests of trialkit.ledger: every raw row lands in a dataset, or is rejected with a reason.

Numbered cases, tiny provenance frames (``_form``, ``_row``) as the SDTM engine hands them over.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.ledger import Ledger


def _prov(*pairs) -> pd.DataFrame:
    return pd.DataFrame(list(pairs), columns=["_form", "_row"])


# ---- Test 1: read ---------------------------------------------------------------------------

def test_ledger_01_read_records_rows_in_and_nothing_landed():
    ledger = Ledger()
    ledger.read("ae", 3)
    ledger.read("empty", 0)
    assert ledger.rows_in == {"ae": 3, "empty": 0}
    assert ledger.landed == {"ae": set(), "empty": set()}
    assert ledger.unaccounted() == {"ae": [1, 2, 3]}                   # an empty form has nothing to account for


# ---- Test 2: land ---------------------------------------------------------------------------

def test_ledger_02_land_records_datasets_and_rows():
    ledger = Ledger()
    ledger.read("ae", 3)
    ledger.read("dm", 2)
    ledger.land("AE", 2, _prov(("ae", 1), ("ae", 3)))
    ledger.land("DM", 2, _prov(("dm", 1), ("dm", 2), ("dm", 2)))   # one raw row behind two records: once
    assert ledger.rows_out == {"AE": 2, "DM": 2}
    assert ledger.landed == {"ae": {1, 3}, "dm": {1, 2}}
    assert ledger.unaccounted() == {"ae": [2]}


def test_ledger_03_land_ignores_records_without_provenance():
    ledger = Ledger()
    ledger.read("ae", 2)
    prov = pd.DataFrame({"_form": ["ae", None, "ae"], "_row": [1.0, np.nan, np.nan]})
    ledger.land("AE", 3, prov)
    assert ledger.landed["ae"] == {1}
    assert all(isinstance(r, int) for r in ledger.landed["ae"])


def test_ledger_04_one_row_in_two_datasets():
    ledger = Ledger()
    ledger.read("bm", 2)
    ledger.land("LB", 2, _prov(("bm", 1), ("bm", 2)))
    ledger.land("RS", 1, _prov(("bm", 2)))
    assert ledger.landed["bm"] == {1, 2}
    assert ledger.reconciliation() == [{"form": "bm", "rows_in": 2, "landed": 2, "rejected": 0, "unaccounted": 0}]


# ---- Test 5: reject -------------------------------------------------------------------------

def test_ledger_05_reject_keeps_form_row_and_reason():
    ledger = Ledger()
    ledger.read("ae", 3)
    ledger.reject("ae", pd.Series([2, 3], dtype="int64"), "no subject identifier (SUBJID empty)")
    assert ledger.rejected == [
        {"form": "ae", "row": 2, "reason": "no subject identifier (SUBJID empty)"},
        {"form": "ae", "row": 3, "reason": "no subject identifier (SUBJID empty)"},
    ]
    assert all(type(r["row"]) is int for r in ledger.rejected)
    assert ledger.unaccounted() == {"ae": [1]}


# ---- Test 6: unaccounted ----------------------------------------------------------------------

def test_ledger_06_unaccounted_finds_rows_neither_landed_nor_rejected():
    ledger = Ledger()
    ledger.read("ae", 5)
    ledger.read("cm", 1)
    ledger.land("AE", 2, _prov(("ae", 1), ("ae", 4)))
    ledger.reject("ae", [2], "exact duplicate of an earlier record")
    assert ledger.unaccounted() == {"ae": [3, 5], "cm": [1]}
    ledger.reject("ae", [3, 5], "excluded by a filter")
    ledger.land("CM", 1, _prov(("cm", 1)))
    assert ledger.unaccounted() == {}


# ---- Test 7: reconciliation -----------------------------------------------------------------

def test_ledger_07_reconciliation_counts():
    ledger = Ledger()
    ledger.read("ae", 5)
    ledger.read("dm", 2)
    ledger.land("AE", 2, _prov(("ae", 1), ("ae", 2)))
    ledger.reject("ae", [3], "no subject identifier (SUBJID empty)")
    ledger.land("DM", 2, _prov(("dm", 1), ("dm", 2)))
    assert ledger.reconciliation() == [
        {"form": "ae", "rows_in": 5, "landed": 2, "rejected": 1, "unaccounted": 2},
        {"form": "dm", "rows_in": 2, "landed": 2, "rejected": 0, "unaccounted": 0},
    ]
    for r in ledger.reconciliation():
        assert r["landed"] + r["rejected"] + r["unaccounted"] == r["rows_in"]


def test_ledger_08_row_rejected_for_two_reasons_counts_once():
    ledger = Ledger()
    ledger.read("ae", 2)
    ledger.reject("ae", [1], "reason one")
    ledger.reject("ae", [1], "reason two")
    assert len(ledger.rejected) == 2                       # both reasons kept in the list
    assert ledger.reconciliation() == [{"form": "ae", "rows_in": 2, "landed": 0, "rejected": 1, "unaccounted": 1}]


def test_ledger_09_row_both_landed_and_rejected_counts_once_as_rejected():
    # What the code does: rejection wins, the row is not counted as landed, and the three counts
    # still add up to rows_in. Nothing flags the contradiction (the record is still in the dataset).
    ledger = Ledger()
    ledger.read("ae", 3)
    ledger.land("AE", 2, _prov(("ae", 1), ("ae", 2)))
    ledger.reject("ae", [2], "late rejection")
    assert ledger.reconciliation() == [{"form": "ae", "rows_in": 3, "landed": 1, "rejected": 1, "unaccounted": 1}]
    assert ledger.unaccounted() == {"ae": [3]}
    assert ledger.landed["ae"] == {1, 2}                   # the landed set itself is unchanged


# ---- Test 10: to_dict -----------------------------------------------------------------------

def test_ledger_10_to_dict():
    ledger = Ledger()
    ledger.read("ae", 2)
    ledger.land("AE", 1, _prov(("ae", 1)))
    ledger.reject("ae", [2], "subject not in enrol")
    d = ledger.to_dict()
    assert d == {
        "forms": [{"form": "ae", "rows_in": 2, "landed": 1, "rejected": 1, "unaccounted": 0}],
        "datasets": {"AE": 1},
        "rejected": [{"form": "ae", "row": 2, "reason": "subject not in enrol"}],
    }
