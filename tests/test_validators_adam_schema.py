"""ADaM conformance (validators/adam_schema.py, TK-ADAM): each rule fires on a defect planted in a
tiny inline ADSL / BDS / ADTTE and names dataset, variable, USUBJID, row and value; a clean inline
set and a generated study give no finding; the CDISC pilot ADaM gives exactly the documented ones."""

from __future__ import annotations

import pandas as pd
from reference_data import PILOT_SLICE

from trialkit.validators.adam_schema import build_schema, metadata_for, validate_adam
from trialkit.validators.inputs import read_folder

PILOT = PILOT_SLICE / "adam"   # ADSL and ADTTE, whole


def _adsl(**over):
    rows = {"STUDYID": ["S", "S"], "USUBJID": ["S-1", "S-2"], "SUBJID": ["1", "2"], "SITEID": ["01", "01"],
            "AGE": [5.0, 7.0], "AGEU": ["YEARS", "YEARS"], "SEX": ["F", "M"], "RACE": ["WHITE", "ASIAN"],
            "ARM": ["A", "B"], "ACTARM": ["A", ""], "TRT01P": ["A", "B"], "TRT01PN": [1.0, 2.0],
            "EOSSTT": ["ONGOING", "DISCONTINUED"], "SAFFL": ["Y", "N"], "ITTFL": ["Y", "Y"],
            "TRTSDT": [21900.0, None], "DTHDTF": ["", "D"]}
    rows.update(over)
    return pd.DataFrame(rows)


def _adtte(**over):
    rows = {"STUDYID": ["S"] * 4, "USUBJID": ["S-1", "S-1", "S-2", "S-2"], "PARAMCD": ["EFS", "OS", "EFS", "OS"],
            "PARAM": ["Event-Free Survival", "Overall Survival"] * 2, "AVAL": [10.0, 20.0, 30.0, 40.0],
            "CNSR": [0.0, 1.0, 1.0, 0.0], "STARTDT": [21900.0] * 4, "ADT": [21909.0, 21919.0, 21929.0, 21939.0],
            "TRT01P": ["A", "A", "B", "B"], "SAFFL": ["Y", "Y", "N", "N"]}
    rows.update(over)
    return pd.DataFrame(rows)


def _found(findings, rule_id):
    return [(f.dataset, f.variable, f.usubjid, f.row, f.value) for f in findings if f.rule == rule_id]


def test_adam_schema_01_clean_inline_datasets_have_no_findings():
    """Test 1: a conformant ADSL and ADTTE give nothing (ACTARM null for an untreated subject is allowed)."""
    assert [str(f) for f in validate_adam({"ADSL": _adsl(), "ADTTE": _adtte()})] == []


def test_adam_schema_02_classes_from_structure():
    """Test 2: ADSL by name, BDS by PARAMCD (+ ADTTE with CNSR), OCCDS otherwise, None without USUBJID."""
    assert [m.domain for m in metadata_for("ADSL", _adsl())] == ["ADSL"]
    assert [m.domain for m in metadata_for("ADTTE", _adtte())] == ["BDS", "ADTTE"]
    assert [m.domain for m in metadata_for("ADLB", _adtte().drop(columns="CNSR"))] == ["BDS"]
    assert [m.domain for m in metadata_for("ADAE", _adsl()[["STUDYID", "USUBJID"]])] == ["OCCDS"]
    assert metadata_for("ADXX", pd.DataFrame({"A": [1]})) is None


def test_adam_schema_03_required_variables_missing_incl_placeholder_names():
    """Test 3: TK-ADAM-0001 names each absent Req variable, TRTxxP included (no TRT01P, TRT02P...)."""
    findings = validate_adam({"ADSL": _adsl().drop(columns=["EOSSTT", "TRT01P", "TRT01PN"])})
    assert sorted(v for _, v, *_ in _found(findings, "TK-ADAM-0001")) == ["EOSSTT", "TRTxxP"]


def test_adam_schema_04_identifiers_and_tte_values_never_null():
    """Test 4: TK-ADAM-0002 on a blank SUBJID in ADSL and a missing CNSR in ADTTE."""
    findings = validate_adam({"ADSL": _adsl(SUBJID=["1", " "]), "ADTTE": _adtte(CNSR=[0.0, None, 1.0, 0.0])})
    assert _found(findings, "TK-ADAM-0002") == [("ADSL", "SUBJID", "S-2", 2, " "), ("ADTTE", "CNSR", "S-1", 2, "")]


def test_adam_schema_05_types_from_ig_and_from_suffixes():
    """Test 5: TK-ADAM-0003 for AGE (IG Num), a *DT (suffix) and an xxN beside xx holding text."""
    adsl = _adsl(AGE=["5", "five"], TRTSDT=["21900", "1 Jan"], TRT01PN=["1", "x"])
    assert sorted(_found(validate_adam({"ADSL": adsl}), "TK-ADAM-0003")) == [
        ("ADSL", "AGE", "S-2", 2, "five"), ("ADSL", "TRT01PN", "S-2", 2, "x"), ("ADSL", "TRTSDT", "S-2", 2, "1 Jan")]


