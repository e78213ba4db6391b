"""Match Datasets on Spark (validators/core/spark_joins.py): on small hand-written studies, a rule
joining another dataset gives on Spark the pandas engine's status and findings, field for field
(record numbers, values, USUBJID, --SEQ), and really runs there (not "not run on spark"): inner
and left joins, Left / Right key pairs, a right side with several records per key (the left record
repeated), null keys (text and numbers), a key one side lacks and an inner join leaving no record (not applicable on
both), clashing columns (``.DM``) and ``DM.X`` names. The relationship merges stay not executed on Spark, with the reason.
A ``distinct`` operation with a ``filter`` keeps the same records on both engines. Tests 12-22 do
the same for the other steps of CORE on Spark: record-wise and grouped operators, operations, checks
against library metadata, value checks.

One local Spark session (1 worker) serves the module; each study is written as Parquet and read by
both engines' readers.
"""

from __future__ import annotations

from pathlib import Path

import narwhals as nw
import pandas as pd
import pytest

from trialkit.validators.core.engine import NOT_EXECUTED, run_rules
from trialkit.validators.core.library import Library, load_library
from trialkit.validators.core.on_spark import run_on_spark
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import study_from_frames
from trialkit.validators.inputs import read_folder
from trialkit.validators.spark_engine import NOT_ON_SPARK, ROW, read_spark_folder

pytestmark = pytest.mark.spark
LIBRARY = Library("sdtmig", "3.4", {})
MASTER = "local[1]"          # the session of the spark fixture (tests/conftest.py)
AE = pd.DataFrame({"STUDYID": ["S"] * 4, "DOMAIN": ["AE"] * 4, "USUBJID": ["1", "2", "9", None],
                   "AESEQ": [1.0, 2.0, 3.0, 4.0], "AEREFID": ["R1", "R2", "R3", None],
                   "AESTDTC": ["2024-01-02", "2024-02-01", "2024-03-01", "2024-04-01"]})
DM = pd.DataFrame({"STUDYID": ["S", "S", "S"], "DOMAIN": ["DM"] * 3, "USUBJID": ["1", "2", None],
                   "REFID": ["R2", "R1", None], "RFSTDTC": ["2024-01-01", "2024-02-01", "2024-05-01"],
                   "AGE": [30.0, 40.0, 70.0]})


def rule(match: list[dict], check: dict, outputs: tuple[str, ...] = ()) -> CoreRule:
    return CoreRule("CORE-J", "test", {
        "Authorities": [{"Standards": [{"Name": "SDTMIG", "Version": "3.4"}]}], "Rule Type": "Record Data",
        "Sensitivity": "Record", "Scope": {"Domains": {"Include": ["AE"]}},
        "Check": check, "Match Datasets": match, "Outcome": {"Message": "m", "Output Variables": list(outputs)}})


def both(spark, tmp_path: Path, rule: CoreRule, library: Library = LIBRARY, row_groups: int | None = None,
         **datasets: pd.DataFrame):
    """The rule's result on the pandas engine and on Spark, over the datasets written as Parquet
    (``row_groups``: records per row group, else one)."""
    for name, frame in {"AE": AE, "DM": DM, **datasets}.items():
        frame.to_parquet(tmp_path / f"{name.lower()}.parquet", index=False, row_group_size=row_groups)
    frames, _ = read_folder(tmp_path)
    on_pandas = run_rules([rule], study_from_frames(frames, {}, "sdtmig", "3-4"), library)[0]
    lazy, _, files = read_spark_folder(spark, tmp_path)
    on_spark = run_on_spark([rule], lazy, files, ROW, "sdtmig", "3-4", library)[0]
    return on_pandas, on_spark


def same(spark, tmp_path: Path, rule: CoreRule, library: Library = LIBRARY, row_groups: int | None = None,
         **datasets: pd.DataFrame):
    """The pandas engine's result, after asserting Spark ran the rule and gave the same."""
    on_pandas, on_spark = both(spark, tmp_path, rule, library, row_groups, **datasets)
    assert not on_spark.reason.startswith(NOT_ON_SPARK), on_spark.reason
    assert (on_spark.status, on_spark.findings) == (on_pandas.status, on_pandas.findings)
    return on_pandas


