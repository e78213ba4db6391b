"""Dataset-JSON 1.1, CDISC's JSON exchange format for datasets, written and read beside XPT.

Regulators are piloting Dataset-JSON as the successor of XPT v5, so a dataset is written in both
from the same frame and :class:`~trialkit.xpt.DatasetMeta`, and reading either file gives the same
frame back: Char values as str ('' when missing), Num values as float64 SAS numbers, dates
included. A frame that cannot go into an XPT file (:func:`trialkit.xpt.check_dataset`) does not go
into Dataset-JSON either, so the two can never hold different data.

The file (CDISC Dataset-JSON v1.1, 2024-12-05) is one JSON object: file and dataset attributes in
the order the standard recommends, ``columns`` (itemOID, name, label, dataType, targetDataType,
length, displayFormat, keySequence) and ``rows``, one array of values per record, ``null`` for a
missing number. The NDJSON variant (``.ndjson``) writes the same object without ``rows`` on the
first line and then one row array per line, so large datasets stream. Column types come from
:mod:`trialkit.columns`, as in define.xml: a Num variable with a SAS date format becomes dataType
``date`` with ISO 8601 strings and targetDataType ``integer`` (the ADaM case of the standard).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit import __version__
from trialkit.atomic_output import replacing
from trialkit.columns import column_kind, item_group_oid, item_oid, sas_numbers, text_length
from trialkit.errors import InputError
from trialkit.vectorize import per_unique
from trialkit.xpt import NUM_BYTES, DatasetMeta, Variable, check_dataset, read_xpt, write_xpt

DATASET_JSON_VERSION = "1.1.0"
DATA_TYPES = ("string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time", "URI")
TARGET_DATA_TYPES = ("integer", "decimal")
# column kind (trialkit.columns) -> (dataType, targetDataType)
_JSON_TYPES = {
    "text": ("string", None), "duration": ("string", None), "date": ("date", None), "datetime": ("datetime", None),
    "integer": ("integer", None), "float": ("double", None),
    "sas_date": ("date", "integer"), "sas_datetime": ("datetime", "integer"), "sas_time": ("time", "integer"),
}
_SAS_EPOCH_DAY = np.datetime64("1960-01-01", "D")
_SAS_EPOCH_SECOND = np.datetime64("1960-01-01T00:00:00", "s")
_VERSION = re.compile(r"^1\.1(\.(0|[1-9][0-9]*))?$")
_json_text = partial(json.dumps, ensure_ascii=False)


class DatasetJsonError(InputError):
    """A Dataset-JSON file cannot be written (the frame breaks its metadata) or read (missing,
    malformed, truncated). ``str(err)`` names the file; ``err.issues`` holds every XPT-style issue
    that stopped a write."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, issues: list | tuple = ()) -> None:
        super().__init__(message, file=file, row=row, column=column)
        self.issues = list(issues)


# --------------------------------------------------------------------------------------------
# writing


def _encode(kind: str, variable: Variable, values: pd.Series) -> pd.Series:
    """One column as the JSON text of each of its values, vectorized (values repeat: each distinct
    value is encoded once)."""
    if variable.type == "Char":
        text = values.astype(object).where(values.notna(), "").astype(str)
        return per_unique(text, lambda u: u.map(_json_text).astype(object))
    numbers = sas_numbers(variable, values)
    out = pd.Series("null", index=values.index, dtype=object)
    present = numbers.notna().to_numpy()
    if not present.any():
        return out
    known = numbers[present]
    if kind == "integer":
        encoded = known.astype(np.int64).astype(str)
    elif kind == "float":
        encoded = per_unique(known, lambda u: u.map(lambda x: repr(float(x))).astype(object))
    elif kind == "sas_date":
        encoded = np.datetime_as_string(_SAS_EPOCH_DAY + known.to_numpy(dtype=np.int64).astype("timedelta64[D]"), unit="D")
    else:  # sas_datetime, sas_time: whole seconds
        stamps = np.datetime_as_string(_SAS_EPOCH_SECOND + known.to_numpy(dtype=np.int64).astype("timedelta64[s]"), unit="s")
        encoded = stamps if kind == "sas_datetime" else np.char.partition(stamps, "T")[:, 2]
    if kind in ("sas_date", "sas_datetime", "sas_time"):
        encoded = np.char.add(np.char.add('"', encoded), '"')
    out[present] = np.asarray(encoded, dtype=object)
    return out


