"""Work once per distinct value: clinical columns repeat few values (dates, codes) over many rows.

``per_unique(values, fn)`` applies a vectorized ``fn`` to the distinct values only and spreads the
result back, so parsing 120,000 contact dates costs what parsing their 2,000 distinct values costs.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def per_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series | tuple[pd.Series, ...]]):
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    result = fn(pd.Series(uniques, dtype=values.dtype if values.dtype != object else object))
    if isinstance(result, tuple):
        return tuple(pd.Series(r.to_numpy()[codes], index=values.index, dtype=r.dtype) for r in result)
    return pd.Series(result.to_numpy()[codes], index=values.index, dtype=result.dtype)
