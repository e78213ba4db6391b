"""The SDTM stage's provenance sidecar, ``sdtm/provenance.tsv``: its name, columns and reader.

Written by the SDTM stage (trialkit.sdtm.output.write_provenance), read by lineage (ADaM error
causes), diff and trace; this module holds only what they share, so that a reader does not import
the SDTM engine to learn a file name. One line per SDTM record and raw record behind it:

    dataset, record   the SDTM dataset and the record's 1-based number in the written file
    form, row         the raw form and the record's 1-based position in it (as the engine read it)
    file              the file the user has (ae.csv, ae.sas7bdat, export.xlsx, export.xml)
    locator           where a position says nothing to the user, the export's own address of the
                      record (ODM: SubjectKey/StudyEventOID/FormOID/ItemGroupOID[repeat]); else empty
    spec_source       the source of the domain spec that mapped the record (``sources[1]``), so that
                      trace reads each variable's mapping from the right one; empty for records merged
                      into DM from a later source and for SUPP-- records (their form names the source)

Tab-separated text rather than Parquet: pyarrow is not a dependency, polars writes the millions of
lines of 100,000 subjects in about a second, and a data manager can open it in any spreadsheet; not
CSV, so that no reader takes it for a CSV dataset of the folder (validate reads CSV datasets).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PROVENANCE_FILE = "provenance.tsv"
PROVENANCE_COLUMNS = ["dataset", "record", "form", "row", "file", "locator", "spec_source"]


def read_provenance(sdtm_dir: Path) -> pd.DataFrame:
    """provenance.tsv of an SDTM folder, with the columns above; empty when there is none. A sidecar written before file, locator and spec_source
    were added reads with the CSV file name of the form, no locator and no spec source."""
    path = Path(sdtm_dir) / PROVENANCE_FILE
    if not path.is_file():
        return pd.DataFrame(columns=PROVENANCE_COLUMNS)
    text = {"dataset": str, "form": str, "file": str, "locator": str, "spec_source": str}
    frame = pd.read_csv(path, sep="\t", dtype={**text, "record": "int64", "row": "int64"}, keep_default_na=False)
    if "file" not in frame:
        frame["file"] = frame["form"] + ".csv"
    return frame.reindex(columns=PROVENANCE_COLUMNS, fill_value="")


def raw_record(file: str, row: int, locator: str) -> str:
    """'ae.csv row 12', or 'export.xml record 01-001/SE.STUDY/ae/IG.ae[2]' where the export locates it."""
    return f"{file} record {locator}" if locator else f"{file} row {row}"


def raw_records(provenance: pd.DataFrame) -> pd.Series:
    """``raw_record`` of every line of a frame read_provenance read, built column-wise (a diff labels
    the raw records behind thousands of SDTM records)."""
    file, locator = provenance["file"].astype(str), provenance["locator"].astype(str)
    return (file + " record " + locator).where(locator != "", file + " row " + provenance["row"].astype(str))