def _column(dataset: str, variable: Variable, kind: str, values: pd.Series, keys: list[str]) -> dict:
    data_type, target = _JSON_TYPES[kind]
    column = {"itemOID": item_oid(dataset, variable.name), "name": variable.name, "label": variable.label, "dataType": data_type}
    if target:
        column["targetDataType"] = target
    if variable.type == "Char":
        column["length"] = int(variable.length) if variable.length else text_length(values)
    if variable.format:
        column["displayFormat"] = variable.format
    if variable.name in keys:
        column["keySequence"] = keys.index(variable.name) + 1
    return column


def write_dataset_json(frame: pd.DataFrame, meta: DatasetMeta, path: str | os.PathLike, ndjson: bool = False, *,
                       keys: tuple[str, ...] | list[str] = (), study_oid: str | None = None,
                       metadata_version_oid: str | None = None, metadata_ref: str | None = None,
                       created: datetime | None = None) -> Path:
    """Check ``frame`` against ``meta`` as :func:`~trialkit.xpt.write_xpt` does, then write it as
    Dataset-JSON 1.1 (``ndjson``: the NDJSON variant); return the file's path.

    ``path`` may be a folder: the file is then ``<name in lower case>.json`` (or ``.ndjson``).
    ``keys`` are the dataset's key variables in order (keySequence); keys the dataset does not
    have are skipped, as define.xml skips them (a standard's keys include optional variables). ``study_oid``,
    ``metadata_version_oid`` and ``metadata_ref`` tie the file to its define.xml. Nothing is written
    while the frame has an error-level issue; the file appears whole or not at all.
    """
    target = Path(path)
    if target.is_dir():
        target = target / f"{str(meta.name).lower()}.{'ndjson' if ndjson else 'json'}"
    errors = [i for i in check_dataset(frame, meta) if i.severity == "error"]
    if errors:
        shown = "; ".join(str(i) for i in errors[:3])
        raise DatasetJsonError(f"{len(errors)} issue(s) prevent writing Dataset-JSON, nothing written: {shown}",
                               file=str(target), issues=errors)
    if not target.parent.is_dir():
        raise DatasetJsonError(f"folder {str(target.parent)!r} does not exist", file=str(target))
    frame = frame.reset_index(drop=True)
    present_keys = [k for k in keys if k in {v.name for v in meta.variables}]
    kinds = {v.name: column_kind(v, frame[v.name]) for v in meta.variables}
    header = {"datasetJSONCreationDateTime": (created or datetime.now()).isoformat(timespec="seconds"),
              "datasetJSONVersion": DATASET_JSON_VERSION}
    if study_oid:
        header["fileOID"] = f"{study_oid}.{meta.name}"
    header["sourceSystem"] = {"name": "trialkit", "version": __version__}
    for key, value in (("studyOID", study_oid), ("metaDataVersionOID", metadata_version_oid), ("metaDataRef", metadata_ref)):
        if value:
            header[key] = value
    header.update({
        "itemGroupOID": item_group_oid(meta.name), "records": len(frame), "name": meta.name, "label": meta.label,
        "columns": [_column(meta.name, v, kinds[v.name], frame[v.name], present_keys) for v in meta.variables],
    })
    encoded = [_encode(kinds[v.name], v, frame[v.name]) for v in meta.variables]
    joined = encoded[0] if len(encoded) == 1 else encoded[0].str.cat(encoded[1:], sep=",")
    rows = "[" + joined + "]"
    head = _json_text(header)
    with replacing(target) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        if ndjson:
            fh.write(head + "\n")
            fh.writelines(rows + "\n")
        else:
            fh.write(head[:-1] + ', "rows": [\n')
            fh.write(",\n".join(rows))
            fh.write("\n]}\n")
    return target


# --------------------------------------------------------------------------------------------
# reading


def _parse(text: str, file: Path, first_line: int = 1):
    """The JSON value of ``text``; malformed JSON, or JSON nested so deep that the decoder runs out
    of stack (Dataset-JSON nests 3 levels: file, rows, values), is a DatasetJsonError naming the file."""
    try:
        return json.loads(text)
    except RecursionError:
        raise DatasetJsonError("JSON nested far deeper than Dataset-JSON's 3 levels (file, rows, values)",
                               file=str(file)) from None
    except json.JSONDecodeError as exc:
        raise DatasetJsonError(f"not valid JSON (truncated or malformed): {exc.msg} at line {exc.lineno + first_line - 1} "
                               f"column {exc.colno}", file=str(file), row=exc.lineno + first_line - 1) from None


