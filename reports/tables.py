"""The report's tables, computed from the ADaM datasets by the shells of a study's report.yaml.

One builder per shell type; each takes the shell and the analysis data and returns a formatted
``Table``. The statistics come from reports.stats (lifelines, statsmodels); this module selects the
records, counts subjects and formats: n (%) with whole percentages, HR and CIs to 2 decimals, rates
as the publication prints them ("91 (80-97)"), p as "<0.001" or 3 decimals, "NE" where a statistic is
not evaluable (reports.stats documents when).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from trialkit.errors import InputError
from trialkit.expressions import parse
from trialkit.reports.figures import landmark_name
from trialkit.reports.stats import clopper_pearson, cox_hr, format_ci, format_p, km_by_group, stratified_logrank
from trialkit.reports.table import Row, Table
from trialkit.reports.tlf import Population, ReportSpec, Shell, value_key

ARM = "ARM_"          # the arm label column added to every analysis frame (categorical, in column order)


@dataclass
class Analysis:
    """The ADaM datasets of one run (dates as datetime64) and the report spec that reads them."""

    spec: ReportSpec
    datasets: dict[str, pd.DataFrame]
    _subjects: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)   # by population name

    def dataset(self, name: str) -> pd.DataFrame:
        if name not in self.datasets:
            raise InputError(f"the report needs {name}, which is not in the ADaM folder", file=f"{name.lower()}.xpt")
        return self.datasets[name]

    def subjects(self, population: Population) -> pd.DataFrame:
        """ADSL of the population with the arm label in ARM_; a subject of the population whose arm
        variable has no arm is an InputError (counts would silently lose it). Computed once per
        population: every table asks for it several times (N per arm, headers, records)."""
        if population.name not in self._subjects:
            self._subjects[population.name] = self._select(population)
        return self._subjects[population.name]

    def _select(self, population: Population) -> pd.DataFrame:
        adsl = self.dataset("ADSL")
        if population.arm.variable not in adsl:
            raise InputError(f"population {population.name}: the arm variable is not in ADSL", file="adsl.xpt",
                             column=population.arm.variable)
        rows = adsl[population.where.evaluate(adsl).to_numpy()].copy()
        arm = rows[population.arm.variable].map(value_key).map(population.arm.levels)
        if arm.isna().any():
            bad = rows.loc[arm.isna(), ["USUBJID", population.arm.variable]].head(3).to_dict("records")
            raise InputError(f"population {population.name}: {int(arm.isna().sum())} subject(s) without an arm, e.g. {bad}",
                             file="adsl.xpt", column=population.arm.variable)
        rows[ARM] = pd.Categorical(arm, categories=list(self.spec.arms))
        return rows

    def records(self, name: str, population: Population) -> pd.DataFrame:
        """Records of ``name`` for the population's subjects, with their arm (from ADSL)."""
        subjects = self.subjects(population)[["USUBJID", ARM]]
        data = self.dataset(name)
        return data.drop(columns=[ARM], errors="ignore").merge(subjects, on="USUBJID", how="inner")

    def n_pct(self, n: int, total: int) -> str:
        return n_pct(n, total, self.spec.percent_decimals)

    @property
    def cutoff(self) -> str:
        """The data cut-off (ADSL.DCUTDT) as YYYY-MM-DD, '' when ADSL has none."""
        adsl = self.dataset("ADSL")
        dates = adsl["DCUTDT"].dropna() if "DCUTDT" in adsl else pd.Series(dtype="datetime64[ns]")
        return dates.iloc[0].strftime("%Y-%m-%d") if len(dates) else ""

    def arm_n(self, population: Population) -> pd.Series:
        return _counts_by_arm(self.subjects(population), self.spec.arms)

    def arm_columns(self, population: Population, total: bool = False) -> tuple[str, ...]:
        n = self.arm_n(population)
        columns = [f"{arm} (N = {n[arm]})" for arm in self.spec.arms]
        return tuple(columns + [f"Total (N = {n.sum()})"] if total else columns)


# ---- formatting -----------------------------------------------------------------------------------
def n_pct(n: int, total: int, decimals: int = 0) -> str:
    """"17 (31%)": a count with its percentage of ``total``; "0" alone when there is nothing to count."""
    return f"{n} ({100 * n / total:.{decimals}f}%)" if n and total else "0"


def hr_cell(hr) -> str:
    return f"{hr.hr:.2f} ({format_ci(hr.lower, hr.upper)})" if hr.evaluable else "NE"


