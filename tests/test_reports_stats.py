"""Tests of trialkit.reports.stats: Kaplan-Meier, Cox hazard ratios, log-rank tests, Clopper-Pearson.

Every statistic is checked against an independent route, never against itself: published results
on textbook data, the formula worked by hand (in numpy, in the test), or a second library
(statsmodels where the module uses lifelines and the reverse, scipy for the binomial limits).

The textbook data are the 6-MP / placebo remission times of Freireich et al. (Blood 1963; 21:699)
as analysed by Gehan (Biometrika 1965) — R's MASS::gehan, Klein & Moeschberger "Survival Analysis"
(2nd ed., 2003) section 1.2 and Example 4.1, Kleinbaum & Klein "Survival Analysis" (3rd ed., 2012)
chapters 2-3. Times are weeks, so these cases use ``scale=1``. Simulated data use fixed seeds.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy.optimize import brentq
from scipy.stats import beta, chi2, norm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

from trialkit.errors import InputError
from trialkit.reports.stats import (
    clopper_pearson,
    cox_hr,
    format_ci,
    format_p,
    km_by_group,
    stratified_logrank,
)

Z = norm.ppf(0.975)


# --- helpers and data -------------------------------------------------------------------------------

def adtte(aval, cnsr, arm, **extra) -> pd.DataFrame:
    """An ADTTE-shaped frame: AVAL, CNSR (1 = censored) and ARMCD, plus any extra columns."""
    return pd.DataFrame({"AVAL": aval, "CNSR": cnsr, "ARMCD": arm, **extra})


# 6-MP arm: (weeks, CNSR); "+" in the papers = censored = CNSR 1. Placebo: 21 relapses, none censored.
SIX_MP = [(6, 0), (6, 0), (6, 0), (6, 1), (7, 0), (9, 1), (10, 0), (10, 1), (11, 1), (13, 0), (16, 0),
          (17, 1), (19, 1), (20, 1), (22, 0), (23, 0), (25, 1), (32, 1), (32, 1), (34, 1), (35, 1)]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
GEHAN = adtte([t for t, _ in SIX_MP] + PLACEBO, [c for _, c in SIX_MP] + [0] * 21, ["6MP"] * 21 + ["PLAC"] * 21)


def simulated(seed: int, n: int = 160, *, ties: bool = True) -> pd.DataFrame:
    """Two arms (BLIN better than CHEMO), two stratification factors with their own effect on the
    hazard, uniform censoring. ``ties``: whole days, so that events share days."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["BLIN", "CHEMO"], n)
    age = rng.choice(["<1", "1-9", ">9"], n)
    mrd = rng.choice(["LOW", "HIGH"], n)
    rate = (0.0015 * np.where(arm == "BLIN", 0.4, 1.0) * pd.Series(age).map({"<1": 2.0, "1-9": 1.0, ">9": 1.5}).to_numpy()
            * np.where(mrd == "HIGH", 1.8, 1.0))
    event, censor = rng.exponential(1 / rate), rng.uniform(100, 2500, n)
    aval = np.minimum(event, censor)
    return adtte(np.ceil(aval) if ties else aval, (censor < event).astype(int), arm, AGEGR=age, MRDGR=mrd)