def _check_metadata(document, file: Path) -> list[dict]:
    """The file-level attributes the standard requires; returns the columns."""
    def fail(message: str, column: str | None = None):
        raise DatasetJsonError(message, file=str(file), column=column)

    if not isinstance(document, dict):
        fail("a Dataset-JSON file holds one JSON object")
    required = ("datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID", "records", "name", "label", "columns")
    missing = [k for k in required if k not in document]
    if missing:
        fail(f"required attribute(s) missing: {', '.join(missing)}")
    if not _VERSION.match(str(document["datasetJSONVersion"])):
        fail(f"datasetJSONVersion is {document['datasetJSONVersion']!r}; this reader takes Dataset-JSON 1.1")
    records = document["records"]
    if not isinstance(records, int) or isinstance(records, bool) or records < 0:
        fail(f"records is {records!r}, not a count")
    columns = document["columns"]
    if not isinstance(columns, list) or not columns:
        fail("columns is not a non-empty array")
    for attribute in ("name", "label", "itemGroupOID"):
        if not isinstance(document[attribute], str):
            fail(f"{attribute} is {_kind(document[attribute])}, not a string")
    seen: set[str] = set()
    for k, col in enumerate(columns):
        if not isinstance(col, dict) or any(a not in col for a in ("itemOID", "name", "label", "dataType")):
            fail(f"columns[{k}] lacks itemOID, name, label or dataType")
        for attribute in ("itemOID", "name", "label", "dataType", "targetDataType", "displayFormat"):
            if attribute in col and not isinstance(col[attribute], str):
                fail(f"columns[{k}].{attribute} is {_kind(col[attribute])}, not a string",
                     column=col["name"] if isinstance(col["name"], str) else None)
        if not col["name"]:
            fail(f"columns[{k}].name is empty")
        if col["name"] in seen:
            fail(f"columns[{k}].name {col['name']!r} names a second column of that name", column=col["name"])
        seen.add(col["name"])
        if "length" in col and (not isinstance(col["length"], int) or isinstance(col["length"], bool) or col["length"] < 0):
            fail(f"columns[{k}].length is {_kind(col['length'])}, not a length", column=col["name"])
        if col["dataType"] not in DATA_TYPES:
            fail(f"dataType {col['dataType']!r} is not one of {', '.join(DATA_TYPES)}", column=col["name"])
        if col.get("targetDataType", "integer") not in TARGET_DATA_TYPES:
            fail(f"targetDataType {col['targetDataType']!r} is not integer or decimal", column=col["name"])
    return columns


def _kind(value) -> str:
    """A JSON value's kind as the message names it: ``a list``, ``a number (3)``..."""
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "an object"
    return "null" if value is None else f"{json.dumps(value)[:40]}"


def _is_num(column: dict) -> bool:
    return column["dataType"] in ("integer", "decimal", "float", "double", "boolean") or "targetDataType" in column


def _first_bad(bad: pd.Series) -> int:
    return int(np.flatnonzero(bad.to_numpy())[0])


