"""The profile of a study simulated with the ``recist_pfs`` model (simulate/recist.py).

A randomized solid-tumour trial: tumour assessments by RECIST 1.1 on a fixed schedule until
progression, treatment in cycles until progression, toxicity, death or loss to follow-up, adverse
events while treated, survival follow-up after treatment. Every number lives here, and so does
every name the EDC uses: the arms' and the baseline values' codes, the visit codes, the regimens,
and under ``forms`` which simulated records each raw form holds and which record variable fills
each of its fields (with the EDC's codes for the model's outcomes). The model itself knows no form,
field or study. Checked as strictly as the leukaemia profile (simulate/profile.py): an unknown key,
a probability outside [0, 1] or a distribution that does not sum to 1 is a SpecError naming the key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trialkit.simulate.profile import (
    Dates,
    DayRange,
    Dist,
    KeyedValueError,
    PositiveRate,
    Prob,
    Rate,
    SocCodes,
    Strict,
    Study,
    check_soc_codes,
)

# what the model simulates: record kind -> the variables a form field can take from it
RECORDS = {
    "subjects": ("country", "randomization_number", "consent_date", "randomization_date", "arm", "age",
                 "diagnosis_date"),                         # + the baseline values and the site's values
    "assessments": ("visit", "date", "target", "non_target", "new_lesions", "overall"),
    "doses": ("cycle", "date", "agent", "dose", "unit"),
    "treatment_end": ("date", "reason"),
    "adverse_events": ("number", "verbatim", "term", "soc", "soc_code", "start", "end", "grade", "serious", "life_threatening",
                       "hospitalization", "relationship", "action", "outcome"),
    "deaths": ("date", "cause"),
    "contacts": ("date", "status"),
    "study_end": ("date", "reason"),
}
# the model's own words for outcomes, which a form's `codes` turn into the EDC's
OUTCOMES = {
    ("treatment_end", "reason"): ("PROGRESSION", "DEATH", "TOXICITY", "LOST"),
    ("adverse_events", "outcome"): ("RESOLVED", "NOT RESOLVED"),
    ("adverse_events", "serious"): ("Y", "N"),
    ("adverse_events", "life_threatening"): ("Y", "N"),     # seriousness criteria: empty when not serious
    ("adverse_events", "hospitalization"): ("Y", "N"),
    ("deaths", "cause"): ("PROGRESSION", "OTHER"),
    ("contacts", "status"): ("ALIVE", "DEAD"),
    ("study_end", "reason"): ("DEATH", "LOST"),
    ("assessments", "new_lesions"): ("Y", "N"),
    ("assessments", "target"): ("CR", "PR", "SD", "PD", "NE"),            # RECIST 1.1
    ("assessments", "non_target"): ("CR", "NON-CR/NON-PD", "PD", "NE", "NONE"),
    ("assessments", "overall"): ("CR", "PR", "SD", "PD", "NE"),
}


class Arm(Strict):
    label: str
    weight: PositiveRate


class Site(Strict):
    siteid: str = Field(pattern=r"^[A-Za-z0-9-]{1,10}$")
    country: str = Field(pattern=r"^[A-Z]{3}$")
    weight: PositiveRate
    values: dict[str, str] = Field(default_factory=dict)   # shared by the site's subjects, e.g. {region: EUR}


class Population(Strict):
    age_years: DayRange                                     # whole years, uniform
    days_consent_before_randomization: DayRange
    days_diagnosis_before_randomization: DayRange
    randomization_number_start: int = Field(ge=0)
    baseline: dict[str, Dist]                               # name -> {code: probability}, one draw per subject


class Progression(Strict):
    median_days: dict[str, PositiveRate]                    # by arm: exponential time to progression
    earliest_day: int = Field(ge=0)
    hazard_ratio: dict[str, dict[str, PositiveRate]] = Field(default_factory=dict)   # baseline name -> {code: HR}
    death_before_progression: Prob                          # dies at the drawn time instead of progressing
    death_after_progression_median_days: PositiveRate
    lost_to_follow_up: Prob
    lost_days: DayRange


class Response(Strict):
    responders: dict[str, Prob]                             # by arm: best response PR or CR
    complete_among_responders: Prob
    partial_from_assessment: int = Field(ge=1)              # the first assessment a responder can be PR at
    complete_from_assessment: int = Field(ge=1)
    not_evaluable: Prob


class Unscheduled(Strict):
    probability: Prob                                       # after an SD or PR assessment
    days_after: int = Field(gt=0)
    visit: str


class Assessments(Strict):
    every_days: int = Field(gt=0)
    window_days: int = Field(ge=0)
    visits: list[str] = Field(min_length=1)                 # the scheduled visits' codes, in order
    missed: Prob
    unscheduled: Unscheduled
    no_non_target_lesions: Prob                             # share of SD / PR assessments with non-target NONE
    progression_by_new_lesion: Prob                         # share of progressions seen as a new lesion


class Regimen(Strict):
    agent: str
    doses: Dist                                             # dose as written -> probability, per infusion
    unit: str


class Treatment(Strict):
    not_treated: Prob
    first_dose_day: DayRange
    cycle_days: int = Field(gt=0)
    delay_days: DayRange
    toxicity_stop: Prob
    toxicity_days: DayRange
    regimens: dict[str, Regimen]                            # by arm


class AeTerm(Strict):
    verbatim: str
    term: str
    soc: str
    weight: PositiveRate = 1.0


class AdverseEvents(Strict):
    per_subject_mean: Rate
    days_after_last_dose: int = Field(ge=0)
    duration_days: DayRange
    grades: Dist
    serious_from_grade: int
    serious: Prob
    life_threatening_from_grade: int = 4                    # a serious event's criterion: life-threatening from this
                                                            # CTCAE grade, else (inpatient) hospitalization
    relationship: Dist
    action: Dist
    action_stopping_treatment: str
    stopping_event_days_before: int = Field(ge=0)           # the event that stops treatment for toxicity
    terms: list[AeTerm] = Field(min_length=1)
    soc_codes: SocCodes

    @model_validator(mode="after")
    def _coded(self) -> AdverseEvents:
        check_soc_codes([t.soc for t in self.terms], self.soc_codes)
        return self


class FollowUp(Strict):
    every_days: int = Field(gt=0)
    window_days: int = Field(ge=0)
    end_of_study_after_loss_days: int = Field(ge=0)         # the end-of-study record of a subject lost


class Analysis(Strict):
    """What the truth applies the study's PFS definition with."""
    adequate: list[str] = Field(default_factory=lambda: ["CR", "PR", "SD"])
    pfs_max_gap_days: int = Field(gt=0)                     # an event after a longer gap is censored


