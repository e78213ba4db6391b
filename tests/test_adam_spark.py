"""`trialkit adam --engine spark`: Spark tasks on shares of the subjects give the pandas engine's ADaM.

The promise (trialkit.adam.spark_engine): the same records, variables, metadata and order as the
pandas engine, in every format (Parquet frames and metadata equal, XPT equal byte for byte but for
the header's creation time, define.xml equal but for its creation time), for both shipped studies,
for each study of a pool, and with records of subjects DM does not hold; bad input stops with the
pandas engine's error, named for the share it came from. Small data and shares of a few subjects, so
that every run has several tasks.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from trialkit.adam.engine import run_adam
from trialkit.adam.errors import AdamError
from trialkit.adam.spark_engine import Share, shares
from trialkit.cli import main, run_simulation
from trialkit.errors import InputError, SpecError
from trialkit.folder_manifest import folder_files
from trialkit.formats.parquet import read_parquet, write_parquet
from trialkit.pipeline import adam_stage, adam_stage_on_spark, sdtm_stage
from trialkit.spec import study_dir
from trialkit.xpt import read_xpt

MASTER = "local[2]"
XPT_STAMP = rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d"
DEFINE_STAMP = r'(CreationDateTime|AsOfDateTime)="[^"]*"'


def _sdtm(base: Path, study: str, subjects: int, seed: int = 7) -> Path:
    run_simulation(study, subjects, seed, base / "raw", None, 0, 0.0)
    sdtm_stage(study, base / "raw", base / "sdtm", formats=("xpt", "parquet"))
    return base / "sdtm"


@pytest.fixture(scope="module")
def ball(tmp_path_factory) -> Path:
    return _sdtm(tmp_path_factory.mktemp("adam_spark_ball"), "ball_relapse", 40)


def assert_same_adam(pandas_dir: Path, spark_dir: Path) -> None:
    """Every dataset of the two folders the same in every format both hold."""
    parquet = sorted(p.name for p in pandas_dir.glob("*.parquet"))
    assert parquet and parquet == sorted(p.name for p in spark_dir.glob("*.parquet"))
    for name in parquet:
        (a, meta_a), (b, meta_b) = read_parquet(pandas_dir / name), read_parquet(spark_dir / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert meta_a == meta_b, name
    for path in sorted(pandas_dir.glob("*.xpt")):
        mine = (spark_dir / path.name).read_bytes()
        assert re.sub(XPT_STAMP, b"", path.read_bytes()) == re.sub(XPT_STAMP, b"", mine), path.name
        assert read_xpt(path)[0].equals(read_xpt(spark_dir / path.name)[0])
    define = [re.sub(DEFINE_STAMP, "", (d / "define.xml").read_text()) for d in (pandas_dir, spark_dir)]
    assert define[0] == define[1]


def test_01_shares_cover_every_subject_once(tmp_path):
    """Shares cut the sorted DM subjects every N and leave no gap: the first is unbounded below, the
    last above, so a record of a subject DM lacks still falls in exactly one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dm = tmp_path / "dm.parquet"
    pq.write_table(pa.table({"USUBJID": [f"S-{i:03d}" for i in (5, 1, 3, 2, 4, 9, 7)]}), dm)
    got = shares("", dm, 3)
    assert got == [Share("", 0, None, "S-004"), Share("", 1, "S-004", "S-009"), Share("", 2, "S-009", None)]


def test_02_subjects_read_from_parquet_row_groups_add_up_to_the_whole(ball, tmp_path):
    """read_parquet(subjects=...) over the shares gives the whole dataset, in order, also when the
    file has many row groups (the reader skips those whose USUBJID statistics cannot match)."""
    import pyarrow.parquet as pq

    whole, _ = read_parquet(ball / "ae.parquet")
    chunked = tmp_path / "ae.parquet"
    pq.write_table(pq.read_table(ball / "ae.parquet"), chunked, row_group_size=17)
    assert pq.ParquetFile(chunked).metadata.num_row_groups > 5
    parts = [read_parquet(chunked, subjects=(s.first, s.stop))[0] for s in shares("", ball / "dm.parquet", 6)]
    assert len(parts) == 7 and all(len(p) for p in parts)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    first = parts[1]["USUBJID"]
    assert first.is_monotonic_increasing and first.nunique() == 6


