"""Cross-dataset rules (validators/cross_dataset.py, TK-XDS): each rule fires on a planted defect in a
tiny inline study and names dataset, variable, USUBJID, --SEQ and value; a generated clean study
gives no error-level TK-XDS finding."""

from __future__ import annotations

import pandas as pd
import pytest

from trialkit.validators.cross_dataset import check_cross
from trialkit.validators.inputs import read_folder
from trialkit.validators.rules import RULES
from trialkit.validators.run import validate
from trialkit.xpt import sas_date_variables


def _dm(**over):
    row = {"STUDYID": "S", "DOMAIN": "DM", "USUBJID": "S-001", "RFSTDTC": "2020-01-10", "RFENDTC": "2020-03-01",
           "RFXSTDTC": "2020-01-10", "RFXENDTC": "2020-02-20", "DTHDTC": "", "ARMCD": "A"}
    row.update(over)
    return pd.DataFrame([row])


def _ae(**over):
    row = {"STUDYID": "S", "DOMAIN": "AE", "USUBJID": "S-001", "AESEQ": 1.0, "AESTDTC": "2020-01-12",
           "AEENDTC": "2020-01-15", "AESTDY": 3.0, "AEENDY": 6.0}
    row.update(over)
    return pd.DataFrame([row])


def _study(**frames):
    base = {"DM": _dm(), "AE": _ae()}
    base.update(frames)
    return base


def _only(findings, rule_id):
    hits = [f for f in findings if f.rule == rule_id]
    assert len(hits) == 1, findings
    return hits[0]


# ---- Test 1 ------------------------------------------------------------------------------------
def test_cross_01_clean_inline_study_has_no_findings():
    """Test 1: a consistent inline study gives nothing; every rule is registered with a rationale."""
    assert check_cross(_study()) == []
    for n in range(1, 8):
        r = RULES[f"TK-XDS-{n:04d}"]
        assert r.rationale and ("SDTMIG" in r.rationale or "ADaMIG" in r.rationale)


# ---- Test 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dtc", "dy", "expected"), [
    ("2020-01-12", 2.0, "3"),      # after RFSTDTC: days + 1
    ("2020-01-08", -1.0, "-2"),    # before RFSTDTC: days, no day 0
    ("2020-01-10", 0.0, "1"),      # on RFSTDTC: day 1
])
def test_cross_02_study_day_inconsistent(dtc, dy, expected):
    """Test 2: TK-XDS-0001 on a wrong --STDY, naming the record and the expected day."""
    f = _only(check_cross(_study(AE=_ae(AESTDTC=dtc, AESTDY=dy, AEENDTC="", AEENDY=None))), "TK-XDS-0001")
    assert (f.dataset, f.variable, f.usubjid, f.seq, f.row, f.severity) == ("AE", "AESTDY", "S-001", 1.0, 1, "error")
    assert f.value == f"{dy:g}" and f"give {expected}" in f.message      # the number as written, not 2.0


# ---- Test 3 ------------------------------------------------------------------------------------
def test_cross_03_study_day_skipped_for_partial_dates_and_checks_plain_dy():
    """Test 3: partial --DTC / RFSTDTC are not checked; --DY of a findings domain is."""
    assert check_cross(_study(AE=_ae(AESTDTC="2020-01", AESTDY=99.0))) == []
    assert check_cross({"DM": _dm(RFSTDTC="2020-01"), "AE": _ae(AESTDY=99.0)}) == []
    lb = pd.DataFrame([{"DOMAIN": "LB", "USUBJID": "S-001", "LBSEQ": 4.0, "LBDTC": "2020-01-11T08:00", "LBDY": 3.0}])
    f = _only(check_cross(_study(LB=lb)), "TK-XDS-0001")
    assert (f.dataset, f.variable, f.seq, f.value) == ("LB", "LBDY", 4.0, "3")


# ---- Test 4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("st", "en", "fires"), [
    ("2020-01-16", "2020-01-15", True),
    ("2020-02", "2020-01-15", True),          # common precision YYYY-MM: 02 > 01
    ("2020-01", "2020-01-05", False),         # same month: cannot tell
    ("2020-01-15T10:00", "2020-01-15", False),  # same date (time not compared)
    ("2020-01-15", "", False),
])
def test_cross_04_start_after_end(st, en, fires):
    """Test 4: TK-XDS-0002 compares at the precision both dates complete."""
    findings = check_cross(_study(AE=_ae(AESTDTC=st, AEENDTC=en, AESTDY=None, AEENDY=None)))
    if not fires:
        assert findings == []
        return
    f = _only(findings, "TK-XDS-0002")
    assert (f.dataset, f.variable, f.usubjid, f.seq, f.value) == ("AE", "AESTDTC", "S-001", 1.0, st)
    assert "AEENDTC" in f.message