def test_adam_schema_06_codelists_nonextensible_error_extensible_notice():
    """Test 6: SEX outside its codelist and a *DTF outside DATEFL are errors; a sponsor EOSSTT term
    (SBJTSTAT is extensible) is a notice, one per distinct value with its record count."""
    findings = validate_adam({"ADSL": _adsl(SEX=["F", "X"], DTHDTF=["", "Q"], EOSSTT=["LOST", "LOST"])})
    assert sorted(_found(findings, "TK-ADAM-0004")) == [("ADSL", "DTHDTF", "S-2", 2, "Q"), ("ADSL", "SEX", "S-2", 2, "X")]
    notices = [f for f in findings if f.rule == "TK-ADAM-0005"]
    assert [(f.variable, f.value, f.severity) for f in notices] == [("EOSSTT", "LOST", "notice")]
    assert "on 2 record(s)" in notices[0].message


def test_adam_schema_07_labels_against_the_ig_with_index_filled_in():
    """Test 7: TK-ADAM-0006 compares XPT labels (frame.attrs) with the IG's, TRTxxP -> Period 01."""
    adsl = _adsl()
    adsl.attrs["labels"] = {"TRT01P": "Planned Treatment for Period 01", "AGE": "Age in Years", "SITEID": "Study Site Identifier"}
    found = [(f.variable, f.value, f.message) for f in validate_adam({"ADSL": adsl}) if f.rule == "TK-ADAM-0006"]
    assert found == [("AGE", "Age in Years", "label 'Age in Years'; ADaMIG: 'Age'")]


def test_adam_schema_08_flags_and_population_flags():
    """Test 8: a *FL value other than Y/N/null is TK-ADAM-0007; a null ADSL population flag TK-ADAM-0008."""
    findings = validate_adam({"ADSL": _adsl(SAFFL=["Y", ""], ITTFL=["Y", "YES"])})
    assert _found(findings, "TK-ADAM-0007") == [("ADSL", "ITTFL", "S-2", 2, "YES")]
    assert _found(findings, "TK-ADAM-0008") == [("ADSL", "SAFFL", "S-2", 2, "")]


def test_adam_schema_09_bds_without_aval_and_avalc():
    """Test 9: a BDS dataset with neither AVAL nor AVALC is TK-ADAM-0009."""
    adlb = _adtte().drop(columns=["AVAL", "CNSR"])
    assert _found(validate_adam({"ADLB": adlb}), "TK-ADAM-0009") == [("ADLB", "AVAL", None, None, "")]


def test_adam_schema_10_xx_and_xxn_one_to_one_both_ways():
    """Test 10: TK-ADAM-0010 when one TRT01P has two TRT01PN, and when one TRT01PN has two TRT01P."""
    two_codes = _found(validate_adam({"ADSL": _adsl(TRT01P=["A", "A"])}), "TK-ADAM-0010")
    assert two_codes == [("ADSL", "TRT01PN", "S-1", 1, "A")]
    two_texts = _found(validate_adam({"ADSL": _adsl(TRT01PN=[1.0, 1.0])}), "TK-ADAM-0010")
    assert two_texts == [("ADSL", "TRT01P", "S-1", 1, "1")]


def test_adam_schema_11_paramcd_form_and_param_mapping():
    """Test 11: a PARAMCD longer than 8 or starting with a digit is TK-ADAM-0011; a PARAMCD with two
    PARAM texts is TK-ADAM-0012."""
    adtte = _adtte(PARAMCD=["EFS", "OVERALLSURV", "EFS", "1OS"], PARAM=["Event-Free Survival", "Overall Survival",
                                                                       "EFS (days)", "Overall Survival"])
    findings = validate_adam({"ADTTE": adtte})
    assert sorted(v for *_, v in _found(findings, "TK-ADAM-0011")) == ["1OS", "OVERALLSURV"]
    assert ("ADTTE", "PARAM", None, None, "EFS") in _found(findings, "TK-ADAM-0012")


def test_adam_schema_12_adsl_one_record_per_subject():
    """Test 12: TK-ADAM-0013 names both records of a duplicated USUBJID."""
    adsl = _adsl(USUBJID=["S-1", "S-1"])
    assert _found(validate_adam({"ADSL": adsl}), "TK-ADAM-0013") == [("ADSL", "USUBJID", "S-1", 1, "S-1"),
                                                                      ("ADSL", "USUBJID", "S-1", 2, "S-1")]


