"""The calibration profile of a simulated study (specs/studies/<study>/profile.yaml).

The profile is the single place where the simulator's numbers live. It is checked strictly when it is
loaded: an unknown key (a typo that would silently fall back to a default), a negative rate, a
probability outside [0, 1] or a distribution that does not sum to 1 is a SpecError naming the file
and the dotted key, before anything is simulated.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from trialkit.display import show
from trialkit.errors import SpecError
from trialkit.spec import load_yaml, shipped_studies, study_dir

SUM_TOLERANCE = 1e-6


class KeyedValueError(ValueError):
    """A cross-field check that knows which key (relative to the model it checks) is at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _sums_to_one(dist: dict) -> dict:
    total = sum(dist.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"probabilities sum to {total:.6g}, expected 1")
    return dist


def _positive_total(weights: dict) -> dict:
    if sum(weights.values()) <= 0:
        raise ValueError("weights sum to 0; at least one must be positive")
    return weights


def _ordered_pair(pair: tuple) -> tuple:
    if pair[0] > pair[1]:
        raise ValueError(f"range [{pair[0]}, {pair[1]}] has its bounds in the wrong order")
    return pair


Prob = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0)]
PositiveRate = Annotated[float, Field(gt=0.0)]
Dist = Annotated[dict[str, Prob], AfterValidator(_sums_to_one)]
Weights = Annotated[dict[str, Rate], AfterValidator(_positive_total)]
DayRange = Annotated[tuple[int, int], AfterValidator(_ordered_pair)]
RealRange = Annotated[tuple[float, float], AfterValidator(_ordered_pair)]
MrdGroup = Literal["LOW", "HIGH"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Study(Strict):
    studyid: str = Field(pattern=r"^[A-Z0-9]{1,20}$")
    title: str
    default_subjects: int = Field(gt=0)
    demo_seed: int = Field(ge=0)


class Dates(Strict):
    enrolment_start: dt.date
    enrolment_end: dt.date
    data_cutoff: dt.date
    export_lag_days: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Dates":
        if not self.enrolment_start <= self.enrolment_end <= self.data_cutoff:
            raise KeyedValueError("data_cutoff", "expected enrolment_start <= enrolment_end <= data_cutoff")
        return self


class Arm(Strict):
    label: str
    weight: PositiveRate


class Population(Strict):
    age_quantiles_years: dict[float, Annotated[float, Field(gt=0.0, lt=18.0)]]
    female: Prob
    race: Dist
    ethnic: Dist
    marrow_mrd_stratum: dict[str, Dist]
    baseline_mrd_not_evaluable: Prob
    mrd_undetectable_in_low_stratum: Prob
    very_early_relapse: Prob
    extramedullary_at_relapse: Prob
    months_diagnosis_to_relapse: dict[Literal["very_early", "later"], RealRange]
    days_relapse_to_randomization: DayRange
    days_consent_before_randomization: DayRange
    birth_date_month_only: Prob

    @model_validator(mode="after")
    def _quantile_function(self) -> "Population":
        probs = sorted(self.age_quantiles_years)
        if probs[0] != 0.0 or probs[-1] != 1.0:
            raise KeyedValueError("age_quantiles_years", "must give the ages at probabilities 0.0 and 1.0")
        ages = [self.age_quantiles_years[p] for p in probs]
        if any(b < a for a, b in zip(ages, ages[1:])):
            raise KeyedValueError("age_quantiles_years", "ages must not decrease")
        for arm, dist in self.marrow_mrd_stratum.items():
            if set(dist) != {"M1_MRD_LT1E-3", "M1_MRD_GE1E-3", "M2"}:
                raise KeyedValueError(f"marrow_mrd_stratum.{arm}", "needs exactly M1_MRD_LT1E-3, M1_MRD_GE1E-3 and M2")
        return self


class Country(Strict):
    country: str = Field(pattern=r"^[A-Z]{3}$")
    n: int = Field(gt=0, lt=100)
    weight: PositiveRate
    date_format: Literal["%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d-%m-%Y"]
    decimal: Literal[".", ","]


class Blinatumomab(Strict):
    dose: PositiveRate
    unit: str
    days: int = Field(gt=0)
    interruption: Prob
    interruption_days: DayRange


class ChemoAgent(Strict):
    agent: str
    dose: PositiveRate
    unit: str
    route: str
    frequency: str
    days: DayRange


class Treatment(Strict):
    treated: dict[str, Prob]
    days_randomization_to_start: DayRange
    not_treated_reasons: Dist
    blinatumomab: Blinatumomab
    hc3: list[ChemoAgent]
    end_of_treatment_day: int = Field(gt=0)
    end_of_treatment_visit: str


class MrdResponse(Strict):
    remission: dict[str, dict[MrdGroup, Prob]]
    reached_by_day15: Prob
    day15_visit: str
    method: Annotated[dict[Literal["PCR", "FLOW"], Prob], AfterValidator(_sums_to_one)]
    detection_limit: dict[Literal["PCR", "FLOW"], Annotated[float, Field(gt=0.0, lt=1.0)]]
    positive_not_quantifiable: Prob


class Events(Strict):
    failure_to_reach_cr: dict[Literal["M1", "M2"], Prob]
    death_before_end_of_treatment: Prob
    efs_4y_hc3: dict[MrdGroup, Annotated[float, Field(gt=0.0, lt=1.0)]]
    efs_hr_blin: dict[MrdGroup, PositiveRate]
    hazard_breaks_months: list[PositiveRate]
    hazard_share: dict[str, list[Prob]]
    hazard_after_48_months: Rate
    event_type_before_24_months: dict[str, Annotated[dict[Literal["RELAPSE", "DEATH", "SECOND_MALIGNANCY"], Prob], AfterValidator(_sums_to_one)]]
    relapse_type: dict[str, Annotated[dict[Literal["ISOLATED_MARROW", "M2_AFTER_CR", "COMBINED_MARROW_CNS", "ISOLATED_CNS", "ISOLATED_TESTIS", "ISOLATED_OTHER_EM"], Prob], AfterValidator(_sums_to_one)]]
    cd19_negative_relapse: dict[str, Prob]
    second_malignancy_types: Dist
    death_after_relapse: dict[str, dict[MrdGroup, Prob]]
    months_to_death_after_relapse: dict[str, PositiveRate]
    death_after_second_malignancy: Prob
    death_causes_without_relapse: Dist
    lost_to_follow_up_per_year: Rate
    car_t_after_relapse: dict[str, Prob]
    salvage_chemotherapy_after_relapse: Prob

    @model_validator(mode="after")
    def _hazard_shape(self) -> "Events":
        breaks = self.hazard_breaks_months
        if any(b <= a for a, b in zip(breaks, breaks[1:])):
            raise KeyedValueError("hazard_breaks_months", "must increase")
        if breaks[-1] != 48:
            raise KeyedValueError("hazard_breaks_months", "must end at 48 (the 4-year calibration point)")
        for arm, shares in self.hazard_share.items():
            if len(shares) != len(breaks) - 1:
                raise KeyedValueError(f"hazard_share.{arm}", f"needs {len(breaks) - 1} values, one per interval of hazard_breaks_months")
            try:
                _sums_to_one(dict(enumerate(shares)))
            except ValueError as exc:
                raise KeyedValueError(f"hazard_share.{arm}", str(exc)) from None
        return self


class Transplant(Strict):
    in_cr2: dict[str, Prob]
    median_days: dict[str, PositiveRate]
    log_sd: Rate
    donor: Dist
    source: Dist


class Visit(Strict):
    visit: str = Field(pattern=r"^[A-Z0-9_]{1,20}$")
    label: str
    anchor: Literal["randomization", "treatment_start"]
    day: int
    window: int = Field(ge=0)
    marrow: bool
    mrd: bool


class SpecialAe(Strict):
    probability: Prob
    grades: Annotated[dict[int, Prob], AfterValidator(_sums_to_one)]


class NeuroRisk(Strict):
    probability: Prob
    grade_3_plus: Prob


class AeTerm(Strict):
    pt: str
    soc: str
    verbatim: list[str] = Field(min_length=1)
    low: dict[str, Rate] | Rate = 0.0
    high: dict[str, Rate] | Rate = 0.0


SocCodes = dict[str, int]    # MedDRA system organ class -> its code, as the EDC's coding export carries it


def check_soc_codes(socs, codes: SocCodes) -> None:
    """Every system organ class the terms name has its MedDRA code in ``soc_codes``."""
    missing = sorted(set(socs) - set(codes))
    if missing:
        raise KeyedValueError("soc_codes", f"no MedDRA code for {', '.join(missing)}")


class AdverseEvents(Strict):
    window_days: int = Field(gt=0)
    any_grade_3_plus: dict[str, Prob]
    extra_grade_3_plus_mean: dict[str, Rate]
    grade_1_2_mean: dict[str, Rate]
    grade_1_2: Annotated[dict[Literal[1, 2], Prob], AfterValidator(_sums_to_one)]
    grade_3_plus: Annotated[dict[Literal[3, 4, 5], Prob], AfterValidator(_sums_to_one)]
    serious_by_grade: dict[Literal[1, 2, 3, 4, 5], Prob]
    related: dict[str, Prob]
    duration_days: DayRange
    ongoing_at_export: Prob
    start_day_month_only: Prob
    cytokine_release_syndrome: dict[str, SpecialAe]
    neurologic: dict[str, NeuroRisk]
    terms: list[AeTerm] = Field(min_length=1)
    cytokine_release_syndrome_term: AeTerm
    neurologic_terms: list[AeTerm] = Field(min_length=1)
    soc_codes: SocCodes

    @model_validator(mode="after")
    def _coded(self) -> AdverseEvents:
        check_soc_codes([t.soc for t in (*self.terms, *self.neurologic_terms, self.cytokine_release_syndrome_term)],
                        self.soc_codes)
        return self


class Targets(Strict):
    efs_hr: PositiveRate
    os_hr: PositiveRate
    efs_4y: dict[str, Prob]
    os_4y: dict[str, Prob]
    mrd_remission: dict[str, dict[MrdGroup, Prob]]
    grade_3_plus_ae: dict[str, Prob]
    allohsct_in_cr2: dict[str, Prob]


class Profile(Strict):
    """The ``leukaemia_efs`` model's profile (simulate/study.py: relapsed leukaemia, marrow and MRD
    assessments, event-free survival)."""
    model: Literal["leukaemia_efs"]
    study: Study
    dates: Dates
    arms: dict[Literal["BLIN", "HC3"], Arm]
    population: Population
    sites: list[Country] = Field(min_length=1)
    treatment: Treatment
    mrd_response: MrdResponse
    events: Events
    transplant: Transplant
    visits: list[Visit] = Field(min_length=1)
    missed_assessment: Prob
    survival_contact_every_days: int = Field(gt=0)
    adverse_events: AdverseEvents
    targets: Targets
    duplicable_forms: list[str] = Field(default_factory=list)   # forms --duplicate-rate exports some records of twice

    @model_validator(mode="after")
    def _every_arm_everywhere(self) -> "Profile":
        """Each per-arm table must name exactly the arms of the study: a missing arm is a KeyError later."""
        arms = set(self.arms)
        per_arm = {
            "population.marrow_mrd_stratum": self.population.marrow_mrd_stratum,
            "treatment.treated": self.treatment.treated,
            "mrd_response.remission": self.mrd_response.remission,
            "events.hazard_share": self.events.hazard_share,
            "events.event_type_before_24_months": self.events.event_type_before_24_months,
            "events.relapse_type": self.events.relapse_type,
            "events.cd19_negative_relapse": self.events.cd19_negative_relapse,
            "events.death_after_relapse": self.events.death_after_relapse,
            "events.months_to_death_after_relapse": self.events.months_to_death_after_relapse,
            "events.car_t_after_relapse": self.events.car_t_after_relapse,
            "transplant.in_cr2": self.transplant.in_cr2,
            "transplant.median_days": self.transplant.median_days,
            "adverse_events.any_grade_3_plus": self.adverse_events.any_grade_3_plus,
            "adverse_events.extra_grade_3_plus_mean": self.adverse_events.extra_grade_3_plus_mean,
            "adverse_events.grade_1_2_mean": self.adverse_events.grade_1_2_mean,
            "adverse_events.related": self.adverse_events.related,
            "adverse_events.cytokine_release_syndrome": self.adverse_events.cytokine_release_syndrome,
            "adverse_events.neurologic": self.adverse_events.neurologic,
        }
        for key, table in per_arm.items():
            if set(table) != arms:
                raise KeyedValueError(key, f"names arms {sorted(table)}, expected {sorted(arms)}")
        for k, term in enumerate(self.adverse_events.terms):
            for side in ("low", "high"):
                weights = getattr(term, side)
                if isinstance(weights, dict) and set(weights) != arms:
                    raise KeyedValueError(f"adverse_events.terms.{k}.{side}", f"({term.pt}) names arms {sorted(weights)}, expected {sorted(arms)}")
        visits = [v.visit for v in self.visits]
        if len(set(visits)) != len(visits):
            raise KeyedValueError("visits", "duplicate visit code")
        for key, code in (("treatment.end_of_treatment_visit", self.treatment.end_of_treatment_visit),
                          ("mrd_response.day15_visit", self.mrd_response.day15_visit)):
            if code not in visits:
                raise KeyedValueError(key, f"names visit {code!r}, which is not in visits")
        return self


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith(("function-", "tuple[", "dict[")))