# ---- Test 5 ------------------------------------------------------------------------------------
def test_cross_05_record_after_death_except_ds_ss_dd():
    """Test 5: TK-XDS-0003 (warning) for an AE after DTHDTC; DS/SS/DD records after death are exempt."""
    dm = _dm(DTHDTC="2020-01-11", RFENDTC="2020-01-11", RFXENDTC="2020-01-10")
    ds = pd.DataFrame([{"DOMAIN": "DS", "USUBJID": "S-001", "DSSEQ": 1.0, "DSSTDTC": "2020-01-20"}])
    ss = pd.DataFrame([{"DOMAIN": "SS", "USUBJID": "S-001", "SSSEQ": 1.0, "SSDTC": "2020-01-20"}])
    dd = pd.DataFrame([{"DOMAIN": "DD", "USUBJID": "S-001", "DDSEQ": 1.0, "DDDTC": "2020-01-20"}])
    f = _only(check_cross({"DM": dm, "AE": _ae(), "DS": ds, "SS": ss, "DD": dd}), "TK-XDS-0003")
    assert (f.dataset, f.variable, f.usubjid, f.seq, f.value, f.severity) == (
        "AE", "AESTDTC", "S-001", 1.0, "2020-01-12", "warning")
    assert check_cross({"DM": _dm(DTHDTC="2020-01-12"), "AE": _ae()}) == []   # same day is not after


def test_cross_05b_after_death_uses_start_of_events_and_date_of_findings():
    """Test 5b: an AE collected (AEDTC) after death but started before it is fine; a finding (LBDTC)
    after death is reported."""
    dm = _dm(DTHDTC="2020-01-13")
    ae = _ae(AEDTC="2020-01-14")
    lb = pd.DataFrame([{"DOMAIN": "LB", "USUBJID": "S-001", "LBSEQ": 4.0, "LBDTC": "2020-01-14"}])
    found = [(f.dataset, f.variable, f.seq) for f in check_cross({"DM": dm, "AE": ae, "LB": lb}) if f.rule == "TK-XDS-0003"]
    assert found == [("LB", "LBDTC", 4.0)]


# ---- Test 6 ------------------------------------------------------------------------------------
def test_cross_06_armcd_not_in_ta():
    """Test 6: TK-XDS-0004 on a DM.ARMCD missing from TA; a null ARMCD (ARMNRS) is allowed."""
    ta = pd.DataFrame({"ARMCD": ["A", "A", "B"]})
    f = _only(check_cross(_study(DM=_dm(ARMCD="C"), TA=ta)), "TK-XDS-0004")
    assert (f.dataset, f.variable, f.usubjid, f.value) == ("DM", "ARMCD", "S-001", "C")
    assert check_cross(_study(DM=_dm(ARMCD=""), TA=ta)) == []


# ---- Test 7 ------------------------------------------------------------------------------------
def test_cross_07_planned_visitnum_not_in_tv():
    """Test 7: TK-XDS-0004 on an integer VISITNUM missing from TV; unplanned (x.01) VISITNUMs are fine."""
    tv = pd.DataFrame({"VISITNUM": [1.0, 2.0]})
    lb = pd.DataFrame({"DOMAIN": "LB", "USUBJID": "S-001", "LBSEQ": [1.0, 2.0, 3.0], "VISITNUM": [1.0, 2.01, 3.0]})
    f = _only(check_cross(_study(TV=tv, LB=lb)), "TK-XDS-0004")
    assert (f.dataset, f.variable, f.usubjid, f.seq, f.row, f.value) == ("LB", "VISITNUM", "S-001", 3.0, 3, "3")


# ---- Test 8 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("st", "en", "variable"), [
    ("2020-01-09", "2020-01-12", "EXSTDTC"),
    ("2020-02-10", "2020-02-21T09:00", "EXENDTC"),
])
def test_cross_08_ex_outside_exposure_window(st, en, variable):
    """Test 8: TK-XDS-0005 on an EX record before RFXSTDTC or after RFXENDTC (date part)."""
    ex = pd.DataFrame([{"DOMAIN": "EX", "USUBJID": "S-001", "EXSEQ": 2.0, "EXSTDTC": st, "EXENDTC": en}])
    f = _only(check_cross(_study(EX=ex)), "TK-XDS-0005")
    assert (f.dataset, f.variable, f.usubjid, f.seq) == ("EX", variable, "S-001", 2.0)
    ok = pd.DataFrame([{"DOMAIN": "EX", "USUBJID": "S-001", "EXSEQ": 1.0, "EXSTDTC": "2020-01-10T08:00",
                        "EXENDTC": "2020-02-20T17:00"}])
    assert check_cross(_study(EX=ok)) == []