def rows(result) -> list[tuple]:
    return [(f.row, f.values) for f in result.findings]


NO_START = {"all": [{"name": "RFSTDTC", "operator": "empty"}]}


def test_01_inner_join_drops_records_without_a_partner_left_join_keeps_them(spark, tmp_path):
    inner = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"]}], NO_START, ("RFSTDTC",)))
    assert inner.status == "passed"
    left = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"], "Join Type": "left"}], NO_START,
                                      ("USUBJID", "RFSTDTC")))
    assert rows(left) == [(3, ("9", None))]


def test_02_null_keys_meet_null_keys_as_in_pandas(spark, tmp_path):
    check = {"all": [{"name": "AGE", "operator": "greater_than", "value": 60}]}
    result = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"]}], check, ("USUBJID", "AGE")))
    assert rows(result) == [(4, (None, 70.0))]


def test_03_numeric_keys_missing_values_meet_too_and_text_with_numbers_stays_off_spark(spark, tmp_path):
    ae, dm = AE.assign(AESEQ=[1.0, 2.0, None, 4.0]), DM.assign(AGE=[4.0, None, 1.0])
    check = {"all": [{"name": "USUBJID.DM", "operator": "non_empty"}]}
    match = [{"Name": "DM", "Keys": [{"Left": "AESEQ", "Right": "AGE"}], "Join Type": "left"}]
    result = same(spark, tmp_path, rule(match, check, ("AESEQ", "USUBJID.DM")), AE=ae, DM=dm)
    assert rows(result) == [(3, (None, "2")), (4, (4.0, "1"))]
    match = [{"Name": "DM", "Keys": [{"Left": "USUBJID", "Right": "AGE"}]}]
    _, on_spark = both(spark, tmp_path, rule(match, check), DM=dm)
    assert on_spark.reason == f"{NOT_ON_SPARK}: joining DM on USUBJID = AGE, text with numbers, is not on spark yet"


def test_04_left_and_right_key_pairs_resolve_the_domain_prefix(spark, tmp_path):
    check = {"all": [{"name": "USUBJID", "operator": "not_equal_to", "value": "USUBJID.DM"}]}
    match = [{"Name": "DM", "Keys": [{"Left": "--REFID", "Right": "REFID"}], "Join Type": "left"}]
    result = same(spark, tmp_path, rule(match, check, ("AEREFID", "USUBJID.DM")))
    assert rows(result) == [(1, ("R1", "2")), (2, ("R2", "1")), (3, ("R3", None))]


def test_05_a_right_side_with_several_records_per_key_repeats_the_left_record(spark, tmp_path):
    dm = pd.DataFrame({"STUDYID": ["S"] * 4, "DOMAIN": ["DM"] * 4, "USUBJID": ["2", "1", "2", "1"],
                       "AGE": [40.0, 36.0, 50.0, None]})
    check = {"any": [{"name": "AGE", "operator": "greater_than", "value": 35}, {"name": "AGE", "operator": "empty"}]}
    for join in ("inner", "left"):
        result = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"], "Join Type": join}], check,
                                            ("AGE",)), DM=dm)
        assert rows(result) == [(1, (36.0,)), (1, (None,)), (2, (40.0,)), (2, (50.0,))] + \
            ([(3, (None,)), (4, (None,))] if join == "left" else [])


def test_06_a_key_one_side_lacks_makes_the_rule_not_applicable_on_both(spark, tmp_path):
    for keys in (["AEREFID"], [{"Left": "USUBJID", "Right": "SUBJID"}]):
        result = same(spark, tmp_path, rule([{"Name": "DM", "Keys": keys}], NO_START))
        assert result.status == "not applicable"


