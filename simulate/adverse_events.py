"""Adverse events of treated subjects, calibrated so that the share of subjects with a grade >= 3
event matches the profile exactly in expectation.

Cytokine release syndrome and neurologic events are drawn first (they have their own published
rates); the general grade >= 3 draw then tops up each arm to its target rate, so the special events
are not counted twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.draw import (
    bernoulli,
    categorical,
    categorical_by,
    days,
    int_between,
    lookup,
)
from trialkit.simulate.profile import AeTerm, Profile

MEDDRA_VERSION = "24.0"


class Catalogue:
    """All AE terms of the profile in one indexable table, with their verbatim spellings flattened."""

    def __init__(self, groups: list[list[AeTerm]], soc_codes: dict[str, int]) -> None:
        self.offsets = np.cumsum([0] + [len(g) for g in groups])[:-1]
        terms = [t for g in groups for t in g]
        self.groups = groups
        self.pt = np.array([t.pt for t in terms], dtype=object)
        self.soc = np.array([t.soc for t in terms], dtype=object)
        self.soc_code = np.array([soc_codes[t.soc] for t in terms], dtype=np.int64)
        counts = np.array([len(t.verbatim) for t in terms])
        self.verbatim_start = np.cumsum(np.concatenate([[0], counts]))[:-1]
        self.verbatim_count = counts
        self.verbatims = np.array([v for t in terms for v in t.verbatim], dtype=object)

    def weights(self, group: int, side: str, arms: list[str]) -> dict:
        """arm -> {catalogue index: weight} for the grade 1-2 ('low') or grade >= 3 ('high') draws of a group."""
        table = {}
        for arm in arms:
            w = {}
            for k, t in enumerate(self.groups[group]):
                value = getattr(t, side)
                w[self.offsets[group] + k] = value[arm] if isinstance(value, dict) else value
            table[arm] = w if sum(w.values()) > 0 else {self.offsets[group]: 1.0}
        return table

    def events(self, subject: np.ndarray, term: np.ndarray, grade: np.ndarray) -> pd.DataFrame:
        term = term.astype(int)
        return pd.DataFrame({"_i": subject, "term": term, "AETOXGR": grade.astype(int),
                             "AEDECOD": self.pt[term], "AEBODSYS": self.soc[term], "AESOCCD": self.soc_code[term]})

    def verbatim(self, term: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One of the term's verbatim spellings per event, as different sites write it."""
        pick = (rng.random(len(term)) * self.verbatim_count[term]).astype(int)
        return self.verbatims[self.verbatim_start[term] + pick]


