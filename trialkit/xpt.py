"""SAS transport (XPT v5) in and out, with every metadata check xportr makes before writing.

XPT v5 is what FDA and PMDA accept for SDTM and ADaM. Its limits are hard and old: names of 8
characters, labels of 40, character values of 200 bytes, IBM floating point numbers, dates as
numbers with a SAS format. The file itself is written and read by pyreadstat (``write_xport`` with
``file_format_version=5``, ``read_xport``); this module never touches the format's bytes. What it
adds is the checking pyreadstat does not do. Measured with pyreadstat 1.3.7, pyreadstat *silently*:

- writes version 8 unless told ``file_format_version=5``;
- cuts dataset and variable labels to 40 characters, and format names to 8 (``LONGFORMAT12.`` is
  stored as ``LONGFORM12``);
- writes character values longer than 200 bytes (a v5 file no other tool will accept);
- stores numbers beyond the IBM range as infinity (1e100) or 0 (1e-100);
- writes Python numbers in an object column as text (``[1, "x"]`` becomes ``"1"``, ``"x"``);
- and on reading drops trailing rows that are blank in every variable of a character-only
  dataset, because v5 stores no row count (a file truncated on an 80-byte record boundary also
  reads back with fewer rows and no error; only sizes that are not a multiple of 80 are detectable).

So :func:`check_dataset` finds all of that first, as :class:`XptIssue` objects that name dataset,
variable and first offending row, and :func:`write_xpt` refuses to write while any remains (xportr's
``strict_checks``: in strict mode warnings refuse too). pyreadstat offers no way to set the stored
length of a character variable: it stores the longest value in utf-8 bytes, trailing blanks
included, and readers strip trailing blanks. So a declared ``Variable.length`` is honoured by
padding one value with blanks to that length; without a declared length the stored length is the
longest value (at least 1), and that is the length define.xml should report.

Text is written as utf-8 (pyreadstat has no write encoding), so byte limits are counted in utf-8 and
non-ASCII values are a warning: SAS sessions and many tools read XPT as latin-1 / cp1252. Files made
by SAS in such an encoding (the CDISC pilot's ts.xpt holds a cp1252 0x92 apostrophe) are read with
``read_xpt(path, encoding="cp1252")``.
"""

from __future__ import annotations

import codecs
import os
import re
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyreadstat

from trialkit.atomic_output import replacing
from trialkit.errors import TrialkitError

MAX_NAME = 8  # dataset and variable names
MAX_LABEL = 40  # dataset and variable labels
MAX_CHAR_BYTES = 200  # character values, and so character lengths
MAX_FORMAT_NAME = 8  # the NAMESTR record keeps 8 characters of a format name, "$" included
MAX_FILE_BYTES = 5 * 10**9  # FDA: split datasets above 5 GB
NUM_BYTES = 8  # pyreadstat always stores numbers in 8 bytes
# IBM hex floating point, as XPT v5 stores numbers: anything outside this range is not kept.
IBM_MAX = (1 - 16.0**-14) * 16.0**63
IBM_MIN = 16.0**-65
SAS_EPOCH = pd.Timestamp("1960-01-01")

_NAME_CHARS = re.compile(r"^[A-Za-z0-9]*$")
# NAMEw.d: an optional name (may start with "$", may not end with a digit), width, ".", decimals
_FORMAT = re.compile(r"^(\$?(?:[A-Z_](?:[A-Z0-9_]*[A-Z_])?)?)(\d*)\.(\d*)$")
_DATE_FORMATS = {"DATE", "YYMMDD", "MMDDYY", "DDMMYY", "E8601DA", "B8601DA", "IS8601DA",
                 "E8601DN", "WEEKDATE", "MONYY", "YEAR"}
_DATETIME_FORMATS = {"DATETIME", "E8601DT", "B8601DT", "IS8601DT", "E8601DX", "E8601LX"}
_TIME_FORMATS = {"TIME", "HHMM", "TOD", "E8601TM", "B8601TM", "IS8601TM", "E8601TZ", "E8601TX",
                 "E8601LZ"}
