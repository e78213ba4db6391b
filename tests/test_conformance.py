"""The shipped studies' SDTM conforms (docs/conformance.md).

`trialkit demo` of BALLR01 (the suite's demo run) and of ONCO02 exits 0 with CDISC CORE's rules and
trialkit's: no finding at error level. The CORE rules that fired on the demos before their SDTM was
fixed ran and passed, and so did each study's own version of CORE-000192, which replaces the
published rule because the published CORE-000191 and CORE-000192 contradict each other on every
subject randomized but never treated (shown here on three records).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from trialkit.sdtm.standards import load_codelists
from trialkit.spec import study_dir
from trialkit.validators.core.engine import ISSUES, PASSED, run_rule
from trialkit.validators.core.library import load_library
from trialkit.validators.core.rules import load_rule, rules_folder
from trialkit.validators.core.study import Dataset, Study
from trialkit.validators.inputs import read_folder

# CORE rules that reported errors on the demos before the fixes, each a defect of the SDTM written
FIXED = ("CORE-000191", "CORE-000758", "CORE-000328", "CORE-000776", "CORE-000334", "CORE-000352", "CORE-000024")
FIXED_ONCO02 = ("CORE-000266",)          # serious AEs without a seriousness criterion (ONCO02's EDC had none)


def _conforms(out: Path, fixed: tuple[str, ...]) -> None:
    report = json.loads((out / "validation" / "validation.json").read_text(encoding="utf-8"))
    errors = [f for f in report["findings"] if f["severity"] in ("error", "warning")]
    assert report["summary"]["error"] == report["summary"]["warning"] == 0 and errors == [], errors[:5]
    runs = {r["id"]: r for r in report["rules_run"]}
    core = [r for r in runs.values() if r["source"] == "core"]
    assert sum(r["status"] == PASSED for r in core) > 200, "the CORE rules did not run"
    assert {r: runs[r]["status"] for r in fixed} == dict.fromkeys(fixed, PASSED)
    assert (runs["CORE-000192"]["source"], runs["CORE-000192"]["status"]) == ("custom", PASSED)   # the study's version
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["exit_code"] == 0 and manifest["stage_errors"] == []


def test_conformance_01_the_reference_demo_has_no_error_with_core_and_trialkit_rules(demo):
    """Test 1: BALLR01's demo (the suite's run, which exits 0) has no error or warning."""
    _conforms(demo, FIXED)


def test_conformance_02_the_onco02_demo_exits_0_with_no_error(onco02_demo):
    """Test 2: `trialkit demo --study solid_tumour` exits 0 and has no error or warning (an unresolved
    adverse event without an end date was a TK-SDTM-0101 warning, Pinnacle 21's SD0021: it is now
    ongoing at the data cut-off, AEENRTPT / AEENTPT)."""
    out, code = onco02_demo
    assert code == 0
    _conforms(out, FIXED + FIXED_ONCO02)


def test_conformance_03_ts_value_codes_are_the_ct_codes_of_the_values(demo, onco02_demo):
    """Test 3: every TSVALCD the trial summary gives is the NCI code of its TSVAL in CDISC CT, at the CT
    version TSVCDVER names; parameters whose value is not a CT term have none."""
    codes = {}
    for codelist in load_codelists().values():
        for term in codelist.terms:
            if term.get("code"):
                codes.setdefault(str(term["value"]), set()).add(term["code"])
    for out in (demo, onco02_demo[0]):
        ts = read_folder(out / "sdtm")[0]["TS"]
        coded = ts[ts["TSVALCD"] != ""]
        assert len(coded) >= 10
        assert all(code in codes.get(value, ()) for value, code in zip(coded["TSVAL"], coded["TSVALCD"])), coded
        assert set(coded["TSVCDREF"]) == {"CDISC CT"} and set(coded["TSVCDVER"]) == {"2025-03-28"}
        assert (ts.loc[ts["TSVALCD"] == "", ["TSVCDREF", "TSVCDVER"]] == "").all().all()


def _dm(*records: dict) -> Study:
    frame = pd.DataFrame([{"STUDYID": "S", "DOMAIN": "DM", "USUBJID": f"S-{k}", **r} for k, r in enumerate(records, 1)])
    return Study([Dataset("DM", frame)])


def test_conformance_04_published_core_000191_and_000192_contradict_each_other_the_studys_version_does_not(tmp_path):
    """Test 4: a subject randomized but never treated (ARM, ARMNRS 'ASSIGNED, NOT TREATED') fails the
    published CORE-000191 without RFENDTC and the published CORE-000192 with it. The studies' own
    CORE-000192 (as its cited guidance reads: null RFENDTC for screen failures and unassigned
    subjects) passes them and still flags a screen failure with RFENDTC. Both studies carry it."""
    library = load_library("sdtmig", "3.4")
    published = {rid: load_rule(rules_folder() / f"{rid}.yml") for rid in ("CORE-000191", "CORE-000192")}
    own = load_rule(study_dir("ball_relapse") / "rules" / "CORE-000192.yml")
    assert own.core_id == "CORE-000192"
    assert (study_dir("solid_tumour") / "rules" / "CORE-000192.yml").read_text() == \
        (study_dir("ball_relapse") / "rules" / "CORE-000192.yml").read_text()
    untreated = {"ARM": "Drug X", "ARMCD": "X", "ARMNRS": "ASSIGNED, NOT TREATED"}
    without, with_ = _dm({**untreated, "RFENDTC": ""}), _dm({**untreated, "RFENDTC": "2024-01-05"})
    assert run_rule(published["CORE-000191"], without, library).status == ISSUES
    assert run_rule(published["CORE-000192"], with_, library).status == ISSUES
    assert run_rule(own, with_, library).status == PASSED
    study = _dm({"ARM": "", "ARMNRS": "SCREEN FAILURE", "RFENDTC": "2024-01-05"}, {**untreated, "RFENDTC": "2024-01-05"},
                {"ARM": "", "ARMNRS": "NOT ASSIGNED", "RFENDTC": ""})
    assert [f.row for f in run_rule(own, study, library).findings] == [1]