def hand_band(surv: np.ndarray, greenwood: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(-log) limits from S and the Greenwood sum sum d / (n (n - d)): the delta-method SE of
    log(-log S) is sqrt(sum) / |log S| (Kalbfleisch & Prentice 1980; SAS CONFTYPE=LOGLOG)."""
    g, se = np.log(-np.log(surv)), np.sqrt(greenwood) / np.abs(np.log(surv))
    return np.exp(-np.exp(g + Z * se)), np.exp(-np.exp(g - Z * se))


# --- Kaplan-Meier -----------------------------------------------------------------------------------

def test_01_km_6mp_product_limit_and_greenwood_by_hand():
    """Test 01: the 6-MP arm against the product-limit formula worked by hand: at each event time
    (t, n at risk, d events) S(t) = prod (1 - d / n); published to 3 decimals in Klein &
    Moeschberger Table 4.1B (0.857 0.807 0.753 0.690 0.627 0.538 0.448). The log(-log) band from
    the Greenwood sum by hand; the median 23 weeks, its CI from where the hand band crosses 0.5."""
    steps = np.array([(6, 21, 3), (7, 17, 1), (10, 15, 1), (13, 12, 1), (16, 11, 1), (22, 7, 1), (23, 6, 1)])
    t, n, d = steps.T
    surv = np.cumprod(1 - d / n)
    np.testing.assert_allclose(surv, [18 / 21, 18 / 21 * 16 / 17, 18 / 21 * 16 / 17 * 14 / 15, 0.690196, 0.627451,
                                      0.537815, 0.448179], rtol=1e-6)
    np.testing.assert_allclose(surv, [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448], atol=5e-4)
    lower, upper = hand_band(surv, np.cumsum(d / (n * (n - d))))

    km = km_by_group(GEHAN, scale=1, times=(0, 10, 23, 36))["6MP"]
    rows = km.table.set_index("time").loc[t]
    np.testing.assert_array_equal(rows["n_risk"], n)
    np.testing.assert_array_equal(rows["n_event"], d)
    np.testing.assert_allclose(rows["surv"], surv, rtol=1e-12)
    np.testing.assert_allclose(rows["lower"], lower, rtol=1e-10)
    np.testing.assert_allclose(rows["upper"], upper, rtol=1e-10)
    assert (km.n, km.events, km.table["n_censor"].sum()) == (21, 9, 12)
    # median: first S <= 0.5 is 0.448 at 23; the hand lower band first reaches 0.5 at 13, the upper never
    assert t[np.argmax(lower <= 0.5)] == 13 and (upper > 0.5).all()
    assert (km.median.value, km.median.lower) == (23, 13) and math.isnan(km.median.upper)
    # at stated times: the step in force (S(10) includes the death at 10), n at risk = AVAL >= t
    at = km.at_times
    assert at.loc[10, "n_risk"] == 15 and at.loc[10, "surv"] == pytest.approx(surv[2])
    assert at.loc[23, "n_risk"] == 6 and at.loc[23, "surv"] == pytest.approx(surv[6])
    assert at.loc[0, "surv"] == 1 and at.loc[0, "n_risk"] == 21
    assert at.loc[36, "n_risk"] == 0 and math.isnan(at.loc[36, "surv"])  # after the last follow-up (35)


def test_02_km_placebo_median_and_curve_ending_at_zero():
    """Test 02: placebo arm: S(5) = 12/21 > 0.5, S(8) = 8/21, so the median is 8 (Kleinbaum & Klein
    ch. 2: 8 weeks); every subject relapses, so S stays 0 after the last time (23), not unknown."""
    km = km_by_group(GEHAN, scale=1, times=(5, 8, 30))["PLAC"]
    assert km.median.value == 8
    assert km.at_times.loc[5, "surv"] == pytest.approx(12 / 21)
    assert km.at_times.loc[8, "surv"] == pytest.approx(8 / 21)
    assert km.at_times.loc[30, "surv"] == 0 and km.at_times.loc[30, "n_risk"] == 0


def test_03_km_matches_statsmodels_survfunc_on_simulated_data():
    """Test 03: per arm, the survival, n at risk and log(-log) band at every event time against
    statsmodels SurvfuncRight (its Greenwood SE of S, put through the transform here: SE of
    log(-log S) = SE(S) / (S |log S|)); the median against SurvfuncRight.quantile(0.5) and its
    CI against SurvfuncRight.quantile_ci(0.5, method="cloglog") (SAS's Brookmeyer-Crowley; an
    infinite upper limit there is NaN, not reached, here)."""
    frame = simulated(7, 200)
    kms = km_by_group(frame, scale=1, times=(0,))
    assert list(kms) == ["BLIN", "CHEMO"]
    for arm, km in kms.items():
        part = frame[frame["ARMCD"] == arm]
        sf = SurvfuncRight(part["AVAL"], 1 - part["CNSR"])
        assert not np.isclose(sf.surv_prob, 0.5).any()  # else the midpoint rule applies (test 04)
        rows = km.table.set_index("time").loc[sf.surv_times]
        np.testing.assert_allclose(rows["surv"], sf.surv_prob, rtol=1e-10)
        np.testing.assert_array_equal(rows["n_risk"], sf.n_risk)
        ok = sf.surv_prob > 0
        g = np.log(-np.log(sf.surv_prob[ok]))
        se = sf.surv_prob_se[ok] / (sf.surv_prob[ok] * np.abs(np.log(sf.surv_prob[ok])))
        np.testing.assert_allclose(rows["lower"][ok], np.exp(-np.exp(g + Z * se)), rtol=1e-8)
        np.testing.assert_allclose(rows["upper"][ok], np.exp(-np.exp(g - Z * se)), rtol=1e-8)
        lo, hi = sf.quantile_ci(0.5, method="cloglog")
        assert km.median.value == sf.quantile(0.5)
        assert km.median.lower == lo
        assert km.median.upper == hi or (math.isinf(hi) and math.isnan(km.median.upper))


def test_04_median_is_the_midpoint_where_s_is_exactly_half_over_an_interval():
    """Test 04: four deaths at 1, 2, 3, 4: S = 0.75, 0.5, 0.25, 0, so S is exactly 0.5 on [2, 3):
    SAS LIFETEST and R quantile.survfit give the midpoint 2.5. lifelines' own median says 2 (first
    S <= 0.5) and statsmodels' quantile 3 (first S < 0.5): neither is the published convention."""
    frame = adtte([1, 2, 3, 4], [0, 0, 0, 0], "A")
    assert km_by_group(frame, scale=1)["A"].median.value == 2.5
    assert KaplanMeierFitter().fit([1, 2, 3, 4], [1, 1, 1, 1]).median_survival_time_ == 2
    assert SurvfuncRight(np.array([1, 2, 3, 4]), np.ones(4)).quantile(0.5) == 3
    # flat at 0.5 up to the last follow-up (censored at 3 and 4): midpoint of 2 and 4, as R does
    frame = adtte([1, 2, 3, 4], [0, 0, 1, 1], "A")
    assert km_by_group(frame, scale=1)["A"].median.value == 3