def _decode(column: dict, values: pd.Series, file: Path) -> pd.Series:
    """One column of row values back to what read_xpt gives: str ('' for null) or float64. The
    JSON types are checked column-wise (pandas' type inference); only a column that fails is
    searched for its first wrong value, to name the row."""
    name, data_type = column["name"], column["dataType"]
    missing = values.isna()
    inferred = pd.api.types.infer_dtype(values, skipna=True)

    def fail(accepts, what: str):
        bad = ~missing & ~values.map(accepts)
        row = _first_bad(bad) if bad.any() else 0
        raise DatasetJsonError(f"value {values.iloc[row]!r} is not {what}", file=str(file), row=row + 1, column=name)

    if not _is_num(column) or data_type in ("date", "datetime", "time"):
        if inferred not in ("string", "empty"):
            fail(lambda v: isinstance(v, str), f"a string ({data_type} column)")
        text = values.where(~missing, "")
        if not _is_num(column):
            return text.astype(object)
        unit = "D" if data_type == "date" else "us"
        stamps = (text if data_type != "time" else "1960-01-01T" + text).where(~missing, "NaT")
        try:
            parsed = np.array(stamps.tolist(), dtype=f"datetime64[{unit}]")
        except ValueError:
            fail(lambda v: _is_iso(v, data_type), f"an ISO 8601 {data_type}")
        epoch = _SAS_EPOCH_DAY if data_type == "date" else np.datetime64("1960-01-01T00:00:00", "us")
        scale = np.timedelta64(1, "D") if data_type == "date" else np.timedelta64(1, "s")
        numbers = (parsed - epoch) / scale
        return pd.Series(np.where(missing.to_numpy(), np.nan, numbers), index=values.index, dtype="float64")
    if data_type == "boolean":
        if inferred not in ("boolean", "empty"):
            fail(lambda v: isinstance(v, bool), "true or false")
        return values.where(~missing, np.nan).astype("float64")
    numeric = ("string", "empty") if data_type == "decimal" else ("integer", "floating", "mixed-integer-float", "empty")
    if inferred not in numeric:
        fail(lambda v: isinstance(v, str if data_type == "decimal" else (int, float)) and not isinstance(v, bool),
             f"a number ({data_type} column)")
    numbers = pd.to_numeric(values, errors="coerce")
    if (numbers.isna() & ~missing).any():
        fail(lambda v: not pd.isna(pd.to_numeric(v, errors="coerce")), f"a number ({data_type} column)")
    return numbers.astype("float64")


def _is_iso(value, data_type: str) -> bool:
    """Whether numpy reads ``value`` as an ISO 8601 date, datetime or time (only to name a bad row)."""
    try:
        np.datetime64(value if data_type != "time" else "1960-01-01T" + value, "D" if data_type == "date" else "us")
    except ValueError:
        return False
    return True


