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
from trialkit.memory_budget import check_fits
from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding
from trialkit.vectorize import compact
from trialkit.xpt import DatasetMeta


@dataclass(frozen=True)
class DatasetFile:
    path: Path
    meta: DatasetMeta | None      # None for a CSV file (no metadata)


def read_folder(folder: Path, encoding: str | None = None, metadata: dict[str, DatasetFile] | None = None,
                workers: int = 1) -> tuple[dict[str, pd.DataFrame], list[ValidationFinding]]:
    """Datasets by upper-case name; ``encoding`` is the XPT text encoding (None: UTF-8, as trialkit
    writes); ``metadata``: filled with each dataset's file and metadata. ``workers`` > 1 reads the
    files in that many forked processes, largest first (decoding a file is the cost; a compact frame
    comes back through a pipe in milliseconds)."""
    files = dataset_paths(folder)
    check_fits(files.values(), f"the datasets of {folder}")
    jobs = sorted(files.items(), key=lambda item: -item[1].stat().st_size if item[1].is_file() else 0)
    if workers > 1 and len(jobs) > 1 and can_fork():
        with forked_pool(min(workers, len(jobs))) as pool:
            read = list(pool.map(read_one, jobs, [encoding] * len(jobs)))
    else:
        read = [read_one(job, encoding) for job in jobs]
    datasets, findings = {}, []
    for name, frame, file, finding in sorted(read, key=lambda r: r[0]):
        if finding is not None:
            findings.append(finding)
            continue
        datasets[name] = frame
        if metadata is not None:
            metadata[name] = file
    return datasets, findings


def dataset_paths(folder: Path) -> dict[str, Path]:
    """The file of each dataset to validate, by upper-case name: trialkit.dataset_json.dataset_files,
    and CSV files; a dataset there as CSV and in another format is an InputError naming both."""
    files = dataset_files(folder)
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