def rate_cell(p) -> str:
    """The publication's style: "91 (80-97)" for 49/54, with the counts after it."""
    if not p.evaluable:
        return "NE"
    return f"{100 * p.rate:.0f} ({100 * p.lower:.0f}-{100 * p.upper:.0f}); {p.successes}/{p.n}"


def landmark_cell(km, months: float) -> str:
    if km is None:
        return "NE"
    row = km.at_times.loc[float(months)]
    return "NE" if math.isnan(row["surv"]) else f"{100 * row['surv']:.0f}% ({100 * row['lower']:.0f}-{100 * row['upper']:.0f})"


def parameter_labels(parameters) -> dict[str, str]:
    """A shell lists parameters as [EFS, OS] (labels from PARAM) or as {EFS: Event-free survival}."""
    return {str(k): str(v) for k, v in parameters.items()} if isinstance(parameters, dict) else {str(p): "" for p in parameters}


def tte_records(adtte: pd.DataFrame, paramcd: str, shell: Shell) -> pd.DataFrame:
    data = adtte[adtte["PARAMCD"] == paramcd]
    if data.empty:
        raise InputError(f"{shell.key}: no ADTTE records with PARAMCD {paramcd}", file="adtte.xpt", column="PARAMCD")
    return data


def _est(value: float, digits: int = 1) -> str:
    return "NE" if math.isnan(value) else f"{value:.{digits}f}"


def _where(frame: pd.DataFrame, text: str | None) -> pd.DataFrame:
    return frame if not text else frame[parse(text).evaluate(frame).to_numpy()]


def _counts_by_arm(frame: pd.DataFrame, arms) -> pd.Series:
    """Subjects (distinct USUBJID) per arm."""
    return frame.drop_duplicates("USUBJID")[ARM].value_counts().reindex(list(arms), fill_value=0)


def _source(shell: Shell, analysis: Analysis) -> str:
    return f"{analysis.spec.path.name}:{shell.key} ({shell.type}); trialkit.reports.tables"


def _table(shell: Shell, analysis: Analysis, columns, rows, *, stub: str = "", spanners=(), extra_footnotes=()) -> Table:
    cutoff = (f"Data cut-off: {analysis.cutoff}.",) if analysis.cutoff else ()
    return Table(shell.id, shell.title, tuple(columns), tuple(rows), stub=stub, spanners=tuple(spanners),
                 footnotes=(*shell.footnotes, *extra_footnotes, *cutoff), source=_source(shell, analysis),
                 population=shell.population.label)


# ---- Table 1: outcomes by subgroup ---------------------------------------------------------------
def outcomes_by_subgroup(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    subjects = analysis.subjects(pop)
    treatment = next(a for a in spec.arms if a != spec.reference)
    adtte = analysis.records("ADTTE", pop)
    response = body.get("response")
    rs = analysis.records(response["dataset"], pop) if response else None
    rows = []
    for group in body["subgroups"]:
        ids = set(_where(subjects, group.get("where"))["USUBJID"])
        n = _counts_by_arm(subjects[subjects["USUBJID"].isin(ids)], spec.arms)
        cells = [str(n[a]) for a in spec.arms]
        for paramcd in body.get("hazard_ratios") or []:
            data = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].isin(ids)]
            cells.append(hr_cell(cox_hr(data, ARM, spec.reference, ties=body.get("ties", "efron"))))
        if response:
            records = rs[(rs["PARAMCD"] == response["paramcd"]) & rs["USUBJID"].isin(ids)]
            evaluable = _where(records, response["evaluable"])
            success = _where(evaluable, response["success"])
            for arm in spec.arms:
                cells.append(rate_cell(clopper_pearson(_counts_by_arm(success, spec.arms)[arm],
                                                       _counts_by_arm(evaluable, spec.arms)[arm])))
        rows.append(Row(str(group["label"]), tuple(cells)))
    hrs = body.get("hazard_ratios") or []
    columns = [*spec.arms, *hrs, *(spec.arms if response else ())]
    spanners = [("n", 2)] + ([(f"HR {treatment} vs {spec.reference} (95% CI)", len(hrs))] if hrs else [])
    if response:
        spanners.append((f"{response.get('label', response['paramcd'])}, % (95% CI); n/N", 2))
    return _table(shell, analysis, columns, rows, stub="Subgroup", spanners=spanners)


