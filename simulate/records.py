"""Record-level tables of the simulated study (one frame per EDC form), with typed values.

Each frame has the field names of specs/studies/<study>/raw_dictionary.yaml plus ``_i``, the index of
the subject in the subject table (dropped at export). Only what was observed is recorded: nothing
after the subject's observation end (loss to follow-up or the export snapshot), nothing after death.
Dates here are real dates; turning them into the text a site typed is the export module's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.draw import bernoulli, categorical, days, int_between
from trialkit.simulate.outcomes import MARROW_RELAPSES, RELAPSE_FORM_TYPES
from trialkit.simulate.profile import Profile

BELOW = 1e-4  # MRD remission threshold


def _frame(index: np.ndarray, **columns) -> pd.DataFrame:
    return pd.DataFrame({"_i": index, **columns})


def _yn(flag: np.ndarray) -> np.ndarray:
    return np.where(flag, "Y", "N").astype(object)


def scheduled_visits(profile: Profile, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Disease-assessment visits each subject attended, until the EFS event, death or end of observation."""
    visits = pd.DataFrame([v.model_dump() for v in profile.visits])
    n, v = len(s), len(visits)
    i = np.repeat(np.arange(n), v)
    vi = np.tile(np.arange(v), n)
    vis = visits.iloc[vi].reset_index(drop=True)
    anchor = np.where(vis["anchor"] == "treatment_start", s["trt_start"].to_numpy()[i], s["rand_date"].to_numpy()[i])
    anchor = anchor.astype("datetime64[D]")
    jitter = np.round((rng.random(len(i)) * 2 - 1) * vis["window"].to_numpy()).astype(int)
    date = anchor + days(vis["day"].to_numpy() + jitter)
    is_eot = (vis["visit"] == profile.treatment.end_of_treatment_visit).to_numpy()
    # the end-of-treatment marrow is the one that decides CR after the study drug: treated subjects only
    date = np.where(is_eot, np.where(s["treated"].to_numpy()[i], s["eot_date"].to_numpy().astype("datetime64[D]")[i], np.datetime64("NaT")), date)

    event = s["event_date"].to_numpy().astype("datetime64[D]")[i]
    death = s["death_date"].to_numpy().astype("datetime64[D]")[i]
    obs_end = s["obs_end"].to_numpy().astype("datetime64[D]")[i]
    failure = (s["efs_kind"].to_numpy() == "FAILURE_TO_REACH_CR")[i]
    before_event = np.where(failure, date <= event, date < event)
    keep = (
        ~np.isnat(date) & before_event & (date <= obs_end) & (np.isnat(death) | (date < death))
    )
    protected = (vis["day"].to_numpy() < 0) | is_eot
    keep &= protected | ~bernoulli(rng, profile.missed_assessment, len(i))
    out = vis.loc[keep, ["visit", "label", "marrow", "mrd"]].reset_index(drop=True)
    out.insert(0, "_i", i[keep])
    out["date"] = date[keep]
    out["eot"] = is_eot[keep]
    out["screening"] = (vis["day"].to_numpy() < 0)[keep]
    return out


