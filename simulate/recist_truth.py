"""Subject-level truth of a study simulated with the ``recist_pfs`` model, at the data cut-off.

What a correct ADaM must find in the export, by the usual RECIST 1.1 PFS and OS definitions, with
the profile's ``analysis`` settings (simulate/recist_profile.py):

* PFS starts at randomization. Events: the first assessment that sees progression, or death, on or
  before the cut-off, each only if it comes at most ``pfs_max_gap_days`` after the last adequate
  assessment before it (``adequate`` responses; randomization when there is none): after a longer
  gap (two missed assessments) PFS is censored there instead. The earlier event wins, progression on
  a tie. Without an event: censored at the last adequate assessment on or before the cut-off, or at
  randomization ("RANDOMIZATION").
* OS: death on or before the cut-off; otherwise censored at the last date the subject was known
  alive on or before it: randomization, tumour assessments, infusions, survival contacts alive.
* AVAL = ADT - randomization + 1 (days).

Computed from the model's own records, never from the export or the ADaM code path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.recist_profile import RecistProfile
from trialkit.simulate.truth import last_on_or_before

NAT = np.datetime64("NaT", "D")


def _last_adequate_before(adequate: pd.DataFrame, when: np.ndarray, rand: np.ndarray) -> np.ndarray:
    """Per subject, the last adequate assessment strictly before ``when`` (randomization if none)."""
    i = adequate["_i"].to_numpy()
    dates = adequate["date"].to_numpy().astype("datetime64[D]")
    before = ~np.isnat(when[i]) & (dates < when[i])
    last = pd.Series(dates[before]).groupby(i[before]).max()
    out = rand.copy()
    out[last.index.to_numpy()] = last.to_numpy().astype("datetime64[D]")
    return out


def recist_truth(p: RecistProfile, s: pd.DataFrame, records: dict[str, pd.DataFrame]) -> pd.DataFrame:
    n = len(s)
    cutoff = np.datetime64(p.dates.data_cutoff, "D")
    rand = s["randomization_date"].to_numpy().astype("datetime64[D]")
    scans = records["assessments"]
    adequate = scans[scans["overall"].isin(p.analysis.adequate)]

    def on_day(day: np.ndarray) -> np.ndarray:
        finite = np.isfinite(day)
        return np.where(finite, rand + np.where(finite, day, 0).astype("int64").astype("timedelta64[D]"), NAT)

    progression, death = on_day(s["progression_seen_day"].to_numpy()), on_day(s["death_day"].to_numpy())

    def counts(event: np.ndarray) -> np.ndarray:
        gap = (event - _last_adequate_before(adequate, event, rand)).astype("timedelta64[D]").astype(float)
        return ~np.isnat(event) & (event <= cutoff) & (gap <= p.analysis.pfs_max_gap_days)

    pd_ok, death_ok = counts(progression), counts(death)
    progression_first = pd_ok & (~death_ok | (progression <= death))
    event = pd_ok | death_ok
    last_adequate = last_on_or_before([(adequate, "date")], n, cutoff)
    censor = np.where(np.isnat(last_adequate), rand, last_adequate)
    pfs_adt = np.where(progression_first, progression, np.where(death_ok, death, censor))
    pfs_desc = np.select([progression_first, death_ok, ~np.isnat(last_adequate)],
                         ["PROGRESSION", "DEATH", "LAST ADEQUATE ASSESSMENT"], "RANDOMIZATION")

    died = ~np.isnat(death) & (death <= cutoff)
    contacts = records["contacts"]
    alive = last_on_or_before([(pd.DataFrame({"_i": np.arange(n), "date": rand}), "date"), (scans, "date"),
                                (records["doses"], "date"), (contacts[contacts["status"] == "ALIVE"], "date")], n, cutoff)
    os_adt = np.where(died, death, alive)
    studyid = p.study.studyid
    return pd.DataFrame({
        "STUDYID": studyid, "USUBJID": studyid + "-" + s["SUBJID"], "SUBJID": s["SUBJID"], "ARM": s["arm"],
        "RANDDT": rand,
        "PFS_CNSR": np.where(event, 0, 1), "PFS_ADT": pfs_adt, "PFS_AVAL": (pfs_adt - rand).astype(int) + 1,
        "PFS_EVENT": pfs_desc,
        "OS_CNSR": np.where(died, 0, 1), "OS_ADT": os_adt, "OS_AVAL": (os_adt - rand).astype(int) + 1,
        "CUTOFFDT": cutoff,
    })
