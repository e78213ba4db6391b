"""Statistics of the report: Kaplan-Meier estimates, Cox hazard ratios, log-rank tests, exact binomial
intervals. Pure functions over pandas frames; the tables and figures format what they return.

The input is ADTTE-shaped: one record per subject with the time (``AVAL``, days) and the censoring
flag (``CNSR``: 1 = censored, 0 = event, the ADaM convention, the reverse of an event indicator).
Every function checks its input first and raises ``InputError`` naming the column at fault (missing
column, missing / negative / non-numeric time, CNSR other than 0 or 1, missing group or stratum),
because a statistic computed from a silently dropped or misread record is worse than no statistic.

The estimates come from the libraries; what this module adds are the conventions the published
analysis uses where the libraries differ from SAS PROC LIFETEST / PHREG and R survival:

* Kaplan-Meier confidence limits are the log(-log) ones ("exponential Greenwood"): lifelines'
  default, SAS's default CONFTYPE=LOGLOG, R's ``conf.type="log-log"`` (R's *default* is "log").
* The median is the smallest time with S(t) <= 0.5, except where S(t) is exactly 0.5 over an
  interval: then the midpoint of that interval (SAS LIFETEST, R ``quantile.survfit``). lifelines
  returns the start of the interval and statsmodels the first time with S(t) < 0.5, so the median
  is read off the survival table instead. Its confidence interval is Brookmeyer-Crowley with the
  log(-log) transform: the times where the lower and the upper pointwise bands reach 0.5, with the
  same midpoint rule (R ``quantile.survfit``; SAS reports the same interval wherever the band is
  monotone, which is what statsmodels' SAS-based ``quantile_ci`` computes too).
* Hazard ratios are Wald: exp(beta +- z se) and the two-sided Wald p, Efron ties by default (R's
  ``coxph`` default; SAS PHREG and Stata default to Breslow, which ``ties="breslow"`` gives).
* The stratified log-rank test sums observed-minus-expected and variances over strata (statsmodels
  ``survdiff``). lifelines' ``logrank_test`` has no strata and is not used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError
from scipy.stats import chi2, norm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from trialkit.errors import InputError

DAYS_PER_MONTH = 30.5   # the published analysis: months = days / 30.5
RISK_STEP = 12.0        # default times of the at-risk rows: every 12 months, as in the published figure
MIN_SUBJECTS = 5        # per arm, for an evaluable hazard ratio (see cox_hr)
MIN_EVENTS = 1          # per arm, for an evaluable hazard ratio
TOL = math.sqrt(np.finfo(float).eps)  # "S(t) is exactly 0.5": R quantile.survfit's tolerance
SHOW = 5                # offending rows spelled out in a message; the count of all follows


# --- results ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence limits; NaN where not estimable (a median not reached)."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """The Kaplan-Meier estimate of one group. Times are in output units (AVAL / scale: months).

    ``median``: median with its 95% CI (NaN: not reached). ``at_times``: one row per requested time
    (index ``time``) with ``n_risk`` (subjects with AVAL >= time, the at-risk row of a KM figure),
    ``surv``, ``lower``, ``upper`` (NaN beyond the last follow-up, where S is not estimated, unless
    the curve ended at 0).
    ``table``: the step function for plotting, one row per distinct time from 0, with ``time``,
    ``n_risk``, ``n_event``, ``n_censor`` (censor marks where > 0), ``surv``, ``lower``, ``upper``.
    Compared by identity (``eq=False``): it holds frames.
    """

    group: Hashable
    n: int
    events: int
    median: Estimate
    at_times: pd.DataFrame
    table: pd.DataFrame


@dataclass(frozen=True)
class HazardRatio:
    """Cox hazard ratio of ``treatment`` vs ``reference`` with its Wald CI and p.

    Not evaluable (``evaluable`` False, ``reason`` says why): ``hr``, ``lower``, ``upper``, ``p`` are
    NaN; the counts are still filled in, so a forest plot can show n per arm next to "not evaluable".
    """

    hr: float
    lower: float
    upper: float
    p: float
    reference: Hashable
    treatment: Hashable | None
    n_reference: int
    n_treatment: int
    events_reference: int
    events_treatment: int
    ties: str
    engine: str
    strata: tuple[str, ...] = ()
    evaluable: bool = True
    reason: str = ""


@dataclass(frozen=True)
class LogRank:
    """(Stratified) log-rank test: chi-square statistic, its degrees of freedom, p."""

    chi2: float
    df: int
    p: float
    strata: tuple[str, ...] = ()
    evaluable: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Proportion:
    """A response rate with its Clopper-Pearson exact CI; n = 0 is not evaluable (NaN rate and CI)."""

    successes: int
    n: int
    rate: float
    lower: float
    upper: float
    evaluable: bool = True
    reason: str = ""


# --- input checks -----------------------------------------------------------------------------------

def _preview(items: Sequence, limit: int = SHOW) -> str:
    head = ", ".join(str(i) for i in items[:limit])
    return head + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _rows(mask: np.ndarray) -> str:
    """1-based positions (what a user sees opening the dataset), not index labels."""
    return _preview((np.flatnonzero(mask) + 1).tolist())


def _names(strata: str | Sequence[str] | None) -> tuple[str, ...]:
    if strata is None:
        return ()
    return (strata,) if isinstance(strata, str) else tuple(strata)


def _survival_frame(frame: pd.DataFrame, time: str, cnsr: str, group: str, strata: tuple[str, ...] = ()) -> pd.DataFrame:
    """Checked input as T (float), E (1 = event), G (group) and S (stratum code, 0 when unstratified)."""
    missing = [c for c in dict.fromkeys((time, cnsr, group, *strata)) if c not in frame.columns]
    if missing:
        raise InputError(f"not found (the data has {_preview(list(frame.columns), 12)})", column=", ".join(missing))
    t = pd.to_numeric(frame[time], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t)
    if bad.any():
        raise InputError(f"missing or non-numeric time at rows {_rows(bad)}", column=time)
    if (t < 0).any():
        raise InputError(f"negative time at rows {_rows(t < 0)}", column=time)
    c = pd.to_numeric(frame[cnsr], errors="coerce")
    bad = ~c.isin([0, 1]).to_numpy()
    if bad.any():
        values = _preview(pd.unique(frame[cnsr][bad]).tolist())
        raise InputError(f"must be 1 (censored) or 0 (event); found {values} at rows {_rows(bad)}", column=cnsr)
    for col in (group, *strata):
        bad = frame[col].isna().to_numpy()
        if bad.any():
            raise InputError(f"missing values at rows {_rows(bad)}", column=col)
    s = frame.groupby(list(strata), sort=True, observed=True).ngroup().to_numpy() if strata else np.zeros(len(frame), dtype=int)
    return pd.DataFrame({"T": t, "E": 1 - c.to_numpy(dtype=int), "G": frame[group].to_numpy(), "S": s})


def _levels(values: pd.Series) -> list:
    """Groups present, in category order for a categorical column, else sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.remove_unused_categories().cat.categories.tolist()
    return pd.Index(values.unique()).sort_values().tolist()