def read_dataset_json(path: str | os.PathLike) -> tuple[pd.DataFrame, DatasetMeta]:
    """Read a Dataset-JSON 1.1 file (``.ndjson``: the NDJSON variant) into the frame and
    :class:`~trialkit.xpt.DatasetMeta` that :func:`~trialkit.xpt.read_xpt` would give for the
    same dataset: Char values as str, Num values as float64 SAS numbers (ISO dates with
    targetDataType integer back to days or seconds since 1960-01-01), lengths and display
    formats from the columns. A missing, malformed or truncated file, a row of the wrong width,
    a value of the wrong type or a row count that disagrees with ``records`` raises
    :class:`DatasetJsonError` (an :class:`~trialkit.errors.InputError`) naming the file and,
    where known, the line and column.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetJsonError("Dataset-JSON file does not exist" if not file.exists() else "is not a file", file=str(file))
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetJsonError(f"not utf-8 text ({exc.reason} at byte {exc.start})", file=str(file)) from None
    if file.suffix.lower() == ".ndjson":
        first, _, rest = text.partition("\n")
        document = _parse(first, file)
        lines = rest.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        rows = _parse("[" + ",\n".join(lines) + "]", file, first_line=2) if lines else []
        if not isinstance(document, dict) or "rows" in document:
            raise DatasetJsonError("the first NDJSON line must be the metadata object, without rows", file=str(file), row=1)
    else:
        document = _parse(text, file)
        rows = document.get("rows", []) if isinstance(document, dict) else None
    columns = _check_metadata(document, file)
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise DatasetJsonError("rows is not an array of row arrays", file=str(file))
    widths = pd.Series([len(r) for r in rows], dtype="int64")
    if (widths != len(columns)).any():
        row = _first_bad(widths != len(columns))
        raise DatasetJsonError(f"row {row + 1} has {widths.iloc[row]} values for {len(columns)} columns", file=str(file),
                               row=row + 1)
    if len(rows) != document["records"]:
        raise DatasetJsonError(f"records says {document['records']} but the file holds {len(rows)} rows (truncated?)",
                               file=str(file))
    names = [c["name"] for c in columns]
    raw = pd.DataFrame(rows, columns=names, dtype=object) if rows else \
        pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    frame = pd.DataFrame({c["name"]: _decode(c, raw[c["name"]], file) for c in columns}, index=raw.index)
    variables = []
    for c in columns:
        num = _is_num(c)
        length = NUM_BYTES if num else int(c.get("length") or text_length(frame[c["name"]]))
        variables.append(Variable(c["name"], c["label"], "Num" if num else "Char", length, c.get("displayFormat")))
    return frame, DatasetMeta(document["name"], document["label"], tuple(variables))


def write_dataset(data: pd.DataFrame, meta: DatasetMeta, out: Path, formats: tuple[str, ...] = ("xpt",), *,
                  strict: bool = False, links=None) -> list[Path]:
    """One dataset in every requested format, XPT, Dataset-JSON and/or Parquet (``formats``: xpt, json,
    ndjson, parquet), as ``<out>/<name>.<format>``; ``links`` (trialkit.define.define_links) ties the
    Dataset-JSON files to their define.xml. Shared by the SDTM and ADaM stages."""
    files = []
    stem = out / meta.name.lower()
    if "xpt" in formats:
        files.append(write_xpt(data, meta, stem.with_suffix(".xpt"), strict=strict))
    for fmt in ("json", "ndjson"):
        if fmt in formats:
            refs = {} if links is None else {"keys": links.keys.get(meta.name, ()), "study_oid": links.study_oid,
                                             "metadata_version_oid": links.metadata_version_oid, "metadata_ref": "define.xml"}
            files.append(write_dataset_json(data, meta, stem.with_suffix(f".{fmt}"), ndjson=fmt == "ndjson", **refs))
    if "parquet" in formats:
        from trialkit.formats.parquet import write_parquet

        files.append(write_parquet(data, meta, stem.with_suffix(".parquet")))
    return files


def read_dataset(path: str | os.PathLike, *, encoding: str | None = None) -> tuple[pd.DataFrame, DatasetMeta]:
    """Read an XPT, Dataset-JSON, NDJSON or Parquet dataset by its file name's ending, into the same
    frame and metadata whichever format it is in (``encoding`` applies to XPT; JSON is always utf-8)."""
    if Path(path).suffix.lower() == ".parquet":
        from trialkit.formats.parquet import read_parquet

        return read_parquet(path)
    if Path(path).suffix.lower() in (".json", ".ndjson"):
        if not Path(path).is_file():      # a FIFO would block the read for ever, a device never end
            raise DatasetJsonError("not a regular file (a FIFO, device or folder); not read", file=str(path))
        return read_dataset_json(path)
    return read_xpt(path, encoding=encoding)


def is_dataset_json(path: str | os.PathLike) -> bool:
    """Whether a .json / .ndjson file is a Dataset-JSON dataset rather than another JSON file of the
    same folder (an SDTM folder also holds ledger.json and findings.json): datasetJSONVersion is the
    second attribute of the standard's order, so it sits in the first few kilobytes."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return '"datasetJSONVersion"' in fh.read(4096)


def dataset_files(folder: str | os.PathLike) -> dict[str, Path]:
    """One file per dataset of a folder, by dataset name (the file's stem in upper case). JSON files
    that are not Dataset-JSON are left out. A dataset present in several formats (ae.xpt, ae.json,
    ae.parquet) is read from the XPT (else the JSON, NDJSON, Parquet, in that order) only when the folder's manifest.json lists all of them as written together
    by one stage (trialkit.folder_manifest); otherwise it is an InputError naming the files, since
    one of them may be left from another run."""
    from trialkit.folder_manifest import written_together

    preference = {".xpt": 0, ".json": 1, ".ndjson": 2, ".parquet": 3}
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(folder).iterdir()):
        suffix = path.suffix.lower()
        if suffix not in preference or (path.is_file() and suffix in (".json", ".ndjson") and not is_dataset_json(path)):
            continue          # a dataset name that is not a regular file is kept: its reader says so, unopened
        found.setdefault(path.stem.upper(), []).append(path)
    chosen = {}
    for name, paths in sorted(found.items()):
        paths.sort(key=lambda p: preference[p.suffix.lower()])
        if len(paths) > 1 and not written_together(Path(folder), paths):
            raise InputError(f"dataset {name} is there in several formats ({' and '.join(p.name for p in paths)}) "
                             "that its manifest.json does not list as written together: one may be left from "
                             "another run; remove the ones not to read, or write the folder again", file=str(folder))
        chosen[name] = paths[0]
    return chosen
