"""Simulate a whole study from its profile: subjects, outcomes, every EDC form (typed) and the truth.

The profile's ``model`` picks the disease model: ``leukaemia_efs`` (this module with subjects.py,
outcomes.py, records.py, adverse_events.py: relapsed leukaemia, marrow and MRD assessments, EFS) or
``recist_pfs`` (recist.py: a solid tumour assessed by RECIST 1.1, PFS and OS, its forms filled as the
profile's ``forms`` say).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialkit.simulate import records
from trialkit.simulate.adverse_events import adverse_events
from trialkit.simulate.form_sources import typed_forms
from trialkit.simulate.outcomes import draw_outcomes
from trialkit.simulate.profile import Profile
from trialkit.simulate.recist import simulate_records
from trialkit.simulate.recist_profile import RecistProfile
from trialkit.simulate.recist_truth import recist_truth
from trialkit.simulate.subjects import draw_subjects
from trialkit.simulate.truth import subject_truth


@dataclass(frozen=True)
class SimulatedStudy:
    profile: Profile | RecistProfile
    seed: int
    subjects: pd.DataFrame           # one row per subject: baseline and latent outcomes
    forms: dict[str, pd.DataFrame]   # typed records per EDC form, ``_i`` = subject row
    truth: pd.DataFrame              # what a correct analysis must find at the cut-off


def streams(seed: int, count: int) -> list[np.random.Generator]:
    """Independent random streams from one seed, so that adding a draw in one part of the simulator
    (or turning on dirt) never shifts the numbers of another."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def simulate_study(profile: Profile | RecistProfile, subjects: int, seed: int) -> SimulatedStudy:
    """The study ``profile`` describes, with ``subjects`` subjects, from ``seed``."""
    return MODELS[profile.model](profile, subjects, seed)


def simulate_recist(profile: RecistProfile, subjects: int, seed: int) -> SimulatedStudy:
    s, records = simulate_records(profile, subjects, streams(seed, 7))
    return SimulatedStudy(profile=profile, seed=seed, subjects=s, forms=typed_forms(profile.forms, records),
                          truth=recist_truth(profile, s, records))


def simulate_leukaemia(profile: Profile, subjects: int, seed: int) -> SimulatedStudy:
    (r_base, r_outcome, r_visit, r_bm, r_mrd, r_ex, r_fu, r_ae, r_cm) = streams(seed, 9)
    base = draw_subjects(profile, subjects, r_base)
    s = pd.concat([base, draw_outcomes(profile, base, r_outcome)], axis=1)
    visits = records.scheduled_visits(profile, s, r_visit)
    forms = {
        "enrol": records.enrolment(s),
        "dm": records.demographics(s),
        "dh": records.disease_history(s),
        "bm": records.marrow_assessments(s, visits, r_bm),
        "mrd": records.mrd_results(profile, s, visits, r_mrd),
        "relapse": records.relapses(s),
        "ex_blin": records.exposure_blinatumomab(profile, s, r_ex),
        "ex_hc3": records.exposure_hc3(profile, s),
        "eot": records.treatment_status(s),
        "hsct": records.transplants(s),
        "death": records.deaths(s),
        "survfu": records.survival_contacts(profile, s, r_fu),
        "eos": records.end_of_study(s),
        "cm": records.subsequent_therapy(s, r_cm),
        "smn": records.second_malignancies(s),
        "ae": adverse_events(profile, s, r_ae),
    }
    truth = subject_truth(profile.study.studyid, np.datetime64(profile.dates.data_cutoff, "D"), s, forms)
    return SimulatedStudy(profile=profile, seed=seed, subjects=s, forms=forms, truth=truth)


MODELS = {"leukaemia_efs": simulate_leukaemia, "recist_pfs": simulate_recist}
