"""The provenance sidecar (trialkit/provenance.py) as its readers see it: lineage's raw rows, old sidecars."""

from __future__ import annotations

import pandas as pd

from trialkit.lineage import raw_rows
from trialkit.provenance import PROVENANCE_COLUMNS, raw_record, read_provenance


# ---- Test 1 ------------------------------------------------------------------------------------
def test_provenance_01_raw_rows_name_the_file_and_the_export_locator():
    """Test 1: an SDTM record's raw records are named by the file the user has, and by the export's
    locator where it gives one (ODM), not by a row number the user cannot find."""
    sidecar = pd.DataFrame({"dataset": ["DM", "DM", "AE"], "record": [1, 1, 1], "form": ["enrol", "dm", "ae"],
                            "row": [3, 3, 2], "file": ["enrol.sas7bdat", "dm.sas7bdat", "export.xml"],
                            "locator": ["", "", "01-001/SE.STUDY/ae/IG.ae[2]"], "spec_source": ["sources[0]", "", "sources[0]"]})
    assert raw_rows(sidecar, "DM", 1) == "enrol.sas7bdat row 3, dm.sas7bdat row 3"
    assert raw_rows(sidecar, "AE", 1) == "export.xml record 01-001/SE.STUDY/ae/IG.ae[2]"
    assert raw_rows(sidecar, "AE", 2) == "no raw record"
    assert raw_record("ae.csv", 12, "") == "ae.csv row 12"


# ---- Test 2 ------------------------------------------------------------------------------------
def test_provenance_02_a_sidecar_from_before_file_and_locator_reads_as_csv_rows(tmp_path):
    """Test 2: a provenance.tsv written before the file, locator and spec_source columns (dataset,
    record, form, row) reads with every column, the file being the form's CSV, and an empty locator
    is read as empty, not as a missing value."""
    (tmp_path / "provenance.tsv").write_text("dataset\trecord\tform\trow\nAE\t1\tae\t7\nDM\t1\tenrol\t2\n", encoding="utf-8")
    old = read_provenance(tmp_path)
    assert list(old.columns) == PROVENANCE_COLUMNS
    assert old["file"].tolist() == ["ae.csv", "enrol.csv"] and old["locator"].tolist() == ["", ""]
    assert raw_rows(old, "AE", 1) == "ae.csv row 7"
    assert read_provenance(tmp_path / "none").empty
