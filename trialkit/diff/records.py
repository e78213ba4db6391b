"""One dataset in two transfers, compared record by record through its natural keys.

A dataset is converted again at every transfer, and its row order and --SEQ numbers may change
while the records stay the same; matching by position would report every record after the first
insertion as changed. So the two frames are merged on the dataset's natural keys (pandas merge with
an indicator: left only = removed, right only = added, both = compared), and each column is compared
as a whole array over the matched pairs. Only the changed cells are turned into the text a reader
sees (dates as ISO 8601, numbers as written: trialkit.display), so the cost is the merge, not the
formatting of every value.

Natural keys are not always unique in data written by others (the CDISC pilot's AE repeats
USUBJID, AEDECOD and AESTDTC for two episodes on one day; its define.xml adds AESEQ to the keys,
which may be renumbered). A key value repeated on a side is a finding naming the dataset, the key
values and the rows, and its records are still compared: within the key value, first each record
with an identical one on the other side (every compared variable equal), then the rest in their
order in the file; what is left over on a side is added or removed. A record inserted among
repeated ones can so be paired with the wrong partner and show as changed: the finding says which
records were paired so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trialkit.display import plain_values
from trialkit.vectorize import per_unique

OLD, NEW = "_old_row", "_new_row"    # 0-based positions of a record in the old / new frame


@dataclass
class DatasetDiff:
    """What changed in one dataset. ``added`` / ``removed``: the key values of the records (and their
    0-based row on their side); ``changes``: one row per changed cell (keys, both rows, variable, old,
    new, as text); ``duplicates``: one entry per key value repeated on a side."""
    name: str
    keys: list[str]
    old_records: int | None            # None: the dataset is not in the old transfer
    new_records: int | None
    added: pd.DataFrame
    removed: pd.DataFrame
    changes: pd.DataFrame
    duplicates: list[dict] = field(default_factory=list)
    variables_added: list[str] = field(default_factory=list)
    variables_removed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)   # compared by nobody: --SEQ, which may be renumbered
    kept: dict[str, tuple] = field(default_factory=dict)  # column -> (old values, new values): --SEQ, SRCDOM, SRCSEQ

    @property
    def changed(self) -> int:
        """Records with at least one changed variable."""
        return int(self.changes[[OLD, NEW]].drop_duplicates().shape[0]) if len(self.changes) else 0

    @property
    def differs(self) -> bool:
        return bool(len(self.added) or len(self.removed) or len(self.changes) or self.variables_added
                    or self.variables_removed or self.old_records is None or self.new_records is None)

    def records(self) -> pd.DataFrame:
        """One row per record added, removed or changed: subject, change, record (its keys but STUDYID
        and the subject, as text), detail ('AESEV: MILD -> SEVERE; ...'), and its rows on both sides."""
        subject = next((c for c in ("USUBJID", "SUBJID") if c in self.keys), None)
        shown = [k for k in self.keys if k not in ("STUDYID", subject)]
        parts = []
        for change, frame in (("added", self.added), ("removed", self.removed)):
            parts.append(pd.DataFrame({"subject": frame[subject].astype(str) if subject else "", "change": change,
                                       "record": record_labels(frame[shown]), "detail": "",
                                       OLD: frame.get(OLD, pd.Series(np.nan, index=frame.index)),
                                       NEW: frame.get(NEW, pd.Series(np.nan, index=frame.index))}))
        if len(self.changes):
            cells = self.changes.assign(detail=self.changes["variable"] + ": " + _quoted(self.changes["old"])
                                        + " -> " + _quoted(self.changes["new"]))
            grouped = cells.groupby([OLD, NEW], sort=False)
            first = grouped.head(1).set_index([OLD, NEW])
            detail = grouped["detail"].agg("; ".join)
            parts.append(pd.DataFrame({"subject": first[subject].astype(str) if subject else "", "change": "changed",
                                       "record": record_labels(first[shown]), "detail": detail.reindex(first.index)})
                         .reset_index())
        out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
            pd.DataFrame(columns=["subject", "change", "record", "detail", OLD, NEW])
        return out.assign(dataset=self.name)[["dataset", "subject", "change", "record", "detail", OLD, NEW]]

    def subjects(self) -> set[str]:
        """USUBJIDs (SUBJIDs for raw forms) of every record added, removed or changed."""
        column = next((c for c in ("USUBJID", "SUBJID") if c in self.keys), None)
        if column is None:
            return set()
        return set(pd.concat([self.added[column], self.removed[column], self.changes[column]]).astype(str))


def _quoted(values: pd.Series) -> pd.Series:
    """Values as a message quotes them: 'missing' for an empty one (trialkit.display)."""
    text = values.astype(str)
    return text.where(text != "", "missing")


def key_text(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The key columns as the text a reader sees (dates as ISO 8601, 3 not 3.0, '' when missing):
    one form on both sides, so a key read as a number from XPT matches the same key from Dataset-JSON
    or a CSV."""
    return pd.DataFrame({k: per_unique(frame[k], lambda u, k=k: plain_values(u, k).astype(str).str.strip()) for k in keys},
                        index=frame.index)


