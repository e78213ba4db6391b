"""`trialkit validate --engine spark`: the rules on Spark DataFrames give the pandas engine's findings.

The promise: for every rule family and every CORE rule the Spark engine runs, its findings are the
pandas engine's, field for field (rule, severity, dataset, message, variable, USUBJID, --SEQ, row,
value), and a CORE rule's status is the pandas engine's, on the demo SDTM, on planted defects
(Parquet and XPT input) and, in test_validators_spark_pilot.py, on the CDISC pilot; every rule it does not run yet
is listed as not executed, "not run on spark", never as passed; and
a machine without pyspark or Java gets one clear error (exit 2) naming what to install.

One local Spark session (2 workers) serves the module and is stopped at its end; the data are small.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from spark_parity import MASTER, SPARK_RUN, both_engines, core_rules_on_spark, finding_rows, pandas_findings_of_spark_rules

from trialkit.errors import InputError
from trialkit.formats.parquet import read_parquet, write_parquet
from trialkit.spark_session import require_spark
from trialkit.validators.core_findings import load_rule_files
from trialkit.validators.run import validate
from trialkit.xpt import DatasetMeta, read_xpt, write_xpt


def test_01_without_pyspark_one_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)       # import pyspark now raises ImportError
    with pytest.raises(InputError, match=r"--engine spark needs pyspark, which is not installed: pip install 'trialkit\[spark\]'"):
        require_spark()


def test_02_without_java_the_cli_exits_2_naming_java(monkeypatch, runner, tmp_path, demo):
    from trialkit.cli import main

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = runner.invoke(main, ["validate", str(demo / "sdtm"), "--engine", "spark", "--out", str(tmp_path / "v.json")])
    assert result.exit_code == 2, result.output
    assert "needs a Java runtime, none found" in result.output and "openjdk-17-jre-headless" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "v.json").exists()


@pytest.mark.spark
def test_03_the_demo_sdtm_gives_the_pandas_findings_and_lists_the_rest_as_not_run(spark, demo):
    on_pandas, on_spark = both_engines(demo / "sdtm")
    assert finding_rows(on_spark.findings) == finding_rows(pandas_findings_of_spark_rules(on_pandas.findings, on_spark))
    assert on_spark.datasets == on_pandas.datasets
    ran = {r.id: r for r in on_spark.rules}
    assert all(ran[name].status in ("passed", "issues") for name in SPARK_RUN)
    core = core_rules_on_spark(on_spark)
    assert len(core) > 100 and any(ran[i].status == "issues" for i in core)   # CORE rules ran, some with findings
    not_run = [r for r in on_spark.rules if r.id not in SPARK_RUN and r.id not in core]
    assert not_run and all(r.status == "not executed" and r.reason.startswith("not run on spark: ") for r in not_run)
    listed = {r.id for r in on_spark.rules if not r.family}
    assert listed == {r.id for r in on_pandas.rules if not r.family}       # every rule file the pandas engine lists
    rule_files, _ = load_rule_files(("core", "trialkit"), ())
    assert listed < {r.core_id for r in rule_files}      # those for another standard than the demo's are left out


def _planted(demo: Path, out: Path, write_as) -> Path:
    """A few demo datasets with one defect of each schema rule planted (``write_as``: XPT or Parquet;
    text lengths taken from the planted values)."""
    out.mkdir()

    def write(frame, meta, folder):
        write_as(frame, DatasetMeta(meta.name, meta.label, tuple(replace(v, length=None) for v in meta.variables)), folder)
    dm, dm_meta = read_xpt(demo / "sdtm" / "dm.xpt")
    dm.loc[1, "USUBJID"] = dm.loc[0, "USUBJID"]            # DM one record per subject
    dm.loc[2, "SEX"] = "X"                                  # non-extensible codelist
    dm.loc[3, "RFSTDTC"] = "2019-13-01"                     # not ISO 8601
    dm.loc[4, "STUDYID"] = "  "                             # Req blank
    write(dm, dm_meta, out)
    ae, ae_meta = read_xpt(demo / "sdtm" / "ae.xpt")
    ae.loc[1, "AESEQ"] = ae.loc[0, "AESEQ"]
    ae.loc[0, "USUBJID"] = ae.loc[1, "USUBJID"]             # --SEQ not unique within USUBJID
    ae.loc[2, "USUBJID"] = "BALLR01-9999-999"               # not in DM
    ae.loc[3, "AEOUT"] = "GONE"                             # codelist
    ae.loc[4, "AESTDTC"] = "05-JAN-2019"
    write(ae, ae_meta, out)
    lb, lb_meta = read_xpt(demo / "sdtm" / "lb.xpt")
    lb.loc[:, "LBSPEC"] = "SPITTLE"                         # extensible codelist: one notice for all records
    write(lb, lb_meta, out)
    ts, ts_meta = read_xpt(demo / "sdtm" / "ts.xpt")
    write(ts.drop(columns=["TSPARMCD"]), DatasetMeta(ts_meta.name, ts_meta.label,    # a Req variable missing
                                                     tuple(v for v in ts_meta.variables if v.name != "TSPARMCD")), out)
    xx = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["XX"]})                         # a dataset of no IG
    write(xx, DatasetMeta("XX", "Custom", tuple(v for v in dm_meta.variables if v.name in xx)), out)
    return out


@pytest.mark.spark
@pytest.mark.parametrize("fmt", ["parquet", "xpt"])
def test_04_planted_defects_give_the_same_findings_on_both_engines(spark, demo, tmp_path, fmt):
    write = write_parquet if fmt == "parquet" else write_xpt
    folder = _planted(demo, tmp_path / "sdtm", write)
    on_pandas, on_spark = both_engines(folder)
    planted = {f.rule for f in pandas_findings_of_spark_rules(on_pandas.findings, on_spark)}
    assert {"TK-SDTM-0001", "TK-SDTM-0003", "TK-SDTM-0005", "TK-SDTM-0006", "TK-SDTM-0007", "TK-SDTM-0008",
            "TK-SDTM-0009", "TK-SDTM-0010", "TK-SDTM-0011"} <= planted
    assert finding_rows(on_spark.findings) == finding_rows(pandas_findings_of_spark_rules(on_pandas.findings, on_spark))
    # a rule with a distinct operation over another dataset ran on Spark: the AE subject DM lacks
    assert "CORE-000201" in core_rules_on_spark(on_spark)
    read = read_parquet if fmt == "parquet" else read_xpt
    ae, dm = (read(next(folder.glob(f"{name}.*")))[0]["USUBJID"] for name in ("ae", "dm"))
    lacking = [("AE", i + 1) for i in range(len(ae)) if ae[i] not in set(dm)]     # ae.loc[2] and the subject DM lost
    assert ("AE", 3) in lacking and len(lacking) > 1
    assert [(f.dataset, f.row) for f in on_spark.findings if f.rule == "CORE-000201" and f.dataset == "AE"] == lacking


@pytest.mark.spark
def test_05_an_unreadable_parquet_file_is_a_finding_and_the_others_are_checked(spark, demo, tmp_path, runner):
    from trialkit.cli import main

    folder = tmp_path / "sdtm"
    folder.mkdir()
    write_parquet(*read_xpt(demo / "sdtm" / "dm.xpt"), folder)
    (folder / "ae.parquet").write_bytes(b"PAR1 truncated")
    on_pandas, on_spark = both_engines(folder)
    unreadable = [f for f in on_spark.findings if f.rule == "TK-IO-0001"]
    assert [f.dataset for f in unreadable] == ["AE"] and "ae.parquet" in unreadable[0].message
    assert [f for f in on_spark.findings if f.rule != "TK-IO-0001"] == \
        [f for f in pandas_findings_of_spark_rules(on_pandas.findings, on_spark) if f.rule != "TK-IO-0001"]
    assert on_spark.datasets == ["DM"]
    # the command line: --engine spark --spark-master, the JSON report listing what did not run
    out = tmp_path / "spark.json"
    result = runner.invoke(main, ["validate", str(folder), "--engine", "spark", "--spark-master", MASTER, "--out", str(out)])
    assert result.exit_code == 1, result.output          # the unreadable file is an error-level finding
    report = json.loads(out.read_text(encoding="utf-8"))
    status = {r["id"]: (r["status"], r["reason"]) for r in report["rules_run"]}
    assert all(status[name][0] in ("passed", "issues") for name in SPARK_RUN)


# the rules whose conditions look a value up in a distinct list of another dataset's records
DISTINCT_LISTS = ("CORE-000036", "CORE-000047", "CORE-000155", "CORE-000173", "CORE-000201", "CORE-000296",
                  "TK-SDTM-0106")


@pytest.mark.spark
def test_07_a_distinct_list_longer_than_a_literal_is_looked_up_by_a_join(spark, demo, tmp_path, monkeypatch):
    """A distinct operation giving more values than LIST_LIMIT (DM's USUBJIDs of a large pool) is
    looked up by a join, not written into the plan: with the limit at one value, every rule reading
    such a list (the trial design's, AE's subjects in DM, the treated subjects' LB baseline) runs on
    Spark and gives the pandas findings, planted ones included."""
    folder = tmp_path / "sdtm"
    folder.mkdir()
    for name in ("dm", "ds", "ta", "te", "tv", "se", "sv"):
        write_parquet(*read_xpt(demo / "sdtm" / f"{name}.xpt"), folder)
    ae, ae_meta = read_xpt(demo / "sdtm" / "ae.xpt")
    ae.loc[2, "USUBJID"] = "BALLR01-9999-999"               # not in DM
    write_parquet(ae, ae_meta, folder)
    lb, lb_meta = read_xpt(demo / "sdtm" / "lb.xpt")
    lost = lb.loc[lb["LBLOBXFL"].eq("Y"), "USUBJID"].iloc[0]
    lb.loc[lb["USUBJID"].eq(lost), "LBLOBXFL"] = ""         # a treated subject without a baseline
    write_parquet(lb, lb_meta, folder)
    monkeypatch.setattr("trialkit.validators.core.on_spark.LIST_LIMIT", 1)
    on_pandas, on_spark = both_engines(folder)
    assert finding_rows(on_spark.findings) == finding_rows(pandas_findings_of_spark_rules(on_pandas.findings, on_spark))
    ran = {r.id: r.status for r in on_spark.rules}
    assert set(DISTINCT_LISTS) <= core_rules_on_spark(on_spark) and ran["TK-SDTM-0106"] == "issues"
    assert [f.usubjid for f in on_spark.findings if f.rule == "TK-SDTM-0106"] == [lost]
    assert [(f.dataset, f.row) for f in on_spark.findings if f.rule == "CORE-000201" and f.dataset == "AE"] == [("AE", 3)]


@pytest.mark.spark
def test_08_a_split_domain_gives_the_pandas_findings_record_by_record(spark, demo, tmp_path):
    """LB split in two datasets by LBCAT (LBCH, LBHE, as the CDISC pilot splits its LB): the CORE
    rules on it run on Spark over both parts as the pandas engine reads them (Study.content), and
    each finding names the part and the record within it; a defect planted in the second part is
    found there."""
    folder = tmp_path / "sdtm"
    folder.mkdir()
    for name in ("dm", "ts"):
        write_parquet(*read_xpt(demo / "sdtm" / f"{name}.xpt"), folder)
    lb, meta = read_xpt(demo / "sdtm" / "lb.xpt")
    first = lb["LBCAT"].eq(min(lb["LBCAT"].unique()))
    assert 0 < first.sum() < len(lb)
    second = lb[~first].reset_index(drop=True)
    second.loc[1, "LBSTRESC"] = ""                  # a result in original units but none standardised
    for part, name in ((lb[first].reset_index(drop=True), "LBCH"), (second, "LBHE")):
        write_parquet(part, replace(meta, name=name), folder / f"{name.lower()}.parquet")
    on_pandas, on_spark = both_engines(folder)
    ported = pandas_findings_of_spark_rules(on_pandas.findings, on_spark)
    assert finding_rows(on_spark.findings) == finding_rows(ported)
    on_split = {f.rule for f in ported if f.dataset in ("LBCH", "LBHE") and f.rule.startswith("CORE-")}
    assert on_split, "CORE rules ran on the split LB on Spark and found something"
    assert any(f.dataset == "LBHE" and f.row == 2 for f in on_spark.findings if f.rule in on_split)
    # parts holding a variable as different types: Spark's union would fail on the first text cast
    # to a number, so those rules are not run on spark, with the reason (pandas reads them as objects)
    second = second.assign(LBSTRESN=second["LBSTRESN"].map(lambda v: "" if pd.isna(v) else f"{v:g}"))
    text = tuple(replace(v, type="Char", length=None) if v.name == "LBSTRESN" else v for v in meta.variables)
    write_parquet(second, replace(meta, name="LBHE", variables=text), folder / "lbhe.parquet")
    # (the metadata rules read no values: they still run)
    mixed = validate(None, folder, None, None, engine="spark", rules=("core",), spark_master=MASTER)
    record_rules = {r.core_id for r in load_rule_files(("core",), ())[0] if r.rule_type == "Record Data"}
    reasons = {r.id: r.reason for r in mixed.rules if r.id in on_split & record_rules}
    assert reasons and all("the parts of split dataset LB hold LBSTRESN as different types" in why
                           for why in reasons.values()), reasons
    assert all(r.status in ("issues", "passed") for r in mixed.rules if r.id in on_split - record_rules)


@pytest.mark.spark
def test_09_adam_in_parquet_gives_the_pandas_adam_findings_labels_included(spark, demo, tmp_path):
    """The demo's ADSL and ADTTE as Parquet, a label and a few values planted: TK-ADAM on Spark reads
    the labels off the Parquet schema (no data read by trialkit), the values through Spark, and
    gives the pandas engine's findings and status."""
    for stage in ("sdtm", "adam"):
        (tmp_path / stage).mkdir()
    write_parquet(*read_xpt(demo / "sdtm" / "dm.xpt"), tmp_path / "sdtm")
    adsl, meta = read_xpt(demo / "adam" / "adsl.xpt")
    adsl.loc[3, "TRT01PN"] = 7.0                                      # TK-ADAM-0010: one TRT01P, two codes
    labelled = tuple(replace(v, label="Years", length=None) if v.name == "AGE" else replace(v, length=None)
                     for v in meta.variables)                        # TK-ADAM-0006
    write_parquet(adsl, replace(meta, variables=labelled), tmp_path / "adam")
    adtte, meta = read_xpt(demo / "adam" / "adtte.xpt")
    adtte.loc[2, "PARAM"] = "Something else"                          # TK-ADAM-0012
    adtte.loc[4, "SAFFL"] = "X"                                       # TK-ADAM-0007 and 0015
    write_parquet(adtte, replace(meta, variables=tuple(replace(v, length=None) for v in meta.variables)), tmp_path / "adam")
    args = (None, tmp_path / "sdtm", tmp_path / "adam", None)
    on_pandas = validate(*args, rules=("trialkit",), jobs=1)
    on_spark = validate(*args, engine="spark", rules=("trialkit",), spark_master=MASTER)
    adam = [f for f in on_pandas.findings if f.rule.startswith("TK-ADAM-")]
    assert {"TK-ADAM-0006", "TK-ADAM-0007", "TK-ADAM-0010", "TK-ADAM-0012", "TK-ADAM-0015"} <= {f.rule for f in adam}
    assert ("ADSL", "AGE", "Years") in {(f.dataset, f.variable, f.value) for f in adam if f.rule == "TK-ADAM-0006"}
    assert finding_rows(f for f in on_spark.findings if f.rule.startswith("TK-ADAM-")) == finding_rows(adam)
    status = {r.id: (r.status, r.findings) for r in on_spark.rules}
    assert status["TK-ADAM (schemas)"] == next((r.status, r.findings) for r in on_pandas.rules if r.id == "TK-ADAM (schemas)")


def _metadata_rule(folder: Path, rule_id: str, rule_type: str, check: str) -> None:
    """A user's CORE-format rule for SDTMIG 3.4 of ``rule_type`` whose Check is the one condition ``check``."""
    (folder / f"{rule_id}.yml").write_text(
        "Authorities: [{Organization: Sponsor, Standards: [{Name: SDTMIG, Version: '3.4', References: "
        f"[{{Rule Identifier: {{Id: {rule_id}, Version: '1'}}}}]}}]}}]\n"
        f"Core: {{Id: {rule_id}, Status: Published}}\nDescription: {rule_id}\nSeverity: warning\nRule Type: {rule_type}\n"
        f"Sensitivity: Record\nScope: {{Domains: {{Include: [ALL]}}}}\nCheck: {{all: [{check}]}}\n"
        f"Outcome: {{Message: {rule_id} flagged}}\n", encoding="utf-8")


@pytest.mark.spark
def test_10_metadata_rules_read_the_files_metadata_and_sparks_counts(spark, demo, tmp_path):
    """The metadata rule types on Spark: the pandas engine's code on the files' metadata and the
    records Spark counted. AE is a Parquet file from elsewhere (no trialkit metadata: its Char lengths
    measured by Spark as read_parquet measures them) with a long variable name, DM is missing; a
    user's rules ask for record_count and variable_size, which no shipped rule reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, custom = tmp_path / "sdtm", tmp_path / "rules"
    folder.mkdir()
    custom.mkdir()
    ae = read_xpt(demo / "sdtm" / "ae.xpt")[0].assign(AEVERYLONG="x")          # CORE-000182: a name over 8
    pq.write_table(pa.Table.from_pandas(ae, preserve_index=False), folder / "ae.parquet")
    write_parquet(*read_xpt(demo / "sdtm" / "ts.xpt"), folder)
    _metadata_rule(custom, "SPONSOR-0101", "Dataset Metadata Check", "{name: record_count, operator: greater_than, value: 40}")
    _metadata_rule(custom, "SPONSOR-0102", "Variable Metadata Check", "{name: variable_size, operator: greater_than, value: 20}")
    args = (None, folder, None, None)
    on_pandas = validate(*args, rules=("core",), rules_dirs=(custom,), jobs=1)
    on_spark = validate(*args, engine="spark", rules=("core",), rules_dirs=(custom,), spark_master=MASTER)
    core = core_rules_on_spark(on_spark)
    assert {"SPONSOR-0101", "SPONSOR-0102", "CORE-000182", "CORE-000581", "CORE-000355"} <= core
    assert finding_rows(on_spark.findings) == finding_rows(f for f in on_pandas.findings if f.rule in core)
    status = {r.id: (r.status, r.findings) for r in on_pandas.rules}
    assert {r.id: (r.status, r.findings) for r in on_spark.rules if r.id in core} == {i: status[i] for i in core}
    found = {(f.rule, f.dataset) for f in on_spark.findings}
    assert {("SPONSOR-0101", "AE"), ("CORE-000182", "AE"), ("CORE-000581", "STUDY")} <= found
    assert ("SPONSOR-0101", "TS") not in found and len(read_xpt(demo / "sdtm" / "ts.xpt")[0]) <= 40 < len(ae)
    # AE's Char lengths, undeclared in its file, as Spark measured them: its longest values in UTF-8 bytes
    longest = [ae[c].str.encode("utf-8").str.len().max() for c in ae.columns if ae[c].dtype == object]
    sizes = [f.value for f in on_spark.findings if f.rule == "SPONSOR-0102" and f.dataset == "AE"]
    assert sorted(sizes) == sorted(f"variable_size={n}" for n in longest if n > 20) and sizes


@pytest.mark.spark
def test_11_a_notice_on_every_record_brings_back_one_record_per_value(spark, demo, tmp_path, monkeypatch):
    """A sponsor's terms outside an extensible codelist on nearly every LB record (the million-subject
    pool had 1,010,010 such LBSTRESC values, which ran the driver out of heap when every failing
    record was collected): the Spark job brings back each failing value's first record and its
    count, and every record failing an error check, and the findings are the pandas engine's,
    counts and first records included, a record failing both kinds of check included."""
    from trialkit.validators import spark_engine

    folder = tmp_path / "sdtm"
    folder.mkdir()
    for name in ("dm", "ts"):
        write_parquet(*read_xpt(demo / "sdtm" / f"{name}.xpt"), folder)
    lb, meta = read_xpt(demo / "sdtm" / "lb.xpt")
    lb["LBSPEC"] = ["SPITTLE" if i % 3 else "SWEAT" for i in range(len(lb))]   # SWEAT on rows 1, 4, 7 ..., SPITTLE on the others
    lb.loc[[0, 1], "LBSPEC"] = ""                          # blank passes: the first failing values are on rows 3 and 4
    lb.loc[7, "LBDTC"] = "2019-13-01"                      # an error on a record whose SPITTLE is not the first
    write_parquet(lb, meta, folder)
    collected = []

    def spy(frame):
        if any(c.startswith("__ok") for c in frame.columns):     # the schema job of a dataset
            collected.append(len(frame))
        return original(frame)
    original = spark_engine._records
    monkeypatch.setattr(spark_engine, "_records", spy)
    on_pandas = validate(None, folder, None, None, rules=("trialkit",), jobs=1)
    on_spark = validate(None, folder, None, None, engine="spark", rules=("trialkit",), spark_master=MASTER)
    assert finding_rows(on_spark.findings) == finding_rows(pandas_findings_of_spark_rules(on_pandas.findings, on_spark))
    spec = sorted((f.value, f.row, f.message) for f in on_spark.findings if f.rule == "TK-SDTM-0006" and f.variable == "LBSPEC")
    spitting, sweating = sum(lb["LBSPEC"] == "SPITTLE"), sum(lb["LBSPEC"] == "SWEAT")
    assert [(v, r) for v, r, _ in spec] == [("SPITTLE", 3), ("SWEAT", 4)] and len(lb) > 100
    assert f"on {spitting} record(s)" in spec[0][2] and f"on {sweating} record(s)" in spec[1][2]
    assert [(f.row, f.value) for f in on_spark.findings if f.rule == "TK-SDTM-0009" and f.dataset == "LB"] == [(8, "2019-13-01")]
    # LB's schema job brought back the records its findings name (the demo's own LBSTRESC notices too), no more
    named = {f.row for f in on_spark.findings if f.dataset == "LB"}
    assert max(collected) == len(named) < 10


@pytest.mark.spark
@pytest.mark.parametrize("error", ["Py4JNetworkError", "ConnectionRefusedError"])
def test_12_a_driver_jvm_ending_mid_run_is_one_error_naming_the_heap(spark, demo, tmp_path, monkeypatch, runner, error):
    """The JVM ends on an out-of-memory error (-XX:+ExitOnOutOfMemoryError: an error that killed only
    the thread serving a collect left the million-subject run waiting for ever); the run then stops
    with exit 2 and one line naming TRIALKIT_SPARK_DRIVER_MEMORY, not a Py4J traceback or rules
    listed as not executed one by one."""
    from py4j.protocol import Py4JNetworkError

    from trialkit.cli import main
    from trialkit.spark_session import DRIVER_MEMORY

    assert "-XX:+ExitOnOutOfMemoryError" in spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")
    folder = tmp_path / "sdtm"
    folder.mkdir()
    write_parquet(*read_xpt(demo / "sdtm" / "dm.xpt"), folder)

    def gone(*args, **kwargs):      # as pyspark raises them: a call in flight, the next call (measured with a 512m heap)
        raise Py4JNetworkError("Answer from Java side is empty") if error == "Py4JNetworkError" else \
            ConnectionRefusedError(111, "Connection refused")
    monkeypatch.setattr("trialkit.validators.core_findings.run_core_on_spark", gone)
    out = tmp_path / "v.json"
    result = runner.invoke(main, ["validate", str(folder), "--engine", "spark", "--spark-master", MASTER, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "the Spark driver's JVM ended during the run (" in result.output
    assert ("Answer from Java side is empty" if error == "Py4JNetworkError" else "Connection refused") in result.output
    assert f"TRIALKIT_SPARK_DRIVER_MEMORY (now {DRIVER_MEMORY})" in result.output and "Traceback" not in result.output
    assert not out.exists()
