"""The CORE rule interpreter's own parts: loading rules, scope, the check tree, outcome, engine
statuses, and the rules in `trialkit validate` (numbered cases, tiny inline data)."""

from __future__ import annotations

import json
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from trialkit.validators.core.engine import ISSUES, NOT_APPLICABLE, NOT_EXECUTED, PASSED, run_rule
from trialkit.validators.core.frames import POSITIONS
from trialkit.validators.core.library import load_library
from trialkit.validators.core.rules import RuleLoadError, load_rule, load_rules, rules_folder
from trialkit.validators.core.scope import applies
from trialkit.validators.core.study import Dataset, Study, Variable
from trialkit.xpt import DatasetMeta, write_xpt
from trialkit.xpt import Variable as XptVariable

LIBRARY = load_library("sdtmig", "3.4")


def rule_file(tmp_path: Path, body: str, name: str = "rule.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def make_rule(tmp_path: Path, check: str, *, scope: dict | None = None, sensitivity: str = "Record",
              rule_type: str = "Record Data", rid: str = "CORE-999001"):
    body = f"""\
        Authorities:
          - Organization: CDISC
            Standards:
              - Name: SDTMIG
                Version: "3.4"
                References:
                  - Rule Identifier: {{Id: CG9999, Version: "1"}}
                    Citations: [{{Document: IG v3.4, Section: "4.1", Cited Guidance: A test rule.}}]
        Core: {{Id: {rid}, Status: Published, Version: "1"}}
        Description: A test rule.
        Executability: Fully Executable
        Rule Type: {rule_type}
        Sensitivity: {sensitivity}
        Scope:
          Domains: {{Include: [ALL]}}
        Outcome:
          Message: -- flagged.
        Check:
        """
    rule = load_rule(rule_file(tmp_path, textwrap.dedent(body) + textwrap.indent(textwrap.dedent(check), "  "),
                               f"{rid}.yml"))
    if scope is not None:
        rule.data["Scope"] = scope
    return rule


def dataset(name: str, rows: list[dict], label: str = "") -> Dataset:
    frame = pd.DataFrame(rows)
    return Dataset(name, frame, tuple(Variable(c, c, "Char", 20, i) for i, c in enumerate(frame.columns, start=1)), label,
                   f"{name.lower()}.xpt")


def ae(*rows: dict) -> Dataset:
    base = {"STUDYID": "S1", "DOMAIN": "AE", "USUBJID": "S1-001", "AETERM": "HEADACHE"}
    return dataset("AE", [{**base, "AESEQ": float(i), **r} for i, r in enumerate(rows, start=1)])


def test_01_a_rule_without_check_names_the_file_and_key(tmp_path):
    path = rule_file(tmp_path, """\
        Core: {Id: CORE-1}
        Outcome: {Message: m}
        Rule Type: Record Data
        Sensitivity: Record
        Scope: {Domains: {Include: [ALL]}}
        """)
    with pytest.raises(RuleLoadError) as err:
        load_rule(path)
    assert err.value.key == "Check" and err.value.file == str(path)


def test_02_strict_loading_names_the_unknown_operator_by_its_key(tmp_path):
    path = rule_file(tmp_path, """\
        Core: {Id: CORE-1}
        Outcome: {Message: m}
        Rule Type: Record Data
        Sensitivity: Record
        Scope: {Domains: {Include: [ALL]}}
        Check:
          all:
            - {name: AETERM, operator: non_empty}
            - {name: AETERM, operator: is_spelled_wrongly}
        """)
    assert load_rule(path).operators() == ["non_empty", "is_spelled_wrongly"]      # shipped rules load
    with pytest.raises(RuleLoadError) as err:
        load_rule(path, strict=True)
    assert err.value.key == "Check.all[1].operator" and "is_spelled_wrongly" in str(err.value)


def test_03_load_rules_keeps_going_past_a_broken_file_and_a_duplicate_id(tmp_path):
    make_rule(tmp_path, "all: [{name: AETERM, operator: empty}]", rid="CORE-999001")
    (tmp_path / "broken.yml").write_text("Core: [unclosed\n", encoding="utf-8")
    (tmp_path / "again.yml").write_text((tmp_path / "CORE-999001.yml").read_text(), encoding="utf-8")
    rules, errors = load_rules(tmp_path)
    assert [r.core_id for r in rules] == ["CORE-999001"]
    assert sorted(Path(e.file).name for e in errors) == ["again.yml", "broken.yml"]     # the later file is the duplicate


