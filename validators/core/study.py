"""The datasets under validation, with the metadata CORE rules look at.

A :class:`Dataset` is one file: its name (``LBCH``), label, variables (label, type, length, order)
and records. Its *domain* is the DOMAIN of its first record, as CORE reads it, so a split dataset
(LBCH, LBHE with DOMAIN = LB) has the unsplit name LB and is validated together with its
siblings; SUPP--/SQ-- datasets take their related domain from RDOMAIN; an AP-- dataset (a record
with APID) substitutes its two-letter suffix for the ``--`` of variable names.

Records are held as read: Char values as text ('' or None for blank), Num values as float (NaN for
missing). Two columns are added to every frame a rule evaluates, :data:`SOURCE` (the dataset the
record comes from) and :data:`ROW` (its 1-based record number there), so that a finding on a merged
or concatenated frame still names the record in the file the user has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import pandas as pd

from trialkit.vectorize import per_unique, plain

SOURCE = "@dataset"     # not a SAS name: it can never clash with a variable
ROW = "@row"
SUPP_PREFIXES = ("SUPP", "SQ")
KEEP_READ = 4           # datasets kept as plain text for joins (Study.records_as_read)


@dataclass(frozen=True)
class Variable:
    name: str
    label: str = ""
    type: str = "Char"          # Char | Num
    length: int | None = None
    order: int = 0              # 1-based position in the dataset


@dataclass
class Dataset:
    name: str                   # upper case, as submitted: AE, LBCH, SUPPAE
    frame: pd.DataFrame = field(repr=False)
    variables: tuple[Variable, ...] = ()
    label: str = ""
    filename: str = ""          # the file's name (ae.xpt)
    size: int = 0               # the file's size in bytes
    modified: str = ""          # the file's modification time, ISO 8601
    records: int | None = None  # its number of records where ``frame`` holds fewer (the Spark engine's: the first)
    empties: dict[str, int] | None = None   # per variable, its empty values where ``frame`` holds fewer

    @property
    def record_count(self) -> int:
        return len(self.frame) if self.records is None else self.records

    def empty_counts(self) -> dict[str, int]:
        """Per variable of the records, how many of its values are empty (CORE's null flavours:
        None, NaN, ''): counted from ``frame``, or as the Spark engine measured them over every record."""
        if self.empties is not None:
            return self.empties
        from trialkit.validators.core.context import empty  # context imports this module

        return {name: int(empty(plain(self.frame[[name]])[name]).sum()) for name in self.frame.columns}

    @cached_property
    def first_record(self) -> dict:
        return {} if self.frame.empty else self.frame.iloc[0].to_dict()

    def _first(self, variable: str) -> str | None:
        value = self.first_record.get(variable)
        return value if isinstance(value, str) and value.strip() else None

    @property
    def is_supp(self) -> bool:
        return self.name.startswith(SUPP_PREFIXES)

    @cached_property
    def domain(self) -> str | None:
        return self._first("DOMAIN")

    @cached_property
    def rdomain(self) -> str | None:
        return self._first("RDOMAIN") if self.is_supp else None

    @cached_property
    def unsplit_name(self) -> str:
        if self.domain:
            return self.domain
        if self.is_supp:
            prefix = "SUPP" if self.name.startswith("SUPP") else "SQ"
            return f"{prefix}{self.rdomain}" if self.rdomain else self.name
        return self.name

    @property
    def is_split(self) -> bool:
        return self.name != self.unsplit_name

    @property
    def is_ap(self) -> bool:
        """An associated-persons dataset: with APID, or named AP.. (as CORE tells; APSU without APID
        is still AP, its -- being SU)."""
        if self.is_supp:
            return bool(self.rdomain) and len(self.rdomain) == 4 and self.rdomain.startswith("AP")
        return "APID" in self.first_record or self.name.startswith("AP")

    @property
    def ap_suffix(self) -> str:
        if not self.is_ap or self.is_supp:
            return ""
        return self.domain[2:] if self.domain and len(self.domain) >= 4 else ""

    @property
    def wildcard(self) -> str:
        """What ``--`` in a variable name stands for in this dataset (AE for AESEQ)."""
        return self.ap_suffix or self.domain or ""

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)


@dataclass
class Study:
    """The datasets of one submission, in the order CORE visits them, and what the run is for."""

    datasets: list[Dataset]
    standard: str = "sdtmig"
    version: str = "3-4"        # 3-4 or 3.4; compared without the separator
    define: Path | None = None
    _content: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _read: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _derived: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    def by_name(self, name: str) -> Dataset | None:
        """The dataset called ``name``, else the first whose unsplit name (domain) is ``name``."""
        return next((d for d in self.datasets if d.name == name), None) or next(
            (d for d in self.datasets if d.unsplit_name == name), None)

    def siblings(self, dataset: Dataset) -> list[Dataset]:
        """``dataset`` and the other parts of the same split domain (LBCH, LBHE, LBUR for LB)."""
        if not dataset.is_split:
            return [dataset]
        return [d for d in self.datasets if d.unsplit_name == dataset.unsplit_name]

    def content(self, dataset: Dataset) -> pd.DataFrame:
        """The records a rule on ``dataset`` evaluates: its split siblings concatenated, each record
        tagged with its source dataset and row, text columns as plain text (not categories). Built
        once and shared by every rule until :meth:`release`: never modify it, copy first."""
        key = self._key(dataset)
        if key not in self._content:
            parts = [tag(d.frame, d.name) for d in self.siblings(dataset)]
            # .copy() consolidates the frame's blocks once, instead of in every rule's operations
            self._content[key] = plain(parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)).copy()
        return self._content[key]

    def records_as_read(self, dataset: Dataset) -> pd.DataFrame:
        """One dataset's own records as plain text (no split siblings, no source columns), for
        joining onto another dataset. The last few are kept: the same small datasets (DM, TA,
        SUPP--) are joined by rule after rule. Never modify it."""
        if dataset.name not in self._read:
            if len(self._read) >= KEEP_READ:
                self._read.pop(next(iter(self._read)))
            self._read[dataset.name] = plain(dataset.frame).copy()
        return self._read[dataset.name]

    def derived(self, dataset: Dataset, what: str, build) -> pd.DataFrame:
        """A frame built from ``dataset``'s records once and shared by every rule until
        :meth:`release` (e.g. its distinct values for value checks). Never modify it."""
        key = (self._key(dataset), what)
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def release(self, dataset: Dataset) -> None:
        """Forget the shared records of ``dataset`` (the engine has run every rule on it)."""
        key = self._key(dataset)
        self._content.pop(key, None)
        for derived in [k for k in self._derived if k[0] == key]:
            del self._derived[derived]

    def _key(self, dataset: Dataset) -> str:
        return dataset.unsplit_name if dataset.is_split else dataset.name

    def domains(self) -> list[str]:
        """The unsplit names present, in order (what domain presence checks look at)."""
        return list(dict.fromkeys(d.unsplit_name for d in self.datasets))


def tag(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` with its source dataset and 1-based record numbers (a new frame, without the reader's
    ``attrs``: pandas deep-copies attrs into every frame derived from one, which on a large study
    cost more than the rules)."""
    out = frame.copy()
    out.attrs = {}
    out[SOURCE] = name
    out[ROW] = range(1, len(frame) + 1)
    return out