def test_07_an_inner_join_leaving_no_record_is_not_applicable_on_both(spark, tmp_path):
    dm = DM.assign(USUBJID=["7", "8", "8"])
    result = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"]}], NO_START), DM=dm)
    assert result.status == "not applicable"


def test_08_clashing_columns_take_the_suffix_and_checked_names_are_renamed(spark, tmp_path):
    check = {"all": [{"name": "DOMAIN.DM", "operator": "equal_to", "value": "DM"},
                     {"name": "DM.AGE", "operator": "greater_than", "value": 60}]}
    result = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["STUDYID", "USUBJID"]}], check,
                                        ("DOMAIN", "DOMAIN.DM", "DM.AGE", "STUDYID.DM")))
    assert rows(result) == [(4, ("AE", "DM", 70.0, "Not in dataset"))]


def test_09_the_relationship_merges_stay_not_executed_on_spark(spark, tmp_path):
    suppae = pd.DataFrame({"STUDYID": ["S"], "RDOMAIN": ["AE"], "USUBJID": ["1"], "IDVAR": ["AESEQ"],
                           "IDVARVAL": ["1"], "QNAM": ["AEX"], "QVAL": ["Y"]})
    for match, why in [([{"Name": "SUPP--", "Keys": ["USUBJID"]}], "SUPP-- (a relationship merge)"),
                       ([{"Name": "AE", "Keys": ["USUBJID"], "Child": True}], "AE as Child")]:
        _, on_spark = both(spark, tmp_path, rule(match, NO_START), SUPPAE=suppae)
        assert on_spark.status == NOT_EXECUTED
        assert on_spark.reason == f"{NOT_ON_SPARK}: Match Datasets {why} is not on spark yet"


def test_10_a_reason_names_a_joined_variable_as_the_rule_writes_it():
    """Test 10: a condition not on Spark over a joined column (held as DM@RFSTDTC there) gives its
    reason with the rule's name, DM.RFSTDTC; other text is left as it is."""
    from trialkit.validators.core.context import Condition
    from trialkit.validators.core.spark_joins import as_written, spark_condition

    cond = Condition("date_greater_than", "AESTDTC", "DM.RFSTDTC", {})
    held = spark_condition(cond, {"AESTDTC": None, "DM@RFSTDTC": None})
    assert held.value == "DM@RFSTDTC"
    reason = f"operator date_greater_than on column {held.value} of text has no expression yet (a@b)"
    assert as_written(reason, cond) == "operator date_greater_than on column DM.RFSTDTC of text has no expression yet (a@b)"


def with_distinct(kept: dict) -> CoreRule:
    """AE records whose subject is not among DM's subjects passing ``kept`` (a distinct operation's filter)."""
    found = rule([], {"all": [{"name": "USUBJID", "operator": "is_not_contained_by", "value": "$subjects"}]}, ("USUBJID",))
    found.data["Operations"] = [{"id": "$subjects", "operator": "distinct", "domain": "DM", "name": "USUBJID",
                                 "filter": kept}]
    return found


def test_11_a_distinct_operation_keeps_the_records_its_filter_names(spark, tmp_path):
    """``filter`` on Spark as operations/values._kept reads it: a number equal to a number, a text
    starting with the part before ``&``, a text never equal to a number nor a number to a text."""
    aged_40 = same(spark, tmp_path, with_distinct({"AGE": 40}))                 # DM subject 2 only
    assert [r for r, _ in rows(aged_40)] == [1, 3, 4]
    # every DM record, the one without USUBJID too: a missing Char value is '' on both engines (the
    # Parquet null read as read_parquet reads it), so AE's record without USUBJID is in the list
    started = same(spark, tmp_path, with_distinct({"RFSTDTC": "2024-0&"}))
    assert [r for r, _ in rows(started)] == [3]
    for mismatched in ({"REFID": 1}, {"AGE": "40"}):                            # no DM record kept
        assert [r for r, _ in rows(same(spark, tmp_path, with_distinct(mismatched)))] == [1, 2, 3, 4]


