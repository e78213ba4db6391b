"""The report's trace pages: every number of report.html links to the records behind it.

- ``report/trace/cells/<cell>.html``, one per computed cell (report.json ``cells``): the cell (table,
  row, column, the number shown), its analysis as ars.json states it (dataset, where clauses,
  method) and the ADaM records it counted (trialkit.reports.cell_records.ReportCells: each dataset
  read once for all cells), each subject linked to its page.
- ``report/trace/subjects/<USUBJID>.html``, one per subject any cell counted: every ADaM record of
  the subject with how its values were derived, the SDTM records read and the raw file, record,
  field, value, algorithm and spec key behind each (trialkit.trace.chain, rendered by
  trialkit.trace.pages like any trace page).

Why this split: a page per cell holding every subject's whole chain repeats each subject in every
cell that counts them (Table 1's "All patients" holds all of them), which took 122 s and 2.6 GiB at
10,000 subjects. Here a subject is traced once, and subjects are traced ``BATCH`` at a time (ADSL.yaml's
merged steps run once per batch) and written before the next batch, so no process holds more than
one batch of traces. Cell pages come first and the ADaM frames they select from are let go before
the subjects are traced.

Without a run folder (``trialkit report ADAM --out``: no SDTM, no provenance, no raw export) only
the cell pages are written; their subjects are not links, and each page says why. Links are
relative, pages self-contained like report.html: inline CSS, no script, nothing outside report/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.atomic_output import output_file
from trialkit.display import plain
from trialkit.forked import can_fork, forked_pool_sharing, shared_state, usable_cores
from trialkit.reports.cell_records import RECORD, ReportCells
from trialkit.reports.where import variables
from trialkit.trace.chain import trace_adam_datasets
from trialkit.trace.pages import TRACE_FOLDER, environment, page_name, render_trace_page
from trialkit.trace.run_folder import RunFolder

CELLS, SUBJECTS = TRACE_FOLDER / "cells", TRACE_FOLDER / "subjects"
BATCH = 200                  # subjects traced together: ~15 MiB of traces at the demo's ~40 records per subject
PAGE_WORKERS = 4             # at most: each holds a batch's traces and the pages of the shared data it touches
SHOWN_FIRST = ("PARAMCD", "AVAL", "AVALC", "CNSR", "ADT", "AEDECOD", "ATOXGRN")
NO_RUN = ("the trace stops at these ADaM records: the report was made from an ADaM folder alone (trialkit report), "
          "without the SDTM datasets, their provenance and the raw export that trialkit run and demo keep beside it")


@dataclass(frozen=True)
class CellPlace:
    """Where a cell sits in report.html, in the words the reader sees there."""

    id: str
    table_id: str
    table: str               # 'Table 1. Outcomes by baseline MRD'
    row: str                 # 'Baseline MRD: MRD < 1e-3' (under a group header: the header first)
    column: str              # 'MRD remission: Blinatumomab' (under a spanner: the spanner first)
    shown: str               # the text of the cell: '45', '0.31 (0.18-0.54)'


def cell_places(report: dict) -> dict[str, CellPlace]:
    """Cell id -> its place, for every cell of report.json's tables that has an id."""
    places = {}
    for table in report.get("tables", []):
        spanned = [text for text, span in table.get("spanners") or [] for _ in range(span)]
        header = ""
        for row in table["rows"]:
            if row.get("header"):
                header = row["label"]
                continue
            label = f"{header}: {row['label']}" if header and row.get("indent") else row["label"]
            for k, (cell_id, text) in enumerate(zip(row.get("cell_ids") or [], row["cells"])):
                column = table["columns"][k]
                column = f"{spanned[k]}: {column}" if k < len(spanned) and spanned[k] else column
                places[cell_id] = CellPlace(cell_id, table["id"], table["title"], label, column, text)
    return places


def subject_page(usubjid: str) -> str:
    """A subject page's path relative to report/: 'trace/subjects/BALLR01-0101-001.html'."""
    return (SUBJECTS / page_name(usubjid)).as_posix()


def _columns(records: pd.DataFrame, cell) -> list[str]:
    """The record columns a cell page shows: parameter and value first, then what the analysis reads
    and selects on in this dataset (ADSL's selections are the subject's, on its page)."""
    dataset = cell.dataset
    selected = [v for c in cell.clauses for d, v in sorted(variables(c)) if d == dataset]
    wanted = [*SHOWN_FIRST, cell.analysis.get("variable", ""), *selected, *(v for v, _ in cell.levels)]
    return [v for v in dict.fromkeys(wanted) if v in records and v not in ("USUBJID", "")]


