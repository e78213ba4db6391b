"""Tests of trialkit.formats.parquet: datasets as Parquet, written and read beside XPT.

The central promise: the frame and metadata that come out of an XPT file come out of the Parquet
file made from it, for every dataset of the demo study and for CDISC pilot files made by SAS; and
`trialkit validate` finds the same on a Parquet folder as on the XPT one. Then Parquet files from
elsewhere (no trialkit metadata), the stages' --format parquet, and bad files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference_data import PILOT_SLICE

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import InputError
from trialkit.folder_manifest import write_manifest
from trialkit.formats.parquet import ParquetError, read_parquet, write_parquet
from trialkit.xpt import DatasetMeta, Variable, read_xpt, write_xpt

ADSL = DatasetMeta("ADSL", "Subject-Level Analysis Dataset", (
    Variable("USUBJID", "Unique Subject Identifier", "Char"),
    Variable("AGE", "Age", "Num"),
    Variable("TRTSDT", "Date of First Exposure to Treatment", "Num", format="DATE9."),
    Variable("TRTSDTM", "Datetime of First Exposure", "Num", format="DATETIME20."),
))


def _as_parquet(folder: Path, out: Path) -> Path:
    """Every XPT dataset of ``folder`` as Parquet in ``out`` (define.xml copied along)."""
    out.mkdir(parents=True)
    for path in sorted(folder.glob("*.xpt")):
        write_parquet(*read_xpt(path), out)
    shutil.copy(folder / "define.xml", out / "define.xml")
    return out


def test_01_every_demo_dataset_reads_back_as_the_xpt_frame(demo, tmp_path):
    files = sorted((demo / "sdtm").glob("*.xpt")) + sorted((demo / "adam").glob("*.xpt"))
    assert len(files) > 10
    for path in files:
        frame, meta = read_xpt(path)
        written = write_parquet(frame, meta, tmp_path)
        assert written == tmp_path / f"{meta.name.lower()}.parquet"
        back, back_meta = read_parquet(written)
        pd.testing.assert_frame_equal(back, frame, check_exact=True, obj=path.name)
        assert back_meta == meta, path.name


@pytest.mark.parametrize("name", ["sdtm/dm.xpt", "sdtm/ae.xpt", "adam/adsl.xpt", "adam/adtte.xpt"])
def test_02_pilot_files_made_by_sas_keep_text_lengths_labels_and_formats(tmp_path, name):
    frame, meta = read_xpt(PILOT_SLICE / name, encoding="cp1252")
    back, back_meta = read_parquet(write_parquet(frame, meta, tmp_path))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back_meta == meta       # stored lengths longer than the values, DATE9. formats, cp1252 labels


def test_03_an_engine_frame_with_dates_reads_back_as_its_xpt_file_does(tmp_path):
    frame = pd.DataFrame({"USUBJID": ["01-001", "01-002", None], "AGE": [7, 12.5, None],
                          "TRTSDT": pd.to_datetime(["2019-01-05", None, "2020-02-29"]),
                          "TRTSDTM": pd.to_datetime(["2019-01-05 10:30", "2019-03-01 00:00:01", None], format="ISO8601")})
    from_xpt = read_xpt(write_xpt(frame, ADSL, tmp_path / "adsl.xpt"))
    from_parquet = read_parquet(write_parquet(frame, ADSL, tmp_path / "adsl.parquet"))
    pd.testing.assert_frame_equal(from_parquet[0], from_xpt[0], check_exact=True)
    assert from_parquet[0]["TRTSDT"].iloc[0] == (pd.Timestamp("2019-01-05") - pd.Timestamp("1960-01-01")).days
    assert from_parquet[1] == from_xpt[1]


def test_04_the_metadata_is_in_the_parquet_schema_for_other_readers(tmp_path):
    frame = pd.DataFrame({"USUBJID": ["01-001"], "AGE": [7.0], "TRTSDT": [21554.0], "TRTSDTM": [None]})
    schema = pq.read_schema(write_parquet(frame, ADSL, tmp_path))
    assert schema.metadata[b"trialkit.name"] == b"ADSL"
    assert schema.metadata[b"trialkit.label"] == b"Subject-Level Analysis Dataset"
    field = schema.field("TRTSDT")
    assert field.type == pa.float64()
    assert field.metadata[b"trialkit.format"] == b"DATE9." and field.metadata[b"trialkit.type"] == b"Num"
    assert schema.field("USUBJID").metadata[b"trialkit.length"] == b"6"


def test_05_a_parquet_file_from_elsewhere_is_read_by_its_arrow_types(tmp_path):
    table = pa.table({"USUBJID": pa.array(["A", None]), "VISITNUM": pa.array([1, 2], pa.int32()),
                      "FLAG": pa.array([True, False]),
                      "VSDT": pa.array([pd.Timestamp("1960-01-02").date(), None], pa.date32()),
                      "VSDTM": pa.array([pd.Timestamp("1960-01-01 00:01:00"), None], pa.timestamp("us"))})
    pq.write_table(table, tmp_path / "vs.parquet")
    frame, meta = read_parquet(tmp_path / "vs.parquet")
    assert meta.name == "VS" and meta.label == ""
    assert [(v.name, v.type, v.format) for v in meta.variables] == [
        ("USUBJID", "Char", None), ("VISITNUM", "Num", None), ("FLAG", "Num", None), ("VSDT", "Num", "DATE9."),
        ("VSDTM", "Num", "DATETIME20.")]
    assert frame["USUBJID"].tolist() == ["A", ""]
    assert frame["VISITNUM"].tolist() == [1.0, 2.0] and frame["FLAG"].tolist() == [1.0, 0.0]
    assert frame["VSDT"].iloc[0] == 1.0 and pd.isna(frame["VSDT"].iloc[1])
    assert frame["VSDTM"].iloc[0] == 60.0


def test_06_bad_parquet_files_are_input_errors_naming_file_and_column(tmp_path):
    broken = tmp_path / "ae.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(ParquetError, match=r"ae\.parquet: not a readable Parquet file"):
        read_parquet(broken)
    with pytest.raises(ParquetError, match="does not exist"):
        read_parquet(tmp_path / "missing.parquet")
    pq.write_table(pa.table({"USUBJID": ["A"], "TAGS": pa.array([["x", "y"]])}), tmp_path / "cm.parquet")
    with pytest.raises(ParquetError, match=r"cm\.parquet: column TAGS: column of type list<element: string>") as err:
        read_parquet(tmp_path / "cm.parquet")
    assert isinstance(err.value, InputError)


def test_07_a_frame_that_cannot_go_into_xpt_does_not_go_into_parquet(tmp_path):
    frame = pd.DataFrame({"USUBJID": ["x" * 201], "AGE": [1.0], "TRTSDT": [1.0], "TRTSDTM": [1.0]})
    with pytest.raises(ParquetError, match="prevent writing Parquet, nothing written") as err:
        write_parquet(frame, ADSL, tmp_path)
    assert err.value.issues and not list(tmp_path.iterdir())


def test_08_a_dataset_in_parquet_and_xpt_is_read_only_when_written_together(demo, tmp_path):
    frame, meta = read_xpt(demo / "sdtm" / "dm.xpt")
    write_xpt(frame, meta, tmp_path)
    write_parquet(frame, meta, tmp_path)
    write_manifest(tmp_path, {"stage": "sdtm"})
    assert dataset_files(tmp_path)["DM"].name == "dm.xpt"
    write_parquet(*read_xpt(demo / "sdtm" / "ae.xpt"), tmp_path)
    write_xpt(*read_xpt(demo / "sdtm" / "ae.xpt"), tmp_path)             # put there after the manifest
    with pytest.raises(InputError, match="dataset AE is there in several formats .ae.xpt and ae.parquet."):
        dataset_files(tmp_path)
    (tmp_path / "ae.xpt").unlink()
    assert read_dataset(dataset_files(tmp_path)["AE"])[1].name == "AE"


def _validate(sdtm: Path, adam: Path, out: Path) -> tuple[int, list[dict]]:
    done = subprocess.run([sys.executable, "-m", "trialkit.cli", "validate", str(sdtm), str(adam), "--study",
                           "ball_relapse", "--out", str(out)], check=False, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return done.returncode, json.loads(out.read_text(encoding="utf-8"))["findings"]


def test_09_validate_finds_the_same_on_a_parquet_folder_as_on_the_xpt_one(demo, tmp_path):
    sdtm = _as_parquet(demo / "sdtm", tmp_path / "sdtm")
    adam = _as_parquet(demo / "adam", tmp_path / "adam")
    on_parquet = _validate(sdtm, adam, tmp_path / "parquet.json")
    on_xpt = _validate(demo / "sdtm", demo / "adam", tmp_path / "xpt.json")
    assert on_parquet == on_xpt
    assert on_xpt[1], "the demo has findings (notices) to compare"


def test_10_the_stages_write_parquet_beside_xpt(demo, tmp_path, runner):
    from trialkit.cli import main

    result = runner.invoke(main, ["sdtm", str(demo / "raw"), "--out", str(tmp_path / "sdtm"), "--format", "parquet,xpt"])
    assert result.exit_code == 0, result.output
    assert {p.stem for p in (tmp_path / "sdtm").glob("*.parquet")} == {p.stem for p in (tmp_path / "sdtm").glob("*.xpt")}
    assert json.loads((tmp_path / "sdtm" / "manifest.json").read_text())["formats"] == ["parquet", "xpt"]
    result = runner.invoke(main, ["adam", str(tmp_path / "sdtm"), "--out", str(tmp_path / "adam"), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "adam" / "adsl.parquet").is_file() and not list((tmp_path / "adam").glob("*.xpt"))
    frame, _ = read_dataset(tmp_path / "adam" / "adsl.parquet")
    pd.testing.assert_frame_equal(frame, read_xpt(demo / "adam" / "adsl.xpt")[0], check_exact=True)
