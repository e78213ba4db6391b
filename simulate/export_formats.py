"""The formats ``trialkit simulate --format`` writes, and where each one puts a record.

A format is its writer, which records a cut file loses (``--dirty``; none where a cut file could not
be opened at all), whether the subject keys are the file's structure rather than values (ODM), and
how a record of a form's frame is found in the written export: the file, the record's 1-based
position as a reader of that format returns the form (a CSV line - 1, a SAS observation, a sheet
row - 1, the ItemGroupData's place in document order) and, where a position is not what the user
sees, the format's own locator (CSV line, sheet row, ODM SubjectKey/.../ItemGroupOID[repeat]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.raw_dictionary import RawDictionary
from trialkit.simulate import odm, tables
from trialkit.simulate.dirt import last_rows_of_largest

ODM_FILE = "export.xml"


@dataclass(frozen=True)
class Snapshot:
    """What a whole-study file says about itself (ODM's FileOID and CreationDateTime)."""

    study: str
    file_oid: str
    created: str


@dataclass(frozen=True)
class ExportFormat:
    name: str
    write: Callable[[dict[str, pd.DataFrame], RawDictionary, Path, set[str], Snapshot], dict[str, str]]
    cut_records: Callable | None = None      # inject_defects' cut_records; None: no cut-file defect
    keys_are_structure: bool = False


def _write_odm(forms, dictionary, out, cut, snapshot) -> dict[str, str]:
    path = out / ODM_FILE
    odm.write_odm(forms, dictionary, path, study_oid=snapshot.study, file_oid=snapshot.file_oid, created=snapshot.created)
    if cut:
        odm.cut_inside_last_record(path)
    return {name: ODM_FILE for name in forms}


def _odm_cut(forms, per_record, count) -> list[tuple[str, int]]:
    last = odm.last_record(forms)
    return [last] if last else []


FORMATS = {
    "csv": ExportFormat("csv", lambda f, d, o, c, s: tables.write_csv(f, d, o, c), last_rows_of_largest),
    "xpt": ExportFormat("xpt", lambda f, d, o, c, s: tables.write_xpt_files(f, d, o, c), last_rows_of_largest),
    "sas7bdat": ExportFormat("sas7bdat", lambda f, d, o, c, s: tables.write_sas7bdat_files(f, d, o, c)),
    "xlsx": ExportFormat("xlsx", lambda f, d, o, c, s: tables.write_xlsx(f, d, o, c)),
    "odm": ExportFormat("odm", _write_odm, _odm_cut, keys_are_structure=True),
}


def record_places(fmt: str, forms: dict[str, pd.DataFrame], files: dict[str, str]) -> Callable[[str, int], dict]:
    """``place(form, row)`` -> where the export puts the form's ``row``-th record (1-based)."""
    if fmt == "odm":
        order = odm.document_order(forms)
        position = {name: np.argsort(rows, kind="stable") + 1 for name, rows in order.items()}
        locator = {name: odm.locators(frame.iloc[order[name]].reset_index(drop=True), name) for name, frame in forms.items()}

        def place(form: str, row: int) -> dict:
            at = int(position[form][row - 1])
            return {"file": files[form], "row": at, "locator": locator[form].iat[at - 1]}
        return place
    if fmt == "csv":
        return lambda form, row: {"file": files[form], "row": row, "line": row + 1}
    if fmt == "xlsx":
        return lambda form, row: {"file": files[form], "row": row, "sheet": form, "sheet_row": row + 1}
    return lambda form, row: {"file": files[form], "row": row}
