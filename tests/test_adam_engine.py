"""ADaM on simulated studies: ADTTE agrees with the simulator's truth for every subject.

The truth (simulate/truth.py) is computed from the simulator's latent dates with the published
event definitions; ADTTE is derived from the exported forms through SDTM, by the declarative sources
of specs/studies/ball_relapse/adam/ADTTE.yaml. Two independent paths, one answer per subject.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.adam.engine import run_adam
from trialkit.cli import main, run_simulation
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.xpt import read_xpt

# EVNTDESC of ADTTE for each kind of EFS event in the truth
EFS_KINDS = {
    "FAILURE_TO_REACH_CR": {"FAILURE TO REACH CR AT END OF TREATMENT"},
    "DEATH_BEFORE_EOT": {"DEATH BEFORE END OF TREATMENT ASSESSMENT"},
    "RELAPSE": {"RELAPSE", "M2 MARROW AFTER CR"},
    "SECOND_MALIGNANCY": {"SECOND MALIGNANCY"},
    "DEATH": {"DEATH"},
}


def _pipeline(base: Path, subjects: int | None, seed: int | None) -> tuple[dict, pd.DataFrame]:
    run_simulation("ball_relapse", subjects, seed, base / "raw", base / "truth.csv", 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", base / "raw"), base / "sdtm")
    datasets = run_adam("ball_relapse", base / "sdtm", base / "adam")
    truth = pd.read_csv(base / "truth.csv", dtype=str, keep_default_na=False).set_index("USUBJID")
    return datasets, truth


@pytest.fixture(scope="module", params=[pytest.param((None, None), id="demo-seed"),
                                        pytest.param((1500, 77), id="1500-subjects", marks=pytest.mark.slow)])
def study(request, tmp_path_factory):
    subjects, seed = request.param
    return _pipeline(tmp_path_factory.mktemp("adam"), subjects, seed)


# ---- Test 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("paramcd", ["EFS", "OS"])
def test_adam_01_adtte_agrees_with_truth_for_every_subject(study, paramcd):
    """Test 1: event flag, analysis date and days agree with the truth for every subject."""
    datasets, truth = study
    adtte = datasets["ADTTE"]
    got = adtte[adtte["PARAMCD"] == paramcd].set_index("USUBJID").reindex(truth.index)
    assert got["CNSR"].notna().all(), "a subject of the truth has no ADTTE record"
    pd.testing.assert_series_equal(got["CNSR"].astype(int).astype(str), truth[f"{paramcd}_CNSR"], check_names=False)
    pd.testing.assert_series_equal(got["ADT"].dt.strftime("%Y-%m-%d"), truth[f"{paramcd}_ADT"], check_names=False)
    pd.testing.assert_series_equal(got["AVAL"].astype(int).astype(str), truth[f"{paramcd}_AVAL"], check_names=False)


# ---- Test 2 ------------------------------------------------------------------------------------
def test_adam_02_efs_event_type_agrees_with_truth(study):
    """Test 2: each EFS event carries the description of its kind in the truth."""
    datasets, truth = study
    efs = datasets["ADTTE"].query("PARAMCD == 'EFS'").set_index("USUBJID").reindex(truth.index)
    events = truth["EFS_EVENT"] != ""
    for usubjid, kind in truth.loc[events, "EFS_EVENT"].items():
        assert efs.at[usubjid, "EVNTDESC"] in EFS_KINDS[kind], (usubjid, kind, efs.at[usubjid, "EVNTDESC"])
    assert (efs.loc[~events, "CNSDTDSC"] != "").all()


# ---- Test 3 ------------------------------------------------------------------------------------
def test_adam_03_adsl_one_record_per_subject_and_populations(study):
    """Test 3: ADSL has one record per randomized subject; SAFFL exactly for the treated; every
    ADTTE subject is in ADSL; AVAL = ADT - STARTDT + 1; STARTDT = RANDDT."""
    datasets, truth = study
    adsl, adtte = datasets["ADSL"], datasets["ADTTE"]
    assert adsl["USUBJID"].is_unique and set(adsl["USUBJID"]) == set(truth.index)
    treated = truth["TREATED"] == "True"
    saffl = adsl.set_index("USUBJID")["SAFFL"].reindex(truth.index)
    assert ((saffl == "Y") == treated).all()
    assert (adsl["ITTFL"] == "Y").all()
    assert ((adtte["ADT"] - adtte["STARTDT"]).dt.days + 1 == adtte["AVAL"]).all()
    randdt = adtte["USUBJID"].map(adsl.set_index("USUBJID")["RANDDT"])
    assert (adtte["STARTDT"] == randdt).all()
    assert (adtte.groupby(["USUBJID", "PARAMCD"]).size() == 1).all()


# ---- Test 4 ------------------------------------------------------------------------------------
def test_adam_04_adsl_subgroups_agree_with_truth(study):
    """Test 4: the baseline MRD group and the stratum as randomized match the truth."""
    datasets, truth = study
    adsl = datasets["ADSL"].set_index("USUBJID").reindex(truth.index)
    pd.testing.assert_series_equal(adsl["MRDBLGR"], truth["MRDGR"], check_names=False)
    pd.testing.assert_series_equal(adsl["STRAT2R"], truth["STRATUM"], check_names=False)
    pd.testing.assert_series_equal(adsl["STRAT1R"], truth["AGEGR"], check_names=False)


# ---- Test 5 ------------------------------------------------------------------------------------
def test_adam_05_xpt_files_read_back_with_sas_dates(tmp_path):
    """Test 5: `trialkit adam` writes adsl.xpt / adtte.xpt; dates come back as dates (DATE9.)."""
    datasets, _ = _pipeline(tmp_path, 40, 3)
    for name in ("ADSL", "ADTTE"):
        frame, meta = read_xpt(tmp_path / "adam" / f"{name.lower()}.xpt", dates=True)
        assert meta.name == name and len(frame) == len(datasets[name])
        assert meta.variable("RANDDT" if name == "ADSL" else "ADT").format.startswith("DATE9")
    back, _ = read_xpt(tmp_path / "adam" / "adtte.xpt", dates=True)
    assert back["ADT"].tolist() == datasets["ADTTE"]["ADT"].tolist()


# ---- Test 6 ------------------------------------------------------------------------------------
def test_adam_06_cli(tmp_path):
    """Test 6: `trialkit adam SDTM --out OUT` exits 0 and reports the datasets; a missing SDTM folder
    is one error line and exit 2."""
    runner = CliRunner()
    run_simulation("ball_relapse", 30, 4, tmp_path / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", tmp_path / "raw"), tmp_path / "sdtm")
    result = runner.invoke(main, ["adam", str(tmp_path / "sdtm"), "--out", str(tmp_path / "adam")])
    assert result.exit_code == 0, result.output
    assert "ADSL: 30 records" in result.stdout and "ADTTE: 90 records" in result.stdout
    result = runner.invoke(main, ["adam", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("trialkit: error:") and len(result.stderr.strip().splitlines()) == 1


# ---- Test 7 ------------------------------------------------------------------------------------
def test_adam_07_mrd_remission_agrees_with_truth(study):
    """Test 7: ADRS MRDREM (MRD < 1E-04 at day 15 or the end of treatment) is Y exactly for the
    subjects whose remission the truth saw; every ADSL subject has one MRDREM, CREOT and BOR."""
    datasets, truth = study
    adrs = datasets["ADRS"]
    derived = adrs[adrs["PARAMCD"].isin(["MRDREM", "CREOT", "BOR"])]
    assert (derived.groupby("PARAMCD")["USUBJID"].nunique() == len(truth)).all()
    mrdrem = adrs[adrs["PARAMCD"] == "MRDREM"].set_index("USUBJID")["AVALC"].reindex(truth.index)
    pd.testing.assert_series_equal(mrdrem == "Y", truth["MRDREM"] == "True", check_names=False)


# ---- Test 8 ------------------------------------------------------------------------------------
def test_adam_08_adrs_analysis_flag_one_per_visit(study):
    """Test 8: ANL01FL marks exactly one record per subject, parameter and visit."""
    adrs = study[0]["ADRS"]
    flagged = adrs[adrs["ANL01FL"] == "Y"]
    visits = adrs.assign(_v=adrs["AVISITN"].fillna(-1)).groupby(["USUBJID", "PARAMCD", "_v"]).ngroups
    assert len(flagged) == visits
    assert not flagged.assign(_v=flagged["AVISITN"].fillna(-1)).duplicated(["USUBJID", "PARAMCD", "_v"]).any()


# ---- Test 9 ------------------------------------------------------------------------------------
def test_adam_09_relapse_free_time_agrees_with_efs_relapses(study):
    """Test 9: every EFS event that is a relapse is an RFS event on the same date, and RFS has no
    other events (deaths, M2 marrow and second malignancies are not relapses)."""
    adtte = study[0]["ADTTE"]
    efs = adtte[adtte["PARAMCD"] == "EFS"].set_index("USUBJID")
    rfs = adtte[adtte["PARAMCD"] == "RFS"].set_index("USUBJID").reindex(efs.index)
    relapse = (efs["CNSR"] == 0) & (efs["EVNTDESC"] == "RELAPSE")
    assert (rfs.loc[relapse, "CNSR"] == 0).all() and (rfs.loc[relapse, "ADT"] == efs.loc[relapse, "ADT"]).all()
    assert set(rfs.loc[rfs["CNSR"] == 0, "EVNTDESC"]) <= {"RELAPSE"}


# ---- Test 10 -----------------------------------------------------------------------------------
def test_adam_10_adae_one_record_per_ae_with_adsl_variables_and_flags(study, tmp_path):
    """Test 10: ADAE has one record per AE record (by AESEQ), actual treatment and SAFFL from ADSL,
    ASTDT never before the first dose when imputed, GR3FL = grade >= 3, ADSL variables unchanged."""
    datasets = study[0]
    adae, adsl = datasets["ADAE"], datasets["ADSL"].set_index("USUBJID")
    assert not adae.duplicated(["USUBJID", "AESEQ"]).any()
    assert (adae["TRTA"] == adae["USUBJID"].map(adsl["TRT01A"])).all()
    assert (adae["SAFFL"] == adae["USUBJID"].map(adsl["SAFFL"])).all()
    imputed = adae["ASTDTF"].fillna("") != ""
    assert imputed.any() and (adae.loc[imputed, "ASTDT"] >= adae.loc[imputed, "TRTSDT"]).all()
    complete = adae["AESTDTC"].str.len() == 10
    assert (adae.loc[complete, "ASTDT"].dt.strftime("%Y-%m-%d") == adae.loc[complete, "AESTDTC"]).all()
    assert ((adae["GR3FL"] == "Y") == (adae["AETOXGR"].astype(int) >= 3)).all()
    assert (adae.loc[adae["ASTDT"].notna(), "ASTDY"] != 0).all()


# ---- Test 11 -----------------------------------------------------------------------------------
def test_adam_11_relapse_on_study_site_agrees_with_suppce(study):
    """Test 11: REL2FL marks subjects with a CE relapse up to the cut-off; REL2SITE follows the
    SUPPCE involvement flags of that relapse."""
    adsl = study[0]["ADSL"]
    rel = adsl[adsl["REL2FL"] == "Y"]
    assert len(rel) > 0 and (rel["REL2DT"] <= rel["DCUTDT"]).all()
    isolated = rel["REL2SITE"] == "ISOLATED MARROW"
    assert (rel.loc[isolated, ["REL2CNS", "REL2TES", "REL2OEM"]] == "N").all().all()
    assert (rel.loc[isolated, "REL2MAR"] == "Y").all()
    assert (adsl.loc[adsl["REL2FL"] != "Y", "REL2SITE"] == "").all()