def adverse_events(profile: Profile, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    ae = profile.adverse_events
    arms = list(profile.arms)
    treated = np.flatnonzero(s["treated"].to_numpy())
    arm = s["ARM"].to_numpy()[treated]
    n = len(treated)
    grade_low = lambda size: categorical(rng, ae.grade_1_2, size)  # noqa: E731
    grade_high = lambda size: categorical(rng, ae.grade_3_plus, size)  # noqa: E731

    GENERAL, NEURO, CRS = 0, 1, 2
    cat = Catalogue([ae.terms, ae.neurologic_terms, [ae.cytokine_release_syndrome_term]], ae.soc_codes)
    parts = []

    # cytokine release syndrome
    has_crs = bernoulli(rng, lookup(arm, {a: r.probability for a, r in ae.cytokine_release_syndrome.items()}), n)
    crs_grade = categorical_by(rng, arm, {a: r.grades for a, r in ae.cytokine_release_syndrome.items()})
    parts.append(cat.events(treated[has_crs], np.full(has_crs.sum(), cat.offsets[CRS]), crs_grade[has_crs]))

    # neurologic events: any grade, and grade >= 3
    neuro_low = bernoulli(rng, lookup(arm, {a: r.probability for a, r in ae.neurologic.items()}), n)
    p_neuro_high = lookup(arm, {a: r.grade_3_plus for a, r in ae.neurologic.items()})
    neuro_high = bernoulli(rng, p_neuro_high, n)
    parts.append(cat.events(treated[neuro_low], categorical_by(rng, arm, cat.weights(NEURO, "low", arms))[neuro_low], grade_low(neuro_low.sum())))
    parts.append(cat.events(treated[neuro_high], categorical_by(rng, arm, cat.weights(NEURO, "high", arms))[neuro_high], grade_high(neuro_high.sum())))

    # general grade >= 3 events, topping each arm up to its target rate
    target = lookup(arm, ae.any_grade_3_plus)
    topped = np.clip((target - p_neuro_high) / (1 - p_neuro_high), 0, 1)
    flagged = ~neuro_high & bernoulli(rng, topped, n)
    count_high = flagged.astype(int) + rng.poisson(lookup(arm, ae.extra_grade_3_plus_mean)) * (flagged | neuro_high)
    i_high = np.repeat(np.arange(n), count_high)
    high_terms = categorical_by(rng, arm[i_high], cat.weights(GENERAL, "high", arms))
    parts.append(cat.events(treated[i_high], high_terms, grade_high(len(i_high))))

    # general grade 1-2 events
    count_low = rng.poisson(lookup(arm, ae.grade_1_2_mean))
    i_low = np.repeat(np.arange(n), count_low)
    low_terms = categorical_by(rng, arm[i_low], cat.weights(GENERAL, "low", arms))
    parts.append(cat.events(treated[i_low], low_terms, grade_low(len(i_low))))

    out = pd.concat(parts, ignore_index=True)
    m = len(out)
    i = out["_i"].to_numpy()
    start = s["trt_start"].to_numpy().astype("datetime64[D]")[i] + days(rng.integers(0, ae.window_days + 1, m))
    end = start + days(int_between(rng, ae.duration_days, m))
    death = s["death_date"].to_numpy().astype("datetime64[D]")[i]
    obs_end = s["obs_end"].to_numpy().astype("datetime64[D]")[i]
    stop = np.where(np.isnat(death), obs_end, np.minimum(death, obs_end))
    ongoing = bernoulli(rng, ae.ongoing_at_export, m) | (end > stop)
    keep = start <= stop
    out["AESTDAT"] = start
    out["AEENDAT"] = np.where(ongoing, np.datetime64("NaT", "D"), end)
    out["AEONGO"] = np.where(ongoing, "Y", "N")
    out["AESTDAT_partial"] = bernoulli(rng, ae.start_day_month_only, m)
    out["AESER"] = np.where(bernoulli(rng, lookup(out["AETOXGR"].to_numpy(), ae.serious_by_grade), m), "Y", "N")
    arm_i = s["ARM"].to_numpy()[i]
    out["AEREL"] = np.where(bernoulli(rng, lookup(arm_i, ae.related), m), "RELATED", "NOT RELATED")
    out["AEOUT"] = np.where(ongoing, "NOT RECOVERED/NOT RESOLVED", "RECOVERED/RESOLVED")
    out["AETERM"] = cat.verbatim(out["term"].to_numpy(), rng)
    out["MEDDRAV"] = MEDDRA_VERSION
    # seriousness criteria of serious events: life-threatening for grade 4, else hospitalization,
    # with other medically important events where neither applies
    serious = out["AESER"].to_numpy() == "Y"
    grade = out["AETOXGR"].to_numpy()
    life = serious & (grade >= 4) & bernoulli(rng, 0.6, m)
    hosp = serious & bernoulli(rng, 0.85, m)
    out["AESLIFE"] = np.where(life, "Y", np.where(serious, "N", ""))
    out["AESHOSP"] = np.where(hosp, "Y", np.where(serious, "N", ""))
    out["AESMIE"] = np.where(serious & ~life & ~hosp, "Y", np.where(serious, "N", ""))
    out = out[keep].drop(columns=["term"]).sort_values(["_i", "AESTDAT"], kind="stable").reset_index(drop=True)
    out["AESPID"] = out.groupby("_i").cumcount() + 1
    return out
