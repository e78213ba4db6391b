"""One raw form from a SAS7BDAT or SAS transport (XPT) file, every value turned into the text a
user sees (trialkit.formats.text): the raw dictionary's checks then read it as they read a CSV.

pyreadstat applies the SAS formats it knows: a numeric variable with a date format (DATE9.,
YYMMDD10., DDMMYY10. ...) arrives as a date and is written YYYY-MM-DD, so a raw dictionary describes
such a field with ``format: YYYY-MM-DD`` whatever the SAS display format; a time as HH:MM; a
date-time as YYYY-MM-DDTHH:MM:SS. A numeric variable without a date format stays a number (a date
stored as a bare SAS day count reads as that count, which the dictionary's date check reports).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from trialkit.errors import InputError
from trialkit.formats.export import ExportForm
from trialkit.formats.text import column_text

XPT_RECORD = 80     # bytes: every SAS transport file is a sequence of 80-byte records
READERS = {"sas7bdat": pyreadstat.read_sas7bdat, "xpt": pyreadstat.read_xport}


def read_sas_form(path: Path, fmt: str, encoding: str | None = None) -> ExportForm:
    """The form in ``path`` (``fmt`` 'sas7bdat' or 'xpt'); its name is the file stem."""
    path = Path(path)
    try:
        data, meta = READERS[fmt](str(path), encoding=encoding) if encoding else READERS[fmt](str(path))
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:
        raise InputError(f"cannot read as {fmt.upper()} ({exc})", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"text cannot be decoded ({exc.reason}); give --encoding with the file's encoding",
                         file=str(path)) from None
    frame = pd.DataFrame({c: column_text(data[c]) for c in data.columns}, columns=list(data.columns))
    labels = {c: label for c, label in (meta.column_names_to_labels or {}).items() if label}
    if fmt == "xpt" and path.stat().st_size % XPT_RECORD:
        # a transport file is whole 80-byte records; pyreadstat quietly drops an observation cut short,
        # so the cut one is put back, empty, as the form's truncated record: rejected and in the ledger.
        # A file cut exactly between observations on a record boundary cannot be told from a whole one
        # (XPT v5 holds no observation count)
        frame = pd.concat([frame, pd.DataFrame([[""] * frame.shape[1]], columns=frame.columns)], ignore_index=True)
        return ExportForm(path.stem, frame, path.name, labels=labels, truncated=len(frame))
    return ExportForm(path.stem, frame, path.name, labels=labels)