def test_12_conditions_without_an_expression_run_on_spark_by_the_operators_code(spark, tmp_path):
    """Record-wise operators without an expression (validators/core/spark_record_wise.py) run on
    Spark as the pandas engine runs them: date comparisons against a joined DM date (partial dates
    compared at their shared precision, an invalid date never compared), completeness,
    ``type_insensitive`` equality, numeric order of text, a reference to another column by name."""
    ae = AE.assign(AESTDTC=["2024-01", "2024-01-31", "2024-13-01", "2024-04-01T10:00"],
                   AETEXT=["1.0", "2", "x", None], AENUM=[1.0, 3.0, None, 4.0],
                   AEREF=["AESTDTC", "AETEXT", "NOPE", None])
    before = {"all": [{"name": "AESTDTC", "operator": "date_less_than_or_equal_to", "value": "DM.RFSTDTC"}]}
    found = same(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"], "Join Type": "left"}], before,
                                       ("AESTDTC", "DM.RFSTDTC")), AE=ae)
    assert rows(found) == [(1, ("2024-01", "2024-01-01")), (2, ("2024-01-31", "2024-02-01")),
                           (4, ("2024-04-01T10:00", "2024-05-01"))]
    checks = {
        "is_incomplete_date": ({"name": "AESTDTC", "operator": "is_incomplete_date"}, [1, 3]),
        "type_insensitive": ({"name": "AETEXT", "operator": "not_equal_to", "value": "AENUM",
                              "type_insensitive": True}, [2, 3, 4]),
        "text order": ({"name": "AETEXT", "operator": "less_than_or_equal_to", "value": 1.5}, [1]),
        "reference": ({"name": "AESTDTC", "operator": "equal_to", "value": "AEREF", "value_is_reference": True}, [1]),
    }
    for what, (cond, flagged) in checks.items():
        assert [r for r, _ in rows(same(spark, tmp_path, rule([], {"all": [cond]}), AE=ae))] == flagged, what


def test_13_an_operator_reading_any_record_of_the_dataset_stays_off_spark_with_its_reason(spark, tmp_path):
    """An across-records operator without groups (``has_same_values`` reads the whole dataset), or one
    with groups on a joined frame, is not executed on Spark, the reason naming it; a rule with such a
    condition beside a record-wise one adds no flag column to its dataset's job."""
    whole = {"all": [{"name": "AESTDTC", "operator": "is_complete_date"}, {"name": "AEREFID", "operator": "has_different_values"}]}
    _, on_spark = both(spark, tmp_path, rule([], whole))
    assert on_spark.status == NOT_EXECUTED
    assert on_spark.reason.startswith(f"{NOT_ON_SPARK}: operator has_different_values"), on_spark.reason
    within = {"all": [{"name": "AESEQ", "operator": "target_is_not_sorted_by", "within": "USUBJID",
                       "value": [{"name": "AESTDTC", "sort_order": "asc"}]}]}
    _, on_spark = both(spark, tmp_path, rule([{"Name": "DM", "Keys": ["USUBJID"]}], within))
    assert on_spark.status == NOT_EXECUTED
    assert on_spark.reason.startswith(f"{NOT_ON_SPARK}: operator target_is_not_sorted_by"), on_spark.reason


def with_operations(check: dict, *calls: dict) -> CoreRule:
    found = rule([], check, ("AESEQ",))
    found.data["Operations"] = list(calls)
    return found