def test_05_median_is_the_first_time_at_or_below_half_otherwise():
    """Test 05: five deaths at 1..5: S = 0.8, 0.6, 0.4, ...: the median is 3, no midpoint; a curve
    that never reaches 0.5 has no median (NaN, "not reached")."""
    assert km_by_group(adtte([1, 2, 3, 4, 5], 0, "A"), scale=1)["A"].median.value == 3
    assert math.isnan(km_by_group(adtte([1, 2, 3, 4], [0, 1, 1, 1], "A"), scale=1)["A"].median.value)


def test_06_survival_at_48_months_is_day_1464_and_times_are_in_months():
    """Test 06: AVAL in days, scale 30.5: 48 months = day 1464. By hand: 5 at risk, death at day 366
    (S = 4/5); at day 1464 three at risk, one death (S = 4/5 * 2/3 = 8/15): the death on day 1464
    counts in the 48-month estimate. Default times: every 12 months up to the longest follow-up."""
    frame = adtte([366, 500, 1464, 1464, 2000], [0, 1, 1, 0, 1], "A")
    km = km_by_group(frame)["A"]
    at = km.at_times
    assert list(at.index) == [0, 12, 24, 36, 48, 60]  # day 2000 = 65.6 months
    assert at.loc[12, "surv"] == pytest.approx(4 / 5) and at.loc[12, "n_risk"] == 5
    assert at.loc[48, "surv"] == pytest.approx(8 / 15) and at.loc[48, "n_risk"] == 3
    assert at.loc[60, "n_risk"] == 1
    np.testing.assert_allclose(km.table["time"], np.array([0, 366, 500, 1464, 2000]) / 30.5)
    assert math.isnan(km.median.value)  # S never reaches 0.5
    late = km_by_group(frame, times=(48, 72))["A"].at_times
    assert math.isnan(late.loc[72, "surv"]) and late.loc[72, "n_risk"] == 0  # day 2196 > 2000


