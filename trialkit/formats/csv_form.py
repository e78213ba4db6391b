"""One raw form from a CSV file, read as text exactly as exported, and every way the file itself can
be broken told as a finding or a clear error naming file, line and column (trialkit issue 15).

Decoding is done here, not by pandas, so a byte the declared encoding cannot read is an error at its
line and byte offset instead of a UnicodeDecodeError traceback. A header without a comma but with
';', tab or '|' is read with that delimiter and a finding says so. A first record with more fields
than the header is an error at its line: pandas would take the first column as an index, shifting
every value one column right (and every subject "unknown"). A last record cut short with no final
newline (a truncated transfer) is marked on the form for the SDTM stage to reject and ledger.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.formats.export import ExportForm

OTHER_DELIMITERS = ";\t|"


MAX_COLUMNS = 10_000    # a form this wide is not an EDC form; pandas would take GBs to parse it


def decode(data: bytes, encoding: str, path: Path) -> str:
    """``data`` as text; an undecodable byte is an InputError at its line and byte offset."""
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"   # a byte-order mark is not part of the first column's name
    try:
        return data.decode(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r} (give --encoding with a Python codec name, "
                         "e.g. utf-8, latin-1, cp1252)", file=str(path)) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"line {line}, byte offset {exc.start}: byte(s) {data[exc.start:exc.end]!r} cannot be decoded "
                         f"as {encoding} ({exc.reason}); the file is in another encoding: give --encoding "
                         "(e.g. --encoding latin-1 or cp1252)", file=str(path)) from None


def _delimiter(text: str, path: Path, findings: list[Finding]) -> str:
    header = text.split("\n", 1)[0]
    if "," in header or not any(d in header for d in OTHER_DELIMITERS):
        return ","
    try:
        found = csv.Sniffer().sniff(text[:65536], delimiters=OTHER_DELIMITERS).delimiter
    except csv.Error:
        return ","
    findings.append(Finding("warning", path.name, None, None, found, f"fields are separated by {found!r}, not by commas: "
                            "read with that delimiter (check the export settings)"))
    return found


def _first_records(text: str, delimiter: str, count: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out = []
    for record in reader:
        if record:
            out.append(record)
        if len(out) == count:
            break
    return out


def truncated_record(text: str, delimiter: str, width: int) -> tuple[int, str, int] | None:
    """(record number, last record's text, fields in it) when the file does not end in a newline and
    its last record has fewer fields than the header: the transfer was cut. Records are counted as
    the CSV parser counts them (a quoted newline or U+2028 inside a value is not a new record;
    blank lines are skipped)."""
    if text.endswith(("\n", "\r")):
        return None
    records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
    if len(records) < 2 or len(records[-1]) >= width:
        return None
    return len(records) - 1, delimiter.join(records[-1]), len(records[-1])


def read_csv_form(path: Path, encoding: str | None = None) -> tuple[ExportForm, list[Finding]]:
    """The form in ``path`` (its name is the file stem) and what reading it found."""
    path = Path(path)
    findings: list[Finding] = []
    text = decode(path.read_bytes(), encoding or "utf-8", path)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputError(f"line {line}: NUL character at character offset {nul}: a binary or corrupted file, or one in "
                         "UTF-16 (give --encoding utf-16)", file=str(path))
    if not text.strip():
        raise InputError("empty file: not even a header line", file=str(path))
    delimiter = _delimiter(text, path, findings)
    first = _first_records(text, delimiter, 2)
    header = first[0]
    if len(header) > MAX_COLUMNS:
        raise InputError(f"the header has {len(header):,} columns, more than the {MAX_COLUMNS:,} any EDC form holds: not "
                         "a form export (or not split at the right delimiter); not read", file=str(path), row=1)
    if len(first) > 1 and len(first[1]) > len(header):
        raise InputError(f"the first record has {len(first[1])} fields, the header {len(header)}: a value holds an unquoted "
                         f"{delimiter!r} or the header lacks a column; every value would shift one column",
                         file=str(path), row=2)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        why = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise InputError(f"cannot parse CSV ({why}): a value with an unquoted delimiter, or a truncated file", file=str(path)) from None
    frame.columns = header if len(header) == len(frame.columns) else frame.columns
    seen: set[str] = set()
    keep = []
    for k, name in enumerate(header):
        if name in seen:
            findings.append(Finding("error", path.name, None, name, "", f"column {name} appears again in the header (field {k + 1}): "
                                    "the second one is not read"))
        else:
            keep.append(k)
        seen.add(name)
    frame = frame.iloc[:, keep]
    cut = truncated_record(text, delimiter, len(header))
    return ExportForm(path.stem, frame, path.name, truncated=cut[0] if cut else None), findings
