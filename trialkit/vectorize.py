"""Work and memory once per distinct value: clinical columns repeat few values (dates, codes, terms,
USUBJID outside DM) over many rows.

``per_unique(values, fn)`` applies a vectorized ``fn`` to the distinct values only and spreads the
result back, so parsing 120,000 contact dates costs what parsing their 2,000 distinct values costs.
``compact(frame)`` holds such text columns as pandas categories, which is how the stages that read
whole folders of datasets (ADaM, validate, report) keep a 100,000-subject study in memory; ``plain``
turns them back into text where the text of several frames meets.
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


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text (object) column that has fewer distinct values than half its records
    as a ``category`` column, in place; returned for convenience.

    Why half: an object column read from XPT holds one Python string per cell (some 50 bytes and
    more each); a category column one small integer code per record plus one string per distinct
    value. Below half, at least every other string goes, and clinical text repeats far more than that.
    A column of mostly distinct values (DM.USUBJID, free text) would keep nearly every string and only
    add an indirection to every use, so it stays object.

    Categories are sorted, so grouping by a category column orders groups as grouping the text does.
    They are fresh copies of the distinct strings, not the cells' own objects: a cell string kept
    alive as a category would pin the memory block the reader allocated it in, and the memory of the
    dropped column would never go back to the system (reading a 20,000-subject SDTM this way peaks at
    0.3 GiB instead of 1.1 GiB). Call it per dataset as it is read, so that the object form of only
    one dataset is alive at a time."""
    for column in frame.columns[frame.dtypes == object]:
        codes, uniques = pd.factorize(frame[column], sort=True)
        if len(uniques) < len(frame) / 2:
            fresh = [u.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") if isinstance(u, str) else u
                     for u in uniques]
            frame[column] = pd.Categorical.from_codes(codes, categories=pd.Index(fresh, dtype=object))
    return frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its category columns as object again, for work that mixes the text of several
    frames (merges, concatenation, comparing two columns): category columns with different categories
    neither compare nor concatenate as text does. Cheap: the object column points at the categories'
    own strings, one pointer per record."""
    categorical = {c: object for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)}
    return frame.astype(categorical) if categorical else frame
