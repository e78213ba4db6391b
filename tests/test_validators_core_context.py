"""The value helpers every CORE operator shares (validators/core/context.py): what counts as empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialkit.validators.core.context import empty, holds_collections, is_empty_value, per_object


@pytest.mark.parametrize("seed", range(40))
def test_empty_of_a_column_that_may_hold_lists_is_each_value_judged_alone(seed):
    """A column mixing text, numbers, None, lists and other objects (a value check's values, an
    operation's results): :func:`empty` vectorizes the text, numbers and None, and is still
    :func:`is_empty_value` of every value, as judging each object alone gives."""
    pool = ["", "A", " ", None, float("nan"), 1.0, 0, True, False, [], [None], [1], (), {}, {"a": 1}, set(),
            np.float64("nan"), np.int64(0), np.str_(""), pd.NaT, pd.NA, np.datetime64("NaT"), b"", np.array([1, 2])]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 80))
    series = pd.Series([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object, index=pd.RangeIndex(7, 7 + n))
    if holds_collections(series):
        judged = per_object(series, is_empty_value).astype(bool)
        pd.testing.assert_series_equal(empty(series), judged, check_names=False)
