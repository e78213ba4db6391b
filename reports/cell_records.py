"""The ADaM records behind a report cell, found by re-applying the cell's ARS analysis to ADaM.

``cell_records(report_dir, adam_dir, cell_id)`` reads report.json (which analysis result the cell is:
its ``cells``) and ars.json (that analysis: dataset, analysis set, data subset, groups), reads the
analysis dataset and ADSL from the ADaM folder, and applies the where clauses (reports.where
``evaluate``): ADSL's to the subject of each record, the dataset's to the record. The table code is
not run again: what ars.json says is what is applied, so a wrong ars.json shows as records that do not
add up to the number in the cell.

For a count cell the records returned are the ones counted (their distinct subjects are the count);
for an estimate (a median, a hazard ratio, a rate) they are the records the estimate was computed
from, of both arms for a comparison of the arms. A "worst grade" cell returns, for each subject whose
worst grade over the row's records is the cell's grade, the records at that grade.

``ReportCells`` does the same for every cell of a report (the trace pages: trialkit.trace.report_pages)
with one read of each dataset; ``cell_records`` is one cell of it, for ``trialkit trace --cell``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import InputError
from trialkit.reports.where import evaluate, variables
from trialkit.xpt import sas_date_variables

RECORD = "RECORD"        # the column added to the records returned: their 1-based position in the dataset file


def cell_records(report_dir: str | Path, adam_dir: str | Path, cell_id: str) -> tuple[str, pd.DataFrame]:
    """(dataset name, its records counted in ``cell_id``): every column of the dataset as the file
    holds it, plus RECORD, the record's 1-based position in the file; in file order. An unknown cell
    id is an InputError listing the nearest ids; a cell of fixed text ("Reference") has no records."""
    return ReportCells(report_dir, adam_dir).records(cell_id)


@dataclass(frozen=True)
class CellAnalysis:
    """What ars.json says one cell is: the analysis (dataset, variable, method), the where clauses
    that select its records (analysis set, data subset, arm group), and the data-driven levels
    ("worst grade": (variable, value)) applied per subject after them."""

    cell_id: str
    analysis: dict
    method: dict
    clauses: tuple[dict, ...]
    levels: tuple[tuple[str, str], ...]
    described: tuple[tuple[str, str], ...]          # (role, name) of each clause and level, as ars.json names them

    @property
    def dataset(self) -> str:
        return self.analysis["dataset"]


class ReportCells:
    """The computed cells of a report folder (report.json, ars.json) over its ADaM folder.

    A page per cell asks for the records of hundreds of cells: each dataset (with the ADSL variables
    any cell selects on) is read once, on first use, and each cell only evaluates its clauses on it.
    """

    def __init__(self, report_dir: str | Path, adam_dir: str | Path) -> None:
        self.report_dir, self.adam_dir = Path(report_dir), Path(adam_dir)
        self.report = _read_json(self.report_dir / "report.json")
        self.event = _read_json(self.report_dir / "ars.json")
        self.located = {cid: where for table in self.report.get("tables", []) for cid, where in table.get("cells", {}).items()}
        self._frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}

    @property
    def ids(self) -> list[str]:
        """The computed cells' ids, in table order."""
        return list(self.located)

    def analysis(self, cell_id: str) -> CellAnalysis:
        if cell_id not in self.located:
            known = [cid for table in self.report.get("tables", []) for row in table["rows"] for cid in row.get("cell_ids", [])]
            if cell_id in known:
                raise InputError(f"report cell {cell_id} shows a fixed text, computed from no records",
                                 file=str(self.report_dir / "report.json"))
            nearest = difflib.get_close_matches(cell_id, known, n=5, cutoff=0.4)
            hint = f"; nearest: {', '.join(nearest)}" if nearest else f"; the ids start with {', '.join(_tables(known))}"
            raise InputError(f"no report cell {cell_id}{hint}", file=str(self.report_dir / "report.json"))
        ref = self.located[cell_id]
        analysis = self._by_id("analyses", ref["analysisId"])
        clauses = [self._by_id("analysisSets", analysis["analysisSetId"])]
        described = [("Analysis set", clauses[0].get("name", ""))]
        if "dataSubsetId" in analysis:
            clauses.append(self._by_id("dataSubsets", analysis["dataSubsetId"]))
            described.append(("Data subset", clauses[-1].get("name", "")))
        groupings = {g["id"]: g for g in self.event.get("analysisGroupings", [])}
        levels = []
        for group in ref.get("resultGroups", []):
            grouping = groupings[group["groupingId"]]
            if "groupId" in group:
                clauses.append(next(g for g in grouping["groups"] if g["id"] == group["groupId"]))
                described.append(("Group", f"{grouping.get('name', '')}: {clauses[-1].get('name', '')}"))
            else:
                levels.append((grouping["groupingVariable"], group["groupValue"]))
                described.append(("Level", f"{grouping.get('name', '')} = {group['groupValue']}, each subject at its highest value"))
        method = self._by_id("methods", analysis["methodId"]) if "methodId" in analysis else {}
        return CellAnalysis(cell_id, analysis, method, tuple(clauses), tuple(levels), tuple(described))

    def records(self, cell_id: str) -> tuple[str, pd.DataFrame]:
        """(dataset name, its records counted in ``cell_id``): see ``cell_records``."""
        cell = self.analysis(cell_id)
        dataset = cell.dataset
        records, frame = self._frame(dataset)
        mask = np.ones(len(frame), dtype=bool)
        for clause in cell.clauses:
            mask &= evaluate(clause, frame)
        selected = frame[mask]
        for variable, value in cell.levels:   # a data-driven group (only "worst grade" has one): each subject at its highest value
            column = pd.to_numeric(selected[f"{dataset}.{variable}"], errors="coerce")
            worst = column.groupby(selected[f"{dataset}.USUBJID"]).transform("max")
            selected = selected[((column == worst) & (worst == float(value))).to_numpy()]
        return dataset, records.loc[selected["_row"]].reset_index(drop=True)

    def _by_id(self, part: str, wanted: str) -> dict:
        found = next((item for item in self.event.get(part, []) if item.get("id") == wanted), None)
        if found is None:
            raise InputError(f"report.json names {wanted}, which ars.json's {part} do not hold (files of two runs?)",
                             file=str(self.report_dir / "ars.json"))
        return found

    def _needed(self, dataset: str) -> set[tuple[str, str]]:
        """Every (dataset, variable) the clauses of the cells on ``dataset`` select on."""
        needed = set()
        for cell_id in self.located:
            cell = self.analysis(cell_id)
            if cell.dataset == dataset:
                needed |= set().union(*(variables(c) for c in cell.clauses))
        return needed

    def _frame(self, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        if dataset not in self._frames:
            self._frames[dataset] = _frame(self.adam_dir, dataset, self._needed(dataset))
        return self._frames[dataset]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not found: the report folder of `trialkit report` holds report.json and ars.json",
                         file=str(path)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot be read as JSON ({exc})", file=str(path)) from None


def _tables(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i.split("/", 1)[0] + "/" for i in ids))