@pytest.mark.spark
def test_03_ball_relapse_the_same_adam_in_every_format_through_the_cli(spark, ball, tmp_path, runner):
    """The CLI with --engine spark (shares of 7 subjects: 6 tasks) writes what the pandas engine
    writes: Parquet frames and metadata, XPT bytes (but the creation time), define.xml."""
    assert adam_stage("ball_relapse", ball, tmp_path / "pandas", formats=("xpt", "parquet"))
    result = runner.invoke(main, ["adam", str(ball), "--out", str(tmp_path / "spark"), "--format", "xpt,parquet",
                                  "--engine", "spark", "--spark-master", MASTER, "--subjects-per-task", "7"])
    assert result.exit_code == 0, result.output
    assert "ADSL: 40 records" in result.output
    assert_same_adam(tmp_path / "pandas", tmp_path / "spark")
    assert not list((tmp_path / "spark").glob(".parts*"))


@pytest.mark.spark
def test_04_solid_tumour_the_same_adam(spark, tmp_path):
    """The other shipped study (its BDS and time-to-event specs differ) on shares of 4 subjects."""
    sdtm = _sdtm(tmp_path, "solid_tumour", 18, seed=3)
    adam_stage("solid_tumour", sdtm, tmp_path / "pandas", formats=("xpt", "parquet"))
    adam_stage_on_spark("solid_tumour", sdtm, tmp_path / "spark", formats=("xpt", "parquet"), spark_master=MASTER,
                        subjects_per_task=4)
    assert_same_adam(tmp_path / "pandas", tmp_path / "spark")