class FieldSource(Strict):
    source: str = Field(alias="from")
    codes: dict[str, str] = Field(default_factory=dict)     # model value -> the EDC's code


class FormSource(Strict):
    records: Literal[tuple(RECORDS)]
    fields: dict[str, str | FieldSource]


class RecistProfile(Strict):
    model: Literal["recist_pfs"]
    study: Study
    dates: Dates
    arms: dict[str, Arm]
    sites: list[Site] = Field(min_length=1)
    population: Population
    progression: Progression
    response: Response
    assessments: Assessments
    treatment: Treatment
    adverse_events: AdverseEvents
    follow_up: FollowUp
    analysis: Analysis
    duplicable_forms: list[str] = Field(default_factory=list)
    forms: dict[str, FormSource]

    @model_validator(mode="after")
    def _consistent(self) -> RecistProfile:
        arms = set(self.arms)
        for key, table in (("progression.median_days", self.progression.median_days),
                           ("response.responders", self.response.responders), ("treatment.regimens", self.treatment.regimens)):
            if set(table) != arms:
                raise KeyedValueError(key, f"names arms {sorted(table)}, expected {sorted(arms)}")
        for name, levels in self.progression.hazard_ratio.items():
            if name not in self.population.baseline:
                raise KeyedValueError(f"progression.hazard_ratio.{name}", "is not a value of population.baseline")
            unknown = set(levels) - set(self.population.baseline[name])
            if unknown:
                raise KeyedValueError(f"progression.hazard_ratio.{name}", f"codes {sorted(unknown)} are not drawn")
        subject_values = set(RECORDS["subjects"]) | set(self.population.baseline) | {
            k for site in self.sites for k in site.values}
        for form, src in self.forms.items():
            allowed = subject_values if src.records == "subjects" else set(RECORDS[src.records])
            for field, value in src.fields.items():
                name = value if isinstance(value, str) else value.source
                if name not in allowed:
                    raise KeyedValueError(f"forms.{form}.fields.{field}",
                                          f"{src.records} records have no {name}; they have {', '.join(sorted(allowed))}")
                words = OUTCOMES.get((src.records, name))
                if words and not isinstance(value, str) and set(value.codes) - set(words):
                    raise KeyedValueError(f"forms.{form}.fields.{field}.codes", f"the model says {', '.join(words)}")
        return self