# Formats seen in SDTM/ADaM (xportr's list plus the plain numeric ones); others get a warning.
_KNOWN_FORMATS = (_DATE_FORMATS | _DATETIME_FORMATS | _TIME_FORMATS
                  | {"", "$", "$CHAR", "BEST", "F", "Z", "COMMA", "PERCENT", "PVALUE"})
_DISPLAY = 40  # characters of an offending value kept in an issue

Severity = Literal["error", "warning"]


class XptError(TrialkitError):
    """An XPT file cannot be written (metadata issues) or read (missing, truncated, encoding).

    ``str(err)`` is one line naming the file and the first issues; ``err.issues`` holds them all.
    """

    def __init__(self, message: str, *, file: str | None = None,
                 issues: list[XptIssue] | tuple[XptIssue, ...] = ()) -> None:
        super().__init__(message, file=file)
        self.issues = list(issues)


@dataclass(frozen=True)
class Variable:
    """One variable as define.xml describes it.

    ``type`` is 'Char' or 'Num'. ``length`` (optional) is the stored length in bytes: for Char it
    must hold the longest value and be <= 200. ``format`` is a SAS format such as 'DATE9.',
    'TIME8.' or 'DATETIME20.'; a Num variable with a date, time or datetime format may hold
    dates/datetimes/timedeltas in the frame, which are converted to SAS numbers when written.
    """

    name: str
    label: str
    type: Literal["Char", "Num"]
    length: int | None = None
    format: str | None = None


