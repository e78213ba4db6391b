"""``trialkit simulate --pool N``: a pooled SDTM database of N simulated studies, as a data lake holds it.

Layout (validators/pooled.py reads it; Spark and pyarrow read a domain folder as one dataset)::

    POOL/dm/STUDY01.parquet ... POOL/dm/STUDY0N.parquet     one Parquet file per study per domain
    POOL/studies/STUDY01/ledger.json, findings.json, define.xml   what each study's SDTM stage wrote
    POOL/manifest.json                                        the studies: id, seed, subjects

Each study is the shipped study's simulation (raw export, then the SDTM stage, Parquet), with its
own seed (drawn from ``--seed`` by numpy's SeedSequence, so studies never share a random stream), its
own size and its own id: STUDYID is the pool's ``STUDYnn`` and USUBJID starts with it, so a subject
is never in two studies. The sizes vary (weights 2, 3, 4 in turn) and add up to ``subjects``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialkit.errors import InputError
from trialkit.formats.parquet import ROW_GROUP_ROWS

WEIGHTS = (2, 3, 4)


def study_sizes(total: int, studies: int) -> list[int]:
    """``total`` subjects split among ``studies`` in the proportions WEIGHTS (in turn), each at least 1."""
    if total < studies:
        raise InputError(f"--subjects {total} is fewer than the {studies} studies of --pool: each study needs a subject")
    weights = np.array([WEIGHTS[i % len(WEIGHTS)] for i in range(studies)], dtype=float)
    sizes = np.maximum(1, np.floor(total * weights / weights.sum())).astype(int)
    sizes[-1] += total - sizes.sum()
    return sizes.tolist()


def study_seeds(seed: int, studies: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(studies)]


def relabel(table: pa.Table, old: str, new: str) -> pa.Table:
    """The table with STUDYID ``old`` as ``new``, and each USUBJID's ``old-`` prefix as ``new-``."""
    for column in ("STUDYID", "USUBJID"):
        if column in table.column_names:
            index = table.column_names.index(column)
            values = pc.replace_substring_regex(table[column], pattern=f"^{re.escape(old)}(-|$)", replacement=new + r"\1")
            table = table.set_column(index, table.schema.field(index), values)
    return table


def simulate_pool(study: str, studies: int, subjects: int, seed: int, out: Path,
                  simulate: Callable, sdtm: Callable, on_study: Callable[[str], None] | None = None) -> dict:
    """Write the pool of ``studies`` studies, ``subjects`` in all, into ``out`` (the empty work folder
    of trialkit.atomic_output.output_folder, so the pool appears whole or not at all);
    ``simulate(subjects, seed, raw)`` writes a raw export and ``sdtm(raw, folder)`` maps it to Parquet
    SDTM (the pipeline's stages). Returns the pool's manifest."""
    entries = []
    for number, (size, study_seed) in enumerate(zip(study_sizes(subjects, studies), study_seeds(seed, studies),
                                                    strict=True), start=1):
        studyid = f"STUDY{number:02d}"
        with tempfile.TemporaryDirectory(prefix=f".{studyid}-", dir=out) as tmp:
            raw, folder = Path(tmp) / "raw", Path(tmp) / "sdtm"
            simulate(size, study_seed, raw)
            sdtm(raw, folder)
            records = _move_study(folder, out, studyid)
        entries.append({"studyid": studyid, "seed": study_seed, "subjects": size, "records": records})
        if on_study is not None:
            on_study(studyid)
    manifest = {"study": study, "seed": seed, "subjects": subjects, "layout": "<domain>/<STUDYID>.parquet",
                "studies": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _move_study(folder: Path, out: Path, studyid: str) -> dict[str, int]:
    """One study's Parquet SDTM into the pool's domain folders, relabelled; its ledger, findings and
    define.xml under studies/<STUDYID>/. Returns the records per dataset."""
    records = {}
    for file in sorted(folder.glob("*.parquet")):
        table = pq.read_table(file)
        old = table["STUDYID"][0].as_py() if "STUDYID" in table.column_names and table.num_rows else None
        if old is not None:
            table = relabel(table, old, studyid)
        (out / file.stem).mkdir(exist_ok=True)
        pq.write_table(table, out / file.stem / f"{studyid}.parquet", row_group_size=ROW_GROUP_ROWS)
        records[file.stem.upper()] = table.num_rows
    kept = out / "studies" / studyid
    kept.mkdir(parents=True)
    for name in ("ledger.json", "findings.json", "define.xml"):
        if (folder / name).is_file():
            shutil.copy2(folder / name, kept / name)
    return records
