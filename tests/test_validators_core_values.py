"""CORE operations on values (validators/core/operations/values.py): distinct, record_count,
variable_count, variable_value_count, min, max, mean; with group, filter, group_aliases."""

from __future__ import annotations

import pytest
from core_context import context

from trialkit.validators.core.context import MissingVariable
from trialkit.validators.core.operations import DomainNotFound

AE = {"DOMAIN": ["AE"] * 4, "USUBJID": ["1", "1", "2", None], "AESEQ": [1.0, 2.0, 1.0, 1.0]}
DS = {"DOMAIN": ["DS"] * 5, "USUBJID": ["1", "1", "2", "3", "1"],
      "DSDECOD": ["DEATH", "COMPLETED", None, "DEATH", "DEATH"],
      "DSCAT": ["DISPOSITION EVENT", "DISPOSITION EVENT", "DISPOSITION EVENT", "OTHER", "PROTOCOL MILESTONE"],
      "EPOCH": ["TREATMENT", "TREATMENT", None, None, "FOLLOW-UP"]}


def values(op: dict, records: dict = AE, name: str = "AE", **others) -> list:
    """The operation's value on each record of dataset ``name`` (with ``others`` in the study)."""
    return context(records, name, others=others, rule_operations=(op,)).frame[op["id"]].tolist()


def test_01_distinct_is_the_sorted_non_empty_values_on_every_record():
    assert values({"id": "$decods", "operator": "distinct", "domain": "DS", "name": "DSDECOD"}, DS=DS) == [
        ["COMPLETED", "DEATH"]] * 4


def test_02_distinct_per_group_an_unmatched_record_gets_none_an_empty_group_an_empty_list():
    op = {"id": "$decods", "operator": "distinct", "domain": "DS", "name": "DSDECOD", "group": ["USUBJID"]}
    assert values(op, DS=DS) == [["COMPLETED", "DEATH"], ["COMPLETED", "DEATH"], [], None]


def test_03_distinct_with_a_filter_and_a_prefix_filter():
    op = {"id": "$d", "operator": "distinct", "domain": "DS", "name": "DSDECOD", "filter": {"DSCAT": "DISPOSITION EVENT"}}
    assert values(op, DS=DS)[0] == ["COMPLETED", "DEATH"]
    op["filter"] = {"DSCAT": "PROTOCOL&"}
    assert values(op, DS=DS)[0] == ["DEATH"]
    op["filter"] = {"DSSCAT": "X"}
    with pytest.raises(MissingVariable):
        values(op, DS=DS)


def test_04_distinct_value_is_reference_keeps_variables_the_referenced_dataset_has():
    supp = {"RDOMAIN": ["AE", "AE", "LB", None], "IDVAR": ["AESEQ", "AESPID", "LBSEQ", "AESEQ"]}
    op = {"id": "$vars", "operator": "distinct", "name": "IDVAR", "value_is_reference": True}
    assert values(op, supp, "SUPPAE", AE=AE)[0] == ["AESEQ"]


def test_05_record_count_in_all_and_with_a_filter():
    assert values({"id": "$n", "operator": "record_count"}) == [4] * 4
    op = {"id": "$n", "operator": "record_count", "domain": "DS", "filter": {"DSDECOD": "DEATH"}}
    assert values(op, DS=DS) == [3] * 4


def test_06_record_count_per_group_counts_filtered_records_with_non_empty_keys():
    op = {"id": "$n", "operator": "record_count", "domain": "DS", "group": ["USUBJID"],
          "filter": {"DSCAT": "DISPOSITION EVENT"}}
    assert values(op, DS=DS) == [2, 2, 1, None]
    op = {"id": "$n", "operator": "record_count", "domain": "DS", "group": ["USUBJID", "EPOCH"],
          "filter": {"DSCAT": "DISPOSITION EVENT"}}
    records = {k: v for k, v in DS.items() if k != "DOMAIN"}
    assert values(op, records, DS=DS) == [2, 2, 0, 0, 0]
    del op["filter"]
    assert values(op, records, DS=DS) == [2, 2, 1, 1, 1]


def test_07_record_count_regex_groups_by_the_matched_part():
    lb = {"USUBJID": ["1", "1", "1"], "LBDTC": ["2022-01-14T08:00", "2022-01-14T09:00", "2022-01-15"]}
    op = {"id": "$n", "operator": "record_count", "group": ["USUBJID", "LBDTC"], "regex": r"^\d{4}-\d{2}-\d{2}"}
    assert values(op, lb) == [2, 2, 1]


def test_08_group_aliases_match_the_groups_on_other_variables():
    supp = {"USUBJID": ["1", "1", "2"], "IDVARVAL": ["7", "7", "8"], "QNAM": ["T1", "T1", "T1"]}
    records = {"USUBJID": ["1", "2", "2"], "GROUPID": ["7", "8", "9"]}
    op = {"id": "$n", "operator": "record_count", "domain": "SUPPXX", "group": ["USUBJID", "IDVARVAL"],
          "group_aliases": ["USUBJID", "GROUPID"]}
    assert values(op, records, SUPPXX=supp) == [2, 1, None]


