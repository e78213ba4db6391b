"""The Great Expectations engine (validators/gx_engine.py): its suites give the pandera verdicts.

Numbered cases: planted SDTM and ADaM defects, blank and number edge values, and a generated study
(clean, then with defects planted) give the same findings, record for record, under GX as under
pandera (restricted to what GX covers); the suite JSON round-trips and names a covered rule in every
expectation; a missing great_expectations is one clear InputError."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.errors import InputError
from trialkit.validators.adam_schema import validate_adam
from trialkit.validators.gx_engine import GX_RULES, build_suites, covered, export_suites, run_gx
from trialkit.validators.inputs import read_folder
from trialkit.validators.rules import ValidationFinding
from trialkit.validators.sdtm_schema import validate_sdtm
from trialkit.vectorize import plain


def _records(findings):
    return sorted(((f.rule, f.dataset, f.variable, f.usubjid, f.seq, f.row, f.value) for f in findings), key=repr)


def _assert_parity(datasets, standard):
    """GX findings equal the covered pandera findings, record for record; returns the rules that fired."""
    pandera = [f for f in (validate_sdtm if standard == "sdtm" else validate_adam)(datasets) if covered(f)]
    gx = run_gx(datasets, standard)
    assert {(f.rule, f.dataset, f.variable) for f in gx} == {(f.rule, f.dataset, f.variable) for f in pandera}
    assert _records(gx) == _records(pandera)
    assert {f.severity for f in gx} <= {"error", "warning", "notice"} and all(f.rule in GX_RULES for f in gx)
    return {f.rule for f in gx}


def _dm(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * n, "DOMAIN": ["DM"] * n, "USUBJID": [f"S-{i}" for i in range(1, n + 1)],
        "SUBJID": [str(i) for i in range(1, n + 1)], "RFSTDTC": ["2020-01-02"] * n, "SITEID": ["01"] * n,
        "SEX": ["F"] * n, "COUNTRY": ["DEU"] * n, "ARMCD": ["A"] * n, "ARM": ["Arm A"] * n,
        "ACTARMCD": ["A"] * n, "ACTARM": ["Arm A"] * n})


def _ae() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * 4, "DOMAIN": ["AE"] * 4, "USUBJID": ["S-1", "S-1", "S-2", "S-3"],
        "AESEQ": [1.0, 2.0, 1.0, 1.0], "AETERM": ["Headache", "Nausea", "Rash", "Fever"],
        "AEDECOD": ["Headache", "Nausea", "Rash", "Pyrexia"], "AESER": ["N", "N", "Y", "N"],
        "AESTDTC": ["2020-01-03", "2020-02", "2020-03-01T10:30", ""]})


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * 3, "USUBJID": ["S-1", "S-2", "S-3"], "SUBJID": ["1", "2", "3"], "SITEID": ["01"] * 3,
        "AGE": [5.0, 7.0, 9.0], "AGEU": ["YEARS"] * 3, "SEX": ["F", "M", "F"], "RACE": ["WHITE", "ASIAN", "WHITE"],
        "ARM": ["A", "B", "A"], "ACTARM": ["A", "", "A"], "TRT01P": ["A", "B", "A"], "TRT01PN": [1.0, 2.0, 1.0],
        "EOSSTT": ["ONGOING", "DISCONTINUED", "ONGOING"], "SAFFL": ["Y", "N", "Y"], "ITTFL": ["Y", "Y", "Y"],
        "TRTSDT": [21900.0, None, 21905.0], "DTHDTF": ["", "D", ""]})


def _adtte() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["S"] * 4, "USUBJID": ["S-1", "S-1", "S-2", "S-2"], "PARAMCD": ["EFS", "OS", "EFS", "OS"],
        "PARAM": ["Event-Free Survival", "Overall Survival"] * 2, "AVAL": [10.0, 20.0, 30.0, 40.0],
        "CNSR": [0.0, 1.0, 1.0, 0.0], "STARTDT": [21900.0] * 4, "ADT": [21909.0, 21919.0, 21929.0, 21939.0]})


@pytest.fixture(scope="module")
def study(generated_study):
    """The suite's generated 80-subject study (tests/conftest.py), read as validate reads it."""
    base = generated_study
    return read_folder(base / "sdtm")[0], read_folder(base / "adam")[0], base