def marrow_assessments(s: pd.DataFrame, visits: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """BM form: scheduled marrows plus the unscheduled marrow taken at a relapse or M2 event."""
    sched = visits[visits["marrow"]].reset_index(drop=True)
    i = sched["_i"].to_numpy()
    m = len(sched)
    failure = (s["efs_kind"].to_numpy() == "FAILURE_TO_REACH_CR")[i] & sched["eot"].to_numpy()
    failure_m3 = failure & bernoulli(rng, 0.3, m)
    screening = sched["screening"].to_numpy()
    status = np.where(screening, s["marrow"].to_numpy()[i], "M1")
    status = np.where(failure, np.where(failure_m3, "M3", "M2"), status)
    blasts = np.select(
        [screening, status == "M2", status == "M3"],
        [s["baseline_blasts"].to_numpy()[i], rng.uniform(5.0, 24.9, m), rng.uniform(25.0, 80.0, m)],
        rng.uniform(0.0, 4.9, m),
    )
    scheduled = _frame(i, VISIT=sched["visit"].to_numpy(), BMDAT=sched["date"].to_numpy(), MSTATUS=status, BLASTPCT=blasts)

    kind = s["relapse_type"].to_numpy()
    observed = s["event_date"].to_numpy() <= s["obs_end"].to_numpy()
    ev = np.flatnonzero(observed & (kind != ""))
    ev_status = np.select(
        [np.isin(kind[ev], MARROW_RELAPSES), kind[ev] == "M2_AFTER_CR"], ["M3", "M2"], "M1"
    )
    ev_blasts = np.select(
        [ev_status == "M3", ev_status == "M2"],
        [rng.uniform(25.0, 95.0, len(ev)), rng.uniform(5.0, 24.9, len(ev))],
        rng.uniform(0.0, 4.9, len(ev)),
    )
    unscheduled = _frame(ev, VISIT="UNSCHEDULED", BMDAT=s["event_date"].to_numpy()[ev], MSTATUS=ev_status, BLASTPCT=ev_blasts)
    bm = pd.concat([scheduled, unscheduled], ignore_index=True)
    bm["BLASTPCT"] = bm["BLASTPCT"].round(1)
    bm["PBBLAST"] = _yn((bm["MSTATUS"] == "M3").to_numpy() & bernoulli(rng, 0.6, len(bm)))
    relapse_em = np.isin(s["relapse_type"].to_numpy()[bm["_i"]], ["COMBINED_MARROW_CNS", "ISOLATED_CNS", "ISOLATED_TESTIS", "ISOLATED_OTHER_EM"])
    bm["EMD"] = _yn((bm["VISIT"] == "UNSCHEDULED").to_numpy() & relapse_em)
    return bm.sort_values(["_i", "BMDAT"], kind="stable").reset_index(drop=True)


def mrd_results(profile: Profile, s: pd.DataFrame, visits: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """MRD form: baseline, day 15 and end-of-treatment MRD by PCR or flow, as a lab reports it."""
    mr = profile.mrd_response
    sched = visits[visits["mrd"]].reset_index(drop=True)
    i = sched["_i"].to_numpy()
    m = len(sched)
    method_by_subject = categorical(rng, mr.method, len(s))
    method = method_by_subject[i]
    lod = np.where(method == "PCR", mr.detection_limit["PCR"], mr.detection_limit["FLOW"])

    baseline = s["baseline_mrd"].to_numpy()[i]
    day15 = (sched["visit"] == mr.day15_visit).to_numpy()
    below = np.where(day15, s["remission_by_day15"].to_numpy()[i], s["mrd_remission"].to_numpy()[i])
    positive = 10.0 ** rng.uniform(-4.0, -2.0, m)
    # below 1E-04 by more than the printed rounding (%.1E): 9.97E-05 would read as 1.0E-04, not a remission
    low_positive = 10.0 ** rng.uniform(np.log10(lod), np.maximum(np.log10(lod), np.log10(9.9e-5)), m)
    # half of remissions undetectable; flow cytometry cannot see below its 1E-04 limit at all
    low_positive = np.where((rng.random(m) < 0.5) & (lod < BELOW), low_positive, 0.0)
    value = np.where(sched["screening"].to_numpy(), baseline, np.where(below, low_positive, positive))
    pnq = (method == "PCR") & (value > 0) & (value < BELOW) & bernoulli(rng, mr.positive_not_quantifiable, m)

    not_done = np.isnan(value)
    result = np.where(value < lod, "<" + np.char.upper(np.char.mod("%.0E", lod)).astype(object), "")
    quantified = ~not_done & (value >= lod) & ~pnq
    result = np.where(quantified, np.char.upper(np.char.mod("%.1E", np.nan_to_num(value))).astype(object), result)
    result = np.where(pnq, "PNQ", result)
    result = np.where(not_done, "", result)
    return _frame(
        i,
        VISIT=sched["visit"].to_numpy(),
        MRDDAT=sched["date"].to_numpy(),
        METHOD=method,
        MRDSTAT=np.where(not_done, "NOT DONE", "DONE").astype(object),
        RESULT=result.astype(object),
        LOD=np.where(not_done, "", np.char.upper(np.char.mod("%.0E", lod))).astype(object),
        REASND=np.where(not_done, "SAMPLE INADEQUATE", "").astype(object),
        value=value,
    )


def relapses(s: pd.DataFrame) -> pd.DataFrame:
    """Relapse form: one row per relapse (M2 marrow after CR is not a relapse and has no row here)."""
    kind = s["relapse_type"].to_numpy()
    observed = s["event_date"].to_numpy() <= s["obs_end"].to_numpy()
    i = np.flatnonzero(observed & np.isin(kind, RELAPSE_FORM_TYPES))
    k = kind[i]
    return _frame(
        i,
        RELDAT=s["event_date"].to_numpy()[i],
        MARROW=_yn(np.isin(k, MARROW_RELAPSES)),
        CNS=_yn(np.isin(k, ["COMBINED_MARROW_CNS", "ISOLATED_CNS"])),
        TESTIS=_yn(k == "ISOLATED_TESTIS"),
        OTHEREM=_yn(k == "ISOLATED_OTHER_EM"),
        OTHSPEC=np.where(k == "ISOLATED_OTHER_EM", "SKIN", "").astype(object),
        CD19=np.where(s["cd19_negative"].to_numpy()[i], "NEGATIVE", "POSITIVE").astype(object),
    )


def exposure_blinatumomab(profile: Profile, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One continuous-infusion record per treated subject, two when the infusion was interrupted."""
    b = profile.treatment.blinatumomab
    i = np.flatnonzero(s["treated"].to_numpy() & (s["ARM"].to_numpy() == "BLIN"))
    start = s["trt_start"].to_numpy().astype("datetime64[D]")[i]
    end = start + days(np.full(len(i), b.days - 1))
    death = s["death_date"].to_numpy().astype("datetime64[D]")[i]
    end = np.where(~np.isnat(death) & (death <= end), death - days(np.ones(len(i))), end)
    end = np.maximum(end, start)
    interrupted = bernoulli(rng, b.interruption, len(i)) & ((end - start).astype(int) > 10)
    gap = int_between(rng, b.interruption_days, len(i))
    split = start + days(np.floor((end - start).astype(int) * rng.uniform(0.3, 0.7, len(i))))
    first = _frame(i, EXSTDAT=start, EXENDAT=np.where(interrupted, split, end), INTRPT=_yn(interrupted),
                   INTRREAS=np.where(interrupted, "ADVERSE EVENT", "").astype(object))
    j = interrupted
    second = _frame(i[j], EXSTDAT=split[j] + days(gap[j] + 1), EXENDAT=end[j] + days(gap[j]), INTRPT="N", INTRREAS="")
    ex = pd.concat([first, second], ignore_index=True).sort_values(["_i", "EXSTDAT"], kind="stable")
    ex["EXDOSE"] = b.dose
    ex["EXDOSU"] = b.unit
    start_hour, end_hour = rng.integers(8, 18, len(ex)), rng.integers(8, 18, len(ex))
    same_day = (ex["EXSTDAT"] == ex["EXENDAT"]).to_numpy()        # death the day after the start: never ends before it began
    ex["EXSTTIM"] = np.char.mod("%02d:00", start_hour).astype(object)
    ex["EXENTIM"] = np.char.mod("%02d:00", np.where(same_day, np.maximum(start_hour, end_hour), end_hour)).astype(object)
    ex["LINE"] = ex.groupby("_i").cumcount() + 1
    return ex.reset_index(drop=True)


def exposure_hc3(profile: Profile, s: pd.DataFrame) -> pd.DataFrame:
    """One record per agent of the HC3 block per treated subject."""
    agents = pd.DataFrame([a.model_dump() for a in profile.treatment.hc3])
    i0 = np.flatnonzero(s["treated"].to_numpy() & (s["ARM"].to_numpy() == "HC3"))
    i = np.repeat(i0, len(agents))
    a = agents.iloc[np.tile(np.arange(len(agents)), len(i0))].reset_index(drop=True)
    start = s["trt_start"].to_numpy().astype("datetime64[D]")[i]
    first_day = np.array([d[0] for d in a["days"]], dtype=int)
    last_day = np.array([d[1] for d in a["days"]], dtype=int)
    st = start + days(first_day - 1)
    en = start + days(last_day - 1)
    death = s["death_date"].to_numpy().astype("datetime64[D]")[i]
    given = np.isnat(death) | (st < death)
    en = np.where(~np.isnat(death) & (death <= en), death - days(np.ones(len(i))), en)
    return _frame(
        i[given], AGENT=a["agent"].to_numpy()[given], EXDOSE=a["dose"].to_numpy()[given], EXDOSU=a["unit"].to_numpy()[given],
        ROUTE=a["route"].to_numpy()[given], FREQ=a["frequency"].to_numpy()[given],
        EXSTDAT=st[given], EXENDAT=np.maximum(en, st)[given],
    )


def treatment_status(s: pd.DataFrame) -> pd.DataFrame:
    """End-of-treatment form: completed, discontinued (death during the cycle) or not treated (at
    randomization, or at the death of a subject who died before the first dose)."""
    treated = s["treated"].to_numpy()
    early = s["efs_kind"].to_numpy() == "DEATH_BEFORE_EOT"
    status = np.select([~treated, early], ["NOT TREATED", "DISCONTINUED"], "COMPLETED")
    eot = s["eot_date"].to_numpy().astype("datetime64[D]")
    death = s["death_date"].to_numpy().astype("datetime64[D]")
    reason = np.select([~treated, early], [s["not_treated_reason"].to_numpy(), "DEATH"], "")
    # not treated because the subject died before the first dose: dated at the death, as DM.DTHDTC is
    died_untreated = ~treated & (reason == "DEATH")
    date = np.select([died_untreated, ~treated, early], [death, s["rand_date"].to_numpy().astype("datetime64[D]"), death], eot)
    return _frame(np.arange(len(s)), TRTSTAT=status.astype(object), EOTDAT=date, REASON=reason.astype(object))


def transplants(s: pd.DataFrame) -> pd.DataFrame:
    i = np.flatnonzero(s["hsct"].to_numpy())
    return _frame(i, HSCTDAT=s["hsct_date"].to_numpy()[i], DONOR=s["hsct_donor"].to_numpy()[i],
                  SOURCE=s["hsct_source"].to_numpy()[i], DISSTAT="CR2")


def deaths(s: pd.DataFrame) -> pd.DataFrame:
    death = s["death_date"].to_numpy()
    i = np.flatnonzero(~np.isnat(death) & (death <= s["obs_end"].to_numpy()))
    return _frame(i, DTHDAT=death[i], DTHCAUSE=s["death_cause"].to_numpy()[i])


def survival_contacts(profile: Profile, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Survival follow-up: a contact every few months while alive and followed; a DEAD contact after death."""
    every = profile.survival_contact_every_days
    rand = s["rand_date"].to_numpy().astype("datetime64[D]")
    death = s["death_date"].to_numpy().astype("datetime64[D]")
    obs_end = s["obs_end"].to_numpy().astype("datetime64[D]")
    stop = np.where(np.isnat(death), obs_end, np.minimum(death, obs_end))
    k_max = int(((stop - rand).astype(int).max() // every) + 1) if len(s) else 0
    i = np.repeat(np.arange(len(s)), k_max)
    k = np.tile(np.arange(1, k_max + 1), len(s))
    date = rand[i] + days(k * every + rng.integers(-14, 15, len(i)))
    keep = date < stop[i]
    alive = _frame(i[keep], CONTDAT=date[keep], SURVSTAT="ALIVE")
    d = np.flatnonzero(~np.isnat(death) & (death <= obs_end))
    learned = np.minimum(death[d] + days(rng.integers(0, 21, len(d))), obs_end[d])
    dead = _frame(d, CONTDAT=learned, SURVSTAT="DEAD")
    out = pd.concat([alive, dead], ignore_index=True).sort_values(["_i", "CONTDAT"], kind="stable").reset_index(drop=True)
    out["CONTTYPE"] = np.where(rng.random(len(out)) < 0.6, "VISIT", "PHONE")
    return out


def end_of_study(s: pd.DataFrame) -> pd.DataFrame:
    """End-of-study form: only subjects whose study participation ended (death, lost to follow-up)."""
    death = s["death_date"].to_numpy()
    obs_end = s["obs_end"].to_numpy()
    lost = s["lost_date"].to_numpy()
    died = ~np.isnat(death) & (death <= obs_end)
    was_lost = ~np.isnat(lost) & (lost <= obs_end) & ~died
    i = np.flatnonzero(died | was_lost)
    return _frame(i, EOSDAT=np.where(died[i], death[i], lost[i]),
                  EOSSTAT=np.where(died[i], "DEATH", "LOST TO FOLLOW-UP").astype(object))


def subsequent_therapy(s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Anticancer therapy after relapse or failure: salvage chemotherapy, CAR-T."""
    event = s["event_date"].to_numpy().astype("datetime64[D]")
    death = s["death_date"].to_numpy().astype("datetime64[D]")
    obs_end = s["obs_end"].to_numpy().astype("datetime64[D]")
    n = len(s)
    salvage_start = event + days(rng.integers(3, 21, n))
    cart_start = event + days(rng.integers(30, 91, n))
    frames = []
    for flag, start, trt, cat, length in (
        (s["salvage"].to_numpy(), salvage_start, "FLAG-IDA", "CHEMOTHERAPY", 28),
        (s["car_t"].to_numpy(), cart_start, "TISAGENLECLEUCEL", "CAR-T CELL THERAPY", 0),
    ):
        ok = flag & (start <= obs_end) & (np.isnat(death) | (start < death))
        i = np.flatnonzero(ok)
        frames.append(_frame(i, CMTRT=trt, CMCAT=cat, CMSTDAT=start[i], CMENDAT=start[i] + days(np.full(len(i), length))))
    cm = pd.concat(frames, ignore_index=True).sort_values(["_i", "CMSTDAT"], kind="stable").reset_index(drop=True)
    cm["CMSPID"] = cm.groupby("_i").cumcount() + 1
    return cm


def second_malignancies(s: pd.DataFrame) -> pd.DataFrame:
    kind = s["efs_kind"].to_numpy()
    i = np.flatnonzero((kind == "SECOND_MALIGNANCY") & (s["event_date"].to_numpy() <= s["obs_end"].to_numpy()))
    diag = s["smn_type"].to_numpy()[i]
    return _frame(i, SMNDAT=s["event_date"].to_numpy()[i], SMNDIAG=diag,
                  SMNOTH=np.where(diag == "OTHER", "THYROID CARCINOMA", "").astype(object))


def enrolment(s: pd.DataFrame) -> pd.DataFrame:
    """IRT randomization record: arm and the stratification factors as entered at randomization."""
    return _frame(np.arange(len(s)), COUNTRY=s["COUNTRY"].to_numpy(), RANDNO=s["RANDNO"].to_numpy(),
                  ICDAT=s["consent_date"].to_numpy(), RANDDAT=s["rand_date"].to_numpy(), TRTGRP=s["ARM"].to_numpy(),
                  STRAGE=s["age_group"].to_numpy(), STRMRD=s["stratum"].to_numpy())


def demographics(s: pd.DataFrame) -> pd.DataFrame:
    return _frame(np.arange(len(s)), BRTHDAT=s["birth_date"].to_numpy(), BRTHDAT_partial=s["birth_month_only"].to_numpy(),
                  SEX=s["SEX"].to_numpy(), RACE=s["RACE"].to_numpy(), ETHNIC=s["ETHNIC"].to_numpy())


def disease_history(s: pd.DataFrame) -> pd.DataFrame:
    """Primary diagnosis and first relapse (the relapse that qualified the subject)."""
    return _frame(np.arange(len(s)), DIAGDAT=s["diagnosis_date"].to_numpy(), IMMUNO="B-CELL PRECURSOR",
                  REL1DAT=s["relapse1_date"].to_numpy(), REL1EMD=_yn(s["extramedullary"].to_numpy()))