# ---- Test 9 ------------------------------------------------------------------------------------
def test_cross_09_adsl_subjects_and_saffl():
    """Test 9: TK-XDS-0006 on SAFFL disagreeing with EX and on ADSL / DM subject sets that differ."""
    dm = pd.DataFrame({"DOMAIN": "DM", "USUBJID": ["S-001", "S-002", "S-003"]})
    ex = pd.DataFrame({"DOMAIN": "EX", "USUBJID": ["S-001", "S-001"], "EXSEQ": [1.0, 2.0]})
    adsl = pd.DataFrame({"USUBJID": ["S-001", "S-002", "S-009"], "SAFFL": ["N", "Y", "N"]})
    findings = [f for f in check_cross({"DM": dm, "EX": ex}, {"ADSL": adsl}) if f.rule == "TK-XDS-0006"]
    got = {(f.dataset, f.variable, f.usubjid, f.value) for f in findings}
    assert got == {("ADSL", "SAFFL", "S-001", "N"), ("ADSL", "SAFFL", "S-002", "Y"),
                   ("ADSL", "USUBJID", "S-009", "S-009"), ("DM", "USUBJID", "S-003", "S-003")}
    assert all(f.severity == "error" for f in findings)
    good = pd.DataFrame({"USUBJID": ["S-001", "S-002", "S-003"], "SAFFL": ["Y", "N", "N"]})
    assert check_cross({"DM": dm, "EX": ex}, {"ADSL": good}) == []


def test_cross_09b_screen_failures_may_be_left_out_of_adsl():
    """Test 9b: a DM subject whose ARMCD is blank or not an arm of TA (a screen failure) may be absent
    from ADSL; an absent subject assigned to an arm of TA is TK-XDS-0006."""
    dm = pd.DataFrame({"DOMAIN": "DM", "USUBJID": ["S-001", "S-002", "S-003", "S-004"],
                       "ARMCD": ["A", "Scrnfail", "", "A"]})
    ta = pd.DataFrame({"ARMCD": ["A", "A"]})
    adsl = pd.DataFrame({"USUBJID": ["S-001"]})
    found = [(f.dataset, f.usubjid) for f in check_cross({"DM": dm, "TA": ta}, {"ADSL": adsl}) if f.rule == "TK-XDS-0006"]
    assert found == [("DM", "S-004")]


# ---- Test 10 -----------------------------------------------------------------------------------
def test_cross_10_adtte_one_record_per_subject_and_parameter():
    """Test 10: TK-XDS-0007 on a duplicated USUBJID x PARAMCD in ADTTE, both records named."""
    adtte = pd.DataFrame({"USUBJID": ["S-001", "S-001", "S-001"], "PARAMCD": ["OS", "EFS", "OS"], "AVAL": [1, 2, 3]})
    findings = check_cross({}, {"ADTTE": adtte})
    assert {(f.rule, f.dataset, f.variable, f.usubjid, f.row, f.value) for f in findings} == {
        ("TK-XDS-0007", "ADTTE", "PARAMCD", "S-001", 1, "OS"), ("TK-XDS-0007", "ADTTE", "PARAMCD", "S-001", 3, "OS")}


# ---- Test 11 -----------------------------------------------------------------------------------
def test_cross_11_csv_text_values_are_accepted():
    """Test 11: datasets read from CSV (all text, blanks as '') are checked the same way."""
    ae = _ae(AESTDY="2", AESEQ="7", AEENDY="", AEENDTC="").astype(str)
    f = _only(check_cross({"DM": _dm().astype(str), "AE": ae}), "TK-XDS-0001")
    assert (f.seq, f.value) == (7.0, "2")


# ---- Test 12 -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean_study(generated_study):
    return generated_study


def test_cross_12_generated_study_has_no_error(clean_study):
    """Test 12: a generated clean study gives no error-level TK-XDS finding, directly and via validate."""
    sdtm, _ = read_folder(clean_study / "sdtm")
    adam, _ = read_folder(clean_study / "adam")
    findings = check_cross(sdtm, {n: sas_date_variables(f) for n, f in adam.items()})
    assert [str(f) for f in findings if f.severity == "error"] == []
    via_validate = validate("ball_relapse", clean_study / "sdtm", clean_study / "adam", rules=("trialkit",)).findings
    assert [str(f) for f in via_validate if f.rule.startswith("TK-XDS") and f.severity == "error"] == []


# ---- Test 13 -----------------------------------------------------------------------------------
def test_cross_13_planted_defect_in_generated_study_reaches_validate(clean_study, tmp_path):
    """Test 13: a wrong AESTDY written to the generated SDTM is reported by ``validate``."""
    sdtm, _ = read_folder(clean_study / "sdtm")
    ae = sdtm["AE"].copy()
    ae.loc[0, "AESTDY"] = ae.loc[0, "AESTDY"] + 5 if pd.notna(ae.loc[0, "AESTDY"]) else 500.0
    folder = tmp_path / "sdtm"
    folder.mkdir()
    for name, frame in sdtm.items():
        (ae if name == "AE" else frame).to_csv(folder / f"{name.lower()}.csv", index=False)
    findings = validate("ball_relapse", folder, rules=("trialkit",)).findings
    hits = [f for f in findings if f.rule == "TK-XDS-0001"]
    assert [(f.dataset, f.variable, f.usubjid, f.row) for f in hits] == [("AE", "AESTDY", ae.loc[0, "USUBJID"], 1)]
