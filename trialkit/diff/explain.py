"""Why an analysis moved: the SDTM records behind changed ADSL / ADTTE records, and the report cells
that changed with the subjects whose analysis records changed.

Lineage is read, never re-derived (DESIGN.md): an ADTTE (or ADRS) record names its source record
with SRCDOM / SRCSEQ, so a changed event or censoring record is traced to the SDTM record it was
taken from, on the old side and on the new (--SEQ is only looked up within its own transfer). A
subject whose ADaM records changed with no source pointer to follow (ADSL) is explained by all of
that subject's SDTM changes. A report cell is identified by its table id, its row (the row label
under its group header) and its column position, as report.json lays the tables out; a table's
analysis datasets come from the study's report spec (ADSL always: populations are ADSL flags).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.diff.records import NEW, OLD, DatasetDiff
from trialkit.provenance import raw_records

EXPLAINED = ("ADSL", "ADTTE")                     # the datasets whose subjects are traced to SDTM
TTE_SHELLS = {"outcomes_by_subgroup", "tte_summary", "km", "forest"}


def _kept(diff: DatasetDiff, column: str, side: int, rows: pd.Series) -> np.ndarray:
    """Values of a kept column (trialkit.diff.folders.diff_datasets) at 0-based ``rows`` of one side
    (0 old, 1 new); NaN where a record is not on that side or the column is not there."""
    values = diff.kept.get(column, (None, None))[side]
    positions = pd.to_numeric(rows, errors="coerce")
    known = positions.notna().to_numpy()
    out = np.full(len(rows), np.nan, dtype=object)
    if values is not None:
        out[known] = values[positions[known].astype(int).to_numpy()]
    return out


def _sdtm_records(sdtm: list[DatasetDiff]) -> pd.DataFrame:
    """Every SDTM record that moved, with its --SEQ on each side (to follow SRCSEQ)."""
    parts = []
    for diff in sdtm:
        records = diff.records()
        seq = f"{diff.name}SEQ"
        parts.append(records.assign(_old_seq=pd.to_numeric(_kept(diff, seq, 0, records[OLD])),
                                    _new_seq=pd.to_numeric(_kept(diff, seq, 1, records[NEW]))))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["dataset", "subject", "change", "record", "detail", OLD, NEW, "_old_seq", "_new_seq"])


def raw_labels(provenance: pd.DataFrame) -> pd.DataFrame:
    """(dataset, row: 0-based, raw: 'ae.csv row 12', 'export.xml record 01-001/...') from an SDTM
    folder's provenance.tsv (trialkit.provenance.read_provenance): the raw records behind each SDTM
    record, named as trace names them."""
    labels = provenance.assign(raw=raw_records(provenance), row=provenance["record"].astype("int64") - 1)
    return labels.groupby(["dataset", "row"], sort=False)["raw"].agg(", ".join).reset_index()


def _with_raw(records: pd.DataFrame, old_raw: pd.DataFrame | None, new_raw: pd.DataFrame | None) -> pd.DataFrame:
    """``raw``: the raw records behind each SDTM record, from the new transfer's provenance (the old
    one's for a removed record); '' without provenance."""
    raw = pd.Series("", index=records.index, dtype=object)
    for labels, rows in ((old_raw, OLD), (new_raw, NEW)):          # new last: it wins where both know the record
        if labels is None or not len(labels):
            continue
        at = pd.to_numeric(records[rows], errors="coerce")
        found = records[["dataset"]].assign(row=at).merge(labels, on=["dataset", "row"], how="left")["raw"]
        raw = raw.where(found.isna().to_numpy(), found.to_numpy())
    return records.assign(raw=raw)


def _pointers(diff: DatasetDiff) -> pd.DataFrame:
    """(subject, SRCDOM, SRCSEQ, side) of the ADaM records that moved, on the side(s) they exist."""
    records = diff.records()
    parts = []
    for side, k, rows in (("_old_seq", 0, OLD), ("_new_seq", 1, NEW)):
        domain, seq = _kept(diff, "SRCDOM", k, records[rows]), pd.to_numeric(_kept(diff, "SRCSEQ", k, records[rows]))
        known = pd.notna(seq)
        parts.append(pd.DataFrame({"subject": records["subject"].to_numpy()[known], "side": side,
                                   "dataset": domain[known].astype(str), "seq": seq[known].astype(float)}))
    return pd.concat(parts, ignore_index=True)


def _sources(pointers: pd.DataFrame, sdtm: pd.DataFrame) -> pd.DataFrame:
    """The SDTM records that moved and that a moved ADaM record points at (SRCDOM / SRCSEQ)."""
    found = []
    for side in ("_old_seq", "_new_seq"):
        mine = pointers[pointers["side"] == side].drop(columns="side").rename(columns={"seq": side})
        found.append(sdtm.merge(mine.drop_duplicates(), on=["subject", "dataset", side], how="inner"))
    both = pd.concat(found, ignore_index=True)
    return both.drop_duplicates(["dataset", "subject", "change", "record"])