# --- Kaplan-Meier -----------------------------------------------------------------------------------

def _crossing(times: np.ndarray, curve: np.ndarray, p: float = 0.5) -> float:
    """First time ``curve`` reaches ``p``; where it sits exactly at ``p`` over an interval, the midpoint
    of that interval, or of the flat and the last follow-up time when the flat runs to the end
    (R quantile.survfit; SAS LIFETEST's rule). NaN when the curve never reaches ``p``."""
    reached = np.flatnonzero(curve <= p + TOL)
    if not reached.size:
        return math.nan
    i = reached[0]
    if abs(curve[i] - p) >= TOL:
        return float(times[i])
    drop = np.flatnonzero(curve[i:] < curve[i] - TOL)
    end = times[i + drop[0]] if drop.size else times[-1]
    return float((times[i] + end) / 2)


def _km_one(key: Hashable, t: np.ndarray, e: np.ndarray, at: np.ndarray, scale: float, alpha: float) -> KaplanMeier:
    kmf = KaplanMeierFitter(alpha=alpha).fit(t, e)
    et = kmf.event_table
    steps = et.index.to_numpy(dtype=float)  # every distinct time, from 0
    surv = kmf.survival_function_.iloc[:, 0].to_numpy()
    band = kmf.confidence_interval_survival_function_.to_numpy()  # lifelines: exponential Greenwood = log(-log)
    table = pd.DataFrame({
        "time": steps / scale, "n_risk": et["at_risk"].to_numpy(), "n_event": et["observed"].to_numpy(),
        "n_censor": et["censored"].to_numpy(), "surv": surv, "lower": band[:, 0], "upper": band[:, 1],
    })
    median = Estimate(*(_crossing(steps, curve) / scale for curve in (surv, band[:, 0], band[:, 1])))
    at_days = at * scale
    row = np.searchsorted(steps, at_days, side="right") - 1     # the step in force at each time
    beyond = (at_days > steps[-1]) & (surv[-1] > 0)  # after the last follow-up S is unknown, unless it reached 0
    at_times = pd.DataFrame({
        "n_risk": t.size - np.searchsorted(np.sort(t), at_days, side="left"),
        "surv": np.where(beyond, np.nan, surv[row]),
        "lower": np.where(beyond, np.nan, band[row, 0]),
        "upper": np.where(beyond, np.nan, band[row, 1]),
    }, index=pd.Index(at, name="time"))
    return KaplanMeier(key, int(t.size), int(e.sum()), median, at_times, table)


