"""The ``recist_pfs`` model: a randomized solid-tumour trial followed by RECIST 1.1 assessments.

Per subject, from the profile (simulate/recist_profile.py): baseline values, a time to progression
(exponential, the arm's median, hazard ratios by baseline value) or to death without progression,
loss to follow-up; tumour assessments on the schedule (some missed, some unscheduled confirmations)
until the first one that sees the progression; treatment cycles until progression, death, toxicity or
loss; adverse events while treated; survival contacts after treatment; death after progression. Only
what was observed by the export snapshot (the data cut-off plus the export lag) is recorded.

The result is one frame per record kind (``RECORDS``), each with ``_i`` (the subject's row) and the
model's variables; ``typed_forms`` then fills the raw forms from them as the profile's ``forms`` say.
Every draw is vectorized over subjects (no loop over subjects or records); dates are days from
randomization until they are turned into calendar dates at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.simulate.draw import bernoulli, categorical, days, int_between, lookup
from trialkit.simulate.recist_profile import RecistProfile
from trialkit.simulate.subjects import allocate_arms

NEVER = np.inf


def _on(rand: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Calendar dates ``day`` days after each subject's randomization (NaT where ``day`` is not finite)."""
    finite = np.isfinite(day)
    out = rand + days(np.where(finite, day, 0))
    return np.where(finite, out, np.datetime64("NaT", "D"))


