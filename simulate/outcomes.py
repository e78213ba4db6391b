"""What happens to each simulated subject after randomization.

Treatment, MRD response, the first event-free-survival event (with its type and date), death,
transplant, loss to follow-up and post-relapse therapy, drawn per subject from the profile. Dates are
latent truth: whether a record of them reaches the export is decided later (observation window).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.draw import (
    MONTH_DAYS,
    bernoulli,
    categorical,
    categorical_by,
    days,
    int_between,
    lookup,
    lookup_by_arm,
)
from trialkit.simulate.profile import Profile

NAT = np.datetime64("NaT", "D")
MARROW_RELAPSES = ("ISOLATED_MARROW", "COMBINED_MARROW_CNS")
TRANSPLANT_RELATED = "TRANSPLANT-RELATED"
RELAPSE_FORM_TYPES = ("ISOLATED_MARROW", "COMBINED_MARROW_CNS", "ISOLATED_CNS", "ISOLATED_TESTIS", "ISOLATED_OTHER_EM")


def efs_months(profile: Profile, arm: np.ndarray, mrd_group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Time to the first EFS event (months from randomization) under a piecewise-constant hazard.

    The HC3 cumulative hazard at 48 months is -log of the profile's 4-year EFS for the subject's MRD
    group; blinatumomab multiplies it by its ratio. How that hazard spreads over time (share of the
    48-month hazard per interval) is the arm's own. Sampling inverts the cumulative hazard at an
    Exp(1) draw, by linear interpolation over the interval knots (exact for piecewise-constant hazard).
    """
    ev = profile.events
    h48 = -np.log(lookup(mrd_group, ev.efs_4y_hc3))
    h48 = h48 * np.where(arm == "BLIN", lookup(mrd_group, ev.efs_hr_blin), 1.0)
    breaks = np.asarray(ev.hazard_breaks_months, dtype=float)
    target = rng.exponential(1.0, len(arm))  # the cumulative hazard at which the event happens
    scaled = target / h48                    # in units of the 48-month hazard
    months = np.full(len(arm), np.nan)
    for arm_name, shares in ev.hazard_share.items():
        mask = arm == arm_name
        cum_share = np.concatenate([[0.0], np.cumsum(shares)])
        months[mask] = np.interp(scaled[mask], cum_share, breaks)
    cum_end = 1.0
    beyond = scaled > cum_end
    extra = (target - h48) / max(ev.hazard_after_48_months, 1e-12)
    return np.where(beyond, breaks[-1] + extra, months)


