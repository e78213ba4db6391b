"""trialkit's own rule files (specs/rules/trialkit, CORE format): each flags the records it describes
and nothing else, on tiny inline studies (numbered cases)."""

from __future__ import annotations

import pandas as pd

from trialkit.validators.core.engine import run_rule
from trialkit.validators.core.library import load_library
from trialkit.validators.core.rules import load_rule, load_rules, rules_folder
from trialkit.validators.core.study import Dataset, Study, Variable

LIBRARY = load_library("sdtmig", "3.4")


def rule(rule_id: str):
    return load_rule(rules_folder("trialkit") / f"{rule_id}.yml", strict=True)


def dataset(name: str, rows: list[dict], types: dict[str, str] | None = None) -> Dataset:
    frame = pd.DataFrame(rows)
    variables = tuple(Variable(c, c, (types or {}).get(c, "Char"), 20, i) for i, c in enumerate(frame.columns, start=1))
    return Dataset(name, frame, variables, name, f"{name.lower()}.xpt")


def flagged(rule_id: str, *datasets: Dataset) -> list[tuple[str, int | None]]:
    return [(f.dataset, f.row) for f in run_rule(rule(rule_id), Study(list(datasets)), LIBRARY).findings]


def records(domain: str, rows: list[dict]) -> list[dict]:
    return [{"STUDYID": "S1", "DOMAIN": domain, "USUBJID": f"S1-{i:03d}", **r} for i, r in enumerate(rows, start=1)]


def test_01_every_trialkit_rule_file_loads_strictly_with_a_severity_and_a_pinnacle21_id():
    rules, errors = load_rules(rules_folder("trialkit"), strict=True)
    assert errors == [] and len(rules) == 7
    assert all(r.severity in ("error", "warning", "notice") for r in rules)
    assert all(i.startswith("SD") for r in rules for i in r.cdisc_ids)


def test_02_an_event_that_occurred_needs_an_end_time_point():
    ae = dataset("AE", records("AE", [
        {"AETERM": "HEADACHE", "AESTDTC": "2020-01-01", "AEENDTC": "", "AEENRF": ""},           # flagged
        {"AETERM": "NAUSEA", "AESTDTC": "2020-01-01", "AEENDTC": "2020-01-03", "AEENRF": ""},
        {"AETERM": "RASH", "AESTDTC": "2020-01-01", "AEENDTC": "", "AEENRF": "ONGOING"},
    ]))
    assert flagged("TK-SDTM-0101", ae) == [("AE", 1)]


def test_03_a_numeric_result_lacks_its_unit_only_where_the_test_has_units():
    lb = dataset("LB", records("LB", [
        {"LBTESTCD": "ALT", "LBORRES": "12", "LBORRESU": "U/L", "LBSTRESC": "12", "LBSTRESU": "U/L"},
        {"LBTESTCD": "ALT", "LBORRES": "13", "LBORRESU": "", "LBSTRESC": "13", "LBSTRESU": ""},        # both
        {"LBTESTCD": "PH", "LBORRES": "6.5", "LBORRESU": "", "LBSTRESC": "6.5", "LBSTRESU": ""},      # unitless
        {"LBTESTCD": "HCT", "LBORRES": "41", "LBORRESU": "%", "LBSTRESC": "41", "LBSTRESU": ""},      # STRESU only
        {"LBTESTCD": "ALT", "LBORRES": "POSITIVE", "LBORRESU": "", "LBSTRESC": "POSITIVE", "LBSTRESU": ""},
    ]))
    assert flagged("TK-SDTM-0102", lb) == [("LB", 2)]
    assert flagged("TK-SDTM-0103", lb) == [("LB", 2), ("LB", 4)]


def test_04_actual_arm_differs_from_planned_arm():
    dm = dataset("DM", records("DM", [
        {"ARMCD": "A", "ACTARMCD": "A"}, {"ARMCD": "A", "ACTARMCD": "B"}, {"ARMCD": "", "ACTARMCD": ""}]))
    assert flagged("TK-SDTM-0104", dm) == [("DM", 2)]


def test_05_a_treated_subject_without_a_baseline_lab_record():
    dm = dataset("DM", records("DM", [{"ACTARMCD": "A"}, {"ACTARMCD": "A"}, {"ACTARMCD": "SCRNFAIL"},
                                      {"ACTARMCD": "Scrnfail"}]))
    lb = dataset("LB", [{"STUDYID": "S1", "DOMAIN": "LB", "USUBJID": "S1-001", "LBTESTCD": "ALT", "LBLOBXFL": "Y"},
                        {"STUDYID": "S1", "DOMAIN": "LB", "USUBJID": "S1-002", "LBTESTCD": "ALT", "LBLOBXFL": ""}])
    assert flagged("TK-SDTM-0106", dm, lb) == [("DM", 2)]      # screen failures, in either case, are not treated
    lb_32 = dataset("LB", [{**r, "LBBLFL": r.pop("LBLOBXFL")} for r in lb.frame.to_dict("records")])
    assert flagged("TK-SDTM-0105", dm, lb_32) == [("DM", 2)]


def test_06_a_model_variable_added_to_a_standard_domain_is_noticed_once_per_variable():
    ae = dataset("AE", records("AE", [{"AESEQ": 1.0, "AETERM": "HEADACHE", "AEDECOD": "Headache", "AEDTC": "2020-01-02",
                                       "AEDY": 2.0, "ZZFLAG": "Y"}]), types={"AESEQ": "Num", "AEDY": "Num"})
    found = run_rule(rule("TK-SDTM-0107"), Study([ae]), LIBRARY).findings
    assert [f.values[0] for f in found] == ["AEDTC", "AEDY"]       # ZZFLAG is no model variable; AETERM is the IG's
    assert all(f.row is not None for f in found)