def test_14_operations_reading_metadata_or_counting_records_run_on_spark(spark, tmp_path):
    """``record_count`` of a dataset (its filter as ``distinct``'s) counted by Spark, and the operations
    that read metadata (``variable_count``, ``domain_label``, ``study_domains``) run by the pandas
    engine's code on the driver: each result a column on every record (a list a literal list), as the
    pandas engine adds it, so a condition may name it as its target or its value."""
    counted = with_operations({"all": [{"name": "$n", "operator": "greater_than", "value": 2},
                                       {"name": "AESEQ", "operator": "greater_than", "value": "$started"}]},
                              {"id": "$n", "operator": "record_count", "domain": "DM", "name": "USUBJID",
                               "filter": {"STUDYID": "S"}},
                              {"id": "$started", "operator": "record_count", "domain": "DM", "name": "USUBJID",
                               "filter": {"RFSTDTC": "2024-01&"}})
    assert [r for r, _ in rows(same(spark, tmp_path, counted))] == [2, 3, 4]    # 3 DM records, 1 started in January
    metadata = with_operations({"all": [{"name": "$vc", "operator": "equal_to", "value": 1},
                                        {"name": "AEREFID", "operator": "not_equal_to", "value": "$label"},
                                        {"name": "DOMAIN", "operator": "is_contained_by", "value": "$domains"}]},
                               {"id": "$vc", "operator": "variable_count", "name": "--REFID"},
                               {"id": "$label", "operator": "domain_label"},
                               {"id": "$domains", "operator": "study_domains"})
    assert [r for r, _ in rows(same(spark, tmp_path, metadata))] == [1, 2, 3]
    wider = with_operations({"all": [{"name": "$vc", "operator": "equal_to", "value": 2}]},
                            {"id": "$vc", "operator": "variable_count", "name": "REFID"})
    assert same(spark, tmp_path, wider).status == "passed"           # only DM has REFID (count 1)


def test_15_grouped_operations_run_on_spark_by_their_pandas_code_group_by_group(spark, tmp_path):
    """``min_date`` and ``record_count`` per group (spark_operations.py): the records shuffled by the
    group, each group's value by the pandas engine's code, matched back onto the records: a record
    whose group the operation lacks gets none, a null key meets a null key, ``group_aliases`` name
    the records' side."""
    ae = AE.assign(USUBJID=["1", "1", "2", None], AESTDTC=["2024-01-05", "2024-01", "2024-02-01", "2024-04-01"])
    first = with_operations({"all": [{"name": "AESTDTC", "operator": "not_equal_to", "value": "$first"}]},
                            {"id": "$first", "operator": "min_date", "domain": "AE", "name": "--STDTC", "group": ["USUBJID"]})
    # a missing USUBJID is '' once read from Parquet, a group of its own: record 4 is its group's first
    assert [r for r, _ in rows(same(spark, tmp_path, first, AE=ae))] == [1]
    counted = with_operations({"all": [{"name": "$n", "operator": "greater_than", "value": 1}]},
                              {"id": "$n", "operator": "record_count", "domain": "AE", "name": "USUBJID", "group": ["USUBJID"]})
    assert [r for r, _ in rows(same(spark, tmp_path, counted, AE=ae))] == [1, 2]
    aliased = with_operations({"all": [{"name": "$c", "operator": "empty"}]},
                              {"id": "$c", "operator": "record_count", "domain": "DM", "name": "REFID", "group": ["REFID"],
                               "group_aliases": ["AEREFID"]})
    assert [r for r, _ in rows(same(spark, tmp_path, aliased))] == [3]
    numbers = with_operations({"all": [{"name": "$c", "operator": "empty"}]},       # a null number is a group too
                              {"id": "$c", "operator": "record_count", "domain": "DM", "name": "AGE", "group": ["AGE"],
                               "group_aliases": ["AESEQ"]})
    assert [r for r, _ in rows(same(spark, tmp_path, numbers, AE=AE.assign(AESEQ=[30.0, 40.0, None, 4.0]),
                                    DM=DM.assign(AGE=[30.0, None, 70.0])))] == [2, 4]
    # a group naming an operation's result (a list of variables) is not run on Spark, never not applicable
    listed = with_operations({"all": [{"name": "$n", "operator": "greater_than", "value": 1}]},
                             {"id": "$names", "operator": "dataset_names"},
                             {"id": "$n", "operator": "record_count", "domain": "AE", "name": "USUBJID",
                              "group": ["USUBJID", "$names"]})
    _, on_spark = both(spark, tmp_path, listed)
    assert on_spark.status == NOT_EXECUTED
    assert on_spark.reason == f"{NOT_ON_SPARK}: operation $n groups by an operation's result", on_spark.reason