def _frame(adam_dir: Path, dataset: str, needed: set[tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dataset's records as read (with RECORD), and the frame the clauses are evaluated on: one row
    per record, columns DATASET.VARIABLE of the record and of its subject's ADSL record, dates as dates,
    ``_row`` the record's label in the first."""
    files = dataset_files(adam_dir) if adam_dir.is_dir() else {}
    for name in {dataset, "ADSL"}:
        if name not in files:
            raise InputError(f"the analysis reads {name}, which is not in the ADaM folder", file=str(adam_dir / f"{name.lower()}.xpt"))
    records, _ = read_dataset(files[dataset])
    records = records.assign(**{RECORD: range(1, len(records) + 1)})
    frame = sas_date_variables(records).add_prefix(f"{dataset}.").assign(_row=records.index)
    if dataset != "ADSL":
        adsl, _ = read_dataset(files["ADSL"])
        wanted = ["USUBJID", *sorted({v for d, v in needed if d == "ADSL"} - {"USUBJID"})]
        frame = frame.merge(sas_date_variables(adsl)[[v for v in wanted if v in adsl]].add_prefix("ADSL."),
                            left_on=f"{dataset}.USUBJID", right_on="ADSL.USUBJID", how="inner")
    missing = sorted(f"{d}.{v}" for d, v in needed if f"{d}.{v}" not in frame)
    if missing:
        raise InputError(f"the analysis selects on {', '.join(missing)}, not in the ADaM folder", file=str(adam_dir))
    return records, frame