# ---- Test 1 ------------------------------------------------------------------------------------
def test_gx_01_planted_sdtm_defects_same_verdicts():
    """Test 1: a bad code, a bad date, a duplicated --SEQ, a blank Req value, missing Req / Exp
    columns, a duplicated DM subject, text in a Num variable, CT and CT-subset notices: the SDTM rules fire
    under GX on the records pandera names; blank keys are exempt from uniqueness in both."""
    dm = pd.concat([_dm(), _dm().iloc[[1]]], ignore_index=True)
    dm.loc[0, "COUNTRY"] = "USA"                               # subset codelist: notice
    dm["ARMNRS"] = ["", "NOT TREATED", "NOT TREATED", ""]      # extensible codelist: notice, one per distinct value
    dm["RACE"] = ["WHITE", "", "MARTIAN", "ASIAN"]             # full non-extensible codelist: error
    blank_keys = _dm(2).assign(USUBJID=["", " "])              # blank keys, never duplicates
    ae = _ae().astype({"AESEQ": object})
    ae.loc[0, "AESER"] = "y"
    ae.loc[1, "AESTDTC"] = "2020/02/01"
    ae.loc[2, "AESEQ"] = "one"
    ae.loc[3, "AEDECOD"] = " "
    ae = pd.concat([ae, ae.iloc[[0]]], ignore_index=True)      # S-1 AESEQ 1 twice
    datasets = {"DM": pd.concat([dm, blank_keys], ignore_index=True).drop(columns="SEX"), "ae": ae, "XX": pd.DataFrame({"A": [1]})}
    fired = _assert_parity(datasets, "sdtm")
    assert fired == {"TK-SDTM-0001", "TK-SDTM-0002", "TK-SDTM-0003", "TK-SDTM-0004", "TK-SDTM-0005",
                     "TK-SDTM-0006", "TK-SDTM-0007", "TK-SDTM-0008", "TK-SDTM-0009", "TK-SDTM-0012"}
    assert set(build_suites(datasets)) == {"AE", "DM"}         # XX is unknown to the SDTMIG: no suite
    with pytest.raises(ValueError, match="standard"):
        build_suites(datasets, "send")


# ---- Test 2 ------------------------------------------------------------------------------------
def test_gx_02_planted_adam_defects_same_verdicts():
    """Test 2: ADSL and ADTTE defects of every covered ADaM rule; TRTxxP missing and a bad CNSR stay
    with pandera (``covered`` is false for them) and are not expected from GX."""
    adsl = pd.concat([_adsl(), _adsl().iloc[[2]]], ignore_index=True).drop(columns="RACE").astype({"AGE": object})
    adsl.loc[0, "SEX"] = "X"
    adsl.loc[1, "AGE"] = "five"
    adsl.loc[1, "ITTFL"] = " "
    adsl.loc[2, "SAFFL"] = "Q"
    adsl.loc[0, "EOSSTT"] = "LOST"
    adsl.loc[2, "SUBJID"] = ""
    adtte = _adtte()
    adtte.loc[0, "PARAMCD"] = "1EFS"
    adtte.loc[1, "CNSR"] = None
    adtte.loc[2, "CNSR"] = -1.0
    fired = _assert_parity({"ADSL": adsl, "ADTTE": adtte}, "adam")
    assert fired == {"TK-ADAM-0001", "TK-ADAM-0002", "TK-ADAM-0003", "TK-ADAM-0004", "TK-ADAM-0005",
                     "TK-ADAM-0007", "TK-ADAM-0008", "TK-ADAM-0011", "TK-ADAM-0013"}
    left = validate_adam({"ADSL": adsl.drop(columns="TRT01P"), "ADTTE": adtte})
    assert {(f.rule, f.variable) for f in left if not covered(f)} >= {("TK-ADAM-0001", "TRTxxP"), ("TK-ADAM-0016", "CNSR")}


