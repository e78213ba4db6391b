"""Tests of trialkit.sdtm.mapping: one function per mapping algorithm.

Numbered cases, tiny inline raw forms carrying ``_row`` provenance, ``SUBJID`` and the subject's
``_country``, as sdtm.raw_input hands them over. Every unmappable value must be a finding naming
form, row, column, value, spec key and subject; nothing is guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialkit.expressions import parse
from trialkit.raw_dictionary import Field, Form, RawDictionary, load_raw_dictionary
from trialkit.sdtm import mapping
from trialkit.sdtm.spec import Mapping
from trialkit.sdtm.standards import Codelist, inline_codelist


@pytest.fixture(scope="module")
def dictionary():
    return load_raw_dictionary("ball_relapse")


def _raw(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"_row": list(range(2, 2 + n)), "SUBJID": [f"101-{k:03d}" for k in range(1, n + 1)]})
    for name, values in columns.items():
        frame[name] = values
    return frame


def _m(variable, algorithm, args, codelist=None, conditions=()):
    return Mapping(variable, algorithm, args, f"XX.yaml:sources[0].variables.{variable}", codelist, conditions)


def _codelist(name, extensible, terms):
    lookup = {}
    for term in terms:
        for collected in [term["value"], *term.get("synonyms", [])]:
            lookup[collected.strip().upper()] = term["value"]
    return Codelist(name, name, "C00000", extensible, tuple(terms), False, lookup)


SEX = _codelist("SEX", False, [{"value": "M", "synonyms": ["Male"]}, {"value": "F", "synonyms": ["Female"]}])
ROUTE = _codelist("ROUTE", True, [{"value": "ORAL", "synonyms": ["PO"]}, {"value": "INTRAVENOUS", "synonyms": ["IV"]}])


# ---- Test 1: assign -------------------------------------------------------------------------

def test_mapping_01_assign_strips_whitespace_and_keeps_case():
    raw = _raw(SITEID=[" 101", "102 ", "abc"])
    values, findings = mapping.assign(_m("SITEID", "assign", {"assign": "SITEID"}), raw, "enrol")
    assert values.tolist() == ["101", "102", "abc"]
    assert findings == []


def test_mapping_02_assign_number_reads_decimal_comma():
    raw = _raw(EXDOSE=["2,4", "15", " 0.5 ", ""])
    values, findings = mapping.assign(_m("EXDOSE", "assign", {"assign": "EXDOSE", "number": True}), raw, "ex_blin")
    assert values.iloc[:3].tolist() == [2.4, 15.0, 0.5]
    assert np.isnan(values.iloc[3])          # empty is missing, not a finding
    assert findings == []


def test_mapping_03_assign_number_not_a_number_is_a_finding():
    raw = _raw(EXDOSE=["15", "abc"])
    values, findings = mapping.assign(_m("EXDOSE", "assign", {"assign": "EXDOSE", "number": True}), raw, "ex_blin")
    assert values.iloc[0] == 15.0 and np.isnan(values.iloc[1])
    assert len(findings) == 1
    f = findings[0]
    assert (f.severity, f.source, f.row, f.column, f.value, f.message) == ("error", "ex_blin.csv", 3, "EXDOSE", "abc", "not a number")
    assert f.key == "XX.yaml:sources[0].variables.EXDOSE"
    assert f.subject == "101-002"


def test_mapping_04_assign_number_if_numeric_gives_no_finding():
    raw = _raw(RESULT=["1,5E-03", "<1E-05", "PNQ"])
    values, findings = mapping.assign(_m("R", "assign", {"assign": "RESULT", "number": "if_numeric"}), raw, "mrd")
    assert values.iloc[0] == pytest.approx(0.0015)
    assert values.iloc[1:].isna().all()
    assert findings == []


# ---- Test 5: ct through a non-extensible codelist --------------------------------------------

def test_mapping_05_ct_synonyms_and_case_slips_map():
    raw = _raw(SEX=["M", " f", "male", "FEMALE ", ""])
    values, findings = mapping.ct(_m("SEX", "ct", {"ct": "SEX", "codelist": "SEX"}, SEX), raw, "dm")
    assert values.tolist() == ["M", "F", "M", "F", ""]
    assert findings == []


def test_mapping_06_ct_unknown_value_is_empty_with_an_error_naming_the_codelist():
    raw = _raw(SEX=["M", "X"])
    values, findings = mapping.ct(_m("SEX", "ct", {"ct": "SEX", "codelist": "SEX"}, SEX), raw, "dm")
    assert values.tolist() == ["M", ""]
    assert len(findings) == 1
    f = findings[0]
    assert (f.severity, f.source, f.row, f.column, f.value, f.subject) == ("error", "dm.csv", 3, "SEX", "X", "101-002")
    assert "SEX" in f.message and "not in codelist" in f.message
    assert f.key == "XX.yaml:sources[0].variables.SEX"


def test_mapping_07_ct_extensible_codelist_keeps_the_value_with_a_warning():
    raw = _raw(ROUTE=["po", "subcutaneous ", "IV"])
    values, findings = mapping.ct(_m("EXROUTE", "ct", {"ct": "ROUTE", "codelist": "ROUTE"}, ROUTE), raw, "ex_hc3")
    assert values.tolist() == ["ORAL", "SUBCUTANEOUS", "INTRAVENOUS"]   # kept trimmed and upper-cased
    assert len(findings) == 1
    f = findings[0]
    assert (f.severity, f.row, f.column, f.value) == ("warning", 3, "ROUTE", "subcutaneous ")
    assert "extensible codelist ROUTE" in f.message


def test_mapping_08_ct_study_values_table():
    arm = inline_codelist("ARM (study)", {"BLIN": "Blinatumomab", "HC3": "Chemotherapy (HC3)"})
    raw = _raw(TRTGRP=["blin", "HC3", "XX"])
    values, findings = mapping.ct(_m("ARM", "ct", {"ct": "TRTGRP", "values": {}}, arm), raw, "enrol")
    assert values.tolist() == ["Blinatumomab", "Chemotherapy (HC3)", ""]
    assert [(f.severity, f.value) for f in findings] == [("error", "XX")]
    assert "ARM (study)" in findings[0].message


# ---- Test 9: hardcode -----------------------------------------------------------------------

def test_mapping_09_hardcode_text_and_number():
    raw = _raw(X=["a", "b"])
    text, findings = mapping.hardcode(_m("DTHFL", "hardcode", {"hardcode": "Y"}), raw, "death")
    assert text.tolist() == ["Y", "Y"] and text.dtype == object and findings == []
    number, _ = mapping.hardcode(_m("VISITNUM", "hardcode", {"hardcode": 3}), raw, "bm")
    assert number.tolist() == [3.0, 3.0] and number.dtype == "float64"
    assert number.index.equals(raw.index)


# ---- Test 10: condition ---------------------------------------------------------------------

def _condition(branches, default=None):
    conditions = tuple((parse(b["if"]), b["then"]) for b in branches)
    args = {"condition": branches, **({"else": default} if default is not None else {})}
    return _m("RSORRES", "condition", args, conditions=conditions)


def test_mapping_10_condition_first_match_wins():
    raw = _raw(MSTATUS=["M1", "M1", "M3", "M2"], PBBLAST=["N", "Y", "Y", "N"])
    m = _condition([
        {"if": "MSTATUS == 'M1' and PBBLAST == 'N'", "then": "CR"},
        {"if": "MSTATUS == 'M1'", "then": "M1 WITH BLASTS"},
        {"if": "PBBLAST == 'Y'", "then": "BLASTS"},        # row 2 also holds this: must not overwrite
    ], default="OTHER")
    values, findings = mapping.condition(m, raw, "bm")
    assert values.tolist() == ["CR", "M1 WITH BLASTS", "BLASTS", "OTHER"]
    assert findings == []


def test_mapping_11_condition_without_else_is_empty():
    raw = _raw(MSTATUS=["M1", "M2"])
    values, _ = mapping.condition(_condition([{"if": "MSTATUS == 'M1'", "then": "CR"}]), raw, "bm")
    assert values.tolist() == ["CR", ""]


def test_mapping_12_condition_then_assign_copies_the_field_stripped():
    raw = _raw(OTHEREM=["Y", "N", "Y"], OTHSPEC=[" skin ", "x", "Orbit"])
    m = _condition([{"if": "OTHEREM == 'Y'", "then": {"assign": "OTHSPEC"}}], default="NONE")
    values, _ = mapping.condition(m, raw, "relapse")
    assert values.tolist() == ["skin", "NONE", "Orbit"]


# ---- Test 13: date --------------------------------------------------------------------------

def test_mapping_13_date_edc_complete_required(dictionary):
    raw = _raw(ICDAT=["05-JAN-2019", "UN-JAN-2019", "31-APR-2019", ""])
    values, findings = mapping.date(_m("RFICDTC", "date", {"date": "ICDAT"}), raw, "enrol", dictionary)
    assert values.tolist() == ["2019-01-05", "", "", ""]
    assert [(f.row, f.column, f.value, f.message) for f in findings] == [
        (3, "ICDAT", "UN-JAN-2019", "partial date where a complete date is required"),
        (4, "ICDAT", "31-APR-2019", "impossible date"),
    ]
    assert all(f.key == "XX.yaml:sources[0].variables.RFICDTC" and f.severity == "error" for f in findings)


def test_mapping_14_date_edc_partial_allowed(dictionary):
    raw = _raw(BRTHDAT=["UN-JAN-2010", "UN-UNK-2010"])
    values, findings = mapping.date(_m("BRTHDTC", "date", {"date": "BRTHDAT"}), raw, "dm", dictionary)
    assert values.tolist() == ["2010-01", "2010"] and findings == []


def test_mapping_15_date_site_local_uses_the_subjects_country(dictionary):
    raw = _raw(BMDAT=["05.01.2019", "05/01/2019", "2019-01-05", "05.01.2019", "05.01.2019"],
               _country=["DEU", "GBR", "SWE", "GBR", np.nan])
    values, findings = mapping.date(_m("BMDTC", "date", {"date": "BMDAT"}), raw, "bm", dictionary)
    assert values.tolist() == ["2019-01-05", "2019-01-05", "2019-01-05", "", ""]
    assert [(f.row, f.subject, f.message) for f in findings] == [
        (5, "101-004", "not a valid date in the site's format %d/%m/%Y"),
        (6, "101-005", "site of the subject unknown: cannot read its local date format"),
    ]


def test_mapping_16_date_with_time(dictionary):
    raw = _raw(EXSTDAT=["05-JAN-2019", "06-JAN-2019", "07-JAN-2019"], EXSTTIM=["14:30", "", "25:00"])
    values, findings = mapping.date(_m("EXSTDTC", "date", {"date": "EXSTDAT", "time": "EXSTTIM"}), raw, "ex_blin", dictionary)
    assert values.tolist() == ["2019-01-05T14:30", "2019-01-06", "2019-01-07"]
    assert [(f.row, f.column, f.value, f.message) for f in findings] == [(4, "EXSTTIM", "25:00", "not a valid HH:MM time")]


# ---- Test 17: visit -------------------------------------------------------------------------

VISITS = {"M03": {"raw": "M03", "visit": "MONTH 3", "visitnum": 3},
          "C1D29": {"raw": "C1D29", "visit": "CYCLE 1 DAY 29", "visitnum": 2},
          "UNSCHEDULED": {"raw": "UNSCHEDULED", "visit": "UNSCHEDULED"}}


def test_mapping_17_visit_gives_visitnum_and_visit():
    raw = _raw(VISIT=["M03", " c1d29 ", "UNSCHEDULED", ""])
    out, findings = mapping.visit(_m("VISIT", "visit", {"visit": "VISIT"}), raw, "bm", VISITS)
    assert list(out.columns) == ["VISITNUM", "VISIT"]
    assert out["VISITNUM"].iloc[:2].tolist() == [3.0, 2.0]
    assert out["VISITNUM"].iloc[2:].isna().all()          # unscheduled: numbered later, by date
    assert out["VISIT"].tolist() == ["MONTH 3", "CYCLE 1 DAY 29", "UNSCHEDULED", ""]
    assert findings == []


def test_mapping_18_unknown_visit_is_a_finding():
    raw = _raw(VISIT=["M03", "M99"])
    out, findings = mapping.visit(_m("VISIT", "visit", {"visit": "VISIT"}), raw, "bm", VISITS)
    assert out["VISIT"].tolist() == ["MONTH 3", ""] and np.isnan(out["VISITNUM"].iloc[1])
    assert [(f.severity, f.row, f.column, f.value, f.subject) for f in findings] == [("error", 3, "VISIT", "M99", "101-002")]
    assert "visit map" in findings[0].message


# ---- Test 19: age ---------------------------------------------------------------------------

def _age(birth, ref):
    frame = pd.DataFrame({"BRTHDTC": birth, "RFICDTC": ref})
    m = _m("AGE", "age", {"age": {"birth": "BRTHDTC", "reference": "RFICDTC"}})
    return mapping.age(m, frame).tolist()


def test_mapping_19_age_birthday_boundary():
    assert _age(["2010-06-15"] * 3, ["2020-06-14", "2020-06-15", "2020-06-16"]) == [9.0, 10.0, 10.0]
    assert _age(["2010-06-15"], ["2020-05-31"]) == [9.0]
    assert _age(["2010-06-15"], ["2020-07-01T08:00"]) == [10.0]


def test_mapping_20_age_month_only_birth_counts_from_the_first_of_the_month():
    # documented imputation: UN-JUN-2010 is read as 2010-06-01
    assert _age(["2010-06", "2010-06"], ["2020-05-31", "2020-06-01"]) == [9.0, 10.0]


def test_mapping_21_age_missing_for_year_only_birth_or_partial_reference():
    assert all(np.isnan(_age(["2010", "2010-06-15", "", "2010-06-15"], ["2020-06-15", "2020-06", "2020-06-15", ""])))


def test_mapping_22_age_leap_day_birth():
    # 29 Feb: the birthday in a common year falls on 1 March (28 Feb < 29 Feb)
    assert _age(["2012-02-29", "2012-02-29"], ["2021-02-28", "2021-03-01"]) == [8.0, 9.0]


# ---- Test 23: missing values in frames built by joins (DM's post mappings) --------------------

def test_mapping_23_condition_assign_of_missing_value_is_empty():
    frame = pd.DataFrame({"_row": [1, 2], "SUBJID": ["101-001", "101-002"], "DTHFL": ["Y", "Y"],
                          "DTHDTC": ["2020-01-05", np.nan]}, dtype=object)
    m = _condition([{"if": "DTHFL == 'Y'", "then": {"assign": "DTHDTC"}}])
    values, _ = mapping.condition(m, frame, "DM")
    assert values.tolist() == ["2020-01-05", ""]


# ---- Test 24: date in one layout for every row ------------------------------------------------

def test_mapping_24_date_in_the_dictionarys_layout_for_every_row(tmp_path):
    scan = Form("scan", "Scans", (Field("SCANDT", "Scan date", "date", format="MM/DD/YYYY"),))
    layout = RawDictionary(tmp_path / "raw_dictionary.yaml", "XX", {"scan": scan}, {})
    raw = _raw(SCANDT=["01/05/2019", "02/30/2019", "5 Jan 2019", ""], _country=[np.nan, "DEU", np.nan, np.nan])
    values, findings = mapping.date(_m("RSDTC", "date", {"date": "SCANDT"}), raw, "scan", layout)
    assert values.tolist() == ["2019-01-05", "", "", ""]
    assert [(f.row, f.column, f.value, f.message, f.kind) for f in findings] == [
        (3, "SCANDT", "02/30/2019", "impossible date", "date"),
        (4, "SCANDT", "5 Jan 2019", "not a MM/DD/YYYY date", "date"),
    ]