def draw_subjects(p: RecistProfile, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Arm, site, randomization, age and the baseline values; SUBJID numbered within site in order of
    randomization, as the IRT hands them out."""
    pop, d = p.population, p.dates
    arm = allocate_arms({a: v.weight for a, v in p.arms.items()}, n, rng)
    weights = np.array([s.weight for s in p.sites])
    site = rng.choice(len(p.sites), size=n, p=weights / weights.sum())
    span = (np.datetime64(d.enrolment_end) - np.datetime64(d.enrolment_start)).astype(int)
    rand = np.datetime64(d.enrolment_start) + days(rng.integers(0, span + 1, n))
    frame = pd.DataFrame({
        "SITEID": np.array([s.siteid for s in p.sites], dtype=object)[site],
        "country": np.array([s.country for s in p.sites], dtype=object)[site],
        "arm": arm,
        "randomization_date": rand,
        "consent_date": rand - days(int_between(rng, pop.days_consent_before_randomization, n)),
        "diagnosis_date": rand - days(int_between(rng, pop.days_diagnosis_before_randomization, n)),
        "age": int_between(rng, pop.age_years, n),
        **{name: categorical(rng, dist, n) for name, dist in pop.baseline.items()},
        **{name: np.array([s.values.get(name, "") for s in p.sites], dtype=object)[site]
           for name in sorted({k for s in p.sites for k in s.values})},
        "date_format": None, "decimal": None,     # no site-local dates or decimals in this model's forms
    })
    frame = frame.sort_values("randomization_date", kind="stable").reset_index(drop=True)
    number = frame.groupby("SITEID").cumcount() + 1
    frame.insert(0, "SUBJID", frame["SITEID"] + "-" + number.astype(str).str.zfill(3))
    frame["randomization_number"] = np.arange(pop.randomization_number_start, pop.randomization_number_start + n)
    return frame


def draw_course(p: RecistProfile, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Latent days from randomization: progression (or death without it), loss to follow-up, toxicity;
    whether the subject responds and is treated."""
    n, pr = len(s), p.progression
    arm = s["arm"].to_numpy()
    hazard = np.ones(n)
    for name, ratios in pr.hazard_ratio.items():
        ratio = lookup(s[name].to_numpy(), ratios)
        hazard *= np.where(np.isnan(ratio), 1.0, ratio)
    median = lookup(arm, pr.median_days) / hazard
    progression = pr.earliest_day + np.floor(rng.exponential(median / np.log(2)))
    dies_first = bernoulli(rng, pr.death_before_progression, n)
    lost = np.where(bernoulli(rng, pr.lost_to_follow_up, n), int_between(rng, pr.lost_days, n), NEVER)
    responder = bernoulli(rng, lookup(arm, p.response.responders), n)
    treated = ~bernoulli(rng, p.treatment.not_treated, n)
    toxicity = np.where(bernoulli(rng, p.treatment.toxicity_stop, n), int_between(rng, p.treatment.toxicity_days, n), NEVER)
    return pd.DataFrame({
        "progression_day": progression, "dies_first": dies_first, "lost_day": lost.astype(float),
        "responder": responder, "complete": responder & bernoulli(rng, p.response.complete_among_responders, n),
        "treated": treated, "toxicity_day": toxicity.astype(float),
        "first_dose_day": int_between(rng, p.treatment.first_dose_day, n).astype(float),
    }, index=s.index)


def assessments(p: RecistProfile, s: pd.DataFrame, c: pd.DataFrame, snapshot_day: np.ndarray,
                rng: np.random.Generator) -> pd.DataFrame:
    """Scheduled assessments while followed (to the snapshot, loss, or a death that came first), the
    first one on or after the progression seeing it (PD) and being the last; an unscheduled
    confirmation after some SD / PR ones."""
    a, r = p.assessments, p.response
    n, k = len(s), len(a.visits)
    i, number = np.repeat(np.arange(n), k), np.tile(np.arange(1, k + 1), n)
    day = (a.every_days * number + rng.integers(-a.window_days, a.window_days + 1, n * k)).astype(float)
    progression, dies_first = c["progression_day"].to_numpy()[i], c["dies_first"].to_numpy()[i]
    followed = (day <= snapshot_day[i]) & (day <= c["lost_day"].to_numpy()[i]) & ~(dies_first & (day >= progression))
    done = followed & ~bernoulli(rng, a.missed, n * k)
    sees_pd = done & ~dies_first & (day >= progression)
    before = pd.Series(sees_pd).groupby(i).cumsum().to_numpy() - sees_pd   # progressions seen before this one
    keep = done & (before == 0)
    responder, complete = c["responder"].to_numpy()[i], c["complete"].to_numpy()[i]
    overall = np.select([sees_pd, bernoulli(rng, r.not_evaluable, n * k),
                         complete & (number >= r.complete_from_assessment), responder & (number >= r.partial_from_assessment)],
                        ["PD", "NE", "CR", "PR"], "SD").astype(object)
    new_lesion = (overall == "PD") & bernoulli(rng, a.progression_by_new_lesion, n * k)
    none = bernoulli(rng, a.no_non_target_lesions, n * k)
    target = np.where(new_lesion, "SD", overall).astype(object)
    non_target = np.select([new_lesion, overall == "PD", overall == "NE", overall == "CR", none],
                           ["PD", "NON-CR/NON-PD", "NE", "CR", "NONE"], "NON-CR/NON-PD").astype(object)
    visits = np.array(a.visits, dtype=object)
    scheduled = pd.DataFrame({"_i": i, "day": day, "visit": visits[number - 1], "target": target, "non_target": non_target,
                              "new_lesions": np.where(new_lesion, "Y", "N").astype(object), "overall": overall})[keep]
    u = a.unscheduled
    extra = scheduled[np.isin(scheduled["overall"], ["SD", "PR"]) & bernoulli(rng, u.probability, len(scheduled))].copy()
    extra["day"] += u.days_after
    ends = np.minimum(c["lost_day"].to_numpy(), c["progression_day"].to_numpy())[extra["_i"]]
    extra = extra[(extra["day"] <= snapshot_day[extra["_i"]]) & (extra["day"] < ends)]
    extra = extra.assign(visit=u.visit, non_target="NON-CR/NON-PD", new_lesions="N", target=extra["overall"])
    return pd.concat([scheduled, extra]).sort_values(["_i", "day"], kind="stable").reset_index(drop=True)


def death_day(p: RecistProfile, c: pd.DataFrame, scans: pd.DataFrame, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """(death, progression seen) days: death without progression at the drawn time; after an observed
    progression, some time later; never otherwise."""
    n = len(c)
    pd_day = np.full(n, NEVER)
    seen = scans[scans["overall"] == "PD"]
    pd_day[seen["_i"].to_numpy()] = seen["day"].to_numpy()
    after = pd_day + np.floor(rng.exponential(p.progression.death_after_progression_median_days / np.log(2), n))
    return np.where(c["dies_first"].to_numpy(), c["progression_day"].to_numpy(), after), pd_day


def doses(p: RecistProfile, s: pd.DataFrame, c: pd.DataFrame, stop: np.ndarray, snapshot_day: np.ndarray,
          rng: np.random.Generator) -> pd.DataFrame:
    """One record per infusion, every cycle from the first dose until treatment stops or the snapshot."""
    t = p.treatment
    n = len(s)
    cycles = int(np.nanmax(np.where(np.isfinite(snapshot_day), snapshot_day, 0)) // t.cycle_days) + 2
    i, cycle = np.repeat(np.arange(n), cycles), np.tile(np.arange(cycles), n)
    day = c["first_dose_day"].to_numpy()[i] + t.cycle_days * cycle + int_between(rng, t.delay_days, n * cycles)
    keep = c["treated"].to_numpy()[i] & (day < stop[i]) & (day <= snapshot_day[i])
    out = pd.DataFrame({"_i": i, "day": day.astype(float), "cycle": cycle + 1})[keep].reset_index(drop=True)
    arm = s["arm"].to_numpy()[out["_i"]]
    out["agent"] = pd.Series(arm).map({a: r.agent for a, r in t.regimens.items()}).to_numpy()
    out["unit"] = pd.Series(arm).map({a: r.unit for a, r in t.regimens.items()}).to_numpy()
    out["dose"] = ""
    for name, regimen in t.regimens.items():
        mask = arm == name
        out.loc[mask, "dose"] = categorical(rng, regimen.doses, int(mask.sum()))
    return out


def adverse_events(p: RecistProfile, treated: pd.DataFrame, stop_reason: np.ndarray, stop: np.ndarray, death: np.ndarray,
                   c: pd.DataFrame, snapshot_day: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """From the first infusion to some days after the last (not after death, loss or the snapshot);
    a stop for toxicity adds the event that stopped treatment, some days before the stop."""
    ae = p.adverse_events
    first = treated.groupby("_i")["day"].min()
    last = treated.groupby("_i")["day"].max()
    subj = first.index.to_numpy()
    start = first.to_numpy()
    end = np.minimum.reduce([last.to_numpy() + ae.days_after_last_dose, death[subj] - 1, c["lost_day"].to_numpy()[subj],
                             snapshot_day[subj]])
    stopping = stop_reason[subj] == "TOXICITY"
    count = rng.poisson(ae.per_subject_mean, len(subj)) + stopping
    i = np.repeat(np.arange(len(subj)), count)
    number = pd.Series(i).groupby(i).cumcount().to_numpy() + 1
    onset = start[i] + np.floor(rng.random(len(i)) * (np.maximum(end[i], start[i]) - start[i] + 1))
    stops = stopping[i] & (number == 1)
    onset = np.where(stops, np.maximum(start[i], np.minimum(stop[subj][i] - ae.stopping_event_days_before, end[i])), onset)
    weights = np.array([t.weight for t in ae.terms])
    term = rng.choice(len(ae.terms), size=len(i), p=weights / weights.sum())
    grade = categorical(rng, ae.grades, len(i))
    finish = onset + int_between(rng, ae.duration_days, len(i))
    subject = subj[i]
    resolved = (finish <= snapshot_day[subject]) & (finish < death[subject]) & (finish <= c["lost_day"].to_numpy()[subject])
    serious = (grade.astype(int) >= ae.serious_from_grade) & bernoulli(rng, ae.serious, len(i))
    # the criterion of a serious event follows from its grade (no draw: the other records keep theirs)
    life = serious & (grade.astype(int) >= ae.life_threatening_from_grade)
    return pd.DataFrame({
        "_i": subject, "number": number, "verbatim": np.array([t.verbatim for t in ae.terms], dtype=object)[term],
        "term": np.array([t.term for t in ae.terms], dtype=object)[term],
        "soc": np.array([t.soc for t in ae.terms], dtype=object)[term],
        "soc_code": np.array([ae.soc_codes[t.soc] for t in ae.terms], dtype=np.int64)[term],
        "start_day": onset, "end_day": np.where(resolved, finish, NEVER), "grade": grade,
        "serious": np.where(serious, "Y", "N").astype(object),
        "life_threatening": np.where(life, "Y", np.where(serious, "N", "")).astype(object),
        "hospitalization": np.where(serious & ~life, "Y", np.where(serious, "N", "")).astype(object),
        "relationship": categorical(rng, ae.relationship, len(i)),
        "action": np.where(stops, ae.action_stopping_treatment, categorical(rng, ae.action, len(i))).astype(object),
        "outcome": np.where(resolved, "RESOLVED", "NOT RESOLVED").astype(object),
    })


def contacts(p: RecistProfile, start: np.ndarray, death: np.ndarray, lost: np.ndarray, snapshot_day: np.ndarray,
             rng: np.random.Generator) -> pd.DataFrame:
    """Survival contacts every few weeks from ``start`` (the end of treatment; randomization if never
    treated) while alive and followed; none while treatment goes on (``start`` not finite)."""
    f = p.follow_up
    n = len(start)
    finite = np.isfinite(start)
    longest = np.where(finite, snapshot_day - np.where(finite, start, 0), 0)
    k = int(max(longest.max(initial=0), 0) // f.every_days) + 1
    i, j = np.repeat(np.arange(n), k), np.tile(np.arange(1, k + 1), n)
    day = np.where(finite[i], start[i], 0) + f.every_days * j + rng.integers(-f.window_days, f.window_days + 1, n * k)
    keep = finite[i] & (day <= snapshot_day[i]) & (day < death[i]) & (day <= lost[i])
    return pd.DataFrame({"_i": i[keep], "day": day[keep].astype(float), "status": "ALIVE"})


def simulate_records(p: RecistProfile, n: int, seed_streams: list[np.random.Generator]
                     ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The subjects (baseline, latent course) and every record kind, dates as calendar dates."""
    r_base, r_course, r_scan, r_death, r_dose, r_ae, r_fu = seed_streams
    s = draw_subjects(p, n, r_base)
    c = draw_course(p, s, r_course)
    rand = s["randomization_date"].to_numpy().astype("datetime64[D]")
    snapshot = np.datetime64(p.dates.data_cutoff) + np.timedelta64(p.dates.export_lag_days, "D")
    snapshot_day = (snapshot - rand).astype(int).astype(float)
    scans = assessments(p, s, c, snapshot_day, r_scan)
    death, pd_day = death_day(p, c, scans, r_death)
    lost = c["lost_day"].to_numpy()
    recorded_death = np.isfinite(death) & (death < lost) & (death <= snapshot_day)

    candidates = np.column_stack([pd_day, death, c["toxicity_day"].to_numpy(), lost])
    reasons = np.array(["PROGRESSION", "DEATH", "TOXICITY", "LOST"], dtype=object)
    stop = candidates.min(axis=1)
    stop_reason = np.where(np.isfinite(stop), reasons[candidates.argmin(axis=1)], "")
    given = doses(p, s, c, stop, snapshot_day, r_dose)
    dosed = np.isin(np.arange(n), given["_i"].to_numpy())
    ended = dosed & np.isfinite(stop) & (stop <= snapshot_day)
    events = adverse_events(p, given, stop_reason, stop, death, c, snapshot_day, r_ae)
    start = np.where(dosed, stop, 0.0)
    alive = contacts(p, start, death, lost, snapshot_day, r_fu)
    dead = np.flatnonzero(recorded_death)
    learnt = dead[death[dead] > start[dead]]
    closed = lost + p.follow_up.end_of_study_after_loss_days             # a loss is recorded as such later
    was_lost = ~recorded_death & np.isfinite(lost) & (closed <= snapshot_day)
    left = np.flatnonzero(recorded_death | was_lost)

    def dated(frame: pd.DataFrame, **columns: str) -> pd.DataFrame:
        """``frame`` with day columns as calendar dates: new name -> day column."""
        at = rand[frame["_i"].to_numpy()]
        dates = {name: _on(at, frame[day].to_numpy().astype(float)) for name, day in columns.items()}
        return frame.drop(columns=list(columns.values())).assign(**dates)

    records = {
        "subjects": s.assign(_i=np.arange(n)),
        "assessments": dated(scans, date="day"),
        "doses": dated(given, date="day"),
        "treatment_end": dated(pd.DataFrame({"_i": np.flatnonzero(ended), "day": stop[ended], "reason": stop_reason[ended]}),
                               date="day"),
        "adverse_events": dated(events, start="start_day", end="end_day"),
        "deaths": dated(pd.DataFrame({"_i": dead, "day": death[dead],
                                      "cause": np.where(np.isfinite(pd_day[dead]), "PROGRESSION", "OTHER")}), date="day"),
        "contacts": dated(pd.concat([alive, pd.DataFrame({"_i": learnt, "day": death[learnt], "status": "DEAD"})],
                                    ignore_index=True).sort_values(["_i", "day"], kind="stable").reset_index(drop=True),
                          date="day"),
        "study_end": dated(pd.DataFrame({"_i": left, "day": np.where(recorded_death, death, closed)[left],
                                         "reason": np.where(recorded_death[left], "DEATH", "LOST")}), date="day"),
    }
    return s.assign(progression_seen_day=pd_day, death_day=np.where(recorded_death, death, NEVER)), records