# ---- Test 3 ------------------------------------------------------------------------------------
def test_gx_03_blank_and_number_edge_values_same_verdicts():
    """Test 3: GX reads the string form by regex where pandera calls pd.to_numeric and str.strip;
    edge values (whitespace blanks, exponents, inf, 'nan', Arabic-Indic digits, a trailing newline
    after a codelist term) get the same verdict in a Num variable, --STRESC (numbers pass), a codelist
    variable (LBNRIND: extensible, from the CT package in full) and --DTC."""
    edge = ["", " ", "\t", "\xa0", "1e3", " 1 ", "+.5", "inf", "-Infinity", "nan", "1,5", "\u0661", "0x10",
            "NEGATIVE", "NEGATIVE\n", "negative", "2020-01-01\n", "2020-13"]
    n = len(edge)
    lb = pd.DataFrame({"STUDYID": ["S"] * n, "DOMAIN": ["LB"] * n, "USUBJID": [f"S-{i}" for i in range(n)],
                       "LBSEQ": [1.0] * n, "LBTESTCD": ["ALB"] * n, "LBTEST": ["Albumin"] * n,
                       "LBSTRESC": edge, "LBSTRESN": edge, "LBDTC": edge, "LBNRIND": edge})
    fired = _assert_parity({"LB": lb}, "sdtm")
    assert {"TK-SDTM-0004", "TK-SDTM-0006", "TK-SDTM-0009"} <= fired


# ---- Test 4 ------------------------------------------------------------------------------------
def test_gx_04_generated_study_same_verdicts(study):
    """Test 4: the generated study, clean (its notices: sponsor terms), then with defects planted at
    known records and an Expected variable dropped: GX and pandera agree on every dataset, SDTM and ADaM."""
    sdtm, adam, _ = study
    assert "TK-SDTM-0006" in _assert_parity(sdtm, "sdtm")
    _assert_parity(adam, "adam")
    # read_folder holds repeated text as category columns: plant new values in object copies
    ae, dm, adsl = (plain(f).copy() for f in (sdtm["AE"], sdtm["DM"], adam["ADSL"]))
    ae.loc[[3, 40], "AESTDTC"] = ["03/01/2020", "2020-1-5"]
    ae.loc[7, ["USUBJID", "AESEQ"]] = ae.loc[6, ["USUBJID", "AESEQ"]].to_numpy()
    dm.loc[5, "RACE"] = "MARTIAN"
    dm = dm.drop(columns="ARMNRS")
    adsl.loc[9, "SAFFL"] = ""
    fired = _assert_parity({**sdtm, "AE": ae, "DM": dm}, "sdtm")
    assert {"TK-SDTM-0002", "TK-SDTM-0005", "TK-SDTM-0008", "TK-SDTM-0009"} <= fired
    assert "TK-ADAM-0008" in _assert_parity({**adam, "ADSL": adsl}, "adam")


# ---- Test 5 ------------------------------------------------------------------------------------
def test_gx_05_suite_json_round_trips_and_names_covered_rules(tmp_path):
    """Test 5: one JSON file per dataset; each loads back into an ExpectationSuite, and every
    expectation names a covered rule and a variable, with a GX severity matching the rule's."""
    import great_expectations as gx

    suites = build_suites({"DM": _dm(), "AE": _ae()})
    paths = export_suites(suites, tmp_path / "suites")
    assert [p.name for p in paths] == ["AE.json", "DM.json"]
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["name"] == f"trialkit.sdtm.{path.stem}" and data["expectations"]
        for e in data["expectations"]:
            assert e["meta"]["rule"] in GX_RULES and e["meta"]["variable"]
            assert e["severity"] == {"TK-SDTM-0002": "warning", "TK-SDTM-0006": "info", "TK-SDTM-0012": "info"}.get(
                e["meta"]["rule"], "critical")
        assert gx.ExpectationSuite(**data).to_json_dict() == data


# ---- Test 6 ------------------------------------------------------------------------------------
def test_gx_06_missing_great_expectations_is_a_clear_input_error(monkeypatch):
    """Test 6: without great_expectations, the engine raises InputError naming the extra to install."""
    monkeypatch.setitem(sys.modules, "great_expectations", None)     # makes `import great_expectations` fail
    for call in (lambda: run_gx({"DM": _dm()}), lambda: build_suites({"DM": _dm()}, "sdtm")):
        with pytest.raises(InputError, match=r"trialkit\[gx\]"):
            call()


