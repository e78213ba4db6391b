"""``trialkit simulate --pool N``: a pooled SDTM database of N simulated studies, as a data lake holds it.

Layout (validators/pooled.py reads it; Spark and pyarrow read a domain folder as one dataset)::

    POOL/dm/STUDY01.parquet ... POOL/dm/STUDY0N.parquet     one Parquet file per study per domain
    POOL/studies/STUDY01/ledger.json, findings.json, define.xml   what each study's SDTM stage wrote
    POOL/manifest.json                                        the studies: id, seed, subjects

Each study is the shipped study's simulation (raw export, then the SDTM stage, Parquet), with its
own seed (drawn from ``--seed`` by numpy's SeedSequence, so studies never share a random stream), its
own size and its own id: STUDYID is the pool's ``STUDYnn`` and USUBJID starts with it, so a subject
is never in two studies. The sizes vary (weights 2, 3, 4 in turn) and add up to ``subjects``.

Studies are independent (own seed, own files), so ``jobs`` forked processes may make them side by
side: a million subjects is 80 studies of 12,500 and well over an hour on one core. The pool is the
same whatever the number of jobs.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialkit.errors import InputError
from trialkit.forked import can_fork, forked_pool_sharing, shared_state
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
                  simulate: Callable, sdtm: Callable, on_study: Callable[[str], None] | None = None,
                  jobs: int = 1) -> dict:
    """Write the pool of ``studies`` studies, ``subjects`` in all, into ``out`` (the empty work folder
    of trialkit.atomic_output.output_folder, so the pool appears whole or not at all);
    ``simulate(subjects, seed, raw)`` writes a raw export and ``sdtm(raw, folder)`` maps it to Parquet
    SDTM (the pipeline's stages), in ``jobs`` forked processes. Returns the pool's manifest."""
    plan = [(f"STUDY{number:02d}", size, study_seed) for number, (size, study_seed)
            in enumerate(zip(study_sizes(subjects, studies), study_seeds(seed, studies), strict=True), start=1)]
    records: dict[str, dict[str, int]] = {}
    for studyid, made in _made(plan, simulate, sdtm, out, jobs):
        records[studyid] = made
        if on_study is not None:
            on_study(studyid)
    entries = [{"studyid": studyid, "seed": study_seed, "subjects": size, "records": records[studyid]}
               for studyid, size, study_seed in plan]
    manifest = {"study": study, "seed": seed, "subjects": subjects, "layout": "<domain>/<STUDYID>.parquet",
                "studies": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _made(plan: list[tuple[str, int, int]], simulate: Callable, sdtm: Callable, out: Path, jobs: int
          ) -> Iterator[tuple[str, dict[str, int]]]:
    """Each planned study's id and records per dataset as it is made: in ``jobs`` forked processes
    (in the order they finish), else one after the other."""
    if jobs > 1 and len(plan) > 1 and can_fork():
        # the stages are closures: the workers inherit them through the fork instead of a pickle
        with forked_pool_sharing((simulate, sdtm, out), min(jobs, len(plan))) as pool:
            futures = {pool.submit(_shared_study, *planned): planned[0] for planned in plan}
            for future in as_completed(futures):
                yield futures[future], future.result()      # a study's failure fails the pool
    else:
        for planned in plan:
            yield planned[0], _one_study(simulate, sdtm, out, *planned)


def _one_study(simulate: Callable, sdtm: Callable, out: Path, studyid: str, size: int, study_seed: int) -> dict[str, int]:
    """One study simulated, mapped and moved into the pool (_move_study); its records per dataset."""
    with tempfile.TemporaryDirectory(prefix=f".{studyid}-", dir=out) as tmp:
        raw, folder = Path(tmp) / "raw", Path(tmp) / "sdtm"
        simulate(size, study_seed, raw)
        sdtm(raw, folder)
        return _move_study(folder, out, studyid)


def _shared_study(studyid: str, size: int, study_seed: int) -> dict[str, int]:
    """_one_study in a worker of simulate_pool's forked pool, with the stages it inherited."""
    simulate, sdtm, out = shared_state()
    return _one_study(simulate, sdtm, out, studyid, size, study_seed)


def _move_study(folder: Path, out: Path, studyid: str) -> dict[str, int]:
    """One study's Parquet SDTM into the pool's domain folders, relabelled; its ledger, findings and
    define.xml under studies/<STUDYID>/. Returns the records per dataset."""
    records = {}
    for file in sorted(folder.glob("*.parquet")):
        table = pq.read_table(file)
        old = table["STUDYID"][0].as_py() if "STUDYID" in table.column_names and table.num_rows else None
        if old is not None:
            table = relabel(table, old, studyid)
        (out / file.stem).mkdir(exist_ok=True)          # studies made side by side may both create it
        pq.write_table(table, out / file.stem / f"{studyid}.parquet", row_group_size=ROW_GROUP_ROWS)
        records[file.stem.upper()] = table.num_rows
    kept = out / "studies" / studyid
    kept.mkdir(parents=True)
    for name in ("ledger.json", "findings.json", "define.xml"):
        if (folder / name).is_file():
            shutil.copy2(folder / name, kept / name)
    return records