def test_16_under_match_datasets_an_operation_on_the_own_domain_reads_the_joined_records(spark, tmp_path):
    """With Match Datasets, an operation reading the evaluated dataset's own domain reads the joined
    frame, as the pandas engine reads its merged frame (a record repeated by two partners counts
    twice); one reading another domain reads that dataset's own records."""
    dm = pd.concat([DM, DM.iloc[[0]]], ignore_index=True)              # subject 1 twice in DM
    counted = rule([{"Name": "DM", "Keys": ["USUBJID"]}],
                   {"all": [{"name": "$n", "operator": "greater_than", "value": 1},
                            {"name": "USUBJID", "operator": "is_contained_by", "value": "$subjects"}]}, ("AESEQ",))
    counted.data["Operations"] = [
        {"id": "$n", "operator": "record_count", "domain": "AE", "name": "USUBJID", "group": ["USUBJID"]},
        {"id": "$subjects", "operator": "distinct", "domain": "DM", "name": "USUBJID"}]
    assert [r for r, _ in rows(same(spark, tmp_path, counted, DM=dm))] == [1, 1]


def test_17_the_study_day_operation_runs_on_spark_against_each_subjects_first_dm_record(spark, tmp_path):
    """``dy`` on Spark: each DM subject's first RFSTDTC joined onto the records and the study day
    computed by the pandas engine's code (no day 0; none without a DM subject)."""
    ae = AE.assign(AESTDY=[2.0, 1.0, 7.0, None])
    dm = pd.concat([DM, DM.iloc[[1]].assign(RFSTDTC="2024-03-01")], ignore_index=True)   # subject 2 again, later
    found = with_operations({"all": [{"name": "AESTDY", "operator": "not_equal_to", "value": "$dy"}]},
                            {"id": "$dy", "operator": "dy", "name": "--STDTC"})
    assert [r for r, _ in rows(same(spark, tmp_path, found, AE=ae, DM=dm))] == [3, 4]
    joined = rule([{"Name": "DM", "Keys": ["USUBJID"]}], {"all": [{"name": "AESTDY", "operator": "equal_to", "value": "$dy"}]})
    joined.data["Operations"] = [{"id": "$dy", "operator": "dy", "name": "--STDTC"}]
    assert [r for r, _ in rows(same(spark, tmp_path, joined, AE=ae))] == [1, 2]


def test_18_across_records_operators_run_on_spark_on_whole_groups(spark, tmp_path):
    """Operators whose verdict reads the other records of a group (order within a subject, the next
    record, the last record, the most frequent value) run on Spark by their pandas code, the records
    shuffled by the group (spark_record_wise.py): the pandas engine's findings record for record."""
    ae = AE.assign(USUBJID=["1", "1", "2", "2"], AESEQ=[2.0, 1.0, 1.0, 2.0],
                   AESTDTC=["2024-01-02", "2024-01-05", "2024-02-01", "2024-02-03"],
                   AEENDTC=["2024-01-05", "", "2024-02-04", "2024-02-09"], AEOUT=["A", "B", "A", "A"])
    checks = {
        "sorted": ({"name": "AESEQ", "operator": "target_is_not_sorted_by", "within": "USUBJID",
                    "value": [{"name": "--STDTC", "sort_order": "asc"}]}, [1, 2]),
        "next": ({"name": "AEENDTC", "operator": "does_not_have_next_corresponding_record", "ordering": "AESEQ",
                  "value": "AESTDTC", "within": "USUBJID"}, [2, 3]),
        "last": ({"name": "AEENDTC", "operator": "empty_within_except_last_row", "ordering": "AESEQ",
                  "value": "USUBJID"}, [2]),
        "frequent": ({"name": "AEOUT", "operator": "is_inconsistent_across_dataset", "value": ["DOMAIN", "AENOPE"]}, [2]),
    }
    for what, (cond, flagged) in checks.items():
        assert [r for r, _ in rows(same(spark, tmp_path, rule([], {"all": [cond]}), AE=ae))] == flagged, what