# ---- Test 7 ------------------------------------------------------------------------------------
def test_gx_07_covered_tells_gx_rules_from_pandas_only_ones():
    """Test 7: ``covered`` splits findings between the engines; placeholder Req names stay pandas."""
    def f(rule, variable):
        return ValidationFinding(rule, "error", "ADSL", "", variable=variable)
    assert covered(f("TK-ADAM-0001", "EOSSTT")) and covered(f("TK-SDTM-0009", "AESTDTC"))
    assert not covered(f("TK-ADAM-0001", "TRTxxP"))
    assert not any(covered(f(r, "X")) for r in ("TK-SDTM-0010", "TK-SDTM-0011", "TK-ADAM-0006", "TK-ADAM-0016"))


# ---- Test 8 ------------------------------------------------------------------------------------
def test_gx_08_an_expectation_gx_cannot_evaluate_raises():
    """Test 8: GX catches exceptions inside an expectation and reports it failed; that is a failure
    of the engine, not a verdict on the data, so it raises instead of becoming findings."""
    ae = _ae().assign(AESEQ=[[1], [2], [1], [1]])               # unhashable: the --SEQ uniqueness cannot run
    with pytest.raises(RuntimeError, match="could not evaluate expect_compound_columns_to_be_unique on AESEQ"):
        run_gx({"AE": ae})


def test_gx_09_cli_engine_gx_gives_the_pandera_report_and_exports_suites(study, tmp_path):
    """Test 9: `trialkit validate --engine gx --gx-suites DIR` reports the same findings as the
    default engine (JSON compared record for record, messages aside: GX names its expectation) and
    writes one suite per dataset. trialkit's rules only: the engine choice does not touch the CORE rules."""
    base = study[2]
    reports = {}
    for engine in ("pandera", "gx"):
        out = tmp_path / f"{engine}.json"
        args = ["validate", "--study", "ball_relapse", str(base / "sdtm"), str(base / "adam"), "--engine", engine,
                "--rules", "trialkit", "--out", str(out)] + (["--gx-suites", str(tmp_path / "suites")] if engine == "gx" else [])
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        reports[engine] = sorted(json.dumps({**f, "message": ""}, sort_keys=True) for f in json.loads(out.read_text())["findings"])
    assert reports["gx"] == reports["pandera"] and reports["gx"]
    assert {p.stem for p in (tmp_path / "suites" / "adam").glob("*.json")} == {"ADSL", "ADTTE", "ADRS", "ADAE"}
    assert "DM" in {p.stem for p in (tmp_path / "suites" / "sdtm").glob("*.json")}


# ---- Test 10 -----------------------------------------------------------------------------------
def test_gx_10_the_suites_folder_is_replaced_whole_or_not_at_all(study, tmp_path):
    """Test 10: ``--gx-suites DIR`` is an output like any other: a second export with SDTM only
    leaves no ADaM suites of the first (before: adam/ stayed beside the new sdtm/), and a run that
    stops on unusable input leaves the previous suites byte for byte."""
    base, suites = study[2], tmp_path / "suites"

    def validate(*folders):
        return CliRunner().invoke(main, ["validate", "--study", "ball_relapse", *map(str, folders), "--rules", "trialkit",
                                         "--out", str(tmp_path / "v.json"), "--gx-suites", str(suites)])

    assert validate(base / "sdtm", base / "adam").exit_code == 0
    assert (suites / "adam" / "ADSL.json").is_file()
    assert validate(base / "sdtm").exit_code == 0
    assert sorted(p.name for p in suites.iterdir()) == ["sdtm"]
    before = {p.relative_to(suites): p.read_bytes() for p in suites.rglob("*.json")}
    result = validate(base / "sdtm", tmp_path / "no-such-adam")
    assert result.exit_code == 2, result.output
    assert {p.relative_to(suites): p.read_bytes() for p in suites.rglob("*.json")} == before
    assert sorted(p.name for p in tmp_path.glob(".suites*")) == []
