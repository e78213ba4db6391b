"""Vectorized random draws shared by the simulator's modules.

Everything takes a numpy Generator and returns arrays of the requested size: the simulator never loops
over subjects in Python, so 100,000 subjects cost the same number of calls as 100.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

MONTH_DAYS = 30.5  # the publication's month


def categorical(rng: np.random.Generator, dist: Mapping, size: int) -> np.ndarray:
    """Draw ``size`` keys of ``dist`` with its values as (unnormalized) weights."""
    keys = np.array(list(dist.keys()), dtype=object)
    weights = np.array(list(dist.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=weights / weights.sum())]


def categorical_by(rng: np.random.Generator, groups: np.ndarray, table: Mapping) -> np.ndarray:
    """Draw one key per element, from the distribution ``table[group]`` of its group."""
    out = np.empty(len(groups), dtype=object)
    for group, dist in table.items():
        mask = groups == group
        if mask.any():
            out[mask] = categorical(rng, dist, int(mask.sum()))
    return out


def lookup(groups: np.ndarray, table: Mapping) -> np.ndarray:
    """Map each element of ``groups`` to ``table[group]`` as floats (NaN where the group is absent)."""
    out = np.full(len(groups), np.nan)
    for group, value in table.items():
        out[groups == group] = value
    return out


def lookup_by_arm(arm: np.ndarray, group: np.ndarray, table: Mapping) -> np.ndarray:
    """Map each element to ``table[arm][group]`` as floats (NaN where absent)."""
    out = np.full(len(arm), np.nan)
    for arm_name, by_group in table.items():
        for group_name, value in by_group.items():
            out[(arm == arm_name) & (group == group_name)] = value
    return out


def bernoulli(rng: np.random.Generator, p: np.ndarray | float, size: int) -> np.ndarray:
    """Independent yes/no draws with probability ``p`` (scalar or per element)."""
    return rng.random(size) < p


def int_between(rng: np.random.Generator, bounds: tuple[int, int], size: int) -> np.ndarray:
    """Uniform integers in the closed range ``bounds``."""
    return rng.integers(bounds[0], bounds[1] + 1, size=size)


def days(values: np.ndarray) -> np.ndarray:
    """Whole-day offsets as timedelta64 for date arithmetic on datetime64[D] arrays."""
    return np.asarray(values).astype("int64").astype("timedelta64[D]")