# ---- Table 2: time-to-event summary ---------------------------------------------------------------
def tte_summary(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    adtte = analysis.records("ADTTE", pop)
    landmark = body.get("landmark")
    strata = body.get("strata") or None
    rows = []
    for paramcd, label in parameter_labels(body["parameters"]).items():
        data = tte_records(adtte, paramcd, shell)
        n = _counts_by_arm(data, spec.arms)
        rows.append(Row(label or str(data["PARAM"].iloc[0]) if "PARAM" in data else paramcd, header=True))
        events = data[data["CNSR"] == 0]
        rows.append(Row("Subjects with an event", tuple(analysis.n_pct(_counts_by_arm(events, spec.arms)[a], n[a]) for a in spec.arms)))
        labels = body.get("event_labels") or {}
        for desc in sorted(events["EVNTDESC"].unique()):
            k = _counts_by_arm(events[events["EVNTDESC"] == desc], spec.arms)
            rows.append(Row(str(labels.get(desc, desc)), tuple(analysis.n_pct(k[a], n[a]) for a in spec.arms), indent=1))
        censored = _counts_by_arm(data[data["CNSR"] != 0], spec.arms)
        rows.append(Row("Censored", tuple(analysis.n_pct(censored[a], n[a]) for a in spec.arms)))
        times = [0.0, float(landmark)] if landmark else None
        km = km_by_group(data, ARM, times=times, scale=spec.months)
        rows.append(Row("Median, months (95% CI)", tuple(
            f"{_est(km[a].median.value)} ({_est(km[a].median.lower)}-{_est(km[a].median.upper)})" if a in km else "NE"
            for a in spec.arms)))
        if landmark:
            rows.append(Row(f"{landmark_name(landmark)} estimate (95% CI)",
                            tuple(landmark_cell(km.get(a), landmark) for a in spec.arms)))
        hr = cox_hr(data, ARM, spec.reference, strata=strata, ties=body.get("ties", "efron"))
        test = stratified_logrank(data, ARM, strata)
        name = "Stratified HR" if strata else "HR"
        rows.append(Row(f"{name} (95% CI)", tuple(hr_cell(hr) if a != spec.reference else "Reference" for a in spec.arms)))
        rows.append(Row(f"{'Stratified log-rank' if strata else 'Log-rank'} p",
                        tuple(format_p(test.p) if a != spec.reference else "" for a in spec.arms)))
    return _table(shell, analysis, analysis.arm_columns(pop), rows)


# ---- Table 3: baseline characteristics -----------------------------------------------------------
def characteristics(shell: Shell, analysis: Analysis) -> Table:
    spec, pop = analysis.spec, shell.population
    subjects = analysis.subjects(pop)
    n = analysis.arm_n(pop)
    groups = [*((a, subjects[subjects[ARM] == a]) for a in spec.arms), ("Total", subjects)]
    totals = [*(n[a] for a in spec.arms), int(n.sum())]
    rows = []
    for item in shell.body["rows"]:
        variable = item["variable"]
        if variable not in subjects:
            raise InputError(f"{shell.key}: variable not in ADSL", file="adsl.xpt", column=variable)
        rows.append(Row(str(item.get("label", variable)), header=True))
        if item.get("summary") == "continuous":
            values = [pd.to_numeric(g[variable], errors="coerce").dropna() for _, g in groups]
            rows.append(Row("Median (Q1-Q3)", tuple(
                f"{v.median():.1f} ({v.quantile(0.25):.1f}-{v.quantile(0.75):.1f})" if len(v) else "NE" for v in values), indent=1))
            rows.append(Row("Min-max", tuple(f"{v.min():g}-{v.max():g}" if len(v) else "NE" for v in values), indent=1))
            continue
        text = subjects[variable].map(value_key)
        levels = item.get("levels") or {v: v for v in sorted(set(text) - {""})}
        for value, label in levels.items():
            rows.append(Row(str(label), tuple(analysis.n_pct(int((g[variable].map(value_key) == value_key(value)).sum()), t)
                                              for (_, g), t in zip(groups, totals)), indent=1))
        known = {value_key(v) for v in levels}
        other = [int((~g[variable].map(value_key).isin(known)).sum()) for _, g in groups]
        if any(other):
            rows.append(Row("Missing or other", tuple(analysis.n_pct(k, t) for k, t in zip(other, totals)), indent=1))
    return _table(shell, analysis, analysis.arm_columns(pop, total=True), rows)


# ---- Tables 4, 5: subject counts from ADSL ---------------------------------------------------------
def counts(shell: Shell, analysis: Analysis) -> Table:
    spec, pop = analysis.spec, shell.population
    subjects = analysis.subjects(pop)
    n = analysis.arm_n(pop)
    totals = [*(n[a] for a in spec.arms), int(n.sum())]

    def cells(rows: pd.DataFrame) -> tuple[str, ...]:
        k = _counts_by_arm(rows, spec.arms)
        return (*(analysis.n_pct(k[a], n[a]) for a in spec.arms), analysis.n_pct(int(k.sum()), totals[-1]))

    rows = []
    for item in shell.body["rows"]:
        indent = int(item.get("indent", 0))
        if "variable" in item:
            text = subjects[item["variable"]].map(value_key)
            levels = item.get("levels") or {v: v.capitalize() for v in sorted(set(text) - {""})}
            for value, label in levels.items():
                rows.append(Row(str(label), cells(subjects[text == value_key(value)]), indent=indent))
        else:
            rows.append(Row(str(item["label"]), cells(_where(subjects, item.get("where"))), indent=indent))
    return _table(shell, analysis, analysis.arm_columns(pop, total=True), rows)


# ---- Table 6: subjects with adverse events ---------------------------------------------------------
def subject_counts(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    n = analysis.arm_n(pop)
    records = _where(analysis.records(body["dataset"], pop), body.get("records"))
    rows = []
    for item in body["rows"]:
        hit = _where(records, item.get("where"))
        k = _counts_by_arm(hit, spec.arms)
        rows.append(Row(str(item["label"]), tuple(analysis.n_pct(k[a], n[a]) for a in spec.arms)))
        grade = item.get("worst_grade")
        if grade:
            worst = hit.groupby("USUBJID", observed=True).agg(g=(grade, "max"), arm=(ARM, "first"))
            for g in range(1, 6):
                kk = worst[worst["g"] == g]["arm"].value_counts().reindex(list(spec.arms), fill_value=0)
                rows.append(Row(f"Worst grade {g}", tuple(analysis.n_pct(kk[a], n[a]) for a in spec.arms), indent=1))
    return _table(shell, analysis, analysis.arm_columns(pop), rows)


# ---- Table 7: adverse events by SOC and PT --------------------------------------------------------
def _present(counts: pd.Series) -> pd.Series:
    return counts[counts > 0]


def ae_by_term(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    n = analysis.arm_n(pop)
    records = _where(analysis.records(body["dataset"], pop), body.get("records"))
    high = _where(records, body.get("high_grade")) if body.get("high_grade") else records.iloc[0:0]
    soc, term = body["soc"], body["term"]

    def cells(rows: pd.DataFrame, high_rows: pd.DataFrame) -> tuple[str, ...]:
        k, h = _counts_by_arm(rows, spec.arms), _counts_by_arm(high_rows, spec.arms)
        return tuple(c for a in spec.arms for c in (analysis.n_pct(k[a], n[a]), analysis.n_pct(h[a], n[a])))

    rows = [Row("Any adverse event", cells(records, high))]
    # only the terms present (a category column counts its absent categories too, as zero)
    frequency = _present(records.drop_duplicates(["USUBJID", soc])[soc].value_counts())
    for s in sorted(frequency.index, key=lambda s: (-frequency[s], s)):
        in_soc, high_soc = records[records[soc] == s], high[high[soc] == s]
        rows.append(Row(str(s), cells(in_soc, high_soc)))
        pt_frequency = _present(in_soc.drop_duplicates(["USUBJID", term])[term].value_counts())
        for t in sorted(pt_frequency.index, key=lambda t: (-pt_frequency[t], t)):
            rows.append(Row(str(t), cells(in_soc[in_soc[term] == t], high_soc[high_soc[term] == t]), indent=1))
    columns = [c for _ in spec.arms for c in ("Any grade", "Grade >= 3")]
    spanners = [(label, 2) for label in analysis.arm_columns(pop)]
    return _table(shell, analysis, columns, rows, stub="System organ class / preferred term", spanners=spanners)


BUILDERS = {"outcomes_by_subgroup": outcomes_by_subgroup, "tte_summary": tte_summary, "characteristics": characteristics,
            "counts": counts, "subject_counts": subject_counts, "ae_by_term": ae_by_term}


def build_table(shell: Shell, analysis: Analysis) -> Table:
    return BUILDERS[shell.type](shell, analysis)