def test_09_variable_count_counts_domains_with_the_variable():
    lb = {"DOMAIN": ["LB"], "LBLNKID": ["X"]}
    cm = {"DOMAIN": ["CM"], "CMTRT": ["X"]}
    records = {"DOMAIN": ["AE"], "AELNKID": ["X"]}
    assert values({"id": "$n", "operator": "variable_count", "name": "--LNKID"}, records, LB=lb, CM=cm) == [2]


def test_10_variable_value_count_counts_domains_holding_each_value():
    op = {"id": "$n", "operator": "variable_value_count", "name": "USUBJID"}
    counts = values(op, DS=DS)[0]
    assert counts["1"] == 2 and counts["2"] == 2 and counts["3"] == 1


def test_11_min_max_mean_overall_and_per_group():
    vs = {"USUBJID": ["1", "1", "2"], "VSSTRESN": [10.0, 20.0, 5.0]}
    assert values({"id": "$m", "operator": "max", "name": "VSSTRESN"}, vs) == [20.0] * 3
    assert values({"id": "$m", "operator": "min", "name": "VSSTRESN", "group": ["USUBJID"]}, vs) == [10.0, 10.0, 5.0]
    assert values({"id": "$m", "operator": "mean", "name": "VSSTRESN", "group": ["USUBJID"]}, vs) == [15.0, 15.0, 5.0]


def test_12_without_a_domain_a_metadata_frame_reads_the_datasets_records():
    op = {"id": "$domains", "operator": "distinct", "name": "DOMAIN"}
    ctx = context(AE, rule_operations=(op,), evaluated={"variable_name": ["STUDYID", "AESEQ"]})
    assert ctx.frame["$domains"].tolist() == [["AE"], ["AE"]]


def test_13_a_domain_the_study_lacks_and_a_missing_target():
    with pytest.raises(DomainNotFound):
        values({"id": "$d", "operator": "distinct", "domain": "TV", "name": "VISITNUM"})
    with pytest.raises(MissingVariable):
        values({"id": "$d", "operator": "distinct", "name": "VISITNUM"})


def test_14_an_operation_reading_another_dataset_is_computed_once_for_every_domain_and_rule():
    """distinct of DS per subject is built once and kept with DS's records (Operation.per_source):
    evaluated on AE and then on CM, by two rules, and with another filter, each gets what a study
    computing it afresh gives; only a change of call (the filter) builds it again."""
    import pandas as pd

    from trialkit.validators.core import operations
    from trialkit.validators.core.context import Context
    from trialkit.validators.core.rules import CoreRule
    from trialkit.validators.core.study import Dataset, Study

    cm = {"DOMAIN": ["CM"] * 3, "USUBJID": ["3", "1", "4"], "CMSEQ": [1.0, 1.0, 1.0]}
    grouped = {"operator": "distinct", "domain": "DS", "name": "DSDECOD", "group": ["USUBJID"]}
    filtered = {**grouped, "filter": {"DSCAT": "DISPOSITION EVENT"}}

    def run(study: Study, name: str, op: dict) -> list:
        dataset = study.by_name(name)
        rule = CoreRule("CORE-TEST", "test", {"Check": {}, "Operations": [op]})
        ctx = Context(study.content(dataset), dataset, study, None, rule, wildcard=name)
        return operations.apply(ctx)[op["id"]].tolist()

    def fresh() -> Study:
        return Study([Dataset("AE", pd.DataFrame(AE)), Dataset("CM", pd.DataFrame(cm)), Dataset("DS", pd.DataFrame(DS))])

    operations.known()          # registers the operations
    shared = fresh()
    calls = [("AE", {"id": "$a", **grouped}), ("CM", {"id": "$b", **grouped}), ("CM", {"id": "$c", **grouped}),
             ("AE", {"id": "$d", **filtered})]
    for name, op in calls:
        assert run(shared, name, op) == run(fresh(), name, op)
    assert len(shared._derived) == 2
    assert run(shared, "CM", calls[1][1]) == [["DEATH"], ["COMPLETED", "DEATH"], None]


def test_15_an_operation_value_repeated_on_every_record_is_the_one_object_as_a_list_would_make_it():
    """context.repeated (an operation's single value on every record, a literal list as comparator) is
    the column pandas makes of ``[value] * n``: the same object on each record, lists and tuples kept
    whole, numbers and None as they are."""
    import pandas as pd

    from trialkit.validators.core.context import repeated

    index = pd.RangeIndex(5, 12)
    for value in ([1, 2], [], (1, 2), {"A": 1}, {3}, None, 5, 2.5, float("nan"), "X", __import__("numpy").int64(3)):
        made, listed = repeated(value, index), pd.Series([value] * len(index), index=index, dtype=object)
        pd.testing.assert_series_equal(made, listed)
        assert all(a is b for a, b in zip(made, listed))
    assert repeated([1], pd.RangeIndex(0)).empty
