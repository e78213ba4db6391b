"""Subject-level truth of a simulated study, at the data cut-off.

This is what a correct ADaM derivation must find in the exported forms, written with the event
definitions of the reference study (../shared/reference-study.md) and the data visible at the cut-off:

* EFS starts at randomization. Events: failure to reach CR at the end-of-treatment marrow, or death
  before that assessment (treatment failure: event on the randomization date, 1 day); relapse (relapse
  form date); M2 marrow after CR (marrow date); second malignancy (diagnosis date); death. Event-free
  subjects are censored at their last marrow assessment on or before the cut-off (randomization date
  when there is none after it).
* OS: death on or before the cut-off; otherwise censored at the last date the subject was known alive
  on or before the cut-off: randomization, marrow and MRD assessments, exposure, transplant, relapse,
  second malignancy, subsequent therapy, and survival contacts with status ALIVE.
* Day counts are ADaM's AVAL = ADT - STARTDT + 1.

It is never exported with the forms; ``trialkit simulate --truth FILE`` writes it on request.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.subjects import MRD_HIGH_CUT

FAILURES = ("FAILURE_TO_REACH_CR", "DEATH_BEFORE_EOT")


def last_on_or_before(frames: list[tuple[pd.DataFrame, str]], n: int, cutoff: np.datetime64) -> np.ndarray:
    """Per subject, the latest date on or before the cut-off among the given (frame, date column) pairs."""
    best = np.full(n, np.datetime64("NaT", "D"))
    for frame, column in frames:
        if frame.empty:
            continue
        dates = frame[column].to_numpy().astype("datetime64[D]")
        ok = ~np.isnat(dates) & (dates <= cutoff)
        latest = pd.Series(dates[ok]).groupby(frame["_i"].to_numpy()[ok]).max()
        idx = latest.index.to_numpy()
        cur = best[idx]
        new = latest.to_numpy().astype("datetime64[D]")
        best[idx] = np.where(np.isnat(cur) | (new > cur), new, cur)
    return best


def subject_truth(studyid: str, cutoff: np.datetime64, s: pd.DataFrame, forms: dict[str, pd.DataFrame]) -> pd.DataFrame:
    n = len(s)
    rand = s["rand_date"].to_numpy().astype("datetime64[D]")
    event = s["event_date"].to_numpy().astype("datetime64[D]")
    kind = s["efs_kind"].to_numpy()
    obs_end = s["obs_end"].to_numpy().astype("datetime64[D]")
    death = s["death_date"].to_numpy().astype("datetime64[D]")

    failure = np.isin(kind, FAILURES)
    efs_event = (event <= cutoff) & (event <= obs_end)
    efs_event_date = np.where(failure, rand, event)
    last_assess = last_on_or_before([(forms["bm"], "BMDAT")], n, cutoff)
    last_assess = np.where(np.isnat(last_assess) | (last_assess < rand), rand, last_assess)
    efs_adt = np.where(efs_event, efs_event_date, last_assess)

    died = ~np.isnat(death) & (death <= cutoff) & (death <= obs_end)
    alive_sources = [
        (pd.DataFrame({"_i": np.arange(n), "d": rand}), "d"),
        (forms["bm"], "BMDAT"), (forms["mrd"], "MRDDAT"), (forms["ex_blin"], "EXENDAT"), (forms["ex_hc3"], "EXENDAT"),
        (forms["hsct"], "HSCTDAT"), (forms["relapse"], "RELDAT"), (forms["smn"], "SMNDAT"), (forms["cm"], "CMSTDAT"),
        (forms["survfu"][forms["survfu"]["SURVSTAT"] == "ALIVE"], "CONTDAT"),
    ]
    last_alive = last_on_or_before(alive_sources, n, cutoff)
    os_adt = np.where(died, death, last_alive)

    # MRD remission as it can be seen: a day-15 or end-of-treatment MRD below 1E-04 (a subject whose
    # remission was never assessed, e.g. lost or dead before day 15, has none)
    m = forms["mrd"]
    assessed = m[m["VISIT"].isin(["C1D15", "C1D29"]) & (m["value"] < 1e-4)]
    seen_remission = np.isin(np.arange(n), assessed["_i"].to_numpy())

    mrd = s["baseline_mrd"].to_numpy()
    mrd_group = np.where(np.isnan(mrd), "NOT EVALUABLE", np.where(mrd >= MRD_HIGH_CUT, ">=1E-3", "<1E-3"))
    return pd.DataFrame(
        {
            "STUDYID": studyid,
            "USUBJID": studyid + "-" + s["SUBJID"],
            "SUBJID": s["SUBJID"],
            "ARM": s["ARM"],
            "STRATUM": s["stratum"],
            "AGEGR": s["age_group"],
            "MRDGR": mrd_group,
            "TREATED": s["treated"],
            "RANDDT": rand,
            "MRDREM": seen_remission,
            "HSCT": s["hsct"] & (s["hsct_date"].to_numpy() <= cutoff),
            "HSCTDT": np.where(s["hsct"].to_numpy(), s["hsct_date"].to_numpy().astype("datetime64[D]"), np.datetime64("NaT", "D")),
            "EFS_CNSR": np.where(efs_event, 0, 1),
            "EFS_ADT": efs_adt,
            "EFS_AVAL": (efs_adt - rand).astype(int) + 1,
            "EFS_EVENT": np.where(efs_event, kind, ""),
            "RELAPSE_TYPE": np.where(efs_event, s["relapse_type"], ""),
            "OS_CNSR": np.where(died, 0, 1),
            "OS_ADT": os_adt,
            "OS_AVAL": (os_adt - rand).astype(int) + 1,
            "LSTASDT": last_assess,
            "LSTALVDT": last_alive,
            "CUTOFFDT": cutoff,
        }
    )