@dataclass(frozen=True)
class DatasetMeta:
    """A dataset's name (e.g. 'DM', 'ADSL'), label and variables, in the order they are written."""

    name: str
    label: str
    variables: tuple[Variable, ...]

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (KeyError if there is none)."""
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(name)


@dataclass(frozen=True)
class XptIssue:
    """One reason a dataset cannot (error) or should not (warning) go into an XPT v5 file.

    ``row`` is the 1-based position of the first offending row, ``value`` its value (strings cut
    to 40 characters), both None when the issue is about metadata.
    """

    dataset: str
    variable: str | None
    row: int | None
    value: Any
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.dataset + (f".{self.variable}" if self.variable else "")
        if self.row is not None:
            where += f" row {self.row}"
        return f"{where}: {self.message}" + (" [warning]" if self.severity == "warning" else "")


# --------------------------------------------------------------------------------------------
# checks


def check_dataset(df: pd.DataFrame, meta: DatasetMeta, *, strict: bool = False) -> list[XptIssue]:
    """Every problem that stops ``df`` from being written as ``meta`` into an XPT v5 file.

    Metadata first (names, labels, types, lengths, formats), then the frame's columns against the
    metadata (missing and extra both reported), then the values (types, 200 bytes, declared
    lengths, non-ASCII text, IBM number range, dates needing a date format). With ``strict``
    (xportr's ``strict_checks``) warnings are returned as errors, since :func:`write_xpt` refuses
    any error.
    """
    return _prepare(df, meta, strict=strict)[1]


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _DISPLAY:
        return value[: _DISPLAY - 3] + "..."
    return value


class _Issues(list):
    """Collects the issues of one dataset."""

    def __init__(self, dataset: str) -> None:
        super().__init__()
        self.dataset = dataset

    def add(self, variable: str | None, message: str, *, row: int | None = None,
            value: Any = None, severity: Severity = "error") -> None:
        self.append(XptIssue(self.dataset, variable, row, _shown(value), message, severity))


def _check_name(issues: _Issues, variable: str | None, name: Any, what: str) -> None:
    """xportr's name rules, for datasets and variables: 8 characters, A-Z then A-Z/0-9."""
    if not isinstance(name, str) or not name:
        issues.add(variable, f"{what} name is {name!r}, not a non-empty string")
        return
    if len(name) > MAX_NAME:
        issues.add(variable, f"{what} name {name!r} is {len(name)} characters, XPT v5 allows "
                             f"{MAX_NAME}")
    if name[0] not in string.ascii_letters:
        issues.add(variable, f"{what} name {name!r} must start with a letter")
    if not _NAME_CHARS.match(name):
        issues.add(variable, f"{what} name {name!r} may hold only ASCII letters and digits "
                             "(no underscore, symbol or non-ASCII character)")
    elif name != name.upper():
        issues.add(variable, f"{what} name {name!r} must be upper case")


def _check_label(issues: _Issues, variable: str | None, label: Any, what: str) -> None:
    """40 ASCII characters; an empty label is a warning (define.xml and reviewers need one)."""
    if label is None or label == "":
        issues.add(variable, f"{what} label is empty", severity="warning")
        return
    if not isinstance(label, str):
        issues.add(variable, f"{what} label is {label!r}, not a string")
        return
    if len(label) > MAX_LABEL:
        issues.add(variable, f"{what} label is {len(label)} characters, XPT v5 allows {MAX_LABEL} "
                             "(pyreadstat would cut it)", value=label)
    if not label.isascii():
        issues.add(variable, f"{what} label {label!r} has non-ASCII characters", value=label)


def _format_kind(fmt: str | None) -> str | None:
    """'date', 'datetime', 'time' or None for a (valid) SAS format."""
    if not fmt:
        return None
    m = _FORMAT.match(fmt.upper())
    if not m:
        return None
    name = m.group(1)
    if name in _DATE_FORMATS:
        return "date"
    if name in _DATETIME_FORMATS:
        return "datetime"
    if name in _TIME_FORMATS:
        return "time"
    return None


def _check_variable(issues: _Issues, var: Variable) -> bool:
    """Metadata of one variable; False if its type is unusable (its values are then skipped)."""
    name = var.name if isinstance(var.name, str) else repr(var.name)
    _check_name(issues, name, var.name, "variable")
    _check_label(issues, name, var.label, "variable")
    if var.type not in ("Char", "Num"):
        issues.add(name, f"type is {var.type!r}, must be 'Char' or 'Num'")
        return False
    if var.length is not None:
        if not isinstance(var.length, (int, np.integer)) or isinstance(var.length, bool) \
                or var.length < 1:
            issues.add(name, f"length is {var.length!r}, not a positive integer")
        elif var.type == "Char" and var.length > MAX_CHAR_BYTES:
            issues.add(name, f"length is {var.length}, XPT v5 allows {MAX_CHAR_BYTES}")
        elif var.type == "Num" and var.length != NUM_BYTES:
            issues.add(name, f"length is {var.length}, but numbers are stored in {NUM_BYTES} "
                             "bytes (define.xml should say 8)", severity="warning")
    fmt = var.format
    if fmt is None or fmt == "":
        if var.type == "Num" and re.search(r"(DT|DTM|TM)$", name):
            issues.add(name, "is a date/time variable (name ends DT, DTM or TM) without a format "
                             "such as DATE9.", severity="warning")
        return True
    m = _FORMAT.match(fmt.upper()) if isinstance(fmt, str) else None
    if not m:
        issues.add(name, f"format {fmt!r} is not a SAS format (NAMEw.d, ending in '.' before "
                         "any decimals)")
        return True
    fname, width, decimals = m.group(1), m.group(2), m.group(3)
    if len(fname) > MAX_FORMAT_NAME:
        issues.add(name, f"format name {fname!r} is {len(fname)} characters, XPT v5 keeps "
                         f"{MAX_FORMAT_NAME}")
    if var.type == "Char" and not fname.startswith("$"):
        issues.add(name, f"format {fmt!r} is numeric, a Char variable needs a '$' format")
    if var.type == "Num" and fname.startswith("$"):
        issues.add(name, f"format {fmt!r} is a character ('$') format on a Num variable")
    if fname == "" and not (width and 1 <= int(width) <= 32):
        issues.add(name, f"format {fmt!r}: a w.d format needs a width from 1 to 32")
    if decimals and (int(decimals) > 31 or (width and int(decimals) >= int(width))):
        issues.add(name, f"format {fmt!r}: decimals must be fewer than the width and <= 31")
    if fname not in _KNOWN_FORMATS:
        issues.add(name, f"format {fmt!r} is not a standard SAS format in SDTM/ADaM; check it",
                   severity="warning")
    return True


def _first(mask: pd.Series) -> int:
    """Position (0-based) of the first True in a boolean Series."""
    return int(np.argmax(mask.to_numpy()))


def _prepare_char(issues: _Issues, name: str, col: pd.Series, var: Variable):
    """Char values: strings (missing -> ''), <= 200 utf-8 bytes, within the declared length.

    Returns the column as str objects, padded so that its longest value has the stored length.
    """
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col) \
            or pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        missing = col.isna()
        pos = _first(~missing) if (~missing).any() else 0
        issues.add(name, f"Char variable holds {col.dtype} values, not text",
                   row=pos + 1 if len(col) else None,
                   value=col.iloc[pos] if len(col) else None)
        return None
    col = col.astype(object)
    missing = col.isna()
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind not in ("string", "empty"):
        is_text = col.map(lambda v: isinstance(v, str))
        bad = ~missing & ~is_text
        pos = _first(bad)
        issues.add(name, f"Char variable holds {type(col.iloc[pos]).__name__} "
                         f"{col.iloc[pos]!r}, not text", row=pos + 1, value=col.iloc[pos])
        return None
    text = col.where(~missing, "").astype(object)
    if len(text) == 0:
        return text
    # measure each distinct value once: SDTM columns repeat few values over many rows
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype=object)
    distinct_bytes = distinct.str.encode("utf-8").str.len().to_numpy()
    nbytes = pd.Series(distinct_bytes[codes], index=text.index)
    too_long = nbytes > MAX_CHAR_BYTES
    if too_long.any():
        pos = _first(too_long)
        issues.add(name, f"value is {nbytes.iloc[pos]} bytes, XPT v5 allows {MAX_CHAR_BYTES}"
                         + (f" ({int(too_long.sum())} rows)" if too_long.sum() > 1 else ""),
                   row=pos + 1, value=text.iloc[pos])
    longest = int(nbytes.max())
    length = var.length
    declared = isinstance(length, (int, np.integer)) and not isinstance(length, bool) \
        and 1 <= length <= MAX_CHAR_BYTES
    if declared and longest > length:
        over = nbytes > length
        pos = _first(over)
        issues.add(name, f"value is {nbytes.iloc[pos]} bytes, longer than the declared length "
                         f"{length}" + (f" ({int(over.sum())} rows)" if over.sum() > 1 else ""),
                   row=pos + 1, value=text.iloc[pos])
    non_ascii = pd.Series((distinct_bytes != distinct.str.len().to_numpy())[codes],
                          index=text.index)
    if non_ascii.any():
        pos = _first(non_ascii)
        issues.add(name, "value has non-ASCII characters, written as utf-8: tools that read XPT "
                         "as latin-1/cp1252 will show other characters"
                         + (f" ({int(non_ascii.sum())} rows)" if non_ascii.sum() > 1 else ""),
                   row=pos + 1, value=text.iloc[pos], severity="warning")
    width = length if declared and longest <= length else max(longest, 1)
    if width > nbytes.iloc[0]:
        # pyreadstat stores the longest value's byte length; one blank-padded value sets it.
        text.iloc[0] = text.iloc[0] + " " * int(width - nbytes.iloc[0])
    return text