def record_labels(keys: pd.DataFrame) -> pd.Series:
    """'AEDECOD=Nausea; AESTDTC=2019-01-05' for each row of key values (text), built column-wise."""
    label = pd.Series("", index=keys.index, dtype=object)
    for k, column in enumerate(keys.columns):
        label = label + ("; " if k else "") + column + "=" + keys[column].astype(str)
    return label


def _same(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Element-wise equality of two aligned columns, missing equal to missing; numbers compared as
    numbers when both sides hold numbers, else both as text (trailing blanks ignored, as XPT does)."""
    if pd.api.types.is_numeric_dtype(old) and pd.api.types.is_numeric_dtype(new):
        a, b = old.to_numpy(dtype=float), new.to_numpy(dtype=float)
        return (a == b) | (np.isnan(a) & np.isnan(b))
    same = old.to_numpy() == new.to_numpy()          # most cells: the same object on both sides, settled at once
    if same.all():
        return same
    rest = ~same
    if old.dtype == object and new.dtype == object:
        a = old[rest].fillna("").astype(str).str.rstrip().to_numpy()
        b = new[rest].fillna("").astype(str).str.rstrip().to_numpy()
    else:
        a, b = plain_values(old[rest]).to_numpy(), plain_values(new[rest]).to_numpy()
    same[rest] = a == b
    return same


def _duplicates(name: str, side: str, keys: pd.DataFrame) -> tuple[np.ndarray, list[dict]]:
    """Rows whose key values repeat, and one finding per repeated key value (its rows, 1-based)."""
    repeated = keys.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return repeated, []
    rows = keys[repeated].assign(_row=np.flatnonzero(repeated) + 1)
    grouped = rows.groupby(list(keys.columns), sort=True, dropna=False)["_row"].agg(list).reset_index()
    findings = [{"dataset": name, "side": side, "keys": dict(zip(keys.columns, values[:-1])), "rows": values[-1]}
                for values in grouped.itertuples(index=False, name=None)]
    return repeated, findings


def diff_records(name: str, old: pd.DataFrame, new: pd.DataFrame, keys: list[str], ignore: tuple[str, ...] = ()) -> DatasetDiff:
    """Compare ``old`` and ``new`` (one dataset, two transfers) matched on ``keys`` (the ones present
    on both sides); the columns in ``ignore`` are not compared (a --SEQ renumbered is no change)."""
    keys = [k for k in keys if k in old.columns and k in new.columns]
    compared = [c for c in old.columns if c in new.columns and c not in keys and c not in ignore]
    old_keys, new_keys = key_text(old, keys), key_text(new, keys)
    old_dup, duplicates = _duplicates(name, "old", old_keys)
    new_dup, new_findings = _duplicates(name, "new", new_keys)
    repeated = _repeated_anywhere(old_keys, new_keys, old_dup, new_dup)
    old_plain, new_plain = ~old_dup & ~repeated[0], ~new_dup & ~repeated[1]
    merged = pd.merge(old_keys[old_plain].assign(**{OLD: np.flatnonzero(old_plain)}),
                      new_keys[new_plain].assign(**{NEW: np.flatnonzero(new_plain)}),
                      on=keys, how="outer", indicator=True, sort=False)
    if (~old_plain).any() or (~new_plain).any():
        repeated_pairs = _pair_repeated(old, new, old_keys, new_keys, ~old_plain, ~new_plain, keys, compared)
        merged = pd.concat([merged.astype({"_merge": object}), repeated_pairs], ignore_index=True)
    # in file order, whether a record's key value was repeated or not
    removed = merged.loc[merged["_merge"] == "left_only", [*keys, OLD]].astype({OLD: "int64"}).sort_values(OLD).reset_index(drop=True)
    added = merged.loc[merged["_merge"] == "right_only", [*keys, NEW]].astype({NEW: "int64"}).sort_values(NEW).reset_index(drop=True)
    pairs = (merged.loc[merged["_merge"] == "both", [*keys, OLD, NEW]].astype({OLD: "int64", NEW: "int64"})
             .sort_values(NEW).reset_index(drop=True))
    parts = []
    for column in compared:
        a = old[column].iloc[pairs[OLD].to_numpy()].reset_index(drop=True)
        b = new[column].iloc[pairs[NEW].to_numpy()].reset_index(drop=True)
        moved = ~_same(a, b)
        if moved.any():
            parts.append(pairs[moved].assign(variable=column, old=plain_values(a[moved], column).to_numpy(),
                                             new=plain_values(b[moved], column).to_numpy()))
    changes = (pd.concat(parts, ignore_index=True) if parts
               else pd.DataFrame(columns=[*keys, OLD, NEW, "variable", "old", "new"]))
    return DatasetDiff(name, keys, len(old), len(new), added, removed, changes, duplicates + new_findings,
                       [c for c in new.columns if c not in old.columns], [c for c in old.columns if c not in new.columns],
                       [c for c in ignore if c in old.columns or c in new.columns])


def _repeated_anywhere(old_keys: pd.DataFrame, new_keys: pd.DataFrame, old_dup: np.ndarray,
                       new_dup: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per side, the records whose key value is repeated on either side: they are paired by
    ``_pair_repeated``, never by the one-to-one merge."""
    columns = list(old_keys.columns)
    if not old_dup.any() and not new_dup.any():
        return np.zeros(len(old_keys), bool), np.zeros(len(new_keys), bool)
    ambiguous = pd.concat([old_keys[old_dup], new_keys[new_dup]]).drop_duplicates()
    return tuple(keys.merge(ambiguous, on=columns, how="left", indicator=True)["_merge"].eq("both").to_numpy()
                 for keys in (old_keys, new_keys))


def _pair_repeated(old: pd.DataFrame, new: pd.DataFrame, old_keys: pd.DataFrame, new_keys: pd.DataFrame,
                   old_rows: np.ndarray, new_rows: np.ndarray, keys: list[str], compared: list[str]) -> pd.DataFrame:
    """The records of repeated key values (``old_rows`` / ``new_rows``: masks) paired as the module
    says: identical records first, then the others in file order; rows as the merge's (keys, OLD,
    NEW, _merge)."""
    left = old_keys[old_rows].assign(**{OLD: np.flatnonzero(old_rows)})
    right = new_keys[new_rows].assign(**{NEW: np.flatnonzero(new_rows)})
    left["_content"] = _content(old[old_rows], compared)
    right["_content"] = _content(new[new_rows], compared)
    exact = pd.merge(_numbered(left, [*keys, "_content"]), _numbered(right, [*keys, "_content"]),
                     on=[*keys, "_content", "_nth"], how="inner", sort=False)
    left = left[~left[OLD].isin(exact[OLD])].drop(columns="_content")
    right = right[~right[NEW].isin(exact[NEW])].drop(columns="_content")
    by_order = pd.merge(_numbered(left, keys), _numbered(right, keys), on=[*keys, "_nth"], how="outer",
                        indicator=True, sort=False)
    parts = [exact.assign(_merge="both"), by_order.astype({"_merge": object})]
    return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)[[*keys, OLD, NEW, "_merge"]]


def _numbered(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``frame`` with ``_nth``: 0, 1, 2... within each value of ``by``, in file order."""
    return frame.assign(_nth=frame.groupby(by, sort=False, dropna=False).cumcount())


def _content(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Every compared variable of each record as one text, as key_text writes values (so that two
    transfers read from different formats compare equal where the values are)."""
    content = pd.Series("", index=frame.index, dtype=object)
    for values in key_text(frame, columns).to_dict("series").values():
        content = content + "\x1f" + values
    return content


def one_side(name: str, frame: pd.DataFrame, keys: list[str], side: str) -> DatasetDiff:
    """A dataset in one transfer only: every record added (``side`` 'new') or removed ('old')."""
    keys = [k for k in keys if k in frame.columns]
    records = key_text(frame, keys).reset_index(drop=True)
    records[NEW if side == "new" else OLD] = np.arange(len(frame))
    empty = pd.DataFrame(columns=[*keys, OLD, NEW, "variable", "old", "new"])
    if side == "new":
        return DatasetDiff(name, keys, None, len(frame), records, records.iloc[0:0], empty)
    return DatasetDiff(name, keys, len(frame), None, records.iloc[0:0], records, empty)
