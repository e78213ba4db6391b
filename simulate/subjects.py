"""Baseline of each simulated subject: arm, site, demographics, disease history and strata.

One row per subject, with real dates (datetime64[D]) and latent values; the export module turns
these into the text an EDC would hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.draw import MONTH_DAYS, bernoulli, categorical, categorical_by, days, int_between
from trialkit.simulate.profile import Profile

MRD_HIGH_CUT = 1e-3


def allocate_arms(allocation: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """Exact arm sizes by largest remainder of the allocation weights (arm -> weight), in random order.

    With the reference profile, 111 subjects give exactly the published 54 / 57.
    """
    names = list(allocation)
    weights = np.array([allocation[a] for a in names], dtype=float)
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.array(names, dtype=object), counts))


def site_table(profile: Profile) -> pd.DataFrame:
    """All sites of the study: SITEID "0101"... numbered within country, with the site's local formats."""
    rows = []
    for c_index, country in enumerate(profile.sites, start=1):
        for s in range(1, country.n + 1):
            rows.append(
                {
                    "SITEID": f"{c_index:02d}{s:02d}",
                    "COUNTRY": country.country,
                    "date_format": country.date_format,
                    "decimal": country.decimal,
                    "weight": country.weight / country.n,
                }
            )
    return pd.DataFrame(rows)


def age_years(profile: Profile, rng: np.random.Generator, n: int) -> np.ndarray:
    """Ages from the profile's piecewise-linear quantile function (inverse-CDF sampling)."""
    q = sorted(profile.population.age_quantiles_years.items())
    probs, ages = zip(*q)
    return np.interp(rng.random(n), probs, ages)


def age_group(age: np.ndarray) -> np.ndarray:
    """Stratification age group of the trial: < 1, 1-9, > 9 years."""
    return np.where(age < 1, "<1", np.where(age < 10, "1-9", ">9")).astype(object)


def draw_subjects(profile: Profile, n: int, rng: np.random.Generator) -> pd.DataFrame:
    pop = profile.population
    d = profile.dates
    sites = site_table(profile)

    arm = allocate_arms({a: v.weight for a, v in profile.arms.items()}, n, rng)
    site_idx = rng.choice(len(sites), size=n, p=(sites["weight"] / sites["weight"].sum()).to_numpy())
    span = (np.datetime64(d.enrolment_end) - np.datetime64(d.enrolment_start)).astype(int)
    rand_date = np.datetime64(d.enrolment_start) + days(rng.integers(0, span + 1, size=n))
    consent_date = rand_date - days(int_between(rng, pop.days_consent_before_randomization, n))

    age = age_years(profile, rng, n)
    birth_date = consent_date - days(np.floor(age * 365.25))
    female = bernoulli(rng, pop.female, n)

    stratum = categorical_by(rng, arm, pop.marrow_mrd_stratum)
    undetectable = (stratum == "M1_MRD_LT1E-3") & bernoulli(rng, pop.mrd_undetectable_in_low_stratum, n)
    log_mrd = np.select(
        [stratum == "M1_MRD_LT1E-3", stratum == "M1_MRD_GE1E-3"],
        # below the 1E-03 cut by more than the lab's rounding: 9.97E-04 would print as 1.0E-03 and
        # fall in the other group once derived from the reported value
        [rng.uniform(-4, np.log10(9.9e-4), n), rng.uniform(-3, -1.3, n)],
        rng.uniform(-1.3, -0.7, n),
    )
    mrd = np.where(undetectable, 0.0, 10.0**log_mrd)
    mrd_evaluable = ~bernoulli(rng, pop.baseline_mrd_not_evaluable, n)
    mrd = np.where(mrd_evaluable, mrd, np.nan)
    # the group used for the outcome model: the measured one, or the stratum when unmeasured
    high = np.where(mrd_evaluable, mrd >= MRD_HIGH_CUT, stratum != "M1_MRD_LT1E-3")
    blasts = np.where(stratum == "M2", rng.uniform(5.0, 24.9, n), rng.uniform(0.0, 4.9, n)).round(1)

    very_early = bernoulli(rng, pop.very_early_relapse, n)
    months_dx = np.where(
        very_early,
        rng.uniform(*pop.months_diagnosis_to_relapse["very_early"], n),
        rng.uniform(*pop.months_diagnosis_to_relapse["later"], n),
    )
    relapse1_date = rand_date - days(int_between(rng, pop.days_relapse_to_randomization, n))
    diagnosis_date = relapse1_date - days(np.round(months_dx * MONTH_DAYS))
    # the youngest subjects (ages from 29 days) cannot have been diagnosed, or have relapsed, before
    # birth (validate's TK-SDTM-0134 found 65 such MH records in the demo): no earlier than birth
    # (congenital leukaemia); the random draws, and so every other value, are unchanged
    relapse1_date = np.maximum(relapse1_date, birth_date)
    diagnosis_date = np.maximum(diagnosis_date, birth_date)

    frame = pd.DataFrame(
        {
            "ARM": arm,
            "SITEID": sites["SITEID"].to_numpy()[site_idx],
            "COUNTRY": sites["COUNTRY"].to_numpy()[site_idx],
            "date_format": sites["date_format"].to_numpy()[site_idx],
            "decimal": sites["decimal"].to_numpy()[site_idx],
            "rand_date": rand_date,
            "consent_date": consent_date,
            "birth_date": birth_date,
            "birth_month_only": bernoulli(rng, pop.birth_date_month_only, n),
            "age": age,
            "age_group": age_group(age),
            "SEX": np.where(female, "F", "M").astype(object),
            "RACE": categorical(rng, pop.race, n),
            "ETHNIC": categorical(rng, pop.ethnic, n),
            "stratum": stratum,
            "marrow": np.where(stratum == "M2", "M2", "M1").astype(object),
            "baseline_mrd": mrd,
            "mrd_group": np.where(high, "HIGH", "LOW").astype(object),
            "baseline_blasts": blasts,
            "very_early_relapse": very_early,
            "extramedullary": bernoulli(rng, pop.extramedullary_at_relapse, n),
            "diagnosis_date": diagnosis_date,
            "relapse1_date": relapse1_date,
        }
    )
    # subject numbers run within site in order of randomization, as the IRT hands them out
    frame = frame.sort_values(["rand_date"], kind="stable").reset_index(drop=True)
    seq = frame.groupby("SITEID").cumcount() + 1
    frame.insert(0, "SUBJID", frame["SITEID"] + "-" + seq.astype(str).str.zfill(3))
    frame.insert(1, "RANDNO", np.arange(1001, 1001 + n).astype(str))
    return frame