@pytest.mark.spark
def test_05_records_of_subjects_dm_lacks_land_in_one_share(spark, ball, tmp_path):
    """AE records of subjects not in DM (below the first subject, between two, above the last) are in
    ADAE once each and where the pandas engine puts them: the shares leave no gap between them."""
    sdtm = tmp_path / "sdtm"
    shutil.copytree(ball, sdtm)
    (sdtm / "manifest.json").unlink()
    for path in sdtm.glob("*.xpt"):
        path.unlink()
    ae, meta = read_parquet(sdtm / "ae.parquet")
    subjects = sorted(read_parquet(sdtm / "dm.parquet")[0]["USUBJID"])
    ae.loc[0, "USUBJID"] = "0-BEFORE-ALL"
    ae.loc[len(ae) // 2, "USUBJID"] = subjects[4] + "-BETWEEN"     # after the last subject of the first share
    ae.loc[len(ae) - 1, "USUBJID"] = "ZZ-AFTER-ALL"
    ae = ae.sort_values("USUBJID", kind="stable").reset_index(drop=True)
    longer = tuple(replace(v, length=24) if v.name == "USUBJID" else v for v in meta.variables)
    write_parquet(ae, replace(meta, variables=longer), sdtm / "ae.parquet")
    run_adam("ball_relapse", sdtm, tmp_path / "pandas", formats=("parquet",))
    adam_stage_on_spark("ball_relapse", sdtm, tmp_path / "spark", formats=("parquet",), spark_master=MASTER,
                        subjects_per_task=5)
    adae = read_parquet(tmp_path / "spark" / "adae.parquet")[0]
    assert {"0-BEFORE-ALL", subjects[4] + "-BETWEEN", "ZZ-AFTER-ALL"} <= set(adae["USUBJID"]) and len(adae) == len(ae)
    pd.testing.assert_frame_equal(read_parquet(tmp_path / "pandas" / "adae.parquet")[0], adae)


@pytest.mark.spark
def test_06_a_pool_each_study_as_the_pandas_engine_derives_it_alone(spark, tmp_path, runner):
    """A pool of 3 studies: ADaM written as a pool (adsl/STUDY01.parquet ...), each study's datasets
    those of the pandas engine on that study alone; other formats than Parquet refused."""
    pool = tmp_path / "pool"
    result = runner.invoke(main, ["simulate", "--pool", "3", "--subjects", "45", "--seed", "11", "--out", str(pool)])
    assert result.exit_code == 0, result.output
    adam_stage_on_spark("ball_relapse", pool, tmp_path / "adam", formats=("parquet",), spark_master=MASTER,
                        subjects_per_task=6)
    studies = sorted(p.stem for p in (pool / "dm").glob("*.parquet"))
    assert len(studies) == 3
    for study in studies:
        alone = tmp_path / "alone" / study
        alone.mkdir(parents=True)
        for folder in pool.iterdir():
            if (folder / f"{study}.parquet").is_file():
                (alone / f"{folder.name}.parquet").symlink_to(folder / f"{study}.parquet")
        run_adam("ball_relapse", alone, tmp_path / "alone-adam" / study, formats=("parquet",))
        for path in sorted((tmp_path / "alone-adam" / study).glob("*.parquet")):
            (a, meta_a), (b, meta_b) = read_parquet(path), read_parquet(tmp_path / "adam" / path.stem / f"{study}.parquet")
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            assert meta_a == meta_b
    with pytest.raises(InputError, match="pooled ADaM is written as Parquet only"):
        adam_stage_on_spark("ball_relapse", pool, tmp_path / "adam2", formats=("xpt",), spark_master=MASTER)


@pytest.mark.spark
def test_07_a_derivation_error_is_the_pandas_error_of_the_share(spark, ball, tmp_path, runner):
    """A malformed AESTDTC stops both engines with the same error (dataset, column, subject); the
    Spark one says which share and that its row numbers count within it; exit 2, the previous
    output left as it was."""
    sdtm = tmp_path / "sdtm"
    shutil.copytree(ball, sdtm)
    ae, meta = read_parquet(sdtm / "ae.parquet")
    row = len(ae) // 2
    ae.loc[row, "AESTDTC"] = "2021-13-45"
    write_parquet(ae, meta, sdtm / "ae.parquet")
    for path in sdtm.glob("*.xpt"):
        path.unlink()
    (sdtm / "manifest.json").unlink()
    with pytest.raises(AdamError) as on_pandas:
        run_adam("ball_relapse", sdtm)
    out = tmp_path / "adam"
    out.mkdir()
    (out / "kept.txt").write_text("previous output")
    before = folder_files(out)
    result = runner.invoke(main, ["adam", str(sdtm), "--out", str(out), "--engine", "spark", "--spark-master", MASTER,
                                  "--subjects-per-task", "7"])
    assert result.exit_code == 2, result.output
    subject = ae.loc[row, "USUBJID"]
    assert "up to" in result.output and "row numbers count within them" in result.output, result.output
    assert "2021-13-45" in result.output and "AESTDTC" in result.output and on_pandas.value.subjects == (subject,)
    assert folder_files(out) == before and not list(tmp_path.glob(".adam*"))


def test_08_what_spark_cannot_derive_is_refused_before_any_task(ball, tmp_path, monkeypatch):
    """XPT-only SDTM (the engine reads Parquet), and a constant step reading a dataset of subjects'
    records (a task sees only its subjects'): one clear error each, no Spark session started."""
    xpt_only = tmp_path / "xpt"
    xpt_only.mkdir()
    for path in ball.glob("*.xpt"):
        shutil.copy(path, xpt_only)
    monkeypatch.setattr("trialkit.spark_session.spark_session",
                        lambda *a, **k: pytest.fail("a Spark session was started"))
    with pytest.raises(InputError, match=r"adam --engine spark reads the SDTM as Parquet"):
        adam_stage_on_spark("ball_relapse", xpt_only, tmp_path / "out1")

    study = tmp_path / "study"
    shutil.copytree(study_dir("ball_relapse"), study)
    adsl = study / "adam" / "ADSL.yaml"
    text = adsl.read_text()
    cutoff = "{dataset: TS, filter: \"TSPARMCD == 'DCUTDTC'\", variable: TSVAL"
    assert cutoff in text
    adsl.write_text(text.replace(cutoff, "{dataset: DS, filter: \"DSDECOD == 'DEATH'\", variable: DSSTDTC"))
    with pytest.raises(SpecError, match="constant DCUTDT reads DS, a dataset of subjects' records"):
        adam_stage_on_spark(study, ball, tmp_path / "out2")


def test_09_an_sdtm_too_big_for_the_pandas_engine_is_refused_up_front_advising_spark(ball, tmp_path, runner,
                                                                                      monkeypatch):
    """The pandas engine estimates the SDTM's memory before reading (trialkit.memory_budget) and,
    above what the machine has, stops with exit 2 advising --engine spark instead of being killed
    by the kernel; nothing is written."""
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: 1024)   # 1 KiB left
    result = runner.invoke(main, ["adam", str(ball), "--out", str(tmp_path / "adam")])
    assert result.exit_code == 2, result.output
    assert "the ADaM stage's SDTM needs at least" in result.output and "derive with --engine spark" in result.output
    assert not (tmp_path / "adam").exists()