def render_cell_page(place: CellPlace, cell, records: pd.DataFrame, linked: bool) -> str:
    """The page of one cell; ``linked``: whether subject pages are written beside it."""
    columns = _columns(records, cell)
    shown = [{"usubjid": str(u), "record": int(n), "page": f"../subjects/{page_name(str(u))}" if linked else "",
              "values": [plain(v, name) for name, v in zip(columns, values)]}
             for u, n, *values in zip(records["USUBJID"], records[RECORD], *(records[c] for c in columns))]
    return environment().get_template("cell.html.j2").render(
        cell=place, analysis=cell.analysis, method=cell.method, columns=columns, records=shown,
        subjects=records["USUBJID"].nunique(), clauses=[{"role": r, "text": t} for r, t in cell.described],
        stops=[] if linked else [NO_RUN], home=f"../../report.html#{place.table_id}")


def write_report_trace_pages(report_dir: Path, adam_dir: Path, run: RunFolder | None,
                             cell_ids: list[str] | None = None) -> dict[str, str]:
    """Write the cell pages of ``cell_ids`` (default: every computed cell) under ``report_dir``/trace/,
    and, with a ``run``, the page of every subject they counted; returns {cell id: its page relative
    to report_dir}, the links of report.html."""
    report_dir = Path(report_dir)
    cells = ReportCells(report_dir, adam_dir)
    places = cell_places(cells.report)
    links, subjects = {}, set()
    for cell_id in cell_ids if cell_ids is not None else cells.ids:
        _, records = cells.records(cell_id)
        name = (CELLS / page_name(cell_id)).as_posix()
        with output_file(report_dir / name) as tmp:
            tmp.write_text(render_cell_page(places[cell_id], cells.analysis(cell_id), records, run is not None),
                           encoding="utf-8")
        links[cell_id] = name
        subjects.update(records["USUBJID"].astype(str))
    del cells                                   # the ADaM frames of the cells: not needed for the subjects
    if run is not None:
        write_subject_pages(run, report_dir, sorted(subjects))
    return links


def write_subject_pages(run: RunFolder, report_dir: Path, subjects: list[str]) -> None:
    """One page per subject under ``report_dir``/trace/subjects/: all its ADaM records, traced ``BATCH``
    subjects at a time, each batch written and let go before the next.

    The first batch is written here, which reads the datasets, raw forms and specs the pages need and
    builds their indexes; the other batches are shared among forked workers (up to ``PAGE_WORKERS``,
    one per usable core), which find all of that in the memory they share with this process. A page
    costs ~20 ms of Python, so at 10,000 subjects the workers are what keeps the pages' time in
    proportion to the report's."""
    batches = [subjects[first:first + BATCH] for first in range(0, len(subjects), BATCH)]
    if not batches:
        return
    _write_batch(run, report_dir, batches[0])
    workers = min(PAGE_WORKERS, usable_cores(), len(batches) - 1)
    if workers < 2 or not can_fork():
        for batch in batches[1:]:
            _write_batch(run, report_dir, batch)
        return
    with forked_pool_sharing(run, workers) as pool:       # the run folder holds the data: inherited, never pickled
        for _ in pool.map(_write_forked_batch, [report_dir] * (len(batches) - 1), batches[1:]):
            pass


def _write_forked_batch(report_dir: Path, batch: list[str]) -> None:
    _write_batch(shared_state(), report_dir, batch)


def _write_batch(run: RunFolder, report_dir: Path, batch: list[str]) -> None:
    """The pages of ``batch``'s subjects: their records of every ADaM dataset traced in one Trace."""
    wanted = {}
    for dataset in sorted(run.adam_files, key=lambda name: (name != "ADSL", name)):
        positions = np.concatenate([run.subject_positions("adam", dataset, u) for u in batch])
        if len(positions):
            wanted[dataset] = pd.DataFrame({"record": positions + 1})
    for usubjid, trace in trace_adam_datasets(run, wanted).by_subject("subject {usubjid}"):
        with output_file(report_dir / subject_page(usubjid)) as tmp:
            tmp.write_text(render_trace_page(trace, home="../../report.html"), encoding="utf-8")
