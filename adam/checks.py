"""Input checks the derivations run first (admiral's ``assert_*`` family), with errors that point.

Every derivation opens with these, so a bad input stops before anything is derived and the error
names the dataset, the variables and the rows. Duplicates are reported with the offending key values
and their row numbers (the first few, plus how many there are in all), the way admiral's
``get_duplicates_dataset()`` lets a user see the records instead of a bare count; ``get_duplicates``
returns all of them as a frame.

All checks are vectorized (``duplicated`` / ``groupby``); only the few key values shown in a message
are formatted one by one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from trialkit.adam.errors import AdamError, AdamWarning
from trialkit.display import show

SHOW = 5  # key values (or rows) spelled out in a message; the count of all follows
CHECK_TYPES = ("error", "warning", "none")


def assert_variables(df: pd.DataFrame, variables: Iterable[str], dataset: str, *, what: str = "required") -> None:
    """AdamError naming the dataset and every variable of ``variables`` that ``df`` lacks.

    All missing variables are named at once (not the first only), so one run shows everything a
    spec or an earlier step has to provide.
    """
    wanted = list(dict.fromkeys(variables))
    missing = [v for v in wanted if v not in df.columns]
    if missing:
        noun = "variable" if len(missing) == 1 else "variables"
        raise AdamError(
            f"{what} {noun} {', '.join(missing)} not found (the dataset has {_preview(list(df.columns), 12)})",
            dataset=dataset, variables=missing,
        )


def get_duplicates(df: pd.DataFrame, keys: Sequence[str], *, dataset: str = "") -> pd.DataFrame:
    """All records whose ``keys`` values occur more than once, grouped by key value.

    Groups come in the order of their first appearance and records keep their order within a group
    (and their index labels), so the result reads like admiral's ``get_duplicates_dataset()``:
    the records of one duplicated key value next to each other. Missing key values are compared
    as equal (two records with USUBJID missing are duplicates of each other).
    """
    keys = list(dict.fromkeys(keys))
    assert_variables(df, keys, dataset or "dataset", what="key")
    key_frame = _key_frame(df, keys)
    mask = key_frame.duplicated(keep=False).to_numpy()
    if not mask.any():
        return df[mask]
    group = key_frame[mask].groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    return df[mask].iloc[np.argsort(group, kind="stable")]


def assert_unique(
    df: pd.DataFrame,
    keys: Sequence[str],
    dataset: str,
    what: str = "record",
    *,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    context: str = "",
) -> None:
    """AdamError if ``keys`` do not identify the records of ``df``: the duplicated key values with
    their row numbers (first few), the count of all, and all duplicate records on ``err.records``.

    ``row_numbers`` (1-based, aligned with ``df``) lets a caller that checks a filtered subset
    report the rows of the dataset the user passed, not of the subset. ``context`` says why
    uniqueness matters here (e.g. which argument requires it).
    """
    signal_duplicates(df, keys, dataset, "error", what, row_numbers=row_numbers, context=context)


def signal_duplicates(
    df: pd.DataFrame,
    keys: Sequence[str],
    dataset: str,
    check_type: str,
    what: str = "record",
    *,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    context: str = "",
) -> None:
    """``assert_unique`` with admiral's ``check_type``: 'error' raises, 'warning' warns
    (AdamWarning, same text), 'none' says nothing."""
    if check_type not in CHECK_TYPES:
        raise AdamError(f"check_type must be one of {', '.join(CHECK_TYPES)}, not {check_type!r}", dataset=dataset)
    if check_type == "none":
        return
    err = duplicates_error(df, keys, dataset, what, row_numbers=row_numbers, context=context)
    if err is None:
        return
    if check_type == "error":
        raise err
    warnings.warn(str(err), AdamWarning, stacklevel=3)


def duplicates_error(
    df: pd.DataFrame,
    keys: Sequence[str],
    dataset: str,
    what: str = "record",
    *,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    context: str = "",
) -> AdamError | None:
    """The AdamError ``assert_unique`` would raise, or None when the keys are unique."""
    keys = list(dict.fromkeys(keys))
    assert_variables(df, keys, dataset, what="key")
    key_frame = _key_frame(df, keys)
    mask = key_frame.duplicated(keep=False).to_numpy()
    if not mask.any():
        return None
    numbers = np.arange(1, len(df) + 1) if row_numbers is None else np.asarray(row_numbers)
    if len(numbers) != len(df):
        raise ValueError("row_numbers must have one entry per record")
    dups = key_frame[mask]
    group = dups.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    dup_numbers = numbers[mask][order]
    group = group[order]
    n_groups, n_rows = int(group.max()) + 1, int(mask.sum())
    # only the first SHOW groups are spelled out: boundaries of the sorted group codes locate them
    starts = np.searchsorted(group, np.arange(min(n_groups, SHOW) + 1))
    shown = []
    for g in range(min(n_groups, SHOW)):
        first = dups.iloc[order[starts[g]]]
        values = ", ".join(f"{k}={show(first[k], k)}" for k in keys)
        shown.append(f"{values} at rows {_preview(dup_numbers[starts[g]:starts[g + 1]].tolist(), SHOW)}")
    more = f"; and {n_groups - SHOW} more key values" if n_groups > SHOW else ""
    plural = "value" if n_groups == 1 else "values"
    lead = f"{context}: " if context else ""
    message = (f"{lead}duplicate {what}s with respect to {', '.join(keys)}: {n_groups} key {plural} on "
               f"{n_rows} rows: {'; '.join(shown)}{more}")
    return AdamError(message, dataset=dataset, keys=keys, rows=sorted(dup_numbers.tolist()),
                     records=get_duplicates(df, keys, dataset=dataset))


def _key_frame(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The key columns with every kind of missing value (None, NaN, NaT, pd.NA) made one, so that
    two records both lacking a key value count as duplicates (pandas hashes None and NaN apart)."""
    frame = df[keys]
    fix = [c for c in keys if frame[c].dtype == object and frame[c].isna().any()]
    if fix:
        frame = frame.assign(**{c: frame[c].where(frame[c].notna(), np.nan) for c in fix})
    return frame


def _preview(items: list, limit: int) -> str:
    head = ", ".join(str(i) for i in items[:limit])
    return head + (f", ... ({len(items)} in all)" if len(items) > limit else "")