def draw_outcomes(profile: Profile, subjects: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = len(subjects)
    arm = subjects["ARM"].to_numpy()
    rand = subjects["rand_date"].to_numpy().astype("datetime64[D]")
    tr, ev, tx = profile.treatment, profile.events, profile.transplant
    export_date = np.datetime64(profile.dates.data_cutoff) + np.timedelta64(profile.dates.export_lag_days, "D")

    treated = bernoulli(rng, lookup(arm, tr.treated), n)
    trt_start = np.where(treated, rand + days(int_between(rng, tr.days_randomization_to_start, n)), NAT)
    eot_date = np.where(
        treated,
        trt_start + days(tr.end_of_treatment_day - 1 + rng.integers(-1, 2, n)),
        rand + days(tr.end_of_treatment_day),  # planned date, for the death-before-EOT rule
    )
    eot_offset = (eot_date - rand).astype(int)

    mrd_group = subjects["mrd_group"].to_numpy()
    remission_p = lookup_by_arm(arm, mrd_group, profile.mrd_response.remission)
    mrd_remission = treated & bernoulli(rng, remission_p, n)
    remission_by_day15 = mrd_remission & bernoulli(rng, profile.mrd_response.reached_by_day15, n)

    early_death = bernoulli(rng, ev.death_before_end_of_treatment, n)
    early_death_day = np.maximum(1, (rng.random(n) * (eot_offset - 1)).astype(int) + 1)
    # a subject who dies before the first dose was never treated: no exposure, not treated for DEATH
    died_untreated = treated & early_death & (rand + days(early_death_day) <= trt_start)
    treated &= ~died_untreated
    trt_start = np.where(treated, trt_start, NAT)
    eot_date = np.where(died_untreated, rand + days(tr.end_of_treatment_day), eot_date)
    mrd_remission &= treated
    remission_by_day15 &= treated
    no_cr = treated & ~early_death & bernoulli(rng, lookup(subjects["marrow"].to_numpy(), ev.failure_to_reach_cr), n)

    event_day = np.ceil(efs_months(profile, arm, mrd_group, rng) * MONTH_DAYS).astype(int)
    event_day = np.maximum(event_day, eot_offset + 1)
    late = event_day >= 24 * MONTH_DAYS
    kind = categorical_by(rng, arm, ev.event_type_before_24_months)
    kind = np.where(late, "RELAPSE", kind)
    relapse_type = np.where(kind == "RELAPSE", categorical_by(rng, arm, ev.relapse_type), "")
    kind = np.select([early_death, no_cr], ["DEATH_BEFORE_EOT", "FAILURE_TO_REACH_CR"], kind)
    relapse_type = np.where(early_death | no_cr, "", relapse_type)
    event_day = np.select([early_death, no_cr], [early_death_day, eot_offset], event_day)
    event_date = rand + days(event_day)

    # death
    median_months = lookup(arm, ev.months_to_death_after_relapse)
    after_event = event_date + days(1 + np.floor(rng.exponential(median_months / np.log(2)) * MONTH_DAYS))
    dies_after = np.select(
        [np.isin(kind, ["RELAPSE", "FAILURE_TO_REACH_CR"]), kind == "SECOND_MALIGNANCY"],
        [bernoulli(rng, lookup_by_arm(arm, mrd_group, ev.death_after_relapse), n), bernoulli(rng, ev.death_after_second_malignancy, n)],
        False,
    )
    death_date = np.select(
        [np.isin(kind, ["DEATH", "DEATH_BEFORE_EOT"]), dies_after],
        [event_date, after_event],
        NAT,
    )
    death_cause = np.select(
        [np.isin(kind, ["RELAPSE", "FAILURE_TO_REACH_CR"]), kind == "SECOND_MALIGNANCY"],
        ["PROGRESSIVE DISEASE", "SECOND MALIGNANCY"],
        categorical(rng, ev.death_causes_without_relapse, n),
    )
    death_cause = np.where(np.isnat(death_date), "", death_cause)

    years_to_loss = rng.exponential(1.0 / max(ev.lost_to_follow_up_per_year, 1e-12), n)
    lost_date = rand + days(np.minimum(np.floor(years_to_loss * 365.25), 100 * 365) + 1)
    lost_date = np.where(~np.isnat(death_date) & (death_date <= lost_date), NAT, lost_date)
    obs_end = np.minimum(export_date, np.where(np.isnat(lost_date), export_date, lost_date))

    # alloHSCT for those still in CR2 (event-free, alive, followed) at the planned date
    planned = rand + days(np.round(np.exp(np.log(lookup(arm, tx.median_days)) + tx.log_sd * rng.standard_normal(n))))
    eligible = (
        ~early_death & ~no_cr & (event_date > planned) & (planned <= obs_end)
        & (np.isnat(death_date) | (death_date > planned))
    )
    hsct = eligible & bernoulli(rng, lookup(arm, tx.in_cr2), n)
    # a death in remission is transplant-related only after a transplant; before one (e.g. during the
    # study drug) it takes the profile's likeliest other cause
    others = {c: p for c, p in ev.death_causes_without_relapse.items() if c != TRANSPLANT_RELATED}
    if others:
        no_transplant = (death_cause == TRANSPLANT_RELATED) & ~(hsct & (planned < death_date))
        death_cause = np.where(no_transplant, max(others, key=others.get), death_cause)

    relapsed = np.isin(kind, ["RELAPSE", "FAILURE_TO_REACH_CR"])
    return pd.DataFrame(
        {
            "treated": treated,
            "trt_start": trt_start,
            "eot_date": eot_date,
            "not_treated_reason": np.where(treated, "", np.where(died_untreated, "DEATH", categorical(rng, tr.not_treated_reasons, n))),
            "mrd_remission": mrd_remission,
            "remission_by_day15": remission_by_day15,
            "efs_kind": kind,
            "relapse_type": relapse_type,
            "event_date": event_date,
            "cd19_negative": np.isin(relapse_type, RELAPSE_FORM_TYPES) & bernoulli(rng, lookup(arm, ev.cd19_negative_relapse), n),
            "smn_type": np.where(kind == "SECOND_MALIGNANCY", categorical(rng, ev.second_malignancy_types, n), ""),
            "death_date": death_date,
            "death_cause": death_cause,
            "lost_date": lost_date,
            "obs_end": obs_end,
            "hsct_eligible": eligible,
            "hsct": hsct,
            "hsct_date": np.where(hsct, planned, NAT),
            "hsct_donor": categorical(rng, tx.donor, n),
            "hsct_source": categorical(rng, tx.source, n),
            "car_t": relapsed & bernoulli(rng, lookup(arm, ev.car_t_after_relapse), n),
            "salvage": relapsed & bernoulli(rng, ev.salvage_chemotherapy_after_relapse, n),
        },
        index=subjects.index,
    )
