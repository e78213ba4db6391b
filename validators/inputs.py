"""Reading datasets to validate: every XPT, Dataset-JSON (and CSV) dataset of a folder; an unreadable
file becomes a finding of its own (TK-IO-0001), never a crash, and the other files are still read.
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
from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding
from trialkit.vectorize import compact
from trialkit.xpt import DatasetMeta


@dataclass(frozen=True)
class DatasetFile:
    path: Path
    meta: DatasetMeta | None      # None for a CSV file (no metadata)


def read_folder(folder: Path, encoding: str | None = None, metadata: dict[str, DatasetFile] | None = None
                ) -> tuple[dict[str, pd.DataFrame], list[ValidationFinding]]:
    """Datasets by upper-case name; ``encoding`` is the XPT text encoding (None: UTF-8, as trialkit
    writes); ``metadata``: filled with each dataset's file and metadata."""
    datasets, findings = {}, []
    files = dataset_files(folder)
    for csv in sorted(Path(folder).glob("*.csv")):
        if csv.stem.upper() in files:      # never a silent preference between two files of one dataset
            raise InputError(f"dataset {csv.stem.upper()} is there twice ({files[csv.stem.upper()].name} and "
                             f"{csv.name}): remove the one not to validate", file=str(folder))
        files[csv.stem.upper()] = csv
    for name, path in sorted(files.items()):
        try:
            meta = None
            if path.suffix.lower() != ".csv":
                frame, meta = read_dataset(path, encoding=encoding)
                frame.attrs["labels"] = {v.name: v.label for v in meta.variables}
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (TrialkitError, OSError, ValueError, pd.errors.ParserError) as exc:
            findings.append(ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name, f"{path.name}: {exc}"))
            continue
        datasets[name] = compact(frame)
        if metadata is not None:
            metadata[name] = DatasetFile(path, meta)
    return datasets, findings
