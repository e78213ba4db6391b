"""Parquet, the format of a data lake, written and read beside XPT and Dataset-JSON.

A pooled analysis keeps its SDTM and ADaM as Parquet, not XPT (XPT stays the submission format),
so every stage writes and reads it (``--format parquet``). A dataset is written from the same frame
and :class:`~trialkit.xpt.DatasetMeta` as its XPT file and passes the same checks first
(:func:`trialkit.xpt.check_dataset`), so the formats can never hold different data; reading it
gives the frame :func:`~trialkit.xpt.read_xpt` gives: Char values as str ('' when missing), Num
values as float64 SAS numbers (days or seconds since 1960-01-01 for dates).

What XPT keeps beside the values travels in the Parquet schema's metadata: per field ``label``,
``type`` (Char / Num), ``length`` and ``format``; per file the dataset's ``name`` and ``label``
(keys prefixed ``trialkit.``). A Parquet file from elsewhere, without that metadata, is read too:
string columns as Char, numeric and boolean columns as Num, Arrow dates and timestamps as SAS dates
and datetimes; its dataset name is the file's stem and its labels are empty.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialkit.atomic_output import replacing
from trialkit.columns import sas_numbers, text_length
from trialkit.errors import InputError
from trialkit.xpt import NUM_BYTES, SAS_EPOCH, DatasetMeta, Variable, check_dataset

_KEY = "trialkit."
# Row groups of at most this many records: a reader of some subjects' records (the ADaM stage's Spark
# tasks, read_parquet(subjects=...)) skips the groups whose USUBJID statistics rule them out, which
# pyarrow's default (groups of 1,048,576 records) would leave to a whole AE of 170,000 subjects.
ROW_GROUP_ROWS = 65536


class ParquetError(InputError):
    """A Parquet dataset cannot be written (the frame breaks its metadata) or read (not Parquet,
    truncated, a column of a type no SAS variable holds). ``str(err)`` names the file."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None, issues: list | tuple = ()) -> None:
        super().__init__(message, file=file, column=column)
        self.issues = list(issues)


def _field(variable: Variable, values: pd.Series) -> tuple[pa.Field, pa.Array]:
    """One variable as an Arrow field (its metadata) and array: Char as string, Num as float64."""
    meta = {"label": variable.label, "type": variable.type}
    if variable.format:
        meta["format"] = variable.format
    if variable.type == "Char":
        text = values.astype(object).where(values.notna(), "").astype(str)
        meta["length"] = str(int(variable.length) if variable.length else text_length(text))
        array = pa.array(text.to_numpy(dtype=object), type=pa.string())
    else:
        array = pa.array(sas_numbers(variable, values).to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)
    return pa.field(variable.name, array.type, metadata={_KEY + k: v for k, v in meta.items()}), array


def write_parquet(frame: pd.DataFrame, meta: DatasetMeta, path: str | os.PathLike) -> Path:
    """Check ``frame`` against ``meta`` as :func:`~trialkit.xpt.write_xpt` does, then write it as one
    Parquet file (``path`` may be a folder: the file is then ``<name in lower case>.parquet``); return
    the file's path. Nothing is written while the frame has an error-level issue; the file appears
    whole or not at all."""
    target = Path(path)
    if target.is_dir():
        target = target / f"{str(meta.name).lower()}.parquet"
    errors = [i for i in check_dataset(frame, meta) if i.severity == "error"]
    if errors:
        shown = "; ".join(str(i) for i in errors[:3])
        raise ParquetError(f"{len(errors)} issue(s) prevent writing Parquet, nothing written: {shown}", file=str(target),
                           issues=errors)
    frame = frame.reset_index(drop=True)
    fields, arrays = zip(*(_field(v, frame[v.name]) for v in meta.variables), strict=True) if meta.variables else ((), ())
    schema = pa.schema(list(fields), metadata={_KEY + "name": meta.name, _KEY + "label": meta.label})
    table = pa.Table.from_arrays(list(arrays), schema=schema)
    with replacing(target) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS)
    return target


def _text(metadata: dict | None, key: str) -> str | None:
    value = (metadata or {}).get((_KEY + key).encode())
    return value.decode("utf-8") if value is not None else None


def parquet_meta(path: str | os.PathLike) -> DatasetMeta:
    """The :class:`~trialkit.xpt.DatasetMeta` of a Parquet dataset read off its schema alone (no
    data), for a reader of the values that is not trialkit's (Spark): what :func:`read_parquet` gives,
    except that a Char variable whose length the file does not declare has length None (read_parquet
    measures its values)."""
    file = Path(path)
    try:
        schema = pq.read_schema(file)
    except (pa.ArrowException, OSError) as exc:
        raise ParquetError(f"not a readable Parquet file (truncated or another format): {exc}", file=str(file)) from None
    return DatasetMeta(_text(schema.metadata, "name") or file.stem.upper(), _text(schema.metadata, "label") or "",
                       tuple(_variable(field, file) for field in schema))


