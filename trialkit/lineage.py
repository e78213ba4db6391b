"""Lineage: from a problem in ADaM back to the SDTM record and the raw row behind it.

An ADaM derivation that stops names a dataset and the subjects at fault ("EFS: no event and no
censoring date for 1 subject"). The cause is nearly always upstream: a raw value the SDTM stage could
not map left an SDTM variable empty. The SDTM stage wrote what is needed to find it, beside the
datasets: provenance.tsv (the raw file and record of every SDTM record: trialkit.provenance) and
findings.json (every value it could not map, with file, row, column, value and spec key). This
module reads them; it never re-derives anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.findings import Finding
from trialkit.provenance import raw_record, read_provenance

SHOWN_SUBJECTS = 3


def read_findings(sdtm_dir: Path) -> list[Finding]:
    """findings.json of an SDTM folder as Finding objects; none when there is no such file."""
    path = Path(sdtm_dir) / "findings.json"
    if not path.is_file():
        return []
    return [Finding(**item) for item in json.loads(path.read_text(encoding="utf-8"))]


def raw_rows(provenance: pd.DataFrame, dataset: str, record: int) -> str:
    """'enrol.csv row 6, dm.csv row 6': the raw records behind one SDTM record (an ODM export's by
    their locators)."""
    rows = provenance[(provenance["dataset"] == dataset) & (provenance["record"] == record)]
    return ", ".join(raw_record(*where) for where in zip(rows["file"], rows["row"], rows["locator"])) or "no raw record"


def subject_causes(sdtm_dir: Path, subjects: tuple[str, ...], limit: int = SHOWN_SUBJECTS) -> list[str]:
    """For the first ``limit`` subjects: their DM record with the raw rows behind it, then every
    error the SDTM stage found in that subject's raw records (the likely cause)."""
    files = dataset_files(sdtm_dir) if Path(sdtm_dir).is_dir() else {}
    if not subjects or "DM" not in files:
        return []
    dm, _ = read_dataset(files["DM"])
    provenance = read_provenance(sdtm_dir)
    findings = [f for f in read_findings(sdtm_dir) if f.severity == "error"]
    lines = []
    for usubjid in subjects[:limit]:
        position = (dm["USUBJID"].astype(str) == usubjid).to_numpy().nonzero()[0]
        if not len(position):
            lines.append(f"{usubjid}: no DM record in {sdtm_dir}")
            continue
        record = int(position[0]) + 1
        subjid = str(dm["SUBJID"].iloc[position[0]]) if "SUBJID" in dm else ""
        lines.append(f"{usubjid}: SDTM DM record {record}, from {raw_rows(provenance, 'DM', record)}")
        own = [f for f in findings if f.subject == subjid]
        lines += [f"  SDTM stage {f}" for f in own] or ["  no SDTM error for this subject"]
    if len(subjects) > limit:
        lines.append(f"and {len(subjects) - limit} more subject(s)")
    return lines


def record_causes(sdtm_dir: Path, dataset: str, records: pd.DataFrame, limit: int = SHOWN_SUBJECTS) -> list[str]:
    """The SDTM records an error shows (``records``: rows of SDTM dataset ``dataset`` with USUBJID
    and --SEQ), each with its record number and the raw row behind it."""
    seq = f"{dataset}SEQ"
    files = dataset_files(sdtm_dir) if Path(sdtm_dir).is_dir() else {}
    if dataset not in files or records is None or not {"USUBJID", seq} <= set(records.columns):
        return []
    frame, _ = read_dataset(files[dataset])
    numbers = pd.Series(range(1, len(frame) + 1), index=pd.MultiIndex.from_arrays(
        [frame["USUBJID"].astype(str), pd.to_numeric(frame[seq], errors="coerce")]))
    provenance = read_provenance(sdtm_dir)
    lines = []
    for usubjid, number in zip(records["USUBJID"].astype(str)[:limit], pd.to_numeric(records[seq], errors="coerce")[:limit]):
        record = numbers.get((usubjid, number))
        if record is not None:
            lines.append(f"SDTM {dataset} record {record} (USUBJID {usubjid}, {seq} {number:g}), "
                         f"from {raw_rows(provenance, dataset, int(record))}")
    return lines


def adam_error_causes(err, sdtm_dir: Path) -> list[str]:
    """The lines that follow an AdamError on the terminal: the SDTM records it is about with their raw
    rows, then where its subjects come from and what the SDTM stage found wrong there."""
    return (record_causes(sdtm_dir, getattr(err, "dataset", None) or "", getattr(err, "records", None))
            + subject_causes(sdtm_dir, getattr(err, "subjects", ())))