def km_by_group(frame: pd.DataFrame, group: str = "ARMCD", *, time: str = "AVAL", cnsr: str = "CNSR",
                times: Sequence[float] | None = None, scale: float = DAYS_PER_MONTH,
                alpha: float = 0.05) -> dict[Hashable, KaplanMeier]:
    """Kaplan-Meier estimate per level of ``group`` (lifelines ``KaplanMeierFitter``).

    ``scale`` converts AVAL to the output unit (30.5: days to months, so ``times=(48,)`` is the
    4-year estimate at day 1464; 1 keeps days). ``times``: where to report survival and numbers at
    risk, in output units; by default 0, 12, 24, ... up to the longest follow-up over all groups, so
    that the at-risk rows of the groups line up under one axis. Groups come in category order (a
    categorical column) or sorted; a group level without records has no entry. Returns
    ``{level: KaplanMeier}``; see ``KaplanMeier`` for the fields and the module docstring for the
    median and CI conventions.
    """
    data = _survival_frame(frame, time, cnsr, group)
    if data.empty:
        raise InputError("no records to estimate from", column=time)
    if times is None:
        at = np.arange(0.0, data["T"].max() / scale + TOL, RISK_STEP)
    else:
        at = np.asarray(times, dtype=float)
        if (at < 0).any():
            raise ValueError(f"times must be >= 0, got {at.tolist()}")
    parts = dict(tuple(data.groupby("G", sort=False)))
    return {key: _km_one(key, parts[key]["T"].to_numpy(), parts[key]["E"].to_numpy(), at, scale, alpha)
            for key in _levels(frame[group])}


# --- Cox --------------------------------------------------------------------------------------------

def _not_evaluable(data: pd.DataFrame, x: np.ndarray, arms: dict[bool, Hashable], counts: dict[bool, tuple[int, int]],
                   min_subjects: int, min_events: int, stratified: bool) -> str:
    """Why the HR cannot be estimated, or "" when it can."""
    absent = [f"arm {arms[a]}: no subjects" for a in (False, True) if counts[a][0] == 0]
    if absent:
        return "; ".join(absent)
    few = [f"arm {arms[a]}: {counts[a][0]} subjects" for a in (False, True) if counts[a][0] < min_subjects]
    if few:
        return f"{'; '.join(few)} (at least {min_subjects} per arm needed)"
    few = [f"arm {arms[a]}: {counts[a][1]} events" for a in (False, True) if counts[a][1] < min_events]
    if few:
        return f"{'; '.join(few)} (at least {min_events} per arm needed)"
    # An event tells the partial likelihood something only while the other arm is at risk (in the
    # same stratum): if every event of an arm happens after the other arm has left follow-up, the
    # likelihood keeps rising as the HR goes to 0 or infinity, and a fit returns a huge |log HR|
    # with a huge SE instead of failing.
    last = pd.Series(data["T"].to_numpy()).groupby([data["S"].to_numpy(), x]).max()
    other_last = last.reindex(pd.MultiIndex.from_arrays([data["S"].to_numpy(), ~x])).to_numpy()
    informative = (data["E"].to_numpy() == 1) & (data["T"].to_numpy() <= other_last)
    silent = [a for a in (False, True) if not informative[x == a].any()]
    if silent:
        where = " in the same stratum" if stratified else ""
        a = silent[0]
        return (f"no event in arm {arms[a]} while arm {arms[not a]} is at risk{where}: "
                "the hazard ratio estimate would be 0 or infinite")
    return ""


