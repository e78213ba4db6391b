"""Pooled databases (issue 18): ``simulate --pool N`` writes one Parquet file per study per domain,
``validate`` reads each domain folder as one dataset on both engines, a finding names the study's
file and its record there, a variable of another type in one study is a TK-POOL-0001 finding while
the rest of that study is still checked, and the pandas engine's refusal of an input beyond memory
advises ``--engine spark``.

One pool of three small studies is simulated once per run; tests that plant defects copy it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import built_once

from trialkit.cli import main
from trialkit.errors import InputError
from trialkit.memory_budget import check_fits
from trialkit.simulate.pool import study_seeds, study_sizes
from trialkit.validators.inputs import dataset_files_read, dataset_paths
from trialkit.validators.run import validate

MASTER = "local[2]"


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """``trialkit simulate --pool 3 --subjects 24`` as a user runs it (read-only)."""
    def build(folder: Path) -> None:
        subprocess.run([sys.executable, "-m", "trialkit.cli", "simulate", "--pool", "3", "--subjects", "24",
                        "--seed", "3", "--out", str(folder / "pool")], check=True, capture_output=True, text=True)
    return built_once(tmp_path_factory, "pool3", build) / "pool"


def _set(file: Path, column: str, row: int, value, as_type: pa.DataType | None = None) -> None:
    """Change one value (``row`` 1-based) of a study file, its schema metadata kept; ``as_type``
    stores the whole column as that type instead (a drifted variable)."""
    table = pq.read_table(file)
    index = table.column_names.index(column)
    values = table[column].to_pylist()
    if row:
        values[row - 1] = value
    field = table.schema.field(index)
    if as_type is not None:
        field = field.with_type(as_type)
        values = [None if v is None else str(v) for v in values] if pa.types.is_string(as_type) else values
    pq.write_table(table.set_column(index, field, pa.array(values, type=field.type)), file)


@pytest.fixture
def planted(pool, tmp_path) -> Path:
    """The pool with SEX 'X' at record 2 of STUDY01's DM, 'Z' at record 3 of STUDY02's, and in STUDY03
    AGE stored as text (drift) and SEX 'Y' at record 1."""
    folder = tmp_path / "pool"
    shutil.copytree(pool, folder)
    _set(folder / "dm" / "STUDY01.parquet", "SEX", 2, "X")
    _set(folder / "dm" / "STUDY02.parquet", "SEX", 3, "Z")
    _set(folder / "dm" / "STUDY03.parquet", "AGE", 0, None, as_type=pa.string())
    _set(folder / "dm" / "STUDY03.parquet", "SEX", 1, "Y")
    return folder


def test_pool_01_study_sizes_vary_add_up_and_seeds_differ():
    sizes = study_sizes(1000, 4)
    assert sum(sizes) == 1000 and len(set(sizes)) > 1 and min(sizes) >= 1
    assert study_seeds(5, 4) == study_seeds(5, 4) and len(set(study_seeds(5, 4))) == 4
    assert study_seeds(5, 4) != study_seeds(6, 4)
    with pytest.raises(InputError, match="fewer than the 3 studies"):
        study_sizes(2, 3)


def test_pool_02_simulate_pool_writes_a_parquet_file_per_study_per_domain(pool):
    manifest = json.loads((pool / "manifest.json").read_text(encoding="utf-8"))
    ids = [s["studyid"] for s in manifest["studies"]]
    assert ids == ["STUDY01", "STUDY02", "STUDY03"] and sum(s["subjects"] for s in manifest["studies"]) == 24
    assert len({s["seed"] for s in manifest["studies"]}) == 3
    dm = pq.ParquetDataset(pool / "dm").read(columns=["STUDYID", "USUBJID"])      # one dataset, as pyarrow reads it
    assert sorted(set(dm["STUDYID"].to_pylist())) == ids
    assert all(u.startswith(s + "-") for s, u in zip(dm["STUDYID"].to_pylist(), dm["USUBJID"].to_pylist(), strict=True))
    assert len(set(dm["USUBJID"].to_pylist())) == 24
    for study in manifest["studies"]:
        assert pq.read_metadata(pool / "dm" / f"{study['studyid']}.parquet").num_rows == study["subjects"]
        assert (pool / "studies" / study["studyid"] / "ledger.json").is_file()
    assert dataset_paths(pool)["DM"] == pool / "dm"


def test_pool_03_findings_name_the_study_file_and_its_record_and_drift_is_a_finding(planted):
    run = validate(None, planted, rules=("trialkit",), jobs=1)
    drift = [f for f in run.findings if f.rule == "TK-POOL-0001"]
    assert len(drift) == 1 and drift[0].dataset == "DM" and drift[0].variable == "AGE" and drift[0].value == "STUDY03"
    assert "dm/STUDY03.parquet" in drift[0].message and "Char" in drift[0].message and "Num" in drift[0].message
    sex = {f.value: f for f in run.findings if f.dataset == "DM" and f.variable == "SEX"}
    assert sex["X"].row == 2 and sex["X"].message.startswith("dm/STUDY01.parquet: ")
    assert sex["Z"].row == 3 and sex["Z"].message.startswith("dm/STUDY02.parquet: ")
    assert sex["Y"].row == 1 and sex["Y"].message.startswith("dm/STUDY03.parquet: ")   # the drifted study still checked
    assert not [f for f in run.findings if f.variable == "AGE" and f.rule != "TK-POOL-0001"]
    # every finding on a record of a pooled dataset names the file and record holding that subject
    located = [f for f in run.findings if f.row is not None and f.usubjid and "/" in f.message.split(":")[0]]
    assert located
    for f in located:
        file = planted / f.message.split(":")[0]
        assert pq.read_table(file, columns=["USUBJID"])["USUBJID"][f.row - 1].as_py() == f.usubjid, str(f)


def test_pool_04_a_pool_beyond_memory_is_refused_with_the_advice_of_the_spark_engine(pool, tmp_path, runner, monkeypatch):
    files = dataset_files_read(dataset_paths(pool).values())
    parquet = [f for f in files if f.suffix == ".parquet"]
    assert len(parquet) > 20 and all(f.parent.parent == pool for f in parquet)    # the study files are counted
    values = sum(pq.read_metadata(f).num_rows * len(pq.read_schema(f)) for f in parquet)
    need = values * 17          # 17 bytes a value once read (trialkit.memory_budget)
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: int(need) - 1)
    result = runner.invoke(main, ["validate", str(pool), "--rules", "trialkit", "--out", str(tmp_path / "v.json")])
    assert result.exit_code == 2, result.output
    assert "needs at least" in result.output and "--engine spark" in result.output and ".parquet" in result.output
    assert not (tmp_path / "v.json").exists()
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: int(need) + 8)
    check_fits(files, "the pool")


def test_pool_05_options_that_would_be_ignored_are_usage_errors(pool, tmp_path, runner):
    """--spark-master without --engine spark, and a raw export's --format with --pool: exit 2, nothing written."""
    result = runner.invoke(main, ["validate", str(pool), "--spark-master", MASTER, "--out", str(tmp_path / "v.json")])
    assert result.exit_code == 2, result.output
    assert "--spark-master local[2] is for --engine spark" in result.output and not (tmp_path / "v.json").exists()
    result = runner.invoke(main, ["simulate", "--pool", "2", "--subjects", "4", "--format", "xpt", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "--pool writes Parquet SDTM" in result.output, result.output
    assert not (tmp_path / "p").exists()
    result = runner.invoke(main, ["simulate", "--subjects", "4", "--jobs", "2", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "--jobs is for --pool" in result.output, result.output
    assert not (tmp_path / "p").exists()


@pytest.mark.spark
def test_pool_06_both_engines_give_the_same_findings_on_a_drifted_pool(planted):
    from trialkit.spark_session import spark_session

    session = spark_session(MASTER)
    try:
        on_pandas = validate(None, planted, rules=("trialkit",), jobs=1)
        on_spark = validate(None, planted, engine="spark", rules=("trialkit",), spark_master=MASTER)
    finally:
        session.stop()
    ported = ("TK-SDTM-00", "TK-MAP-", "TK-IO-", "TK-POOL-")

    def rows(findings):
        return sorted(tuple((k, "" if v is None else str(v)) for k, v in f.to_dict().items())
                      for f in findings if f.rule.startswith(ported))
    assert {"TK-POOL-0001", "TK-SDTM-0005"} <= {f.rule for f in on_spark.findings}
    assert rows(on_spark.findings) == rows(on_pandas.findings)
    assert on_spark.datasets == on_pandas.datasets
    sex = {f.value: f for f in on_spark.findings if f.dataset == "DM" and f.variable == "SEX"}
    assert (sex["Z"].row, sex["Y"].row) == (3, 1) and sex["Z"].message.startswith("dm/STUDY02.parquet: ")


def test_pool_09_spark_reads_the_study_files_of_one_schema_in_one_scan(planted):
    """STUDY01 and STUDY02 share DM's schema, STUDY03 stores AGE as text: two scans, not one per
    study (a union of a read per file made every plan of a pooled dataset as many times larger as
    there are studies), the records numbered in file-name order across both."""
    from trialkit.spark_session import spark_session
    from trialkit.validators.spark_engine import ROW, read_spark_folder

    session = spark_session(MASTER)
    try:
        frames, _, _ = read_spark_folder(session, planted)
        dm = frames["DM"].to_native()
        plan = dm._jdf.queryExecution().optimizedPlan().toString()
        numbered = dm.select(ROW, "USUBJID").toPandas().sort_values(ROW)
    finally:
        session.stop()
    assert plan.count("Relation [") == 2, plan
    files = sorted((planted / "dm").glob("*.parquet"))
    expected = [u for f in files for u in pq.read_table(f, columns=["USUBJID"])["USUBJID"].to_pylist()]
    assert numbered[ROW].tolist() == list(range(1, len(expected) + 1))
    assert numbered["USUBJID"].tolist() == expected


def test_pool_07_a_dataset_both_as_a_file_and_a_pooled_folder_is_refused(pool, tmp_path):
    folder = tmp_path / "pool"
    shutil.copytree(pool, folder)
    shutil.copy(folder / "dm" / "STUDY01.parquet", folder / "dm.parquet")
    with pytest.raises(InputError, match=r"dataset DM is there twice \(dm.parquet and the pooled folder dm/\)"):
        dataset_paths(folder)


def test_pool_08_studies_made_side_by_side_give_the_same_pool(pool, tmp_path):
    """--jobs 2 forks a process per study at a time; the pool is the one process's, file for file."""
    subprocess.run([sys.executable, "-m", "trialkit.cli", "simulate", "--pool", "3", "--subjects", "24", "--seed", "3",
                    "--jobs", "2", "--out", str(tmp_path / "pool")], check=True, capture_output=True, text=True)
    side_by_side = tmp_path / "pool"
    assert (side_by_side / "manifest.json").read_text(encoding="utf-8") == (pool / "manifest.json").read_text(encoding="utf-8")
    files = sorted(p.relative_to(pool) for p in pool.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(side_by_side) for p in side_by_side.rglob("*.parquet"))
    for file in files:
        assert pq.read_table(side_by_side / file).equals(pq.read_table(pool / file), check_metadata=True), file
    assert sorted(p.name for p in side_by_side.iterdir()) == sorted(p.name for p in pool.iterdir())    # no work folder left