def test_07_groups_in_category_order_and_a_single_group_is_fine():
    """Test 07: a categorical group keeps its category order, a level without records has no
    entry; one level is a plain Kaplan-Meier estimate."""
    frame = adtte([1, 2, 3, 4], 0, pd.Categorical(["Z", "A", "Z", "A"], categories=["Z", "Y", "A"]))
    assert list(km_by_group(frame, scale=1)) == ["Z", "A"]
    assert list(km_by_group(adtte([1, 2], 0, "A"), scale=1)) == ["A"]


# --- Cox --------------------------------------------------------------------------------------------

def test_08_cox_6mp_published_efron_and_breslow():
    """Test 08: placebo vs 6-MP. Efron (R coxph on MASS::gehan): HR 4.817 (2.147-10.81), p 0.000138.
    Breslow (Kleinbaum & Klein ch. 3, Stata): coef 1.509, SE 0.410, HR 4.523 (2.027-10.094)."""
    efron = cox_hr(GEHAN, "ARMCD", "6MP")
    assert (efron.treatment, efron.engine, efron.n_treatment, efron.events_treatment, efron.events_reference) == \
        ("PLAC", "lifelines", 21, 21, 9)
    assert (efron.hr, efron.lower, efron.upper) == pytest.approx((4.817, 2.147, 10.81), rel=5e-4)
    assert efron.p == pytest.approx(0.000138, rel=5e-3)
    breslow = cox_hr(GEHAN, "ARMCD", "6MP", ties="breslow")
    assert breslow.engine == "statsmodels"
    assert math.log(breslow.hr) == pytest.approx(1.509, abs=5e-4)
    assert (breslow.hr, breslow.lower, breslow.upper) == pytest.approx((4.523, 2.027, 10.094), rel=5e-4)


@pytest.mark.parametrize("strata", [None, "AGEGR", ["AGEGR", "MRDGR"]], ids=["unstratified", "one", "crossed"])
def test_09_cox_efron_lifelines_agrees_with_statsmodels(strata):
    """Test 09: Efron with tied days, lifelines CoxPHFitter vs statsmodels PHReg, unstratified and
    stratified (one factor; two factors crossed into 6 strata)."""
    frame = simulated(11)
    a = cox_hr(frame, "ARMCD", "CHEMO", strata=strata)
    b = cox_hr(frame, "ARMCD", "CHEMO", strata=strata, engine="statsmodels")
    assert a.evaluable and a.engine == "lifelines" and b.engine == "statsmodels"
    assert (a.hr, a.lower, a.upper, a.p) == pytest.approx((b.hr, b.lower, b.upper, b.p), rel=1e-4)
    if strata:  # the strata are used: the estimate moves
        assert a.hr != pytest.approx(cox_hr(frame, "ARMCD", "CHEMO").hr, rel=1e-3)
        assert a.strata == ((strata,) if isinstance(strata, str) else tuple(strata))


def test_10_cox_breslow_equals_efron_without_ties():
    """Test 10: with no tied times Breslow and Efron are the same likelihood: statsmodels Breslow vs
    lifelines Efron, unstratified and stratified."""
    frame = simulated(12, ties=False)
    assert not frame["AVAL"].duplicated().any()
    for strata in (None, "MRDGR"):
        a = cox_hr(frame, "ARMCD", "CHEMO", strata=strata, ties="breslow")
        b = cox_hr(frame, "ARMCD", "CHEMO", strata=strata)
        assert (a.hr, a.lower, a.upper, a.p) == pytest.approx((b.hr, b.lower, b.upper, b.p), rel=1e-4)


