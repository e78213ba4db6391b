"""Tests of trialkit.dataset_json: Dataset-JSON 1.1 (and its NDJSON variant) written and read.

The central promise: the same frame comes out of an XPT file and out of a Dataset-JSON file made
from it, for every dataset of the demo study and for CDISC pilot files made by SAS (cp1252 text,
DATE9. dates, stored lengths longer than the values). Then the file itself against the standard,
and bad files: each is an InputError naming the file (and line or column where there is one).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from odmlib.dataset_json_1_1.model import DatasetJSON
from reference_data import PILOT_SLICE

from trialkit.dataset_json import (
    DatasetJsonError,
    dataset_files,
    read_dataset,
    read_dataset_json,
    write_dataset_json,
)
from trialkit.errors import InputError
from trialkit.folder_manifest import write_manifest
from trialkit.xpt import DatasetMeta, Variable, read_xpt, write_xpt

TOP_LEVEL_ORDER = ["datasetJSONCreationDateTime", "datasetJSONVersion", "fileOID", "sourceSystem", "studyOID",
                   "metaDataVersionOID", "metaDataRef", "itemGroupOID", "records", "name", "label", "columns", "rows"]

ADSL = DatasetMeta("ADSL", "Subject-Level Analysis Dataset", (
    Variable("STUDYID", "Study Identifier", "Char"),
    Variable("USUBJID", "Unique Subject Identifier", "Char"),
    Variable("AGE", "Age", "Num"),
    Variable("BMI", "Body Mass Index", "Num"),
    Variable("TRTSDT", "Date of First Exposure to Treatment", "Num", format="DATE9."),
    Variable("TRTSDTM", "Datetime of First Exposure", "Num", format="DATETIME20."),
))


def adsl_frame() -> pd.DataFrame:
    """As the ADaM engine holds it before writing: dates as datetime64, a missing number, no label
    lengths."""
    return pd.DataFrame({
        "STUDYID": ["S1", "S1", "S1"], "USUBJID": ["S1-001", "S1-002", "S1-003"],
        "AGE": [63.0, np.nan, 7.0], "BMI": [25.1, 30.4, 1 / 3],
        "TRTSDT": pd.to_datetime(["2014-01-02", None, "1959-12-31"]),
        "TRTSDTM": pd.to_datetime(["2014-01-02 08:30:00", "2014-01-03 00:00:00", None]),
    })



def _assert_same(xpt: tuple[pd.DataFrame, DatasetMeta], back: tuple[pd.DataFrame, DatasetMeta]) -> None:
    pd.testing.assert_frame_equal(back[0], xpt[0], check_exact=True)
    assert back[1] == xpt[1]


# --------------------------------------------------------------------------------------------
# 1. round trips


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_01_every_demo_dataset_reads_back_as_the_xpt_frame(demo, tmp_path, ndjson):
    files = sorted((demo / "sdtm").glob("*.xpt")) + sorted((demo / "adam").glob("*.xpt"))
    assert len(files) > 20
    for path in files:
        xpt = read_xpt(path)
        written = write_dataset_json(*xpt, tmp_path, ndjson=ndjson)
        assert written.name == path.stem + (".ndjson" if ndjson else ".json")
        _assert_same(xpt, read_dataset_json(written))


@pytest.mark.parametrize("name", ["sdtm/ts.xpt", "sdtm/dm.xpt", "adam/adsl.xpt", "adam/adtte.xpt"])
def test_02_cdisc_pilot_files_made_by_sas_read_back_the_same(tmp_path, name):
    xpt = read_xpt(PILOT_SLICE / name, encoding="cp1252")
    _assert_same(xpt, read_dataset_json(write_dataset_json(*xpt, tmp_path / "x.json")))


def test_03_an_engine_frame_gives_the_same_frame_through_xpt_and_through_json(tmp_path):
    via_xpt = read_xpt(write_xpt(adsl_frame(), ADSL, tmp_path / "adsl.xpt"))
    via_json = read_dataset_json(write_dataset_json(adsl_frame(), ADSL, tmp_path / "adsl.json"))
    pd.testing.assert_frame_equal(via_json[0], via_xpt[0], check_exact=False, rtol=1e-14)   # XPT stores IBM floats
    assert via_json[1] == via_xpt[1]
    assert via_json[0]["TRTSDT"].tolist()[2] == -1.0 and np.isnan(via_json[0]["AGE"].iloc[1])


# --------------------------------------------------------------------------------------------
# 2. the file


def test_04_columns_and_values_follow_dataset_json_11(tmp_path):
    path = write_dataset_json(adsl_frame(), ADSL, tmp_path, keys=["STUDYID", "USUBJID", "PARAMCD"], study_oid="ST.S1",
                              metadata_version_oid="MDV.S1", metadata_ref="define.xml", created=datetime(2025, 1, 2, 3, 4, 5))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert list(document) == [k for k in TOP_LEVEL_ORDER if k != "dbLastModifiedDateTime"]
    assert (document["datasetJSONVersion"], document["datasetJSONCreationDateTime"]) == ("1.1.0", "2025-01-02T03:04:05")
    assert (document["itemGroupOID"], document["records"], document["studyOID"]) == ("IG.ADSL", 3, "ST.S1")
    columns = {c["name"]: c for c in document["columns"]}
    assert columns["USUBJID"] == {"itemOID": "IT.ADSL.USUBJID", "name": "USUBJID", "label": "Unique Subject Identifier",
                                  "dataType": "string", "length": 6, "keySequence": 2}
    assert "keySequence" not in columns["AGE"]           # PARAMCD is not a column: skipped, as define.xml does
    assert (columns["AGE"]["dataType"], columns["BMI"]["dataType"]) == ("integer", "double")
    assert {k: columns["TRTSDT"][k] for k in ("dataType", "targetDataType", "displayFormat")} == \
        {"dataType": "date", "targetDataType": "integer", "displayFormat": "DATE9."}
    assert document["rows"][0] == ["S1", "S1-001", 63, 25.1, "2014-01-02", "2014-01-02T08:30:00"]
    assert document["rows"][1][2] is None and document["rows"][1][4] is None
    assert document["rows"][2][3] == 1 / 3
    assert DatasetJSON.from_dict(document).column_names == [v.name for v in ADSL.variables]   # odmlib's model takes it


def test_05_ndjson_is_the_metadata_line_then_one_row_per_line(tmp_path):
    path = write_dataset_json(adsl_frame(), ADSL, tmp_path, ndjson=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 3
    first = json.loads(lines[0])
    assert "rows" not in first and first["records"] == 3
    assert json.loads(lines[3]) == ["S1", "S1-003", 7, 1 / 3, "1959-12-31", None]


def test_06_a_frame_that_breaks_its_metadata_is_refused_and_nothing_written(tmp_path):
    frame = adsl_frame()
    frame.loc[0, "USUBJID"] = "X" * 201
    with pytest.raises(DatasetJsonError) as err:
        write_dataset_json(frame, ADSL, tmp_path / "adsl.json")
    assert "USUBJID" in str(err.value) and err.value.issues
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# 3. bad files


@pytest.fixture
def good(tmp_path) -> tuple[Path, Path]:
    return (write_dataset_json(adsl_frame(), ADSL, tmp_path / "adsl.json"),
            write_dataset_json(adsl_frame(), ADSL, tmp_path / "adsl.ndjson", ndjson=True))


def test_07_a_truncated_json_file_is_an_input_error_naming_the_file(good):
    path = good[0]
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_dataset_json(path)
    assert err.value.file == str(path) and "truncated or malformed" in str(err.value)


def test_08_a_truncated_ndjson_file_disagrees_with_its_record_count(good):
    path = good[1]
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="records says 3 but the file holds 2 rows"):
        read_dataset_json(path)


def test_09_a_line_cut_inside_an_ndjson_row_names_the_line(good):
    path = good[1]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines[:2], lines[2][:10]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_dataset_json(path)
    assert err.value.row == 3 and err.value.file == str(path)


@pytest.mark.parametrize("change, message, column", [
    (lambda d: d["rows"][1].pop(), "row 2 has 5 values for 6 columns", None),
    (lambda d: d["rows"][2].__setitem__(2, "seven"), "is not a number", "AGE"),
    (lambda d: d["rows"][0].__setitem__(4, "02JAN2014"), "is not an ISO 8601 date", "TRTSDT"),
    (lambda d: d["columns"][3].__setitem__("dataType", "real"), "dataType 'real'", "BMI"),
    (lambda d: d.__setitem__("datasetJSONVersion", "1.0.0"), "Dataset-JSON 1.1", None),
    (lambda d: d.pop("itemGroupOID"), "itemGroupOID", None),
], ids=["row-width", "text-in-number", "bad-date", "unknown-type", "version", "missing-attribute"])
def test_10_malformed_content_is_an_input_error_naming_file_and_column(good, change, message, column):
    path = good[0]
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DatasetJsonError, match=message) as err:
        read_dataset_json(path)
    assert err.value.file == str(path) and err.value.column == column


# --------------------------------------------------------------------------------------------
# 4. folders of mixed formats


def test_11_a_dataset_in_two_formats_is_read_only_when_written_together(demo, tmp_path):
    """Test 11: JSON that is not a dataset is skipped; dm.xpt beside dm.json is an error naming both
    (one may be left from another run) until the folder's manifest lists both as written together,
    and then the XPT is read."""
    for name in ("dm", "ae"):
        xpt = read_xpt(demo / "sdtm" / f"{name}.xpt")
        write_dataset_json(*xpt, tmp_path)
    write_xpt(*read_xpt(demo / "sdtm" / "dm.xpt"), tmp_path)
    (tmp_path / "ledger.json").write_text(json.dumps({"forms": []}), encoding="utf-8")
    with pytest.raises(InputError, match="dm.xpt and dm.json"):
        dataset_files(tmp_path)
    write_manifest(tmp_path, {"stage": "sdtm"})
    files = dataset_files(tmp_path)
    assert {k: p.name for k, p in files.items()} == {"AE": "ae.json", "DM": "dm.xpt"}
    write_xpt(*read_xpt(demo / "sdtm" / "ae.xpt"), tmp_path)            # put there after the manifest
    with pytest.raises(InputError, match="ae.xpt and ae.json"):
        dataset_files(tmp_path)
    _assert_same(read_dataset(files["DM"]), read_dataset(tmp_path / "dm.json"))