def _to_sas_number(issues: _Issues, name: str, col: pd.Series, kind: str | None, fmt: str | None):
    """datetime64 / timedelta64 values to SAS numbers for a Num variable with a matching format."""
    if getattr(col.dtype, "tz", None) is not None:
        issues.add(name, f"holds timezone-aware datetimes ({col.dtype}); SAS has no time zones, "
                         "convert to naive local times first")
        return None
    if pd.api.types.is_timedelta64_dtype(col):
        if kind != "time":
            issues.add(name, f"holds time spans but format {fmt!r} is not a time format "
                             "(e.g. TIME8.)")
            return None
        return col / pd.Timedelta(seconds=1)
    if kind not in ("date", "datetime"):
        issues.add(name, f"holds dates but has {'format ' + repr(fmt) if fmt else 'no format'}: "
                         "give it a date or datetime format (DATE9., DATETIME20.) so it is "
                         "written as SAS numbers")
        return None
    col = col.astype("datetime64[ns]") if col.dtype == object else col
    if kind == "date":
        has_time = col.notna() & (col != col.dt.normalize())
        if has_time.any():
            pos = _first(has_time)
            issues.add(name, f"value has a time of day, but format {fmt!r} keeps the date only",
                       row=pos + 1, value=str(col.iloc[pos]), severity="warning")
        return np.floor((col - SAS_EPOCH) / pd.Timedelta(days=1))
    return (col - SAS_EPOCH) / pd.Timedelta(seconds=1)