def model_schemas() -> dict[str, type[Strict]]:
    """The simulator's models by the name a profile gives under ``model:``, with their profile schema."""
    from trialkit.simulate.recist_profile import RecistProfile

    return {"leukaemia_efs": Profile, "recist_pfs": RecistProfile}


def parse_profile(data: object, *, source: str = "<profile>") -> Profile:
    """Check a profile mapping against its model's schema; the first problem becomes a SpecError
    naming the key."""
    models = model_schemas()
    if not isinstance(data, dict):
        raise SpecError(f"expected a mapping, got {type(data).__name__}", file=source, key="(top level)")
    model = data.get("model")
    if model not in models:
        raise SpecError(f"{f'unknown model {model}' if model else 'required key is missing'}; the simulator's "
                        f"models: {', '.join(models)}", file=source, key="model")
    try:
        return models[model].model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key first: a misspelt key also makes its correct spelling "missing"
        err = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        key = _dotted(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedValueError):
            key = f"{key}.{cause.key}" if key else cause.key
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] in ("model_type", "dict_type"):
            message = f"expected a mapping, got {type(err['input']).__name__}"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if not isinstance(err.get("input"), (dict, list)) and err["type"] != "value_error":
                message += f" (got {show(err['input'])})"
        extra = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise SpecError(message + extra, file=source, key=key or "(top level)") from None


def shipped_models() -> dict[str, str]:
    """Shipped study -> the model its profile.yaml names, for the studies that have one."""
    out = {}
    for name in shipped_studies():
        path = study_dir(name) / "profile.yaml"
        if path.is_file():
            out[name] = str((load_yaml(path) or {}).get("model", ""))
    return out


def load_profile(study: str | Path) -> Profile:
    """Load and check ``profile.yaml`` of a study (a shipped study name or a folder)."""
    path = study_dir(study) / "profile.yaml"
    if not path.is_file():
        shipped = ", ".join(f"{name} ({model})" for name, model in shipped_models().items())
        raise SpecError("the study has no profile.yaml, so it cannot be simulated: copy the profile.yaml of the shipped "
                        f"study whose model fits it ({shipped or 'none shipped'}) into the folder and adjust it "
                        "(docs/new-study.md, 'Simulating the study')", file=str(path))
    return parse_profile(load_yaml(path), source=str(path))