def test_04_every_shipped_rule_loads_and_names_its_cdisc_rule_id():
    rules, errors = load_rules(rules_folder())
    assert errors == [] and len(rules) == 331
    assert all(r.cdisc_ids for r in rules)
    assert {"CG0176"} <= {i for r in rules for i in r.cdisc_ids}


def test_05_scope_supp_family_split_datasets_and_class(tmp_path):
    supp = dataset("SUPPAE", [{"STUDYID": "S1", "RDOMAIN": "AE", "USUBJID": "S1-001", "QNAM": "X", "QVAL": "1"}])
    lbch = dataset("LBCH", [{"STUDYID": "S1", "DOMAIN": "LB", "USUBJID": "S1-001", "LBTESTCD": "ALT"}])
    study = Study([ae({}), supp, lbch])
    only_supp = make_rule(tmp_path, "all: [{name: QNAM, operator: empty}]", scope={"Domains": {"Include": ["SUPP--"]}})
    findings_only = make_rule(tmp_path, "all: [{name: --TESTCD, operator: empty}]", rid="CORE-999002",
                              scope={"Classes": {"Include": ["FINDINGS"]}, "Domains": {"Include": ["ALL"]}})
    no_split = make_rule(tmp_path, "all: [{name: --TESTCD, operator: empty}]", rid="CORE-999003",
                         scope={"Domains": {"Include": ["LB"], "include_split_datasets": False}})
    assert applies(only_supp, supp, study, LIBRARY)[0] and not applies(only_supp, study.datasets[0], study, LIBRARY)[0]
    assert applies(findings_only, lbch, study, LIBRARY)[0] and not applies(findings_only, study.datasets[0], study, LIBRARY)[0]
    assert lbch.unsplit_name == "LB" and not applies(no_split, lbch, study, LIBRARY)[0]


def test_06_any_survives_a_missing_variable_but_all_does_not(tmp_path):
    study = Study([ae({"AESER": "N", "AESDTH": "Y"}, {"AESER": "Y", "AESDTH": "Y"})])
    any_rule = make_rule(tmp_path, """\
        all:
          - any:
              - {name: AESDTH, operator: equal_to, value: Y}
              - {name: AESLIFE, operator: equal_to, value: Y}
          - {name: AESER, operator: not_equal_to, value: Y}
        """)
    all_rule = make_rule(tmp_path, "all: [{name: AESLIFE, operator: equal_to, value: Y}]", rid="CORE-999002")
    found = run_rule(any_rule, study, LIBRARY)
    assert found.status == ISSUES and [f.row for f in found.findings] == [1]
    missing = run_rule(all_rule, study, LIBRARY)
    assert missing.status == NOT_APPLICABLE and "AESLIFE" in missing.datasets["AE"]


def test_07_equal_to_never_flags_two_empty_values_and_reads_a_column_unless_literal(tmp_path):
    study = Study([ae({"AESTDTC": "", "AEENDTC": ""}, {"AESTDTC": "2020-01-01", "AEENDTC": "2020-01-01"},
                      {"AESTDTC": "2020-01-01", "AEENDTC": ""})])
    same = make_rule(tmp_path, "all: [{name: AESTDTC, operator: equal_to, value: AEENDTC}]")
    differ = make_rule(tmp_path, "all: [{name: AESTDTC, operator: not_equal_to, value: AEENDTC}]", rid="CORE-999002")
    literal = make_rule(tmp_path, "all: [{name: AESTDTC, operator: equal_to, value: AEENDTC, value_is_literal: true}]",
                        rid="CORE-999003")
    assert [f.row for f in run_rule(same, study, LIBRARY).findings] == [2]
    assert [f.row for f in run_rule(differ, study, LIBRARY).findings] == [3]
    assert run_rule(literal, study, LIBRARY).status == PASSED