def test_10_a_text_variable_missing_throughout_one_share_is_joined_as_the_whole_study_derives_it(tmp_path):
    """A share where no subject has a value of a text variable (a merge none of them matched)
    derives it as an empty Num column; joined with the shares holding text, the file is what the
    pandas engine writes for the whole study (Char, empty text there), and types that really
    differ stop with an AdamError naming the variable."""
    import numpy as np

    from trialkit.adam.engine import AdamSpec, dataset_meta
    from trialkit.adam.spark_engine import join_parts

    spec = AdamSpec("ADXX", "Test", tmp_path / "ADXX.yaml", {"USUBJID": "Subject", "DTHCAUS": "Cause", "AVAL": "Value"})
    shares_ = [pd.DataFrame({"USUBJID": ["S-1", "S-2"], "DTHCAUS": [np.nan, np.nan], "AVAL": [1.0, 2.0]}),
               pd.DataFrame({"USUBJID": ["S-3"], "DTHCAUS": ["PROGRESSIVE DISEASE"], "AVAL": [3.0]}),
               pd.DataFrame({"USUBJID": pd.Series([], dtype=object), "DTHCAUS": pd.Series([], dtype=float),
                             "AVAL": pd.Series([], dtype=float)})]
    parts = []
    for i, frame in enumerate(shares_):
        parts.append((str(write_parquet(frame, dataset_meta(spec, frame), tmp_path / f"part{i}.parquet")), len(frame)))
    assert [v.type for v in read_parquet(parts[0][0])[1].variables] == ["Char", "Num", "Num"]
    joined = join_parts(parts, tmp_path / "adxx.parquet")
    whole = pd.concat(shares_, ignore_index=True)
    (tmp_path / "whole").mkdir()
    expected = write_parquet(whole, dataset_meta(spec, whole), tmp_path / "whole" / "adxx.parquet")
    (a, meta_a), (b, meta_b) = read_parquet(expected), read_parquet(joined)
    pd.testing.assert_frame_equal(a, b)
    assert meta_a == meta_b and meta_b.variables[1].type == "Char"

    clash = pd.DataFrame({"USUBJID": ["S-4"], "DTHCAUS": [7.0], "AVAL": [4.0]})
    parts.append((str(write_parquet(clash, dataset_meta(spec, clash), tmp_path / "part3.parquet")), 1))
    with pytest.raises(AdamError, match="DTHCAUS is Num in one share of subjects and Char in another"):
        join_parts(parts, tmp_path / "clash.parquet")
