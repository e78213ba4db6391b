"""Joins shared by Match Datasets and the relationship merges: keys per side and the keyed join."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import MissingVariable, NotApplicable


class MergeFailed(NotApplicable):
    """The datasets cannot be joined as the rule asks (CORE: a preprocessing error)."""


def side_keys(keys: tuple[Any, ...], side: str, prefix: str | None) -> list[str]:
    """The keys of one side (``Left`` / ``Right``): a plain name is both sides' key, a
    ``{Left: .., Right: ..}`` pair gives each side its own; ``--`` is replaced by ``prefix``."""
    names = [k if isinstance(k, str) else k.get(side, k.get(side.lower())) for k in keys]
    return [str(n).replace("--", prefix or "") for n in names]


def keyed_join(left: pd.DataFrame, right: pd.DataFrame, left_keys: list[str], right_keys: list[str],
               suffix: str, how: str = "inner") -> pd.DataFrame:
    """``left`` joined with ``right`` on the keys (null keys match null keys, as in pandas and CORE);
    a column both sides have keeps its name on the left and takes ``.<suffix>`` on the right.
    ``how`` is ``inner`` or ``left`` (left records without a partner kept, the right's columns null)."""
    require_keys(left.columns, right.columns, left_keys, right_keys)
    if _lookup_will_do(left, right, left_keys, right_keys):
        return _looked_up(left, right, left_keys, right_keys, suffix, how)
    try:
        out = left.merge(right, how="left" if how == "left" else "inner", left_on=left_keys, right_on=right_keys,
                         suffixes=("", f".{suffix}"))
    except (ValueError, TypeError) as exc:
        raise MergeFailed(f"cannot join {suffix}: {exc}") from None
    return out.reset_index(drop=True)


def require_keys(left_columns, right_columns, left_keys: list[str], right_keys: list[str]) -> None:
    """MissingVariable for the first key a side lacks: the join cannot be made (not applicable)."""
    for key, columns in [(k, left_columns) for k in left_keys] + [(k, right_columns) for k in right_keys]:
        if key not in columns:
            raise MissingVariable(key)


def right_names(left_columns, right_columns, left_keys: list[str], right_keys: list[str], suffix: str
                ) -> dict[str, str]:
    """The right's columns as the joined frame names them, as pandas ``merge`` does: a key of the
    same name on both sides appears once (the left's), a column the left also has takes
    ``.<suffix>``; every other column keeps its name."""
    shared = {a for a, b in zip(left_keys, right_keys) if a == b}
    left_columns = set(left_columns)
    return {c: f"{c}.{suffix}" if c in left_columns else c for c in right_columns if c not in shared}


def _lookup_will_do(left: pd.DataFrame, right: pd.DataFrame, left_keys: list[str], right_keys: list[str]) -> bool:
    """Whether the join is a lookup: each left record has at most one partner (the right's keys are
    unique), no key is empty on either side (pandas pairs empty keys with each other) and each pair
    of keys is text with text or numbers with numbers (pandas refuses other pairs: ``merge`` says why)."""
    keys = right[right_keys]
    if keys.duplicated().any() or not keys.notna().all().all() or not left[left_keys].notna().all().all():
        return False
    return all(_kind(left[a]) == _kind(right[b]) != "other" for a, b in zip(left_keys, right_keys))


def _kind(column: pd.Series) -> str:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _kind(pd.Series(column.cat.categories))
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return "number"
    return "text" if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype) else "other"


def _looked_up(left: pd.DataFrame, right: pd.DataFrame, left_keys: list[str], right_keys: list[str], suffix: str,
               how: str) -> pd.DataFrame:
    """The frame ``merge`` makes when every left record has at most one partner (DM by USUBJID, the
    common case), built by looking each left key up: the left's columns are kept as they are, not
    copied, and only the right's columns are added, taken by position (records without a partner
    drop out of an inner join; in a left join their right columns are null, numbers as NaN). Column
    names as ``merge`` names them: a right column the left also has takes ``.<suffix>``, and a key of
    the same name on both sides appears once."""
    def index(frame: pd.DataFrame, keys: list[str]) -> pd.Index:
        return pd.MultiIndex.from_frame(frame[keys]) if len(keys) > 1 else pd.Index(frame[keys[0]])

    positions = index(right, right_keys).get_indexer(index(left, left_keys))
    found = positions >= 0
    if how != "left" and not found.all():
        left, positions, found = left[found], positions[found], found[found]
    out = left.reset_index(drop=True)
    names = right_names(out.columns, right.columns, left_keys, right_keys, suffix)
    for key in set(right.columns) - set(names):     # a key of category type on one side only: merge gives plain text
        if out[key].dtype != right[key].dtype and isinstance(out[key].dtype, pd.CategoricalDtype):
            out[key] = out[key].astype(object)
    taken = right[list(names)].iloc[np.where(found, positions, 0)].reset_index(drop=True) \
        if len(right) else right[list(names)].reindex(range(len(out)))
    if not found.all():     # no partner: null as merge makes it (NaN; integers become floats)
        taken = taken.where(pd.Series(found))
    taken.columns = list(names.values())
    return pd.concat([out, taken], axis=1) if len(taken.columns) else out