def test_11_cox_breslow_against_the_partial_likelihood_by_hand():
    """Test 11: Breslow on 10 subjects with tied deaths, against the partial likelihood worked in
    numpy: score U(b) = sum over death times of [x deaths - d S1/S0], information sum d [S1/S0 -
    (S1/S0)^2] (binary x), risk sets within the stratum; beta solves U = 0 (brentq)."""
    t = np.array([1, 1, 2, 3, 3, 4, 2, 2, 3, 5], dtype=float)
    e = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1])
    x = np.array([1, 0, 1, 0, 1, 0, 0, 1, 1, 0])
    s = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    frame = adtte(t, 1 - e, np.where(x == 1, "B", "A"), STRAT=s)

    def score_info(b: float, strata: np.ndarray) -> tuple[float, float]:
        u = info = 0.0
        for k in np.unique(strata):
            for tj in np.unique(t[(strata == k) & (e == 1)]):
                risk, dead = (strata == k) & (t >= tj), (strata == k) & (t == tj) & (e == 1)
                w = np.exp(b * x[risk])
                m = (w * x[risk]).sum() / w.sum()
                u += x[dead].sum() - dead.sum() * m
                info += dead.sum() * (m - m * m)
        return u, info

    for strata, by in ((np.zeros(10, dtype=int), None), (s, "STRAT")):
        b = brentq(lambda v, strata=strata: score_info(v, strata)[0], -10, 10, xtol=1e-14)
        se = 1 / math.sqrt(score_info(b, strata)[1])
        got = cox_hr(frame, "ARMCD", "A", strata=by, ties="breslow", min_subjects=1)
        want = (math.exp(b), math.exp(b - Z * se), math.exp(b + Z * se), 2 * norm.sf(abs(b / se)))
        assert (got.hr, got.lower, got.upper, got.p) == pytest.approx(want, rel=1e-6)


# --- log-rank ---------------------------------------------------------------------------------------

def test_12_logrank_6mp_published_and_lifelines():
    """Test 12: 6-MP vs placebo log-rank chi-square 16.79, p 4.17e-5 (Kleinbaum & Klein ch. 2; R
    survdiff on MASS::gehan); on simulated data the unstratified test equals lifelines'
    logrank_test, and three groups (df 2) lifelines' multivariate_logrank_test."""
    lr = stratified_logrank(GEHAN, "ARMCD")
    assert (lr.chi2, lr.df, lr.p) == pytest.approx((16.793, 1, 4.17e-5), rel=1e-3)
    frame = simulated(13)
    blin, chemo = frame[frame["ARMCD"] == "BLIN"], frame[frame["ARMCD"] == "CHEMO"]
    ref = logrank_test(blin["AVAL"], chemo["AVAL"], 1 - blin["CNSR"], 1 - chemo["CNSR"])
    lr = stratified_logrank(frame, "ARMCD")
    assert (lr.chi2, lr.p) == pytest.approx((ref.test_statistic, ref.p_value), rel=1e-8)
    three = multivariate_logrank_test(frame["AVAL"], frame["AGEGR"], 1 - frame["CNSR"])
    lr = stratified_logrank(frame, "AGEGR")
    assert lr.df == 2 and (lr.chi2, lr.p) == pytest.approx((three.test_statistic, three.p_value), rel=1e-8)


