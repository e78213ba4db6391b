"""The SDTM stage's findings and ledger in validation (validators/mapping_findings.py, TK-MAP): every
defect the simulator's ``--dirty`` plants is reported by ``trialkit validate`` under a named rule at
its file and row; a ledger that does not reconcile and an unreadable findings file are findings too."""

from __future__ import annotations

import json

import pytest

from trialkit.cli import run_simulation
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.validators.mapping_findings import mapping_findings
from trialkit.validators.run import exit_code, validate

# the documented defect kinds of simulate --dirty (simulate/dirt.py) and the rule that must report each
RULE_OF_DEFECT = {"duplicate_subject": "TK-MAP-0001", "truncated_file": "TK-MAP-0001", "impossible_date": "TK-MAP-0002",
                  "unknown_code": "TK-MAP-0003", "missing_required": "TK-MAP-0004"}


def _expected_rule(defect: dict) -> str:
    """A missing SUBJID leaves a record without a subject: it is rejected (TK-MAP-0001), not mapped."""
    if defect["kind"] == "missing_required" and defect["field"] == "SUBJID":
        return "TK-MAP-0001"
    return RULE_OF_DEFECT[defect["kind"]]


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    base = tmp_path_factory.mktemp("dirty")
    manifest = run_simulation("ball_relapse", None, 11, base / "raw", None, 2, 0.0)
    write_sdtm(run_sdtm("ball_relapse", base / "raw"), base / "sdtm")
    return base, manifest


def test_mapping_01_every_dirty_defect_found_by_its_named_rule(dirty):
    """Test 1: each defect listed in the export's manifest (five of each kind) has a finding of the
    rule for its kind at the same file and row, and the run exits 1."""
    base, manifest = dirty
    findings = validate("ball_relapse", base / "sdtm", rules=("trialkit",)).findings
    got = {(f.rule, f.dataset, f.row) for f in findings}
    defects = manifest["defects"]
    assert {d["kind"] for d in defects} == set(RULE_OF_DEFECT)
    assert len(defects) >= 5 * len(RULE_OF_DEFECT) - 1     # one truncated file per export
    missed = [d for d in defects if (_expected_rule(d), d["file"], d["row"]) not in got]
    assert missed == []
    assert exit_code(findings, "error") == 1


def test_mapping_02_finding_names_column_value_subject_and_spec_key(dirty):
    """Test 2: an impossible date's finding names the raw column, the value, the subject and the spec key."""
    base, manifest = dirty
    date = next(d for d in manifest["defects"] if d["kind"] == "impossible_date")
    f = next(f for f in mapping_findings(base / "sdtm") if f.rule == "TK-MAP-0002" and f.row == date["row"]
             and f.dataset == date["file"])
    assert (f.variable, f.value) == (date["field"], date["injected"])
    assert "subject " in f.message and ".yaml:" in f.message


def test_mapping_03_ledger_that_does_not_reconcile(tmp_path):
    """Test 3: a form whose rows read differ from landed + rejected is TK-MAP-0012."""
    (tmp_path / "ledger.json").write_text(json.dumps({"forms": [
        {"form": "ae", "rows_in": 10, "landed": 8, "rejected": 1, "unaccounted": 0},
        {"form": "dm", "rows_in": 5, "landed": 5, "rejected": 0, "unaccounted": 0}]}))
    found = [(f.rule, f.dataset, f.value) for f in mapping_findings(tmp_path)]
    assert found == [("TK-MAP-0012", "ae.csv", "10")]


def test_mapping_04_unreadable_findings_file_is_a_finding(tmp_path):
    """Test 4: a truncated findings.json is TK-IO-0001, not a crash."""
    (tmp_path / "findings.json").write_text('[{"severity": "error", "sou')
    assert [(f.rule, f.dataset) for f in mapping_findings(tmp_path)] == [("TK-IO-0001", "findings.json")]


def test_mapping_05_clean_export_gives_no_mapping_error(tmp_path):
    """Test 5: a clean export's findings and ledger give no error-level TK-MAP finding."""
    run_simulation("ball_relapse", 40, 3, tmp_path / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", tmp_path / "raw"), tmp_path / "sdtm")
    assert [str(f) for f in mapping_findings(tmp_path / "sdtm") if f.severity == "error"] == []


def test_mapping_record_locator_reaches_the_validation_message(tmp_path):
    """An ODM record's locator (findings.json ``record``) is named in the TK-MAP finding, as the row is."""
    finding = {"severity": "error", "source": "export.xml", "row": 3, "column": "AESTDAT", "value": "31-FEB-2020",
               "message": "impossible date", "key": None, "subject": "01-001", "kind": "date",
               "record": "01-001/AE[1]/ae/IG.AE[3]"}
    (tmp_path / "findings.json").write_text(json.dumps([finding]))
    (f,) = mapping_findings(tmp_path)
    assert (f.rule, f.dataset, f.row) == ("TK-MAP-0002", "export.xml", 3) and "record 01-001/AE[1]/ae/IG.AE[3]" in f.message