def test_08_type_insensitive_and_reference_comparisons(tmp_path):
    supp = dataset("SUPPAE", [{"RDOMAIN": "AE", "IDVAR": "AESEQ", "IDVARVAL": "1", "AESEQ": 1.0},
                              {"RDOMAIN": "AE", "IDVAR": "AESEQ", "IDVARVAL": "2.00", "AESEQ": 2.0},
                              {"RDOMAIN": "AE", "IDVAR": "AESEQ", "IDVARVAL": "7", "AESEQ": 3.0}])
    rule = make_rule(tmp_path, "all: [{name: IDVARVAL, operator: not_equal_to, value: IDVAR, value_is_reference: true, "
                               "type_insensitive: true}]")
    assert [f.row for f in run_rule(rule, Study([supp]), LIBRARY).findings] == [3]


def test_09_outcome_record_and_dataset_sensitivity_with_missing_output_variables(tmp_path):
    study = Study([ae({"AESER": "N"}, {"AESER": "N"})])
    record = make_rule(tmp_path, "all: [{name: AESER, operator: equal_to, value: N}]")
    record.data["Outcome"] = {"Message": "-- serious", "Output Variables": ["AETERM", "--SER", "AESLIFE"]}
    found = run_rule(record, study, LIBRARY).findings
    assert [(f.dataset, f.row, f.variables, f.values, f.message) for f in found] == [
        ("AE", 1, ("AETERM", "AESER", "AESLIFE"), ("HEADACHE", "N", "Not in dataset"), "AE serious"),
        ("AE", 2, ("AETERM", "AESER", "AESLIFE"), ("HEADACHE", "N", "Not in dataset"), "AE serious")]
    assert found[0].usubjid == "S1-001" and found[1].seq == 2.0
    dataset_level = make_rule(tmp_path, "all: [{name: AESER, operator: equal_to, value: N}]", sensitivity="Dataset",
                              rid="CORE-999002")
    (one,) = run_rule(dataset_level, study, LIBRARY).findings
    assert one.row is None and one.values == ("N",)


def test_10_split_datasets_are_checked_together_and_findings_name_their_part(tmp_path):
    part = lambda name, value: dataset(name, [{"STUDYID": "S1", "DOMAIN": "LB", "USUBJID": "S1-001",
                                               "LBTESTCD": value}])
    study = Study([part("LBCH", "ALT"), part("LBHE", ""), part("LBUR", "")])
    rule = make_rule(tmp_path, "all: [{name: --TESTCD, operator: empty}]")
    result = run_rule(rule, study, LIBRARY)
    assert [(f.dataset, f.row) for f in result.findings] == [("LBHE", 1), ("LBUR", 1)]
    assert set(result.datasets) == {"LBCH"}       # evaluated once, as LB


def test_11_a_rule_with_an_operator_trialkit_lacks_is_not_executed_with_the_reason(tmp_path):
    rule = make_rule(tmp_path, "all: [{name: AETERM, operator: is_spelled_wrongly}]")
    result = run_rule(rule, Study([ae({})]), LIBRARY)
    assert result.status == NOT_EXECUTED and "operator is_spelled_wrongly" in result.reason and not result.findings


def test_12_value_checks_on_distinct_values_flag_the_same_records_as_on_every_cell(tmp_path, monkeypatch):
    study = Study([ae({"AEOUT": " RECOVERED"}, {"AEOUT": "FATAL"}, {"AEOUT": " RECOVERED"}, {"AEOUT": None})])
    rule = make_rule(tmp_path, "all: [{name: variable_value, operator: matches_regex, value: '^\\s'}]",
                     rule_type="Value Check with Variable Metadata")
    rule.data["Outcome"]["Output Variables"] = ["variable_name", "variable_value"]
    distinct = run_rule(rule, study, LIBRARY)
    from trialkit.validators.core import frames
    monkeypatch.setattr(frames, "record_local", lambda r: False)
    every_cell = run_rule(rule, Study(study.datasets), LIBRARY)
    as_rows = lambda r: [(f.dataset, f.row, f.values) for f in r.findings]
    assert as_rows(distinct) == as_rows(every_cell) == [("AE", 1, ("AEOUT", " RECOVERED")), ("AE", 3, ("AEOUT", " RECOVERED"))]
    assert POSITIONS == "@positions"


