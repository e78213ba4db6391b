"""Calibration of the simulator against the published figures (profile ``targets``).

Each replicate is a whole study at the default size (profile.study.default_subjects = 111) with its
own seed; the estimates are computed directly from the simulated truth, the way the publication
computed them, and their mean over the replicates must land near the target. With 111 subjects one
study is noisy (a single hazard ratio has a log-scale SD of about 0.3), so the tolerances below are
derived from the spread across replicates: about 3-4 standard errors of the mean, so that a real
miscalibration of the simulator fails while seed noise does not.

Seeds are fixed (0..39), so the suite is deterministic; the tolerances are what makes it meaningful.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from pandas.testing import assert_frame_equal

from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study

MONTH_DAYS = 30.5
ARMS = ("BLIN", "HC3")
SEEDS = range(40)
MRD_GROUPS = {"LOW": "<1E-3", "HIGH": ">=1E-3"}

# log hazard ratio: the per-study SD at 111 subjects is ~0.26 (EFS) and ~0.34 (OS), so the SE of the
# 40-seed mean is ~0.04 / ~0.055; 0.15 is ~3-4 SE, and still fails a HR off by ~16% (0.35 vs 0.41).
LOG_HR_TOL = 0.15
# 4-year Kaplan-Meier rate: per-study SD ~0.07, SE of the 40-seed mean ~0.011; 0.04 is ~3.5 SE.
KM_TOL = 0.04
# Proportions are pooled over the seeds (about 600-2200 subjects per cell). The tolerance is 4
# binomial standard errors at the target and pooled count (~0.02-0.047), capped at 0.05: a flat 0.05
# would let the 0.053 target (HC3, high MRD) pass at 0.003, i.e. with almost no remissions.
BINOMIAL_SE = 4.0
PROPORTION_CAP = 0.05


def proportion_tolerance(target: float, n: int) -> float:
    return min(PROPORTION_CAP, BINOMIAL_SE * math.sqrt(target * (1.0 - target) / n))


@pytest.fixture(scope="module")
def profile():
    return load_profile("ball_relapse")


def _cox_log_hr(truth: pd.DataFrame, endpoint: str) -> float:
    """Log HR of BLIN vs HC3, Cox model stratified by randomization stratum x age group."""
    frame = pd.DataFrame(
        {
            "T": truth[f"{endpoint}_AVAL"] / MONTH_DAYS,
            "E": 1 - truth[f"{endpoint}_CNSR"],
            "blin": (truth["ARM"] == "BLIN").astype(int),
            "strat": truth["STRATUM"] + "/" + truth["AGEGR"],
        }
    )
    return float(CoxPHFitter().fit(frame, "T", "E", strata=["strat"]).params_["blin"])


def _km_48(truth: pd.DataFrame, endpoint: str, arm: str) -> float:
    g = truth[truth["ARM"] == arm]
    km = KaplanMeierFitter().fit(g[f"{endpoint}_AVAL"] / MONTH_DAYS, 1 - g[f"{endpoint}_CNSR"])
    return float(km.predict(48))


@pytest.fixture(scope="module")
def replicates(profile):
    """Estimates of every replicate (per-seed values, and counts pooled over seeds)."""
    n = profile.study.default_subjects
    per_seed = []
    counts = {}  # (measure, arm, group) -> [successes, denominator]

    def add(key, hits, total):
        c = counts.setdefault(key, [0, 0])
        c[0] += int(hits)
        c[1] += int(total)

    for seed in SEEDS:
        study = simulate_study(profile, n, seed)
        truth, s = study.truth, study.subjects
        row = {"seed": seed, "n_BLIN": int((truth["ARM"] == "BLIN").sum()), "n_HC3": int((truth["ARM"] == "HC3").sum())}
        for ep in ("EFS", "OS"):
            row[f"{ep}_loghr"] = _cox_log_hr(truth, ep)
            for arm in ARMS:
                row[f"{ep}_km48_{arm}"] = _km_48(truth, ep, arm)
        per_seed.append(row)

        # MRD remission, ITT among subjects with an evaluable baseline MRD
        for arm in ARMS:
            for group, code in MRD_GROUPS.items():
                cell = truth[(truth["ARM"] == arm) & (truth["MRDGR"] == code)]
                add(("mrd", arm, group), cell["MRDREM"].sum(), len(cell))
        # grade >= 3 AE among treated; alloHSCT among subjects still in CR2 at the planned date
        ae = study.forms["ae"]
        g3 = np.isin(np.arange(len(s)), ae.loc[ae["AETOXGR"] >= 3, "_i"].to_numpy())
        for arm in ARMS:
            treated = (s["ARM"] == arm).to_numpy() & s["treated"].to_numpy()
            add(("g3", arm, None), g3[treated].sum(), treated.sum())
            eligible = (s["ARM"] == arm) & s["hsct_eligible"]
            add(("hsct", arm, None), s.loc[eligible, "hsct"].sum(), eligible.sum())
    return pd.DataFrame(per_seed), counts


# ---- Test 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["EFS", "OS"])
def test_calibration_01_stratified_hazard_ratio(profile, replicates, endpoint):
    """Test 1: the mean stratified log HR (BLIN vs HC3) is near log of the published HR."""
    per_seed, _ = replicates
    target = getattr(profile.targets, f"{endpoint.lower()}_hr")
    values = per_seed[f"{endpoint}_loghr"]
    mean = values.mean()
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(mean - math.log(target)) <= LOG_HR_TOL, (
        f"{endpoint} HR: mean log HR {mean:.3f} (HR {math.exp(mean):.3f}, SE {se:.3f}) "
        f"vs target log({target}) = {math.log(target):.3f}"
    )


# ---- Test 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["EFS", "OS"])
@pytest.mark.parametrize("arm", ARMS)
def test_calibration_02_four_year_km_rate(profile, replicates, endpoint, arm):
    """Test 2: the mean 4-year Kaplan-Meier rate by arm is near the published rate."""
    per_seed, _ = replicates
    target = getattr(profile.targets, f"{endpoint.lower()}_4y")[arm]
    values = per_seed[f"{endpoint}_km48_{arm}"]
    assert values.notna().all()
    assert abs(values.mean() - target) <= KM_TOL, (
        f"{endpoint} 4-year rate {arm}: mean {values.mean():.3f} (SE {values.std(ddof=1) / math.sqrt(len(values)):.3f}) "
        f"vs target {target}"
    )


def _check_pooled(counts, key, target):
    hits, total = counts[key]
    assert total > 0
    rate = hits / total
    tol = proportion_tolerance(target, total)
    assert abs(rate - target) <= tol, f"{key}: pooled {rate:.3f} ({hits}/{total}) vs target {target}, tolerance {tol:.3f}"


# ---- Test 3 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", ["LOW", "HIGH"])
@pytest.mark.parametrize("arm", ARMS)
def test_calibration_03_mrd_remission_by_arm_and_baseline_group(profile, replicates, arm, group):
    """Test 3: MRD remission (ITT, evaluable baseline MRD) by arm and baseline MRD group."""
    _, counts = replicates
    _check_pooled(counts, ("mrd", arm, group), profile.targets.mrd_remission[arm][group])


# ---- Test 4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arm", ARMS)
def test_calibration_04_grade_3_plus_ae_among_treated(profile, replicates, arm):
    """Test 4: share of treated subjects with a grade >= 3 adverse event, by arm."""
    _, counts = replicates
    _check_pooled(counts, ("g3", arm, None), profile.targets.grade_3_plus_ae[arm])


# ---- Test 5 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arm", ARMS)
def test_calibration_05_allohsct_in_cr2(profile, replicates, arm):
    """Test 5: share of alloHSCT among subjects still in CR2 at the planned date, by arm."""
    _, counts = replicates
    _check_pooled(counts, ("hsct", arm, None), profile.targets.allohsct_in_cr2[arm])


# ---- Test 6 ------------------------------------------------------------------------------------
def test_calibration_06_default_size_gives_published_arms_for_any_seed(profile, replicates):
    """Test 6: at 111 subjects every seed allocates exactly 54 BLIN / 57 HC3."""
    per_seed, _ = replicates
    assert profile.study.default_subjects == 111
    assert (per_seed["n_BLIN"] == 54).all()
    assert (per_seed["n_HC3"] == 57).all()


# ---- Test 7 ------------------------------------------------------------------------------------
def test_calibration_07_demo_seed_arms(profile):
    """Test 7: the demo seed gives the published 54 / 57 subjects, one truth row each."""
    study = simulate_study(profile, profile.study.default_subjects, profile.study.demo_seed)
    assert study.truth["ARM"].value_counts().to_dict() == {"BLIN": 54, "HC3": 57}
    assert study.truth["USUBJID"].is_unique
    assert len(study.subjects) == 111


# ---- Test 8 ------------------------------------------------------------------------------------
def test_calibration_08_same_seed_same_study(profile):
    """Test 8: the same seed gives identical subjects, truth and forms."""
    seed = profile.study.demo_seed
    a = simulate_study(profile, profile.study.default_subjects, seed)
    b = simulate_study(profile, profile.study.default_subjects, seed)
    assert_frame_equal(a.subjects, b.subjects)
    assert_frame_equal(a.truth, b.truth)
    assert a.forms.keys() == b.forms.keys()
    for name in a.forms:
        assert_frame_equal(a.forms[name], b.forms[name], obj=f"forms[{name!r}]")


# ---- Test 9 ------------------------------------------------------------------------------------
def test_calibration_09_different_seeds_differ(profile):
    """Test 9: another seed gives another study."""
    seed = profile.study.demo_seed
    a = simulate_study(profile, profile.study.default_subjects, seed)
    b = simulate_study(profile, profile.study.default_subjects, seed + 1)
    assert not a.truth["EFS_AVAL"].equals(b.truth["EFS_AVAL"])
    assert not a.truth["USUBJID"].equals(b.truth["USUBJID"])
    assert not a.forms["ae"].equals(b.forms["ae"])


# ---- Test 10 -----------------------------------------------------------------------------------
def test_calibration_10_large_study_times_are_consistent(profile):
    """Test 10: at 20,000 subjects every subject has EFS_AVAL >= 1 and OS_AVAL >= EFS_AVAL (the EFS
    date is an event or the last marrow, both on or before the last date known alive)."""
    n = 20_000
    truth = simulate_study(profile, n, 12345).truth
    assert len(truth) == n
    assert truth["USUBJID"].is_unique
    assert (truth["EFS_AVAL"] >= 1).all(), truth.loc[truth["EFS_AVAL"] < 1].head().to_string()
    bad = truth.loc[truth["OS_AVAL"] < truth["EFS_AVAL"]]
    assert bad.empty, f"OS_AVAL < EFS_AVAL for {len(bad)} subjects:\n{bad.head().to_string()}"
    assert set(truth["EFS_CNSR"]) <= {0, 1} and set(truth["OS_CNSR"]) <= {0, 1}
    # an OS event is an EFS event as well (death ends event-free survival)
    assert (truth.loc[truth["OS_CNSR"] == 0, "EFS_CNSR"] == 0).all()


# ---- Test 11 -----------------------------------------------------------------------------------
def test_calibration_11_an_infusion_never_ends_before_it_starts(profile):
    """Test 11: a subject who dies the day after the infusion began has a one-day record, and its
    end time is never before its start time (before: both hours drawn apart; 2 subjects in 100,000
    with seed 272 had EXENDTC before EXSTDTC, which CORE reports as errors in EX, SE and DM)."""
    from trialkit.simulate.records import exposure_blinatumomab

    n = 400
    start = pd.Timestamp("2016-06-05") + pd.to_timedelta(np.arange(n) % 30, unit="D")
    subjects = pd.DataFrame({"treated": True, "ARM": "BLIN", "trt_start": start,
                             "death_date": start + pd.Timedelta(days=1)})
    ex = exposure_blinatumomab(profile, subjects, np.random.default_rng(7))
    assert len(ex) == n and (ex["EXSTDAT"] == ex["EXENDAT"]).all()
    assert (ex["EXENTIM"] >= ex["EXSTTIM"]).all()
    assert (ex["EXENTIM"] > ex["EXSTTIM"]).any()          # the end hour is still drawn, not set to the start