def test_19_an_operators_code_failing_in_a_spark_task_leaves_its_rules_not_executed(spark, tmp_path):
    """A condition whose operator code fails in a Spark task (here a regex Python cannot compile)
    fails that dataset's job: its rules are not executed, the reason naming the error; the run goes on."""
    broken = rule([], {"all": [{"name": "AESTDTC", "operator": "matches_regex", "value": "(2024"}]})
    for frame in (AE, DM):
        frame.to_parquet(tmp_path / f"{frame['DOMAIN'].iat[0].lower()}.parquet", index=False)
    lazy, _, files = read_spark_folder(spark, tmp_path)
    result = run_on_spark([broken], lazy, files, ROW, "sdtmig", "3-4", LIBRARY)[0]
    assert result.status == NOT_EXECUTED
    assert result.reason.startswith(f"{NOT_ON_SPARK}: the Spark job evaluating it on AE failed: "), result.reason
    assert "missing ), unterminated subpattern" in result.reason, result.reason


def test_20_a_check_against_library_metadata_counts_empty_values_over_every_record(spark, tmp_path):
    """A Variable Metadata Check against Library Metadata on Spark: the variable rows and the IG's
    metadata by the pandas engine's code, whether each variable is partly or wholly empty counted by
    Spark over every record (null, NaN and '' as context.empty counts them), not read off the first
    record the driver holds (which has no empty value here)."""
    ae = AE.assign(AESEV=pd.Series([None] * 4, dtype="string"), AETERM=["A", "", "B", "C"], AESEQ=[1.0, float("nan"), 3.0, 4.0])
    check = {"any": [{"name": "variable_has_empty_values", "operator": "equal_to", "value": True},
                     {"name": "variable_is_empty", "operator": "equal_to", "value": True}]}
    library_rule = CoreRule("CORE-L", "test", {
        "Authorities": [{"Standards": [{"Name": "SDTMIG", "Version": "3.4"}]}],
        "Rule Type": "Variable Metadata Check against Library Metadata", "Sensitivity": "Record",
        "Scope": {"Domains": {"Include": ["AE"]}}, "Check": check,
        "Outcome": {"Message": "m", "Output Variables": ["variable_name", "variable_is_empty", "library_variable_label"]}})
    result = same(spark, tmp_path, library_rule, load_library("sdtmig", "3.4"), AE=ae)
    assert [f.values for f in result.findings] == [
        ("USUBJID", False, "Unique Subject Identifier"), ("AESEQ", False, "Sequence Number"),
        ("AEREFID", False, "Reference ID"), ("AESEV", True, "Severity/Intensity"),
        ("AETERM", False, "Reported Term for the Adverse Event")]


def test_21_a_distinct_list_per_group_is_each_records_list_on_spark(spark, tmp_path):
    """``distinct`` per group (a list per record, the groups' values sorted) on Spark, read by the
    operators' code as the pandas engine reads the lists it puts on the records: contained or not,
    empty or not; without ``domain`` the operation reads the evaluated dataset's own records."""
    ae = AE.assign(USUBJID=["1", "1", "2", "3"], AEREFID=["R1", "R2", "", "R9"])
    other = pd.DataFrame({"STUDYID": ["S"] * 3, "DOMAIN": ["AE"] * 3, "USUBJID": ["1", "1", "2"], "AESEQ": [1.0, 2.0, 3.0],
                          "AEREFID": ["R2", "R1", "R3"]})
    outside = with_operations({"all": [{"name": "AEREFID", "operator": "is_not_contained_by", "value": "$refs"}]},
                              {"id": "$refs", "operator": "distinct", "domain": "DM", "name": "REFID",
                               "group": ["USUBJID"]})
    assert [r for r, _ in rows(same(spark, tmp_path, outside, AE=ae))] == [1, 3, 4]    # 4: no DM subject 3
    own = with_operations({"all": [{"name": "$refs", "operator": "non_empty"},
                                   {"name": "AEREFID", "operator": "is_contained_by", "value": "$refs"}]},
                          {"id": "$refs", "operator": "distinct", "name": "AEREFID", "group": ["USUBJID"]})
    assert [r for r, _ in rows(same(spark, tmp_path, own, AE=other))] == [1, 2, 3]