def _fit(data: pd.DataFrame, x: np.ndarray, ties: str, engine: str, stratified: bool) -> tuple[float, float] | str:
    """(log HR, SE) of the treatment indicator, or the reason the fit failed."""
    if engine == "lifelines":
        work = pd.DataFrame({"T": data["T"], "E": data["E"], "X": x.astype(float), "S": data["S"]})
        try:
            cph = CoxPHFitter().fit(work if stratified else work.drop(columns="S"), "T", "E",
                                    strata=["S"] if stratified else None)
        except ConvergenceError as exc:
            return f"the Cox fit did not converge ({str(exc).splitlines()[0]})"
        return float(cph.params_["X"]), float(cph.standard_errors_["X"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # PHRegResults keeps no convergence flag: the warning is the signal
        try:
            res = PHReg(data["T"].to_numpy(), x.astype(float)[:, None], status=data["E"].to_numpy(), ties=ties,
                        strata=data["S"].to_numpy() if stratified else None).fit()
        except ConvergenceWarning:
            return "the Cox fit did not converge"
    return float(res.params[0]), float(res.bse[0])


def cox_hr(frame: pd.DataFrame, group: str, reference: Hashable, *, strata: str | Sequence[str] | None = None,
           ties: str = "efron", engine: str | None = None, time: str = "AVAL", cnsr: str = "CNSR",
           alpha: float = 0.05, min_subjects: int = MIN_SUBJECTS, min_events: int = MIN_EVENTS) -> HazardRatio:
    """Cox hazard ratio of the other arm of ``group`` vs ``reference``, stratified by ``strata`` (one
    column or several, crossed) if given, with the Wald CI and p.

    ``ties="efron"`` fits with lifelines ``CoxPHFitter`` unless ``engine="statsmodels"``;
    ``ties="breslow"`` needs statsmodels ``PHReg`` (lifelines has Efron only). Both engines give the
    same Efron estimates; ``engine`` is there so that this can be checked.

    Not evaluable (a result with ``evaluable=False`` and the ``reason``; never an exception, never an
    infinite HR), checked in this order:

    1. an arm has no subjects (a subgroup of one arm, e.g. the reference level absent);
    2. an arm has fewer than ``min_subjects`` (5) subjects: the Wald interval rests on a normal
       approximation that 4 subjects per arm do not support, and the published forest plot calls
       the M2 marrow subgroup with n = 4 per arm not evaluable;
    3. an arm has fewer than ``min_events`` (1) events: with none the partial likelihood has no
       maximum and the HR would be 0 or infinite;
    4. no event of an arm happens while the other arm is at risk (in its stratum): the same
       monotone likelihood, in the form 3 does not catch (e.g. the reference arm's follow-up ends
       before the treatment arm's only event, or the strata each hold one arm);
    5. the fit does not converge or gives a non-finite estimate or SE (a safety net; 3 and 4 are
       the exact conditions for a finite estimate with one binary covariate).

    A group with more than two levels, or two levels neither of which is ``reference``, is an
    ``InputError``. Arguments out of range (``ties``, ``engine``) are a ``ValueError``.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    engine = engine or ("lifelines" if ties == "efron" else "statsmodels")
    if engine not in ("lifelines", "statsmodels"):
        raise ValueError(f"engine must be 'lifelines' or 'statsmodels', got {engine!r}")
    if engine == "lifelines" and ties == "breslow":
        raise ValueError("lifelines fits Efron ties only; Breslow needs engine='statsmodels'")
    names = _names(strata)
    data = _survival_frame(frame, time, cnsr, group, names)
    column = frame[group]
    levels = _levels(column)
    if len(levels) > 2:
        raise InputError(f"a hazard ratio compares two arms; found {len(levels)} levels: {_preview(levels)}", column=group)
    if isinstance(column.dtype, pd.CategoricalDtype):
        known = column.cat.categories.tolist()
    else:  # with one level present, a subgroup may simply lack the reference arm: not evaluable, below
        known = levels if len(levels) == 2 else [reference]
    if reference not in known:
        raise InputError(f"reference {reference!r} is not a level (levels: {_preview(known)})", column=group)
    treatment = next((lv for lv in levels if lv != reference), None)
    x = (data["G"] != reference).to_numpy()
    counts = {a: (int((x == a).sum()), int(data["E"].to_numpy()[x == a].sum())) for a in (False, True)}
    arms = {False: reference, True: treatment if treatment is not None else "other than " + str(reference)}
    base = {"reference": reference, "treatment": treatment, "n_reference": counts[False][0], "n_treatment": counts[True][0],
            "events_reference": counts[False][1], "events_treatment": counts[True][1], "ties": ties, "engine": engine,
            "strata": names}
    nan = math.nan
    reason = _not_evaluable(data, x, arms, counts, min_subjects, min_events, bool(names))
    fitted = reason or _fit(data, x, ties, engine, bool(names))
    if isinstance(fitted, str):
        return HazardRatio(nan, nan, nan, nan, **base, evaluable=False, reason=fitted)
    beta, se = fitted
    z = norm.ppf(1 - alpha / 2)
    hr, lower, upper = math.exp(beta), math.exp(beta - z * se), math.exp(beta + z * se)
    if not all(math.isfinite(v) and v > 0 for v in (hr, lower, upper, se)):
        return HazardRatio(nan, nan, nan, nan, **base, evaluable=False, reason="non-finite estimate or standard error")
    return HazardRatio(hr, lower, upper, float(2 * norm.sf(abs(beta / se))), **base)


# --- log-rank ---------------------------------------------------------------------------------------

def stratified_logrank(frame: pd.DataFrame, group: str, strata: str | Sequence[str] | None = None, *,
                       time: str = "AVAL", cnsr: str = "CNSR") -> LogRank:
    """Log-rank test of equal survival across the levels of ``group``, stratified by ``strata`` (one
    column or several, crossed; None: unstratified), via statsmodels ``survdiff``.

    df = number of groups - 1. p is ``chi2.sf`` of the statistic: ``survdiff``'s own p is
    ``1 - cdf``, which rounds to 0 below about 1e-16. A group with one level is an ``InputError``
    (there is nothing to compare); a test without information (no events, or none while two groups
    are at risk) is not evaluable.
    """
    names = _names(strata)
    data = _survival_frame(frame, time, cnsr, group, names)
    levels = _levels(frame[group])
    if len(levels) < 2:
        raise InputError(f"the log-rank test compares groups; found one level only ({_preview(levels)})", column=group)
    codes = pd.Index(levels).get_indexer(data["G"])
    try:
        stat, _ = survdiff(data["T"].to_numpy(), data["E"].to_numpy(), codes,
                           strata=data["S"].to_numpy() if names else None)
    except np.linalg.LinAlgError:
        stat = math.nan
    df = len(levels) - 1
    if not math.isfinite(stat):
        return LogRank(math.nan, df, math.nan, names, evaluable=False,
                       reason="no event while two groups are at risk: the variance is singular")
    return LogRank(float(stat), df, float(chi2.sf(stat, df)), names)


# --- proportions ------------------------------------------------------------------------------------

def clopper_pearson(successes: int, n: int, alpha: float = 0.05) -> Proportion:
    """Rate successes / n with the Clopper-Pearson exact CI (statsmodels ``proportion_confint``,
    method "beta"); the limits are 0 at 0 successes and 1 at n. n = 0 is not evaluable. Counts that
    are not whole numbers with 0 <= successes <= n are an ``InputError``."""
    if not all(float(v).is_integer() for v in (successes, n)) or not 0 <= successes <= n:
        raise InputError(f"need whole numbers 0 <= successes <= n, got {successes} / {n}")
    successes, n = int(successes), int(n)
    if n == 0:
        return Proportion(0, 0, math.nan, math.nan, math.nan, evaluable=False, reason="no evaluable subjects (n = 0)")
    lower, upper = proportion_confint(successes, n, alpha=alpha, method="beta")
    return Proportion(successes, n, successes / n, float(lower), float(upper))


# --- formatting helpers -----------------------------------------------------------------------------

def format_p(p: float) -> str:
    """"<0.001" below 0.001, else 3 decimals; "NE" for NaN (not evaluable)."""
    if math.isnan(p):
        return "NE"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_ci(lower: float, upper: float, digits: int = 2) -> str:
    """"lower-upper" with ``digits`` decimals; a NaN limit (not reached / not evaluable) prints "NE"."""
    return "-".join("NE" if math.isnan(v) else f"{v:.{digits}f}" for v in (lower, upper))