def explain_subjects(adam: list[DatasetDiff], sdtm: list[DatasetDiff] | None,
                     raw: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)) -> list[dict]:
    """For each subject whose ADSL or ADTTE records changed: those changes, the SDTM source records
    (SRCDOM / SRCSEQ) that moved, and the subject's other SDTM changes (without SDTM: none), each
    SDTM record with the raw records behind it (``raw``: raw_labels of the old and new SDTM folders)."""
    moved = [d for d in adam if d.name in EXPLAINED]
    analysis = pd.concat([d.records() for d in moved], ignore_index=True) if moved else pd.DataFrame()
    if not len(analysis):
        return []
    records = _with_raw(_sdtm_records(sdtm or []), *raw)
    pointers = pd.concat([_pointers(d) for d in moved], ignore_index=True)
    sources = _sources(pointers, records) if len(records) else records
    shown = ["dataset", "change", "record", "detail", "raw"]
    source_of = {s: g[shown].to_dict("records") for s, g in sources.groupby("subject")}
    key = ["dataset", "subject", "change", "record"]
    other = records.merge(sources[key], on=key, how="left", indicator=True)
    other = other[other["_merge"] == "left_only"]
    other_of = {s: g[shown].to_dict("records") for s, g in other.groupby("subject")}
    return [{"subject": subject, "analysis": group[shown[:-1]].to_dict("records"), "sdtm_sources": source_of.get(subject, []),
             "sdtm_other": other_of.get(subject, [])}
            for subject, group in analysis.groupby("subject", sort=True)]


def report_cells(report: dict) -> pd.DataFrame:
    """Every cell of report.json's tables, one row each: id (table | row path | column position),
    table, title, row (group header / parent row / label), column (its header) and value."""
    parts = []
    for table in report.get("tables", []):
        rows = pd.DataFrame(table["rows"])
        if not len(rows):
            continue
        header = rows["label"].where(rows["header"].astype(bool), None).ffill().fillna("").astype(str)
        parent = rows["label"].where(rows["indent"] == 0, None).ffill().fillna("").astype(str)
        under = (rows["indent"] > 0) & (parent != header) & (parent != "")
        path = (header + " / ").where(header != "", "") + (parent + " / ").where(under, "") + rows["label"]
        repeat = rows.groupby(path).cumcount()
        path = path + (" (" + (repeat + 1).astype(str) + ")").where(repeat > 0, "")
        cells = rows.assign(path=path)[~rows["header"].astype(bool)].explode("cells").dropna(subset=["cells"])
        position = cells.groupby(level=0).cumcount().to_numpy()
        columns = np.array([*table["columns"], *(str(k + 1) for k in range(len(table["columns"]), position.max(initial=0) + 1))],
                           dtype=object)
        parts.append(pd.DataFrame({
            "id": table["id"] + " | " + cells["path"] + " | " + position.astype(str),
            "table": table["id"], "title": table["title"], "row": cells["path"], "column": columns[position],
            "value": cells["cells"].astype(str)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["id", "table", "title", "row", "column", "value"])


def _table_datasets(study) -> dict[str, set[str]]:
    """Table id -> the ADaM datasets it is computed from (report spec; ADSL always)."""
    if study is None:
        return {}
    from trialkit.reports.tlf import load_report_spec

    def named(body) -> set[str]:
        if isinstance(body, dict):
            own = {str(body["dataset"])} if isinstance(body.get("dataset"), str) else set()
            return own.union(*(named(v) for v in body.values()))
        if isinstance(body, list):
            return set().union(*(named(v) for v in body))
        return set()

    spec = load_report_spec(study)
    return {shell.id: {"ADSL", *named(shell.body), *(["ADTTE"] if shell.type in TTE_SHELLS else [])}
            for shell in (*spec.tables, *spec.figures)}


def explain_report(old_json: Path, new_json: Path, adam: list[DatasetDiff], study) -> list[dict]:
    """The report cells that changed (compared by id), grouped by table, each table with the
    subjects whose records changed in its analysis datasets. Empty when either side has no report."""
    if not (Path(old_json).is_file() and Path(new_json).is_file()):
        return []
    old = report_cells(json.loads(Path(old_json).read_text(encoding="utf-8")))
    new = report_cells(json.loads(Path(new_json).read_text(encoding="utf-8")))
    both = old.merge(new, on="id", how="outer", suffixes=("_old", "_new"))
    moved = both[both["value_old"].fillna("\0") != both["value_new"].fillna("\0")]
    if not len(moved):
        return []
    for column in ("table", "title", "row", "column"):
        moved = moved.assign(**{column: moved[f"{column}_new"].fillna(moved[f"{column}_old"])})
    datasets = _table_datasets(study)
    changed = {d.name: d.subjects() for d in adam}
    out = []
    for table, cells in moved.groupby("table", sort=False):
        names = sorted(datasets.get(table, set(changed)))
        subjects = sorted(set().union(*(changed.get(n, set()) for n in names)))
        out.append({"table": table, "title": cells["title"].iloc[0], "datasets": names, "subjects": subjects,
                    "cells": [{"row": r, "column": c, "old": o, "new": n} for r, c, o, n in
                              zip(cells["row"], cells["column"], cells["value_old"].where(cells["value_old"].notna(), None),
                                  cells["value_new"].where(cells["value_new"].notna(), None))]})
    return out