def test_13_stratified_logrank_by_hand():
    """Test 13: stratified log-rank against the formula in numpy: per stratum and death time,
    O - E = d1 - d n1 / n and V = d (n1 / n) (1 - n1 / n) (n - d) / (n - 1); chi2 = (sum O - E)^2 /
    sum V over all strata (Kalbfleisch & Prentice 2002, 7.2). Stratifying changes the statistic."""
    frame = simulated(14)
    t, e = frame["AVAL"].to_numpy(), 1 - frame["CNSR"].to_numpy()
    arm1 = (frame["ARMCD"] == "BLIN").to_numpy()
    stratum = frame.groupby(["AGEGR", "MRDGR"]).ngroup().to_numpy()
    o_e = v = 0.0
    for k in np.unique(stratum):
        ts = t[stratum == k]
        times = np.unique(ts[e[stratum == k] == 1])
        risk = (stratum == k)[None, :] & (t[None, :] >= times[:, None])   # time x subject
        dead = risk & (t[None, :] == times[:, None]) & (e[None, :] == 1)
        n, n1 = risk.sum(1), (risk & arm1).sum(1)
        d, d1 = dead.sum(1), (dead & arm1).sum(1)
        o_e += (d1 - d * n1 / n).sum()
        v += (d * (n1 / n) * (1 - n1 / n) * (n - d) / np.maximum(n - 1, 1)).sum()
    lr = stratified_logrank(frame, "ARMCD", ["AGEGR", "MRDGR"])
    assert lr.chi2 == pytest.approx(o_e ** 2 / v, rel=1e-10)
    assert lr.p == pytest.approx(chi2.sf(o_e ** 2 / v, 1), rel=1e-10)
    assert lr.strata == ("AGEGR", "MRDGR")
    assert lr.chi2 != pytest.approx(stratified_logrank(frame, "ARMCD").chi2, rel=1e-3)


def test_14_logrank_without_events_is_not_evaluable():
    """Test 14: no events at all: no information, not a crash."""
    lr = stratified_logrank(adtte([1, 2, 3, 4], 1, ["A", "B", "A", "B"]), "ARMCD")
    assert not lr.evaluable and math.isnan(lr.chi2) and "no event" in lr.reason


# --- Clopper-Pearson --------------------------------------------------------------------------------

@pytest.mark.parametrize("x, n, published", [
    (49, 54, "91 (80-97)"), (27, 56, "48 (35-62)"), (39, 43, "91 (78-97)"), (26, 37, "70 (53-84)"),
    (10, 11, "91 (59-100)"), (1, 19, "5 (0-26)"),
])
def test_15_clopper_pearson_published_table(x, n, published):
    """Test 15: MRD remission rates of the reference study's Table 1, as printed (percent, exact
    95% CI); 49/54 is 0.797-0.969 and 1/19 0.001-0.260 (printed 0.1-26) to 3 decimals."""
    r = clopper_pearson(x, n)
    assert f"{100 * r.rate:.0f} ({100 * r.lower:.0f}-{100 * r.upper:.0f})" == published
    if (x, n) == (49, 54):
        assert (round(r.lower, 3), round(r.upper, 3)) == (0.797, 0.969)
    if (x, n) == (1, 19):
        assert (round(r.lower, 3), round(r.upper, 3)) == (0.001, 0.260)


@pytest.mark.parametrize("x, n", [(0, 10), (10, 10), (3, 7), (49, 54), (1, 1)])
def test_16_clopper_pearson_equals_beta_quantiles(x, n):
    """Test 16: the limits are beta quantiles (Clopper & Pearson 1934): lower = Beta(x, n - x + 1)
    at alpha/2 (0 when x = 0), upper = Beta(x + 1, n - x) at 1 - alpha/2 (1 when x = n)."""
    r = clopper_pearson(x, n)
    lower = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
    upper = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
    assert (r.rate, r.lower, r.upper) == pytest.approx((x / n, lower, upper), rel=1e-10, abs=1e-15)
    assert r.evaluable


def test_17_clopper_pearson_n0_is_not_evaluable():
    """Test 17: no evaluable subjects: a result saying so, not a division by zero."""
    r = clopper_pearson(0, 0)
    assert not r.evaluable and math.isnan(r.rate) and math.isnan(r.lower) and "n = 0" in r.reason


