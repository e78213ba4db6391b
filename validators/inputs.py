"""Reading datasets to validate: every XPT, Dataset-JSON (and CSV) dataset of a folder; an unreadable
file becomes a finding of its own (TK-IO-0001), never a crash, and the other files are still read.
Variable labels travel with the frame in ``frame.attrs["labels"]`` for the label rules, and the
whole variable metadata (``attrs["variables"]``: label, type, length) with the file (``attrs["file"]``)
and dataset label (``attrs["label"]``) for the CORE rules, which look at dataset metadata too.

Every dataset of both folders is held at once while the rules run, so text is held compactly
(trialkit.vectorize ``compact``): a text column that repeats its values is a pandas ``category``, one
small integer per record instead of one Python string per cell. The rules see the same values either
way; ``plain`` turns such columns back into text where the text of several frames meets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import TrialkitError
from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding
from trialkit.vectorize import compact


def read_folder(folder: Path, encoding: str | None = None) -> tuple[dict[str, pd.DataFrame], list[ValidationFinding]]:
    """Datasets by upper-case name; ``encoding`` is the XPT text encoding (None: UTF-8, as trialkit writes)."""
    datasets, findings = {}, []
    files = dataset_files(folder)
    files.update({p.stem.upper(): p for p in sorted(Path(folder).glob("*.csv")) if p.stem.upper() not in files})
    for name, path in sorted(files.items()):
        try:
            if path.suffix.lower() != ".csv":
                frame, meta = read_dataset(path, encoding=encoding)
                frame.attrs["labels"] = {v.name: v.label for v in meta.variables}
                frame.attrs["variables"] = meta.variables
                frame.attrs["label"] = meta.label
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.attrs["file"] = str(path)
        except (TrialkitError, OSError, ValueError, pd.errors.ParserError) as exc:
            findings.append(ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name, f"{path.name}: {exc}"))
            continue
        datasets[name] = compact(frame)
    return datasets, findings