def _prepare_num(issues: _Issues, name: str, col: pd.Series, var: Variable):
    """Num values: numbers (or dates/times with a date/time format) as float64, NaN missing."""
    fmt = var.format if isinstance(var.format, str) else None
    kind = _format_kind(fmt)
    if pd.api.types.is_bool_dtype(col):
        issues.add(name, "holds True/False: convert to 1/0, or make it a Char 'Y' flag",
                   row=1 if len(col) else None, value=col.iloc[0] if len(col) else None)
        return None
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        values = _to_sas_number(issues, name, col, kind, fmt)
    elif pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        values = col.astype("float64")
    else:
        col = col.astype(object)
        missing = col.isna()
        inferred = pd.api.types.infer_dtype(col, skipna=True)
        if inferred == "empty":
            values = pd.Series(np.nan, index=col.index, dtype="float64")
        elif inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            values = pd.to_numeric(col).astype("float64")
        elif inferred in ("date", "datetime", "datetime64"):
            try:
                as_dt = pd.to_datetime(col.where(~missing, None))
            except (ValueError, TypeError, OverflowError) as exc:
                issues.add(name, f"holds dates pandas cannot convert ({exc})")
                return None
            values = _to_sas_number(issues, name, as_dt, kind, fmt)
        elif inferred in ("time", "timedelta"):
            if kind != "time":
                issues.add(name, f"holds times but {'format ' + repr(fmt) if fmt else 'no format'}"
                                 ": give it a time format (e.g. TIME8.)")
                return None
            values = col.map(_seconds_of_time, na_action="ignore").astype("float64")
        else:  # mixed objects (Decimal, numbers and text, booleans ...): find the first bad one
            numeric = pd.to_numeric(col, errors="coerce")
            is_bool = col.map(lambda v: isinstance(v, (bool, np.bool_)))
            bad = (numeric.isna() & ~missing) | is_bool
            if not bad.any():
                values = numeric
            else:
                pos = _first(bad)
                shown = col.iloc[pos]
                issues.add(name, "holds True/False: convert to 1/0, or make it a Char 'Y' flag"
                           if is_bool.iloc[pos] else
                           f"Num variable holds {type(shown).__name__} {_shown(shown)!r}, "
                           "not a number", row=pos + 1, value=shown)
                return None
    if values is None:
        return None
    values = values.astype("float64")
    finite = np.isfinite(values) | values.isna()
    magnitude = values.abs()
    checks = (
        (~finite, "is infinite; XPT numbers cannot be"),
        (finite & (magnitude > IBM_MAX),
         f"is beyond the IBM float range of XPT v5 (about {IBM_MAX:.1e}); it would become inf"),
        (finite & (magnitude > 0) & (magnitude < IBM_MIN),
         f"is below the IBM float range of XPT v5 (about {IBM_MIN:.1e}); it would become 0"),
    )
    for mask, text in checks:
        if mask.any():
            pos = _first(mask)
            issues.add(name, f"value {values.iloc[pos]!r} {text}", row=pos + 1,
                       value=values.iloc[pos])
    return values


