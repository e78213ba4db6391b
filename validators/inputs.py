"""Reading datasets to validate: every XPT, Dataset-JSON, Parquet (and CSV) dataset of a folder; an
unreadable file becomes a finding of its own (TK-IO-0001), never a crash, and the other files are still read.
Variable labels travel with the frame in ``frame.attrs["labels"]`` for the label rules. The CORE
rules look at all the metadata (dataset label, variables' types and lengths, the file): a caller
that wants it passes a ``metadata`` dict, filled with a :class:`DatasetFile` per dataset. It is kept
out of ``attrs`` because pandas deep-copies attrs into every frame derived from one.

Every dataset of both folders is held at once while the rules run, so text is held compactly
(trialkit.vectorize ``compact``): a text column that repeats its values is a pandas ``category``, one
small integer per record instead of one Python string per cell. The rules see the same values either
way; ``plain`` turns such columns back into text where the text of several frames meets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import InputError, TrialkitError
from trialkit.forked import can_fork, forked_pool
from trialkit.formats.parquet import read_parquet
from trialkit.memory_budget import check_fits
from trialkit.validators.pooled import inspect, is_pooled, pooled_folders, study_files
from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding
from trialkit.vectorize import compact
from trialkit.xpt import DatasetMeta

MEMORY_ADVICE = "split the input, or run on a machine with more memory"


@dataclass(frozen=True)
class DatasetFile:
    path: Path
    meta: DatasetMeta | None      # None for a CSV file (no metadata)


def read_folder(folder: Path, encoding: str | None = None, metadata: dict[str, DatasetFile] | None = None,
                workers: int = 1, advice: str = MEMORY_ADVICE) -> tuple[dict[str, pd.DataFrame], list[ValidationFinding]]:
    """Datasets by upper-case name; ``encoding`` is the XPT text encoding (None: UTF-8, as trialkit
    writes); ``metadata``: filled with each dataset's file and metadata. ``workers`` > 1 reads the
    files in that many forked processes, largest first (decoding a file is the cost; a compact frame
    comes back through a pipe in milliseconds). A domain folder of a pooled database (validators/pooled.py)
    is one dataset of all its study files. ``advice``: what the refusal of an input beyond memory advises."""
    files = dataset_paths(folder)
    check_fits(dataset_files_read(files.values()), f"the datasets of {folder}", advice)
    jobs = sorted(files.items(), key=lambda item: -item[1].stat().st_size if item[1].is_file() else 0)
    if workers > 1 and len(jobs) > 1 and can_fork():
        with forked_pool(min(workers, len(jobs))) as pool:
            read = list(pool.map(read_one, jobs, [encoding] * len(jobs)))
    else:
        read = [read_one(job, encoding) for job in jobs]
    datasets, findings = {}, []
    for name, frame, file, found in sorted(read, key=lambda r: r[0]):
        findings += found if isinstance(found, list) else [found] if found is not None else []
        if frame is None:
            continue
        datasets[name] = frame
        if metadata is not None:
            metadata[name] = file
    return datasets, findings


def dataset_files_read(paths) -> list[Path]:
    """The files reading ``paths`` opens: a pooled domain folder's study files, other paths as they are."""
    return [f for p in paths for f in (study_files(p) if is_pooled(p) else [p])]


def dataset_paths(folder: Path) -> dict[str, Path]:
    """The file of each dataset to validate, by upper-case name: trialkit.dataset_json.dataset_files,
    CSV files, and the domain folders of a pooled database; a dataset there twice (as CSV and in another
    format, or as a file and a pooled folder) is an InputError naming both."""
    files = dataset_files(folder)
    for name, pooled in pooled_folders(folder).items():
        if name in files:
            raise InputError(f"dataset {name} is there twice ({files[name].name} and the pooled folder "
                             f"{pooled.name}/): remove the one not to validate", file=str(folder))
        files[name] = pooled
    for csv in sorted(Path(folder).glob("*.csv")):
        if csv.stem.upper() in files:      # never a silent preference between two files of one dataset
            raise InputError(f"dataset {csv.stem.upper()} is there twice ({files[csv.stem.upper()].name} and "
                             f"{csv.name}): remove the one not to validate", file=str(folder))
        files[csv.stem.upper()] = csv
    return files


def read_one(job: tuple[str, Path], encoding: str | None
              ) -> tuple[str, pd.DataFrame | None, DatasetFile | None, ValidationFinding | None]:
    """One dataset file read and held compactly, or the finding that says why it cannot be."""
    name, path = job
    if is_pooled(path):
        return read_pooled(name, path)
    if not path.is_file():      # a FIFO would block the read for ever, a device never end: neither is opened
        return name, None, None, ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name,
                                                   f"{path.name}: not a regular file (a FIFO, device or folder); not read")
    try:
        meta = None
        if path.suffix.lower() != ".csv":
            frame, meta = read_dataset(path, encoding=encoding)
            frame.attrs["labels"] = {v.name: v.label for v in meta.variables}
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (TrialkitError, OSError, ValueError, pd.errors.ParserError) as exc:
        return name, None, None, ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name, f"{path.name}: {exc}")
    return name, compact(frame), DatasetFile(path, meta), None


def read_pooled(name: str, path: Path) -> tuple[str, pd.DataFrame | None, DatasetFile | None, list[ValidationFinding]]:
    """A pooled domain folder as one frame, its study files' records in file-name order; a drifted
    variable's values in its study read as missing (validators/pooled.py), with the findings that say so."""
    pool, findings = inspect(name, path)
    if pool is None:
        return name, None, None, findings
    frames, metas = [], []
    for file in pool.files:
        try:
            frame, meta = read_parquet(file)
        except TrialkitError as exc:
            return name, None, None, [*findings, ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name,
                                                                   f"{path.name}/{file.name}: {exc}")]
        for column in pool.drifted.get(file, ()):
            frame[column] = "" if pool.types[column] == "Char" else float("nan")
        frames.append(frame)
        metas.append(meta)
    meta = next((m for m, f in zip(metas, pool.files, strict=True) if f not in pool.drifted), metas[0])
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["labels"] = {v.name: v.label for v in meta.variables}
    return name, compact(frame), DatasetFile(path, meta), findings