def study_from_frames(frames: dict[str, pd.DataFrame], files: dict, standard: str = "sdtmig", version: str = "3-4",
                      define: Path | None = None) -> Study:
    """A study of the frames ``validators.inputs.read_folder`` read, with the metadata it gave
    (``files``: name -> DatasetFile), in name order as the CORE engine lists a folder."""
    datasets = []
    for name, frame in sorted(frames.items()):
        entry = files.get(name)
        path = Path(entry.path) if entry is not None else Path(f"{name.lower()}.xpt")
        declared = entry.meta.variables if entry is not None and entry.meta is not None else ()
        variables = tuple(Variable(v.name, v.label, v.type, v.length, i) for i, v in enumerate(declared, start=1)) or \
            tuple(Variable(c, "", "Char", None, i) for i, c in enumerate(frame.columns, start=1))
        stat = path.stat() if path.is_file() else None
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(timespec="seconds") if stat else ""
        label = entry.meta.label if entry is not None and entry.meta is not None else ""
        frame = transport_rounded(frame) if path.suffix.lower() == ".xpt" else frame.copy(deep=False)
        frame.attrs = {}          # pandas deep-copies attrs into every frame derived from one
        datasets.append(Dataset(name.upper(), frame, variables, label, path.name, stat.st_size if stat else 0, modified))
    return Study(datasets, standard, version, define)


def transport_rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Num values of an XPT file rounded to 15 decimals, as the CORE engine reads them.

    XPT stores IBM floating point: 2.1956 written by SAS reads back as 2.1955999999999998, which
    then differs from the text '2.1956' in --STRESC or from 1.3 read from another dataset. CORE
    rounds every float it reads from XPT to 15 decimals; so do the CORE rules here (trialkit's own
    rules keep the values as read)."""
    numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    out = frame.copy(deep=False)
    for column in numeric:
        out[column] = per_unique(out[column], lambda u: u.map(lambda x: round(x, 15)))
    return out
