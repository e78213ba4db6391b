"""The independent ADTTE check (validators/adtte_events.py): clean on a correct ADTTE, and each kind
of wrong record planted in a good ADTTE is caught by its rule, naming the subject and parameter."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.adam.engine import load_adam_spec, run_adam
from trialkit.cli import main, run_simulation
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.spec import study_dir
from trialkit.validators.adtte_events import check_adtte
from trialkit.vectorize import compact
from trialkit.xpt import read_xpt, write_xpt


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = tmp_path_factory.mktemp("validate")
    run_simulation("ball_relapse", 300, 11, base / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", base / "raw"), base / "sdtm")
    adam = run_adam("ball_relapse", base / "sdtm", base / "adam")
    sdtm = {p.stem.upper(): read_xpt(p)[0] for p in (base / "sdtm").glob("*.xpt")}
    spec = load_adam_spec(study_dir("ball_relapse") / "adam" / "ADTTE.yaml")
    return base, adam["ADSL"], adam["ADTTE"], sdtm, spec


def _check(study, adtte):
    _, adsl, _, sdtm, spec = study
    return check_adtte(adtte, adsl, sdtm, spec.parameters, pd.Timestamp(adsl["DCUTDT"].iloc[0]))


def _pick(adtte, paramcd, cnsr, desc=None):
    rows = adtte[(adtte["PARAMCD"] == paramcd) & (adtte["CNSR"] == cnsr)]
    if desc:
        rows = rows[rows["EVNTDESC"] == desc]
    return rows.index[0]


# ---- Test 1 ------------------------------------------------------------------------------------
def test_validate_adtte_01_correct_adtte_is_clean(study):
    """Test 1: the derived ADTTE passes its independent check."""
    assert _check(study, study[2]) == []


# ---- Test 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("plant", "rule"), [
    ("event_later", "TK-ADTTE-0001"),
    ("censor_instead_of_event", "TK-ADTTE-0002"),
    ("censor_date_wrong", "TK-ADTTE-0003"),
    ("source_wrong", "TK-ADTTE-0004"),
    ("aval_wrong", "TK-ADTTE-0005"),
    ("start_wrong", "TK-ADTTE-0006"),
    ("failure_not_one_day", "TK-ADTTE-0001"),
])
def test_validate_adtte_02_each_planted_error_is_caught(study, plant, rule):
    """Test 2: one wrong record planted in a good ADTTE is caught by its rule, for that subject."""
    adtte = study[2].copy()
    day = pd.Timedelta(days=1)
    if plant == "event_later":
        i = _pick(adtte, "EFS", 0, "RELAPSE")
        adtte.loc[i, "ADT"] += 5 * day
        adtte.loc[i, "AVAL"] += 5
    elif plant == "censor_instead_of_event":
        i = _pick(adtte, "OS", 0)
        adtte.loc[i, "CNSR"] = 1
    elif plant == "censor_date_wrong":
        i = _pick(adtte, "OS", 1)
        adtte.loc[i, "ADT"] -= 30 * day
        adtte.loc[i, "AVAL"] -= 30
    elif plant == "source_wrong":
        i = _pick(adtte, "EFS", 0, "RELAPSE")
        adtte.loc[i, "SRCSEQ"] = 99
    elif plant == "aval_wrong":
        i = _pick(adtte, "EFS", 1)
        adtte.loc[i, "AVAL"] += 1
    elif plant == "start_wrong":
        i = _pick(adtte, "OS", 1)
        adtte.loc[i, "STARTDT"] -= day
        adtte.loc[i, "AVAL"] += 1
    else:  # a treatment failure recorded at the end-of-treatment marrow instead of the start
        efs = adtte[(adtte["PARAMCD"] == "EFS") & (adtte["AVAL"] == 1) & (adtte["CNSR"] == 0)]
        if efs.empty:  # make one: a relapse moved to day 1 is not the earliest qualifying event
            i = _pick(adtte, "EFS", 0, "RELAPSE")
            adtte.loc[i, "ADT"] = adtte.loc[i, "STARTDT"]
            adtte.loc[i, "AVAL"] = 1
        else:
            i = efs.index[0]
            adtte.loc[i, "ADT"] += 28 * day
            adtte.loc[i, "AVAL"] += 28
    found = _check(study, adtte)
    assert [f.rule for f in found] == [rule], [str(f) for f in found]
    assert found[0].usubjid == adtte.loc[i, "USUBJID"] and found[0].dataset == "ADTTE"


# ---- Test 3 ------------------------------------------------------------------------------------
def test_validate_adtte_03_cli_exit_codes_and_reports(study, tmp_path):
    """Test 3: `trialkit validate SDTM ADAM` exits 0 on the clean study; with a wrong ADTTE it exits 1,
    the JSON lists the finding and the JUnit XML has a failing test case for that rule on ADTTE; an
    unreadable file is a finding, not a crash; a missing folder exits 2."""
    base = study[0]
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", "--study", "ball_relapse", str(base / "sdtm"), str(base / "adam"), "--out", str(tmp_path / "v.json")])
    assert ok.exit_code == 0, ok.output

    bad_adam = tmp_path / "adam"
    bad_adam.mkdir()
    for p in (base / "adam").glob("*.xpt"):
        (bad_adam / p.name).write_bytes(p.read_bytes())
    frame, meta = read_xpt(bad_adam / "adtte.xpt")
    i = frame.index[(frame["PARAMCD"] == "OS") & (frame["CNSR"] == 0)][0]
    frame.loc[i, "CNSR"] = 1.0
    write_xpt(frame, meta, bad_adam / "adtte.xpt")
    (bad_adam / "broken.xpt").write_bytes(b"not an xpt file")
    # the wrong ADTTE is trialkit's rules' business: the CORE rules (SDTM) ran on this SDTM above
    result = runner.invoke(main, ["validate", "--study", "ball_relapse", str(base / "sdtm"), str(bad_adam), "--rules", "trialkit",
                                  "--out", str(tmp_path / "bad.json")])
    assert result.exit_code == 1
    import json
    report = json.loads((tmp_path / "bad.json").read_text())
    rules = {f["rule"] for f in report["findings"]}
    assert {"TK-ADTTE-0002", "TK-IO-0001"} <= rules
    assert report["summary"]["error"] == sum(f["severity"] == "error" for f in report["findings"]) == 2
    junit = runner.invoke(main, ["validate", "--study", "ball_relapse", str(base / "sdtm"), str(bad_adam), "--rules", "trialkit",
                                 "--format", "junit", "--out", str(tmp_path / "bad.xml")])
    assert junit.exit_code == 1
    root = ET.parse(tmp_path / "bad.xml").getroot()
    failing = {(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None}
    assert ("ADTTE", "TK-ADTTE-0002") in failing and ("BROKEN", "TK-IO-0001") in failing
    passing = {(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is None}
    assert ("ADTTE", "TK-ADTTE-0001") in passing

    missing = runner.invoke(main, ["validate", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and missing.stderr.startswith("trialkit: error:")


# ---- Test 4 ------------------------------------------------------------------------------------
def test_validate_adtte_04_same_findings_on_category_columns(study):
    """Test 4: with repeated text held as category columns, as ``read_folder`` holds it, the check
    gives the findings of object columns: an event record naming a source domain that no category
    of SRCDOM had is caught with its message built from the text columns."""
    _, adsl, adtte, sdtm, spec = study
    adtte = adtte.copy()
    i = _pick(adtte, "EFS", 0, "RELAPSE")
    adtte.loc[i, "SRCDOM"] = "XX"
    as_object = _check(study, adtte)
    compacted = check_adtte(compact(adtte.copy()), compact(adsl.copy()), {n: compact(f.copy()) for n, f in sdtm.items()},
                            spec.parameters, pd.Timestamp(adsl["DCUTDT"].iloc[0]))
    assert [(f.rule, f.usubjid) for f in as_object] == [("TK-ADTTE-0004", adtte.loc[i, "USUBJID"])]
    assert " / XX / " in as_object[0].message
    assert compacted == as_object


# ---- event definitions on someone else's ADaM: pharmaverse's admiral-style ADRS / ADTTE ---------

PHARMAVERSE = Path(__file__).parent / "data" / "pharmaverse"


def _validate_events(tmp_path, adam: Path, events: Path):
    sdtm = tmp_path / "no-sdtm"
    sdtm.mkdir(exist_ok=True)
    out = tmp_path / "v.json"
    result = CliRunner().invoke(main, ["validate", str(sdtm), str(adam), "--events", str(events), "--rules", "trialkit",
                                       "--out", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    return result, [f for f in report["findings"] if f["rule"].startswith("TK-ADTTE")], report


def test_validate_adtte_20_pharmaverse_pfs_os_from_adrs_agree_with_the_event_file(tmp_path):
    """admiral's PFS / OS (events from ADRS, dates as SAS numbers) re-derived from events.yaml alone:
    no study folder, no ADSL.yaml, and nothing to report."""
    result, found, report = _validate_events(tmp_path, PHARMAVERSE, PHARMAVERSE / "events.yaml")
    assert found == [] and result.exit_code == 0, result.output
    (family,) = [r for r in report["rules_run"] if r["id"] == "TK-ADTTE (event definitions)"]
    assert family["status"] == "passed"


def test_validate_adtte_21_a_changed_pharmaverse_record_is_found(tmp_path):
    """The same check finds a PFS progression moved a week later and an OS censoring on the wrong day."""
    adam = tmp_path / "adam"
    shutil.copytree(PHARMAVERSE, adam)
    adtte, meta = read_xpt(adam / "adtte.xpt")
    progression = adtte.index[(adtte["PARAMCD"] == "PFS") & (adtte["EVNTDESC"] == "Disease Progression")][0]
    alive = adtte.index[(adtte["PARAMCD"] == "OS") & (adtte["EVNTDESC"] == "Alive")][0]
    adtte.loc[progression, "ADT"] += 7
    adtte.loc[alive, "ADT"] -= 1
    write_xpt(adtte, meta, adam / "adtte.xpt")
    result, found, _ = _validate_events(tmp_path, adam, PHARMAVERSE / "events.yaml")
    assert result.exit_code == 1
    assert {(f["rule"], f["usubjid"]) for f in found} >= {("TK-ADTTE-0001", adtte.loc[progression, "USUBJID"]),
                                                          ("TK-ADTTE-0003", adtte.loc[alive, "USUBJID"])}


def test_validate_adtte_22_a_source_dataset_not_given_is_a_finding_not_a_key_error(tmp_path):
    """validate --events whose sources name ADRS, on an ADaM folder without ADRS: TK-ADTTE-0007 naming
    the parameter, the source key and the dataset (it was KeyError: 'ADRS')."""
    adam = tmp_path / "adam"
    shutil.copytree(PHARMAVERSE, adam)
    (adam / "adrs.xpt").unlink()
    result, found, _ = _validate_events(tmp_path, adam, PHARMAVERSE / "events.yaml")
    assert result.exit_code == 1, result.output
    assert {f["rule"] for f in found} == {"TK-ADTTE-0007"}
    assert any("PFS" in f["message"] and "events.yaml:parameters[0].events[0]" in f["message"] and f["value"] == "ADRS"
               for f in found)


def test_validate_adtte_23_a_study_folder_needs_no_adsl_spec(tmp_path):
    """--study with a folder holding only adam/ADTTE.yaml (no ADSL.yaml, no SDTM specs): the event
    rules run from it (they once needed an ADSL.yaml validate never used) and find the changed record."""
    study = tmp_path / "study"
    (study / "adam").mkdir(parents=True)
    shutil.copy(PHARMAVERSE / "events.yaml", study / "adam" / "ADTTE.yaml")
    adam = tmp_path / "adam"
    shutil.copytree(PHARMAVERSE, adam)
    adtte, meta = read_xpt(adam / "adtte.xpt")
    adtte.loc[adtte["PARAMCD"] == "OS", "CNSR"] = 0.0            # every OS record now claims a death
    write_xpt(adtte, meta, adam / "adtte.xpt")
    (tmp_path / "no-sdtm").mkdir()
    out = tmp_path / "v.json"
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "no-sdtm"), str(adam), "--study", str(study),
                                       "--rules", "trialkit", "--out", str(out)])
    found = {f["rule"] for f in json.loads(out.read_text(encoding="utf-8"))["findings"]}
    assert result.exit_code == 1 and "TK-ADTTE-0001" in found, result.output