def _seconds_of_time(value: Any) -> float:
    if isinstance(value, pd.Timedelta) or hasattr(value, "total_seconds"):
        return pd.Timedelta(value).total_seconds()
    return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6


def _prepare(df: pd.DataFrame, meta: DatasetMeta, *, strict: bool) -> tuple[pd.DataFrame | None,
                                                                           list[XptIssue]]:
    """Run every check; return the frame ready for pyreadstat (None if any error) and the issues."""
    dataset = meta.name if isinstance(meta.name, str) and meta.name else repr(meta.name)
    issues = _Issues(dataset)
    _check_name(issues, None, meta.name, "dataset")
    _check_label(issues, None, meta.label, "dataset")
    if not isinstance(df, pd.DataFrame):
        issues.add(None, f"data is a {type(df).__name__}, not a pandas DataFrame")
        return None, _finish(issues, strict)
    variables = tuple(meta.variables)
    if not variables:
        issues.add(None, "metadata lists no variables")

    usable: dict[str, Variable] = {}
    seen: set[str] = set()
    for var in variables:
        if not isinstance(var, Variable):
            issues.add(None, f"metadata entry {var!r} is not a Variable")
            continue
        if var.name in seen:
            issues.add(var.name, "is listed twice in the metadata")
            continue
        seen.add(var.name)
        if _check_variable(issues, var):
            usable[var.name] = var

    columns = [str(c) for c in df.columns]
    for name in sorted({c for c in columns if columns.count(c) > 1}):
        issues.add(name, "column appears more than once in the data frame")
    for var in variables:
        if isinstance(var, Variable) and var.name not in columns:
            issues.add(var.name, "is in the metadata but missing from the data frame")
    for name in columns:
        if name not in seen:
            issues.add(name, "column is not in the metadata (XPT holds only listed variables)")

    frame = df.copy(deep=False)
    frame.columns = columns
    frame = frame.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for name, var in usable.items():
        if name not in columns or columns.count(name) > 1:
            continue
        col = frame[name]
        prepared = (_prepare_char if var.type == "Char" else _prepare_num)(issues, name, col, var)
        if prepared is not None:
            out[name] = prepared

    ready = None
    if len(out) == len(variables):
        ready = pd.DataFrame(out, index=frame.index)[[v.name for v in variables]]
        _check_whole(issues, ready, variables)
    return ready, _finish(issues, strict)


def _check_whole(issues: _Issues, ready: pd.DataFrame, variables: tuple[Variable, ...]) -> None:
    """Checks across variables: lost trailing blank rows, FDA size limit."""
    if len(ready) and all(v.type == "Char" for v in variables) \
            and all(str(x).strip() == "" for x in ready.iloc[-1]):
        blank = ready.apply(lambda c: c.str.strip() == "").all(axis=1)
        first = len(ready) - int(blank[::-1].cumprod().sum())
        rows = f"row {first + 1} is" if first + 1 == len(ready) else \
            f"rows {first + 1}-{len(ready)} are"
        issues.add(None, f"{rows} blank in every variable of a character-only dataset: XPT v5 "
                         "stores no row count, so readers drop trailing blank rows",
                   row=first + 1)
    n_num = sum(v.type == "Num" for v in variables)
    if len(ready) * (NUM_BYTES * n_num + MAX_CHAR_BYTES * (len(variables) - n_num)) \
            <= MAX_FILE_BYTES:
        return  # cannot reach the limit: skip measuring every string
    widths = [NUM_BYTES if v.type == "Num" else
              int(ready[v.name].str.encode("utf-8").str.len().max()) for v in variables]
    estimate = len(ready) * sum(widths)
    if estimate > MAX_FILE_BYTES:
        issues.add(None, f"file would be about {estimate / 1e9:.1f} GB; FDA accepts XPT files "
                         "up to 5 GB, split the dataset", severity="warning")


