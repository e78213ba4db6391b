"""``read_export``: a raw export in any format, told by content, read into one ``RawExport``.

``path`` is a folder of one file per form (CSV, SAS7BDAT or XPT; the form is the file stem), a
folder holding one XLSX or one ODM file, or that XLSX or ODM file itself. Only regular files are
opened: a FIFO, a device (or a symlink to one) or a folder named like a form is reported and never
read, so a stray entry cannot hang or crash the run. Two files for one form (ae.csv and
ae.sas7bdat) are an error naming both: which one holds the export cannot be guessed. ``sheet``
(``--sheet``) reads one named sheet of an XLSX workbook; given for any other export it is an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.formats.csv_form import read_csv_form
from trialkit.formats.detect import detect_format
from trialkit.formats.export import RawExport
from trialkit.formats.odm import read_odm
from trialkit.formats.sas import read_sas_form
from trialkit.formats.xlsx import read_xlsx
from trialkit.memory_budget import check_fits

WHOLE_EXPORT = ("xlsx", "odm")     # one file holds every form
FORM_SUFFIXES = {".csv": "csv", ".sas7bdat": "sas7bdat", ".xpt": "xpt"}


def _not_a_workbook(sheet: str | None, what: str, path: Path) -> None:
    if sheet is not None:
        raise InputError(f"--sheet {sheet} names a sheet of an XLSX workbook, but the export is {what}: leave --sheet out",
                         file=str(path))


def _read_file(path: Path, fmt: str, sheet: str | None) -> RawExport:
    if fmt == "xlsx":
        forms, findings = read_xlsx(path, sheet)
        return RawExport(path, fmt, forms, findings=findings)
    _not_a_workbook(sheet, fmt.upper(), path)
    forms, metadata, findings = read_odm(path)
    return RawExport(path, fmt, forms, metadata, findings)


def _entries(folder: Path) -> tuple[dict[Path, str], list[Finding]]:
    """The folder's regular files with their format, and a finding for every entry not read."""
    files, findings = {}, []
    for entry in sorted(folder.iterdir()):
        mode = os.stat(entry).st_mode if entry.exists() else 0
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a broken link" if not mode else "not a regular file"
            if entry.suffix.lower() in FORM_SUFFIXES or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                findings.append(Finding("warning", entry.name, None, None, "", f"{what}{' (a symlink)' if entry.is_symlink() else ''}, "
                                        "not a regular file: not read"))
            continue
        fmt = detect_format(entry)
        if fmt == "csv" and entry.suffix.lower() != ".csv":
            continue      # not an export file (a manifest, a README): neither CSV by name nor another format by content
        files[entry] = fmt
    return files, findings


def read_export(path: Path, encoding: str | None = None, sheet: str | None = None) -> RawExport:
    """The export at ``path`` (see the module docstring). ``encoding`` applies to CSV and SAS text
    (default UTF-8 for CSV, the file's own for SAS); XML declares its own and XLSX is always UTF-8."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", file=str(path))
    if not path.is_dir():
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError("not a regular file or a folder: not read", file=str(path))
        fmt = detect_format(path)
        if fmt not in WHOLE_EXPORT:
            raise InputError(f"a {fmt.upper()} file holds one form: give the folder that holds the export's files",
                             file=str(path))
        return _read_file(path, fmt, sheet)
    files, findings = _entries(path)
    whole = [p for p, fmt in files.items() if fmt in WHOLE_EXPORT]
    if whole:
        if len(files) > 1:
            raise InputError(f"{whole[0].name} holds a whole export ({files[whole[0]].upper()}) but the folder has other export "
                             f"files too ({', '.join(p.name for p in files if p != whole[0])}): give the file, or a folder "
                             "with one export", file=str(path))
        export = _read_file(whole[0], files[whole[0]], sheet)
        export.findings[:0] = findings
        return export
    kinds = "/".join(sorted({fmt.upper() for fmt in files.values()}))
    _not_a_workbook(sheet, f"a folder of {kinds} files" if kinds else "a folder with no export file", path)
    by_form: dict[str, Path] = {}
    for p in files:
        if p.stem in by_form:
            raise InputError(f"two files for form {p.stem}: {by_form[p.stem].name} and {p.name}; keep the one that holds the "
                             "export", file=str(path))
        by_form[p.stem] = p
    check_fits(by_form.values(), f"the raw export {path}")
    forms = {}
    for name, p in by_form.items():
        if files[p] == "csv":
            forms[name], found = read_csv_form(p, encoding)
            findings += found
        else:
            forms[name] = read_sas_form(p, files[p], encoding)
    formats = sorted({files[p] for p in files})
    return RawExport(path, formats[0] if len(formats) == 1 else "csv", forms, findings=findings)