def test_adam_schema_13_subjects_and_copied_variables_against_adsl():
    """Test 13: a subject missing from ADSL is TK-ADAM-0014; a TRT01P or SAFFL differing from ADSL's
    is TK-ADAM-0015 (numbers compared as numbers, text trimmed)."""
    adtte = _adtte(USUBJID=["S-1", "S-1", "S-2", "S-9"], TRT01P=["A", "B ", "B", "B"], SAFFL=["Y", "Y", "N ", "N"])
    findings = validate_adam({"ADSL": _adsl(), "ADTTE": adtte})
    assert _found(findings, "TK-ADAM-0014") == [("ADTTE", "USUBJID", "S-9", 4, "S-9")]
    assert _found(findings, "TK-ADAM-0015") == [("ADTTE", "TRT01P", "S-1", 2, "B ")]


def test_adam_schema_14_cnsr_is_a_non_negative_integer():
    """Test 14: TK-ADAM-0016 for CNSR -1 and 0.5."""
    found = _found(validate_adam({"ADTTE": _adtte(CNSR=[0.0, -1.0, 0.5, 2.0])}), "TK-ADAM-0016")
    assert [(v, r) for _, v, _, r, _ in found] == [("CNSR", 2), ("CNSR", 3)]
    # CNSR as text (a CSV export): whole non-negative numbers written plainly pass, nothing else does
    text = _adtte(STUDYID=["S"] * 7, USUBJID=["S-1"] * 7, PARAMCD=["P"] * 7, PARAM=["Q"] * 7, AVAL=[1.0] * 7,
                  STARTDT=[1.0] * 7, ADT=[1.0] * 7, TRT01P=["A"] * 7, SAFFL=["Y"] * 7,
                  CNSR=["2", " +1 ", "3.0", "-1", "0.5", "x", "1e0"])
    assert [r for _, _, _, r, _ in _found(validate_adam({"ADTTE": text}), "TK-ADAM-0016")] == [4, 5, 6, 7]


def test_adam_schema_15_schema_is_generated_not_written_per_dataset():
    """Test 15: the pandera schema has a column per dataset column plus each absent Req variable."""
    schema = build_schema("ADSL", metadata_for("ADSL", _adsl()), ["STUDYID", "USUBJID"])
    assert {"STUDYID", "USUBJID", "SUBJID", "ARM", "EOSSTT"} <= set(schema.columns)


def test_adam_schema_16_cdisc_pilot_adam_gives_the_documented_findings():
    """Test 16: the CDISC pilot's ADSL and ADTTE (written to ADaMIG 1.0) give exactly the findings
    documented in docs/conformance.md: ADSL lacks ACTARM and EOSSTT (Req from ADaMIG 1.1 on) and
    labels differ from the IG's. No type, codelist, flag, key or ADSL-copy finding fires. (ADQSCIBC's
    label finding, the fourth, is checked on the whole package: tests/test_validators_pilot.py.)"""
    adam, unreadable = read_folder(PILOT)
    assert unreadable == [] and set(adam) == {"ADSL", "ADTTE"}
    got = sorted((f.rule, f.dataset, f.variable) for f in validate_adam(adam))
    assert got == [("TK-ADAM-0001", "ADSL", "ACTARM"), ("TK-ADAM-0001", "ADSL", "EOSSTT"),
                   ("TK-ADAM-0006", "ADSL", "DTHFL"),
                   ("TK-ADAM-0006", "ADTTE", "PARAM"), ("TK-ADAM-0006", "ADTTE", "SRCDOM"),
                   ("TK-ADAM-0006", "ADTTE", "STARTDT")]


def test_adam_schema_17_messages_show_dates_and_numbers_as_the_data_hold_them():
    """Test 17: 'RANDDT is np.float64(nan); ADSL has np.float64(19725.0)' showed Python reprs and a
    SAS day count. A copied date differing from ADSL's now reads 'missing' / ISO 8601, a numeric code
    as written, and no message holds a repr or a day count."""
    adtte = _adtte(TRTSDT=[None, 21900.0, None, None], TRT01PN=[2.0, 1.0, 2.0, 2.0])
    findings = validate_adam({"ADSL": _adsl(TRT01PN=[1.0, 1.0]), "ADTTE": adtte})
    copies = {f.variable: f for f in findings if f.rule == "TK-ADAM-0015"}
    assert copies["TRTSDT"].message == "TRTSDT is missing; ADSL has 2019-12-17"
    assert copies["TRT01PN"].message == "TRT01PN is 2; ADSL has 1" and copies["TRT01PN"].value == "2"
    pair = next(f for f in findings if f.rule == "TK-ADAM-0010" and f.dataset == "ADSL")
    assert pair.message == "TRT01PN = 1 has 2 values of TRT01P: 'A', 'B'"
    for f in findings:
        assert "np." not in f.message and "21900" not in f.message and "nan" not in f.message, f.message