# --- not evaluable hazard ratios --------------------------------------------------------------------

def test_18_hr_not_evaluable_with_no_events_in_one_arm():
    """Test 18: 6 per arm, arm B all censored: the HR would be 0; not evaluable, counts kept."""
    frame = adtte(list(range(1, 13)), [0, 1] * 3 + [1] * 6, ["A"] * 6 + ["B"] * 6)
    hr = cox_hr(frame, "ARMCD", "A")
    assert not hr.evaluable and math.isnan(hr.hr) and math.isnan(hr.p)
    assert hr.reason == "arm B: 0 events (at least 1 per arm needed)"
    assert (hr.n_reference, hr.n_treatment, hr.events_reference, hr.events_treatment) == (6, 6, 3, 0)


def test_19_hr_not_evaluable_with_four_per_arm():
    """Test 19: the reference study's M2 marrow subgroup: n = 4 per arm is not evaluable, even with
    events in both arms."""
    frame = adtte([1, 2, 3, 4, 5, 6, 7, 8], 0, ["BLIN", "CHEMO"] * 4)
    hr = cox_hr(frame, "ARMCD", "CHEMO")
    assert not hr.evaluable
    assert hr.reason == "arm CHEMO: 4 subjects; arm BLIN: 4 subjects (at least 5 per arm needed)"
    assert cox_hr(frame, "ARMCD", "CHEMO", min_subjects=4).evaluable


def test_20_hr_not_evaluable_when_a_subgroup_has_one_arm():
    """Test 20: a subgroup with one arm only, either way round, is not evaluable (a categorical
    column still names the missing arm)."""
    only_chemo = adtte([1, 2, 3, 4, 5, 6], 0, "CHEMO")
    hr = cox_hr(only_chemo, "ARMCD", "CHEMO")
    assert not hr.evaluable and hr.treatment is None and "no subjects" in hr.reason
    only_blin = adtte([1, 2, 3, 4, 5, 6], 0, pd.Categorical(["BLIN"] * 6, categories=["BLIN", "CHEMO"]))
    hr = cox_hr(only_blin, "ARMCD", "CHEMO")
    assert not hr.evaluable and hr.reason == "arm CHEMO: no subjects" and hr.treatment == "BLIN"


def test_21_hr_not_evaluable_when_events_come_after_the_other_arm_left():
    """Test 21: A's follow-up ends at day 6, B's only event is on day 12: every informative death
    is in A, the likelihood has no maximum. Without the rule statsmodels returns |log HR| > 10
    with a useless SE (and only a warning): the result here is not evaluable instead."""
    frame = adtte(list(range(1, 13)), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0], ["A"] * 6 + ["B"] * 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = PHReg(frame["AVAL"], (frame["ARMCD"] == "B").to_numpy(float)[:, None], status=1 - frame["CNSR"]).fit()
    assert abs(raw.params[0]) > 10 and raw.bse[0] > 100
    hr = cox_hr(frame, "ARMCD", "A")
    assert not hr.evaluable and hr.reason.startswith("no event in arm B while arm A is at risk")


def test_22_hr_not_evaluable_when_each_stratum_holds_one_arm():
    """Test 22: stratified by a factor that separates the arms, no risk set holds both arms: not
    evaluable; the same data unstratified are."""
    frame = simulated(15)
    frame["SITE"] = frame["ARMCD"]
    hr = cox_hr(frame, "ARMCD", "CHEMO", strata="SITE")
    assert not hr.evaluable and hr.reason.endswith("at risk in the same stratum: the hazard ratio estimate would be 0 or infinite")
    assert cox_hr(frame, "ARMCD", "CHEMO").evaluable


# --- bad input --------------------------------------------------------------------------------------

BAD = adtte([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0, 1, 0, 1, 0, 1], ["A", "B"] * 3, STRAT=["x", "y"] * 3)
CALLS = {
    "km": lambda f: km_by_group(f, scale=1),
    "cox": lambda f: cox_hr(f, "ARMCD", "A", strata="STRAT"),
    "logrank": lambda f: stratified_logrank(f, "ARMCD", "STRAT"),
}


