"""Reading datasets to validate: every XPT, Dataset-JSON (and CSV) dataset of a folder; an unreadable
file becomes a finding of its own (TK-IO-0001), never a crash, and the other files are still read.
Variable labels travel with the frame in ``frame.attrs["labels"]`` for the label rules.

Every dataset of both folders is held at once while the rules run, so text is held compactly
(``compact``): a text column that repeats its values is a pandas ``category``, one small integer per
record instead of one Python string per cell. The rules see the same values either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import TrialkitError
from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding


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
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (TrialkitError, OSError, ValueError, pd.errors.ParserError) as exc:
            findings.append(ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name, f"{path.name}: {exc}"))
            continue
        datasets[name] = compact(frame)
    return datasets, findings


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text (object) column that has fewer distinct values than half its records
    as a ``category`` column, in place; returned for convenience.

    Why half: an object column read from XPT holds one Python string per cell (some 50 bytes and
    more each); a category column one small integer code per record plus one string per distinct
    value. Below half, at least every other string goes, and clinical text repeats far more than that
    (codes, terms, visits, dates: a few thousand distinct values over a million records; USUBJID
    outside DM and ADSL). A column of mostly distinct values (DM.USUBJID, free text, a --SEQ held as
    text) would keep nearly every string in its categories and only add the codes and an indirection
    to every check, so it stays object. Categories are sorted (``astype("category")``), so grouping by
    a category column orders groups as grouping the text does. Called per file as it is read, so the
    object form of only one dataset is alive at a time."""
    for column in frame.columns[frame.dtypes == object]:
        values = frame[column].astype("category")
        if len(values.cat.categories) < len(frame) / 2:
            frame[column] = values
    return frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its category columns as object again, for work that mixes the text of several
    frames (merges, concatenation, comparing two columns): category columns with different categories
    neither compare nor concatenate as text does. Cheap: the object column points at the categories'
    own strings, one pointer per record."""
    categorical = {c: object for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)}
    return frame.astype(categorical) if categorical else frame
