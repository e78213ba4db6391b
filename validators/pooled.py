"""Pooled databases: one dataset of several studies, a folder per domain holding a Parquet file per study.

The data-lake shape of a pooled analysis (``trialkit simulate --pool N`` writes it)::

    POOL/dm/STUDY01.parquet  POOL/dm/STUDY02.parquet  POOL/ae/STUDY01.parquet ...

STUDYID tells the studies apart inside the data; the file of a study is named after it. Spark and
pyarrow read such a folder as one dataset; so do both engines of ``trialkit validate``: the records
of a domain's files, in file-name order, are the dataset's records, numbered 1..n across the files;
a finding's record number is then turned back into the study's file and the record within it
(:func:`locate`), so it names the study.

Schema drift: a variable of another type (Char / Num) in one study's file than in the others is a
TK-POOL-0001 finding naming the study's file, the dataset, the variable and both types; that
variable's values in that study are read as missing (they cannot sit in one column with the others),
and everything else of that study is checked as usual. The schemas are compared from the Parquet
footers only (no data read), so both engines make the same decision and the same finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding, rule

SCHEMA_DRIFT = rule("TK-POOL-0001", "error", "Variable of another type in one study of a pooled dataset",
                    "A pooled dataset holds one variable in one column: a study whose file stores it as text where "
                    "the others store numbers (or the reverse) cannot be pooled as it is. Its values there are "
                    "read as missing and the rest of that study is still checked.")


@dataclass(frozen=True)
class PooledDataset:
    """A domain folder of a pool: its study files (file-name order), their record counts and Arrow
    schemas, each variable's type (the one most files have), and per file the variables read as missing."""

    name: str
    files: tuple[Path, ...]
    rows: tuple[int, ...]
    schemas: tuple[pa.Schema, ...]
    types: dict[str, str]
    drifted: dict[Path, tuple[str, ...]]

    def alike(self) -> list[tuple[Path, ...]]:
        """The files in groups of one schema (the same variables, order and storage types; labels may
        differ), each group in file-name order, the groups in the order of their first file: what one
        reader may read at once (a group's files drift alike)."""
        groups: list[tuple[pa.Schema, list[Path]]] = []
        for file, schema in zip(self.files, self.schemas, strict=True):
            group = next((g for s, g in groups if s.equals(schema, check_metadata=False)), None)
            if group is None:
                groups.append((schema, [file]))
            else:
                group.append(file)
        return [tuple(g) for _, g in groups]

    def where(self, row: int) -> tuple[Path, int]:
        """The study file and the 1-based record within it of the pooled record ``row`` (1-based)."""
        for file, n in zip(self.files, self.rows, strict=True):
            if row <= n:
                return file, row
            row -= n
        raise IndexError(f"record {row} beyond the pooled dataset {self.name}")


def is_pooled(path: Path) -> bool:
    """Whether ``path`` is a domain folder of a pool: a folder holding Parquet files."""
    return path.is_dir() and any(p.suffix.lower() == ".parquet" for p in path.iterdir())


def is_pool(folder: Path) -> bool:
    """Whether ``folder`` is a pooled database: its DM a domain folder of Parquet files per study."""
    return is_pooled(Path(folder) / "dm")


def pooled_folders(folder: Path) -> dict[str, Path]:
    """The domain folders of a pool by upper-case dataset name (``dm/`` -> DM)."""
    return {p.name.upper(): p for p in sorted(Path(folder).iterdir()) if is_pooled(p)}


def pools_of(folder: Path) -> dict[str, PooledDataset]:
    """The pooled datasets of a folder whose footers can be read, by name (for :func:`locate`)."""
    pools = {name: inspect(name, path)[0] for name, path in pooled_folders(folder).items()}
    return {name: pool for name, pool in pools.items() if pool is not None}


def study_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet")


def sas_type(kind: pa.DataType) -> str:
    return "Char" if pa.types.is_string(kind) or pa.types.is_large_string(kind) else "Num"


def inspect(name: str, path: Path) -> tuple[PooledDataset | None, list[ValidationFinding]]:
    """The pooled dataset of a domain folder from its files' footers, and its findings: a file
    that is not Parquet (TK-IO-0001, the dataset then unread), a variable's type drift (TK-POOL-0001)."""
    files, schemas, rows, findings = study_files(path), [], [], []
    for file in files:
        try:
            meta = pq.read_metadata(file)
        except (pa.ArrowException, OSError) as exc:
            findings.append(ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name,
                                              f"{path.name}/{file.name}: not a readable Parquet file: {exc}"))
            continue
        schemas.append(meta.schema.to_arrow_schema())
        rows.append(meta.num_rows)
    if findings:
        return None, findings
    votes: dict[str, Counter] = {}
    for schema in schemas:
        for field in schema:
            votes.setdefault(field.name, Counter())[sas_type(field.type)] += 1
    types = {column: counts.most_common(1)[0][0] for column, counts in votes.items()}
    drifted = {}
    for file, schema in zip(files, schemas, strict=True):
        off = tuple(f.name for f in schema if sas_type(f.type) != types[f.name])
        if off:
            drifted[file] = off
        for column in off:
            other = Counter(t for t in votes[column].elements() if t != types[column])
            findings.append(ValidationFinding(
                SCHEMA_DRIFT.id, SCHEMA_DRIFT.severity, name,
                f"{path.name}/{file.name}: {column} is {sas_type(schema.field(column).type)} "
                f"({schema.field(column).type}) in this study, {types[column]} in the other "
                f"{sum(votes[column].values()) - sum(other.values())} studies; its values in this study are read as "
                "missing", variable=column, value=file.stem))
    return PooledDataset(name, tuple(files), tuple(rows), tuple(schemas), types, drifted), findings


def locate(findings: list[ValidationFinding], pools: dict[str, PooledDataset]) -> list[ValidationFinding]:
    """Each finding on a record of a pooled dataset, its record number turned into the study file's
    (and the file named first in its message)."""
    out = []
    for f in findings:
        pool = pools.get(f.dataset)
        if pool is None or f.row is None or f.rule == SCHEMA_DRIFT.id:
            out.append(f)
            continue
        file, row = pool.where(int(f.row))
        out.append(replace(f, row=row, message=f"{file.parent.name}/{file.name}: {f.message}"))
    return out