def value_check(kind: str, check: dict, outputs: tuple[str, ...], sensitivity: str = "Record", *calls: dict) -> CoreRule:
    return CoreRule("CORE-V", "test", {
        "Authorities": [{"Standards": [{"Name": "SDTMIG", "Version": "3.4"}]}], "Rule Type": f"Value Check with {kind}",
        "Sensitivity": sensitivity, "Scope": {"Domains": {"Include": ["AE"]}}, "Check": check, "Operations": list(calls),
        "Outcome": {"Message": "m", "Output Variables": list(outputs)}})


def test_22_value_checks_run_on_spark_partition_by_partition_in_the_pandas_order(spark, tmp_path):
    """Value checks (a row per variable and value) on Spark: each partition of the records checked by
    the pandas engine's code (spark_value_checks.py), the flagged values put back on their records'
    numbers and in the pandas engine's order (record, then variable), the dataset's metadata (its
    number of records) and a metadata operation as on pandas. The AE records are read as three
    partitions at least, so a record number taken from its place in the partition would show."""
    ae = pd.concat([AE] * 4, ignore_index=True).assign(
        AESEQ=[float(i) for i in range(1, 17)], AETERM=[" x", "y", ".", "z"] * 4, AEREFID=["R", ".", " R", None] * 4)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1500")
    try:
        ae.to_parquet(tmp_path / "ae.parquet", index=False, row_group_size=2)
        lazy, _, _ = read_spark_folder(spark, tmp_path)
        sizes = nw.to_native(lazy["AE"]).rdd.glom().map(len).collect()
        assert sum(sizes) == 16 and sum(1 for n in sizes if n) >= 3, sizes
        leading = value_check("Variable Metadata", {"all": [
            {"name": "variable_data_type", "operator": "equal_to", "value": "Char"},
            {"name": "variable_value", "operator": "matches_regex", "value": "^\\s"}]},
            ("variable_name", "variable_value", "row_number"))
        found = same(spark, tmp_path, leading, row_groups=2, AE=ae)
        assert [(f.row, f.values[0]) for f in found.findings][:4] == [(1, "AETERM"), (3, "AEREFID"), (5, "AETERM"), (7, "AEREFID")]
        dots = value_check("Dataset Metadata", {"all": [
            {"name": "variable_value", "operator": "equal_to", "value": ".", "value_is_literal": True},
            {"name": "record_count", "operator": "equal_to", "value": 16}]}, ("variable_name", "dataset_name"))
        found = same(spark, tmp_path, dots, row_groups=2, AE=ae)
        assert [(f.row, f.values[0]) for f in found.findings][:3] == [(2, "AEREFID"), (3, "AETERM"), (6, "AEREFID")]
        first = same(spark, tmp_path, value_check("Variable Metadata", leading.check, ("variable_name", "row_number"), "Dataset"),
                     row_groups=2, AE=ae)
        assert [f.values for f in first.findings] == [("AETERM", 1)]
        required = value_check("Dataset Metadata", {"all": [
            {"name": "variable_name", "operator": "is_contained_by", "value": "$required"},
            {"name": "variable_value", "operator": "empty"}]}, ("variable_name",), "Record",
            {"id": "$required", "operator": "required_variables"})
        found = same(spark, tmp_path, required, load_library("sdtmig", "3.4"), 2, AE=ae.assign(USUBJID=[None, "1"] * 8))
        assert [f.row for f in found.findings] == [1, 3, 5, 7, 9, 11, 13, 15]
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