def write_sdtm(folder: Path) -> None:
    folder.mkdir()
    frame = pd.DataFrame({"STUDYID": ["S1"] * 2, "DOMAIN": ["AE"] * 2, "USUBJID": ["S1-001", "S1-002"], "AESEQ": [1.0, 1.0],
                          "AETERM": ["HEADACHE", ""]})
    variables = [XptVariable("STUDYID", "Study Identifier", "Char", 2), XptVariable("DOMAIN", "Domain Abbreviation", "Char", 2),
                 XptVariable("USUBJID", "Unique Subject Identifier", "Char", 6), XptVariable("AESEQ", "Sequence Number", "Num"),
                 XptVariable("AETERM", "Reported Term for the Adverse Event", "Char", 8)]
    write_xpt(frame, DatasetMeta("AE", "Adverse Events", tuple(variables)), folder)


def test_13_validate_runs_a_users_rules_dir_and_reports_a_broken_rule_file_by_file_and_key(tmp_path, runner):
    from trialkit.cli import main

    write_sdtm(tmp_path / "sdtm")
    custom = tmp_path / "rules"
    custom.mkdir()
    make_rule(custom, "all: [{name: AETERM, operator: empty}]", rid="SPONSOR-0001")
    rule_file(custom, "Core: {Id: SPONSOR-0002}\nOutcome: {Message: m}\nRule Type: Record Data\nSensitivity: Record\n"
                      "Scope: {Domains: {Include: [ALL]}}\nCheck: {all: [{name: AETERM, operator: emptyy}]}\n", "typo.yml")
    out = tmp_path / "v.json"
    done = runner.invoke(main, ["validate", str(tmp_path / "sdtm"), "--rules", "trialkit", "--rules-dir", str(custom),
                                "--out", str(out)])
    assert done.exit_code == 1, done.output
    report = json.loads(out.read_text())
    mine = [(f["rule"], f["dataset"], f["row"]) for f in report["findings"] if f["rule"] == "SPONSOR-0001"]
    assert mine == [("SPONSOR-0001", "AE", 2)]
    (broken,) = [f for f in report["findings"] if f["rule"] == "TK-RULE-0001"]
    assert broken["dataset"] == "typo.yml" and broken["variable"] == "Check.all[0].operator" and "emptyy" in broken["message"]
    assert not any(f["rule"].startswith("CORE-") for f in report["findings"])


def test_14_junit_lists_core_rules_in_a_suite_of_their_own_with_skip_reasons(tmp_path, runner):
    from trialkit.cli import main

    write_sdtm(tmp_path / "sdtm")
    out = tmp_path / "v.xml"
    runner.invoke(main, ["validate", str(tmp_path / "sdtm"), "--format", "junit", "--out", str(out), "--rules", "core"])
    suites = {s.get("name"): s for s in ET.parse(out).getroot()}
    core = suites["rule files (CDISC CORE, trialkit, yours)"]
    cases = {c.get("name"): c for c in core}
    assert len(cases) == int(core.get("tests")) > 300
    skipped = [c for c in cases.values() if c.find("skipped") is not None]
    assert skipped and all(c.find("skipped").get("message").split(":")[0] in ("not applicable", "not executed")
                           for c in skipped)


def test_15_processes_sharing_the_domain_queue_give_one_processs_results():
    """Test 15: with two processes taking domains from one queue while this one first does other
    work (``alongside``, here slower than several domains), every rule has the same status, the same
    findings in the same order and the same reason as in one process; the other work ran."""
    from reference_data import PILOT_SLICE

    from trialkit.validators.core_findings import run_core
    from trialkit.validators.inputs import read_folder

    files: dict = {}
    frames, _ = read_folder(PILOT_SLICE / "sdtm", "cp1252", files)
    ran = []

    def alongside():
        time.sleep(0.5)
        ran.append(True)

    one = run_core(frames, files, shipped=("core",), workers=1)
    two = run_core(frames, files, shipped=("core",), workers=2, alongside=alongside)
    assert ran == [True]
    assert two[0] == one[0] and len(one[0]) > 0
    strip = lambda runs: [(r.id, r.status, r.findings, r.reason) for r in runs]
    assert strip(two[1]) == strip(one[1])