def _finish(issues: _Issues, strict: bool) -> list[XptIssue]:
    if not strict:
        return list(issues)
    return [replace(i, severity="error", message=i.message + " (a warning; refused in strict mode)")
            if i.severity == "warning" else i for i in issues]


# --------------------------------------------------------------------------------------------
# writing and reading


def _summary(issues: list[XptIssue], what: str) -> str:
    shown = "; ".join(str(i) for i in issues[:3])
    more = f"; and {len(issues) - 3} more (see .issues)" if len(issues) > 3 else ""
    return f"{len(issues)} issue{'s' if len(issues) != 1 else ''} {what}: {shown}{more}"


def write_xpt(df: pd.DataFrame, meta: DatasetMeta, path: str | os.PathLike,
              *, strict: bool = False) -> Path:
    """Check ``df`` against ``meta`` and write it as an XPT v5 file; return the file's path.

    Any error-level issue (with ``strict``, any issue at all) raises :class:`XptError` before a
    byte is written. ``path`` may be a directory: the file is then ``<dir>/<name in lower
    case>.xpt``, the name submissions expect. Columns are written in metadata order with the
    metadata's labels and formats; Num variables with date/datetime/time formats may hold
    datetime64/date/timedelta values, converted to SAS numbers (days or seconds since
    1960-01-01; NaT -> missing). The file is written to a temporary name and renamed, so a failed
    write never leaves half a file or destroys an older one.
    """
    target = Path(path)
    if target.is_dir():
        target = target / f"{str(meta.name).lower()}.xpt"
    ready, issues = _prepare(df, meta, strict=False)
    if isinstance(meta.name, str) and target.stem.upper() != meta.name:
        issues.append(XptIssue(meta.name, None, None, target.name,
                               f"file name {target.name!r} does not match the dataset; "
                               f"submissions expect {meta.name.lower()}.xpt", "warning"))
    issues = _finish(issues, strict)  # type: ignore[arg-type]
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise XptError(_summary(errors, "prevent writing XPT, nothing written"),
                       file=str(target), issues=issues)
    if not target.parent.is_dir():
        raise XptError(f"folder {str(target.parent)!r} does not exist", file=str(target))
    formats = {v.name: v.format.upper() for v in meta.variables if v.format}
    try:
        with replacing(target) as tmp:
            pyreadstat.write_xport(
                ready, tmp, file_format_version=5, table_name=meta.name, file_label=meta.label or "",
                column_labels=[v.label or None for v in meta.variables],
                variable_format=formats or None)
    except Exception as exc:  # pyreadstat raises several unrelated classes
        raise XptError(f"pyreadstat could not write the file: {exc}", file=str(target)) from exc
    return target


_ICONV = {"utf-8": "UTF-8", "cp1252": "WINDOWS-1252", "iso8859-1": "ISO-8859-1",
          "ascii": "ASCII"}


def _known_timedelta(values: pd.Series, unit: str) -> pd.Series:
    """SAS numbers as timedeltas, missing as NaT. Only the known values go through pandas' unit
    conversion: pandas 2.x reads the fraction of a NaN there from uninitialized memory and can raise
    FloatingPointError at random (pandas-dev/pandas#58419)."""
    return pd.to_timedelta(values.dropna(), unit=unit).reindex(values.index)


def sas_days(values: pd.Series) -> pd.Series:
    """SAS day numbers (days since 1960-01-01) as datetime64; missing as NaT."""
    return SAS_EPOCH + _known_timedelta(values, "D")