def _variable(field: pa.Field, file: Path) -> Variable:
    """One Arrow field as the variable read_xpt would give (a Char length None where undeclared)."""
    label, declared = _text(field.metadata, "label") or "", _text(field.metadata, "type")
    fmt, length = _text(field.metadata, "format"), _text(field.metadata, "length")
    kind = field.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return Variable(field.name, label, "Char", int(length) if length else None, fmt)
    if declared == "Char":
        raise ParquetError(f"a Char variable stored as {kind}, not as text", file=str(file), column=field.name)
    if pa.types.is_date(kind):
        return Variable(field.name, label, "Num", NUM_BYTES, fmt or "DATE9.")
    if pa.types.is_timestamp(kind):
        return Variable(field.name, label, "Num", NUM_BYTES, fmt or "DATETIME20.")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind):
        return Variable(field.name, label, "Num", NUM_BYTES, fmt)
    raise ParquetError(f"column of type {kind}: neither text nor a number, so no SAS variable can hold it", file=str(file),
                       column=field.name)


def _column(field: pa.Field, values: pa.ChunkedArray, file: Path) -> tuple[Variable, pd.Series]:
    """One Arrow column as the variable and values read_xpt would give."""
    variable, kind = _variable(field, file), field.type
    if variable.type == "Char":
        text = values.to_pandas().astype(object).where(lambda s: s.notna(), "")
        return (variable if variable.length is not None else replace(variable, length=text_length(text))), text
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        stamps = pd.Series(values.to_pandas(), dtype="datetime64[ns]")
        unit = pd.Timedelta(days=1) if pa.types.is_date(kind) else pd.Timedelta(seconds=1)
        return variable, (stamps - SAS_EPOCH) / unit
    numbers = pd.Series(values.to_pandas(), dtype=object if pa.types.is_decimal(kind) else None)
    return variable, pd.to_numeric(numbers).astype("float64")


def _subjects_of(file: Path, subjects: tuple[str | None, str | None]) -> pa.Table:
    """The records of ``file`` whose USUBJID is in [first, stop) (None: unbounded; a missing USUBJID
    counts as below every value), read from the row groups whose statistics can hold such a value.
    A file without USUBJID (TS, TA...) is read whole."""
    first, stop = subjects
    source = pq.ParquetFile(file)
    if "USUBJID" not in source.schema_arrow.names:
        return source.read()
    column = source.schema_arrow.get_field_index("USUBJID")
    groups = []
    for i in range(source.metadata.num_row_groups):
        stats = source.metadata.row_group(i).column(column).statistics
        if (stats is None or not stats.has_min_max or stats.null_count
                or not ((first is not None and stats.max < first) or (stop is not None and stats.min >= stop))):
            groups.append(i)
    table = source.read_row_groups(groups) if groups else source.schema_arrow.empty_table()
    usubjid = table["USUBJID"]
    bounds = ([pc.greater_equal(usubjid, first)] if first is not None else []) + \
             ([pc.less(usubjid, stop)] if stop is not None else [])
    if not bounds:
        return table
    keep = pc.fill_null(bounds[0] if len(bounds) == 1 else pc.and_(*bounds), False)
    return table.filter(pc.or_(keep, pc.is_null(usubjid)) if first is None else keep)


def read_parquet(path: str | os.PathLike, *, subjects: tuple[str | None, str | None] | None = None
                 ) -> tuple[pd.DataFrame, DatasetMeta]:
    """Read a Parquet dataset into the frame and :class:`~trialkit.xpt.DatasetMeta` that
    :func:`~trialkit.xpt.read_xpt` would give for the same dataset; ``subjects`` (first, stop): only
    the records of the subjects from ``first`` up to, not including, ``stop`` (see
    :func:`_subjects_of`; the ADaM stage's Spark tasks read their subjects so). A missing file, a file that is not
    Parquet (or is truncated), or a column no SAS variable can hold raises :class:`ParquetError` (an
    :class:`~trialkit.errors.InputError`) naming the file and column."""
    file = Path(path)
    if not file.is_file():
        raise ParquetError("Parquet file does not exist" if not file.exists() else
                           "not a regular file (a FIFO, device or folder); not read", file=str(file))
    try:
        table = pq.read_table(file) if subjects is None else _subjects_of(file, subjects)
    except (pa.ArrowException, OSError) as exc:
        raise ParquetError(f"not a readable Parquet file (truncated or another format): {exc}", file=str(file)) from None
    variables, columns = [], {}
    for field, values in zip(table.schema, table.columns, strict=True):
        variable, column = _column(field, values, file)
        variables.append(variable)
        columns[field.name] = column.reset_index(drop=True)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))
    name = _text(table.schema.metadata, "name") or file.stem.upper()
    return frame, DatasetMeta(name, _text(table.schema.metadata, "label") or "", tuple(variables))
