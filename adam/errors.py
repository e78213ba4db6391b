"""Errors of the ADaM derivations: each names the dataset, the variables and the offending rows.

A derivation that cannot be done right stops with an ``AdamError`` before it changes anything (admiral's
check-first style). The one line the CLI prints says which dataset, which key or variables and which
rows are at fault, because "duplicate records" alone sends the user searching through 100,000 rows;
the structured attributes (``rows``, ``records``) carry the same facts for code and tests.

Row numbers are 1-based positions in the frame as it was passed to the derivation (the first record
is row 1), not pandas index labels: frames read from XPT or built by earlier steps carry arbitrary
indexes, positions are what a user sees when opening the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from trialkit.errors import TrialkitError


class AdamError(TrialkitError):
    """An ADaM derivation cannot proceed: missing variables, duplicate keys, unreadable dates...

    ``dataset``: the dataset's name (e.g. ``ADSL``, ``EX``); ``keys``: the key / by variables the
    problem is about; ``variables``: other variables involved (missing ones, a --DTC column);
    ``rows``: 1-based row numbers of *all* offending records (the message shows the first few);
    ``records``: the offending records themselves where that helps (e.g. all duplicates), like
    admiral's ``get_duplicates_dataset()``; ``subjects``: the USUBJIDs at fault, from which
    trialkit.lineage finds the SDTM records and raw rows behind the error.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        keys: Sequence[str] | None = None,
        variables: Sequence[str] | None = None,
        rows: Iterable[int] | None = None,
        records: pd.DataFrame | None = None,
        column: str | None = None,
        key: str | None = None,
        subjects: Iterable[str] | None = None,
    ) -> None:
        super().__init__(message, column=column, key=key)
        self.dataset = dataset or None
        self.keys = tuple(keys or ())
        self.variables = tuple(variables or ())
        self.rows = tuple(int(r) for r in rows) if rows is not None else ()
        self.records = records
        if subjects is None and records is not None and "USUBJID" in records:
            subjects = records["USUBJID"]
        self.subjects = tuple(dict.fromkeys(str(s) for s in subjects)) if subjects is not None else ()

    def __str__(self) -> str:
        where = []
        if self.dataset:
            where.append(f"dataset {self.dataset}")
        if self.keys:
            where.append(f"keys {', '.join(self.keys)}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.key is not None:
            where.append(f"key {self.key}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class AdamWarning(UserWarning):
    """A data problem a derivation can work around but the user should see (``check_type='warning'``),
    e.g. records tied in ``order`` where admiral also only warns by default."""