@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
@pytest.mark.parametrize("column, change, message", [
    ("AVAL", lambda f: f.drop(columns="AVAL"), "not found"),
    ("CNSR", lambda f: f.assign(CNSR=[0, 1, 2, 1, 0, 1]), "must be 1 (censored) or 0 (event); found 2 at rows 3"),
    ("AVAL", lambda f: f.assign(AVAL=[1.0, -2.0, 3.0, 4.0, 5.0, 6.0]), "negative time at rows 2"),
    ("AVAL", lambda f: f.assign(AVAL=[1.0, None, 3.0, 4.0, 5.0, "x"]), "missing or non-numeric time at rows 2, 6"),
    ("ARMCD", lambda f: f.assign(ARMCD=["A", None, "A", "B", "A", "B"]), "missing values at rows 2"),
], ids=["missing-column", "cnsr-not-binary", "negative-aval", "missing-aval", "missing-group"])
def test_23_bad_input_is_an_input_error_naming_the_column(call, column, change, message):
    """Test 23: each input defect, in each function: InputError naming the column and the rows."""
    with pytest.raises(InputError) as info:
        CALLS[call](change(BAD))
    assert info.value.column == column
    assert str(info.value).startswith(f"column {column}: ") and message in str(info.value)


def test_24_bad_input_specific_to_one_function():
    """Test 24: a missing stratum column or value; a group of three arms or without the reference
    (Cox); a group of one level (log-rank); impossible counts (Clopper-Pearson); bad arguments."""
    with pytest.raises(InputError, match="column MRDGR: not found"):
        cox_hr(BAD, "ARMCD", "A", strata=["STRAT", "MRDGR"])
    with pytest.raises(InputError, match="column STRAT: missing values at rows 1"):
        stratified_logrank(BAD.assign(STRAT=[None, "y"] * 3), "ARMCD", "STRAT")
    with pytest.raises(InputError, match="column ARMCD: a hazard ratio compares two arms; found 3 levels: A, B, C"):
        cox_hr(BAD.assign(ARMCD=["A", "B", "C"] * 2), "ARMCD", "A")
    with pytest.raises(InputError, match="column ARMCD: reference 'PBO' is not a level"):
        cox_hr(BAD, "ARMCD", "PBO")
    with pytest.raises(InputError, match="column ARMCD: reference 'PBO' is not a level"):
        cox_hr(BAD.assign(ARMCD=pd.Categorical(["A"] * 6)), "ARMCD", "PBO")
    with pytest.raises(InputError, match="column ARMCD: the log-rank test compares groups; found one level only"):
        stratified_logrank(BAD.assign(ARMCD="A"), "ARMCD")
    for x, n in ((5, 4), (-1, 3), (1.5, 3)):
        with pytest.raises(InputError, match="0 <= successes <= n"):
            clopper_pearson(x, n)
    with pytest.raises(ValueError, match="ties"):
        cox_hr(BAD, "ARMCD", "A", ties="exact")
    with pytest.raises(ValueError, match="Breslow needs engine='statsmodels'"):
        cox_hr(BAD, "ARMCD", "A", ties="breslow", engine="lifelines")


# --- formatting -------------------------------------------------------------------------------------

def test_25_format_p_and_ci():
    """Test 25: p below 0.001 prints "<0.001", else 3 decimals; NaN is "NE" (not evaluable / not
    reached) in both helpers."""
    assert [format_p(p) for p in (0.0000417, 0.000999, 0.001, 0.0214, 0.9996, math.nan)] == \
        ["<0.001", "<0.001", "0.001", "0.021", "1.000", "NE"]
    assert format_ci(0.2049, 0.6061) == "0.20-0.61"
    assert format_ci(13.0, math.nan, digits=1) == "13.0-NE"