def sas_date_variables(frame: pd.DataFrame) -> pd.DataFrame:
    """The *DT variables held as SAS day numbers (as read without ``dates=True``) as datetime64;
    everything else, and a frame without such variables, unchanged."""
    dates = {c: sas_days(frame[c]) for c in frame.columns if c.endswith("DT") and pd.api.types.is_numeric_dtype(frame[c])}
    return frame.assign(**dates) if dates else frame


def read_xpt(path: str | os.PathLike, *, encoding: str | None = None,
             dates: bool = False) -> tuple[pd.DataFrame, DatasetMeta]:
    """Read an XPT file (v5 or v8) into a frame and the :class:`DatasetMeta` it carries.

    ``encoding`` is the text encoding of the file, as Python names it ('cp1252', 'latin-1');
    None means utf-8, which is what :func:`write_xpt` writes. Files made by SAS on Windows, like
    the CDISC pilot's, need ``encoding='cp1252'``. Char values come back as str with trailing
    blanks stripped, missing ones as ''. Num values come back as float64 SAS numbers, dates
    included, so that a frame read and written again is unchanged; with ``dates=True`` Num
    variables with a date or datetime format become datetime64 and those with a time format
    timedelta64. The metadata's lengths are the stored lengths. A missing, unreadable,
    truncated or wrongly decoded file raises :class:`XptError` naming it (a file cut on an
    80-byte record boundary inside the data cannot be told from a shorter file: v5 stores no row
    count).
    """
    file = Path(path)
    if not file.is_file():
        raise XptError("XPT file does not exist" if not file.exists() else "is not a file",
                       file=str(file))
    size = file.stat().st_size
    if size == 0 or size % 80:
        raise XptError(f"file size {size} bytes is not a multiple of 80: the XPT file is "
                       "truncated or not SAS transport", file=str(file))
    readstat_encoding = None
    if encoding is not None:
        try:
            python_name = codecs.lookup(encoding).name
        except LookupError as exc:
            raise XptError(f"unknown encoding {encoding!r}", file=str(file)) from exc
        readstat_encoding = _ICONV.get(python_name, encoding)
    try:
        data, info = pyreadstat.read_xport(file, encoding=readstat_encoding,
                                           disable_datetime_conversion=True)
    except UnicodeDecodeError as exc:
        raise XptError(f"text is not {encoding or 'utf-8'} ({exc.reason}, byte "
                       f"0x{exc.object[exc.start]:02X}); give the file's encoding, e.g. --encoding cp1252 "
                       "for SAS on Windows", file=str(file)) from exc
    except Exception as exc:  # ReadstatError, PyreadstatError, OSError
        hint = (" (wrong encoding? give the file's encoding, e.g. --encoding cp1252 for SAS on Windows)"
                if "convert string" in str(exc) else "")
        raise XptError(f"unreadable or truncated XPT file: {exc}{hint}", file=str(file)) from exc

    variables = []
    for name, label in zip(info.column_names, info.column_labels):
        fmt = info.original_variable_types.get(name)
        if fmt and "." not in fmt:
            fmt += "."  # pyreadstat reports 'DATE9' for DATE9.
        kind = "Char" if info.readstat_variable_types[name] == "string" else "Num"
        variables.append(Variable(name, label or "", kind,
                                  int(info.variable_storage_width[name]), fmt or None))
    meta = DatasetMeta(info.table_name or "", info.file_label or "", tuple(variables))
    for var in variables:
        if var.type == "Char":
            data[var.name] = data[var.name].astype(object)
        else:
            data[var.name] = data[var.name].astype("float64")
            if dates:
                kind = _format_kind(var.format)
                if kind == "date":
                    data[var.name] = SAS_EPOCH + _known_timedelta(data[var.name], "D")
                elif kind == "datetime":
                    data[var.name] = SAS_EPOCH + _known_timedelta(data[var.name], "s")
                elif kind == "time":
                    data[var.name] = _known_timedelta(data[var.name], "s")
    return data, meta
