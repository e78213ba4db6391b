"""TK-SDTM-0001..0012: pandera schemas generated from the SDTMIG 3.4 metadata and CT.

Numbered cases: each rule fires on one planted defect in a tiny frame and names dataset, variable,
USUBJID, --SEQ, 1-based row and value; then real data (our simulated study, the CDISC pilot)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from reference_data import PILOT_SLICE

from trialkit.sdtm.standards import load_domains
from trialkit.validators.rules import RULES
from trialkit.validators.sdtm_schema import build_schema, validate_sdtm
from trialkit.xpt import read_xpt

PILOT = PILOT_SLICE / "sdtm"   # DM whole; AE and LB: every record of three subjects


def _dm(n: int = 2) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * n, "DOMAIN": ["DM"] * n, "USUBJID": [f"S-{i}" for i in range(1, n + 1)],
        "SUBJID": [str(i) for i in range(1, n + 1)], "RFSTDTC": ["2020-01-02"] * n, "SITEID": ["01"] * n,
        "SEX": ["F"] * n, "COUNTRY": ["DEU"] * n, "ARMCD": ["A"] * n, "ARM": ["Arm A"] * n,
        "ACTARMCD": ["A"] * n, "ACTARM": ["Arm A"] * n})


def _ae() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * 3, "DOMAIN": ["AE"] * 3, "USUBJID": ["S-1", "S-1", "S-2"], "AESEQ": [1.0, 2.0, 1.0],
        "AETERM": ["Headache", "Nausea", "Rash"], "AEDECOD": ["Headache", "Nausea", "Rash"],
        "AESER": ["N", "N", "Y"], "AESTDTC": ["2020-01-03", "2020-02", "2020-03-01T10:30"]})


def _only(findings, rule_id):
    return [f for f in findings if f.rule == rule_id]


def test_01_rules_registered_with_rationale():
    ids = [f"TK-SDTM-{i:04d}" for i in range(1, 13)]
    assert all(i in RULES for i in ids)
    assert [RULES[i].severity for i in ids] == ["error", "warning", "error", "error", "error", "notice", "error",
                                                 "error", "error", "error", "notice", "notice"]
    assert all("SDTMIG" in RULES[i].rationale or "CT" in RULES[i].rationale for i in ids)


def test_02_schema_is_generated_from_metadata():
    meta = load_domains()["AE"]
    schema = build_schema(meta, ["USUBJID", "AESEQ"])
    assert set(schema.columns) == set(meta.names)
    assert schema.columns["AETERM"].required and not schema.columns["AESPID"].required


def test_03_clean_tiny_frames_have_no_error():
    findings = validate_sdtm({"DM": _dm(), "AE": _ae()})
    assert [f for f in findings if f.severity == "error"] == []


def test_04_req_variable_missing():
    f = _only(validate_sdtm({"AE": _ae().drop(columns="AETERM")}), "TK-SDTM-0001")
    assert [(x.dataset, x.variable, x.severity) for x in f] == [("AE", "AETERM", "error")]


def test_05_exp_variable_missing_is_warning():
    f = _only(validate_sdtm({"AE": _ae()}), "TK-SDTM-0002")
    assert ("AE", "AEENDTC", "warning") in [(x.dataset, x.variable, x.severity) for x in f]
    assert "AESPID" not in [x.variable for x in f]          # Perm: never reported missing


def test_06_req_null_or_blank_names_the_record():
    ae = _ae()
    ae.loc[1, "AEDECOD"] = " "
    f = _only(validate_sdtm({"AE": ae}), "TK-SDTM-0003")
    assert [(x.dataset, x.variable, x.usubjid, x.seq, x.row) for x in f] == [("AE", "AEDECOD", "S-1", 2.0, 2)]


def test_07_num_variable_with_text():
    ae = _ae().astype({"AESEQ": object})
    ae.loc[2, "AESEQ"] = "one"
    f = _only(validate_sdtm({"AE": ae}), "TK-SDTM-0004")
    assert [(x.variable, x.usubjid, x.row, x.value, x.severity) for x in f] == [("AESEQ", "S-2", 3, "one", "error")]


def test_08_non_extensible_codelist_exact_match():
    ae = _ae()
    ae.loc[0, "AESER"] = "y"                                   # exact: case matters
    f = _only(validate_sdtm({"AE": ae}), "TK-SDTM-0005")
    assert [(x.variable, x.usubjid, x.seq, x.row, x.value) for x in f] == [("AESER", "S-1", 1.0, 1, "y")]


def test_09_extensible_codelist_is_notice():
    lb = pd.DataFrame({"STUDYID": "S", "DOMAIN": "LB", "USUBJID": ["S-1", "S-2"], "LBSEQ": [1.0, 1.0],
                       "LBNRIND": ["HIGH", "VERY HIGH"]})   # NRIND is held in full and extensible
    f = _only(validate_sdtm({"DM": _dm(), "LB": lb}), "TK-SDTM-0006")
    assert [(x.variable, x.usubjid, x.row, x.value, x.severity) for x in f] == [("LBNRIND", "S-2", 2, "VERY HIGH", "notice")]
    dm = _dm()
    dm["ARMNRS"] = ["NOT ASSIGNED", "NOT TREATED"]   # ARMNULRS comes in full from the CT package (was a subset)
    f = validate_sdtm({"DM": dm})
    assert [(x.rule, x.variable, x.value) for x in f if x.variable == "ARMNRS"] == [("TK-SDTM-0006", "ARMNRS", "NOT TREATED")]


def test_09b_subset_codelist_is_notice_full_codelist_is_error():
    dm = _dm()
    dm.loc[0, "COUNTRY"] = "USA"                  # COUNTRY is held as a subset: valid CT may be missing
    dm.loc[1, "ETHNIC"] = "MARTIAN"               # ETHNIC is held in full and non-extensible
    f = validate_sdtm({"DM": dm})
    assert [(x.variable, x.row, x.severity) for x in _only(f, "TK-SDTM-0012")] == [("COUNTRY", 1, "notice")]
    assert [(x.variable, x.row, x.severity) for x in _only(f, "TK-SDTM-0005")] == [("ETHNIC", 2, "error")]


def test_10_dm_one_record_per_subject():
    dm = pd.concat([_dm(), _dm().iloc[[1]]], ignore_index=True)
    f = _only(validate_sdtm({"DM": dm}), "TK-SDTM-0007")
    assert sorted((x.usubjid, x.row) for x in f) == [("S-2", 2), ("S-2", 3)]


def test_11_seq_unique_within_subject():
    ae = _ae()
    ae.loc[1, "AESEQ"] = 1.0           # S-1 twice with AESEQ 1; S-2 AESEQ 1 is fine
    f = _only(validate_sdtm({"AE": ae}), "TK-SDTM-0008")
    assert sorted((x.variable, x.usubjid, x.seq, x.row) for x in f) == [("AESEQ", "S-1", 1.0, 1), ("AESEQ", "S-1", 1.0, 2)]


@pytest.mark.parametrize("value, ok", [
    ("2020", True), ("2020-02", True), ("2020-02-29", True), ("2020-02-29T13", True), ("2020-02-29T13:05", True),
    ("2020-02-29T13:05:59", True), ("2020---29", True), ("", True),
    ("2020-13-01", False), ("20200229", False), ("29/02/2020", False), ("2020-02-29 13:05", False), ("UNK", False),
])
def test_12_dtc_iso8601(value, ok):
    ae = _ae()
    ae.loc[2, "AESTDTC"] = value
    f = _only(validate_sdtm({"AE": ae}), "TK-SDTM-0009")
    assert (f == []) is ok
    if not ok:
        assert [(x.variable, x.usubjid, x.seq, x.row, x.value) for x in f] == [("AESTDTC", "S-2", 1.0, 3, value)]


def test_13_usubjid_must_be_in_dm():
    ae = _ae()
    ae.loc[2, "USUBJID"] = "S-9"
    ta = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["TA"], "ARMCD": ["A"], "ARM": ["Arm A"], "TAETORD": [1.0],
                       "ETCD": ["E"], "ELEMENT": ["E"], "EPOCH": ["TREATMENT"]})
    supp = pd.DataFrame({"STUDYID": ["S"], "RDOMAIN": ["DM"], "USUBJID": ["S-8"], "IDVAR": [""], "IDVARVAL": [""],
                         "QNAM": ["X"], "QLABEL": ["X"], "QVAL": ["1"], "QORIG": ["CRF"], "QEVAL": [""]})
    f = _only(validate_sdtm({"DM": _dm(), "AE": ae, "TA": ta, "SUPPDM": supp}), "TK-SDTM-0010")
    assert sorted((x.dataset, x.usubjid, x.seq, x.row) for x in f) == [("AE", "S-9", 1.0, 3), ("SUPPDM", "S-8", None, 1)]


def test_14_unknown_dataset_skipped_split_dataset_resolved():
    lbch = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["LB"], "USUBJID": ["S-1"], "LBSEQ": ["x"],
                         "LBTESTCD": ["ALB"], "LBTEST": ["Albumin"]})
    f = validate_sdtm({"XY": pd.DataFrame({"A": [1]}), "LBCH": lbch})
    assert [(x.rule, x.dataset, x.severity) for x in f if x.dataset == "XY"] == [("TK-SDTM-0011", "XY", "notice")]
    assert [(x.dataset, x.variable) for x in _only(f, "TK-SDTM-0004")] == [("LBCH", "LBSEQ")]


@pytest.fixture(scope="module")
def simulated_sdtm(tmp_path_factory) -> dict[str, pd.DataFrame]:
    from trialkit.cli import run_simulation
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm
    tmp = tmp_path_factory.mktemp("sim")
    run_simulation("ball_relapse", 60, 1, tmp / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", tmp / "raw"), tmp / "sdtm")
    return {p.stem.upper(): read_xpt(p)[0] for p in sorted((tmp / "sdtm").glob("*.xpt"))}


def test_15_simulated_study_has_no_error(simulated_sdtm):
    findings = validate_sdtm(simulated_sdtm)
    assert [str(f) for f in findings if f.severity == "error"] == []
    assert not [f for f in findings if f.rule == "TK-SDTM-0011"]       # every dataset is in the metadata
    assert {f.rule for f in findings} <= {"TK-SDTM-0002", "TK-SDTM-0006", "TK-SDTM-0012"}


def test_16_cdisc_pilot_dm_ae_lb():
    names = ("dm", "ae", "lbch", "lbhe", "lbur")
    data = {n.upper(): read_xpt(PILOT / f"{n}.xpt", encoding="cp1252")[0] for n in names}
    findings = validate_sdtm(data)
    counts = Counter((f.rule, f.dataset) for f in findings)
    # verified by inspection: the pilot (SDTMIG 3.1.2) has no structural errors in these datasets
    assert not [f for f in findings if f.severity == "error"]
    for rule_id in ("TK-SDTM-0001", "TK-SDTM-0003", "TK-SDTM-0004", "TK-SDTM-0007", "TK-SDTM-0008",
                    "TK-SDTM-0009", "TK-SDTM-0010", "TK-SDTM-0011"):
        assert not [k for k in counts if k[0] == rule_id], rule_id
    assert data["DM"]["USUBJID"].is_unique
    # 3.4 variables the 3.1.2 pilot predates; LB split datasets resolve to the LB metadata
    assert counts[("TK-SDTM-0002", "DM")] == 2 and counts[("TK-SDTM-0002", "LBCH")] == 1
    # COUNTRY=USA is valid ISO 3166 but outside our CT subset: one notice for the value, counting
    # every record it is on
    (usa,) = [f for f in findings if f.rule == "TK-SDTM-0012" and f.dataset == "DM"]
    assert usa.value == "USA" and f"on {len(data['DM'])} record(s)" in usa.message and usa.row == 1
