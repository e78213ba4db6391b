"""Joins shared by Match Datasets and the relationship merges: keys per side and the keyed join."""

from __future__ import annotations

from typing import Any

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
    for key, side in [(k, left) for k in left_keys] + [(k, right) for k in right_keys]:
        if key not in side.columns:
            raise MissingVariable(key)
    try:
        out = left.merge(right, how="left" if how == "left" else "inner", left_on=left_keys, right_on=right_keys,
                         suffixes=("", f".{suffix}"))
    except (ValueError, TypeError) as exc:
        raise MergeFailed(f"cannot join {suffix}: {exc}") from None
    return out.reset_index(drop=True)
