"""The report's tables, computed from the ADaM datasets by the shells of a study's report.yaml.

One builder per shell type; each takes the shell and the analysis data and returns a formatted
``Table``. The statistics come from reports.stats (lifelines, statsmodels); this module selects the
records, counts subjects and formats: n (%) with whole percentages, HR and CIs to 2 decimals, rates
as the publication prints them ("91 (80-97)"), p as "<0.001" or 3 decimals, "NE" where a statistic is
not evaluable (reports.stats documents when).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import pandas as pd

from trialkit.errors import InputError, SpecError
from trialkit.expressions import parse
from trialkit.reports.cells import Source, arm_keys, by_arm, cell_ids, slug
from trialkit.reports.cutoff import cut_dataset, cutoff_date
from trialkit.reports.cutoff import footnote as cutoff_footnote
from trialkit.reports.decode import display_levels, other_levels
from trialkit.reports.figures import landmark_name
from trialkit.reports.stats import clopper_pearson, cox_hr, format_ci, format_p, km_by_group, stratified_logrank
from trialkit.reports.table import Row, Table
from trialkit.reports.tlf import Population, ReportSpec, Shell, value_key
from trialkit.reports.where import Compound, all_of, condition, from_expression

ARM = "ARM_"          # the arm label column added to every analysis frame (categorical, in column order)


@dataclass
class Analysis:
    """The ADaM datasets of one run (dates as datetime64) and the report spec that reads them.

    Every table and figure reads the datasets through ``dataset``, which applies the spec's data
    cut-off (reports.cutoff), so all outputs count the same subjects and events. The subjects of the
    rows a consistency check names are kept in ``counted`` as the tables count them (``tally``)."""

    spec: ReportSpec
    datasets: dict[str, pd.DataFrame]
    _subjects: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)   # by population name
    _cut: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)        # by dataset name
    counted: dict[tuple[str, str], pd.Series] = field(default_factory=dict, repr=False)  # (table, row) -> arm by USUBJID

    def dataset(self, name: str) -> pd.DataFrame:
        """``name`` as of the data cut-off."""
        if name not in self.datasets:
            raise InputError(f"the report needs {name}, which is not in the ADaM folder", file=f"{name.lower()}.xpt")
        if name not in self._cut:
            self._cut[name] = cut_dataset(name, self.datasets[name], self.spec.cutoff, self.cutoff_date)
        return self._cut[name]

    @cached_property
    def cutoff_date(self) -> pd.Timestamp:
        if "ADSL" not in self.datasets:
            raise InputError("no ADSL in the ADaM folder (adsl.xpt or adsl.json)", file="adsl.xpt")
        return cutoff_date(self.datasets["ADSL"], self.spec.cutoff)

    @property
    def cutoff(self) -> str:
        """The data cut-off as YYYY-MM-DD."""
        return self.cutoff_date.strftime("%Y-%m-%d")

    @property
    def cutoff_footnote(self) -> str:
        return cutoff_footnote(self.cutoff_date)

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

    def tally(self, shell: Shell, frame: pd.DataFrame, path: tuple[str, ...]) -> pd.Series:
        """Subjects per arm in ``frame``, the count of a row of ``shell``; ``path`` is the row's label
        after those of the rows it sits under (group header, less indented rows). When a consistency
        check names that row, its subjects are kept with their arm: the check compares subjects, not
        only numbers, and names those that differ. A check names a row by its label, after as many of
        the labels above it as make it unique ("Left the study / Death")."""
        for row in self.spec.watched_rows.get(shell.id, ()):
            if _names(row, path):
                if (shell.id, row) in self.counted:
                    raise SpecError(f"{shell.id} has more than one row {row!r}: name it with the rows above it, "
                                    f"e.g. {' / '.join(path)!r}", file=str(self.spec.path), key="consistency")
                subjects = frame.drop_duplicates("USUBJID")
                self.counted[(shell.id, row)] = pd.Series(subjects[ARM].astype(str).to_numpy(),
                                                          index=subjects["USUBJID"].astype(str))
        return _counts_by_arm(frame, self.spec.arms)

    def n_pct(self, n: int, total: int) -> str:
        return n_pct(n, total, self.spec.percent_decimals)

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


def _names(row: str, path: tuple[str, ...]) -> bool:
    """Whether "A / B" names the row at ``path``: the same label, and the other parts in order among
    the labels above it."""
    *above, label = row.split(" / ")
    if label != path[-1]:
        return False
    rest = iter(path[:-1])
    return all(part in rest for part in above)


def _where(frame: pd.DataFrame, text: str | None) -> pd.DataFrame:
    return frame if not text else frame[parse(text).evaluate(frame).to_numpy()]


def _counts_by_arm(frame: pd.DataFrame, arms) -> pd.Series:
    """Subjects (distinct USUBJID) per arm."""
    return frame.drop_duplicates("USUBJID")[ARM].value_counts().reindex(list(arms), fill_value=0)


def _source(shell: Shell, analysis: Analysis) -> str:
    return f"{analysis.spec.path.name}:{shell.key} ({shell.type}); trialkit.reports.tables"


def _table(shell: Shell, analysis: Analysis, columns, rows, *, keys=None, stub: str = "", spanners=()) -> Table:
    """The table, each cell given its id (reports.cells): ``keys`` name the columns, by default one
    per arm (and the total, when there is a column more)."""
    arms = analysis.spec.arms
    keys = tuple(keys) if keys is not None else arm_keys(arms, total=len(columns) > len(arms))
    rows = [replace(row, cell_ids=ids) for row, ids in zip(rows, cell_ids(shell.id, rows, keys))]
    return Table(shell.id, shell.title, tuple(columns), tuple(rows), stub=stub, spanners=tuple(spanners),
                 footnotes=(*shell.footnotes, analysis.cutoff_footnote), source=_source(shell, analysis),
                 population=shell.population.label, column_keys=keys)


def _clause(analysis: Analysis, shell: Shell, dataset: str, text: str | None, key: str):
    """The shell's filter ``text`` (at ``key`` in the shell) on ``dataset`` as an ARS where clause."""
    if not text:
        return None
    return from_expression(dataset, parse(text, file=str(analysis.spec.path), key=f"{shell.key}.{key}"))


def _raw(value: float) -> str:
    """An estimate for ARS rawValue: full precision, blank where not estimable."""
    return "" if value is None or math.isnan(value) else repr(float(value))


# ---- Table 1: outcomes by subgroup ---------------------------------------------------------------
def outcomes_by_subgroup(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    subjects = analysis.subjects(pop)
    treatment = next(a for a in spec.arms if a != spec.reference)
    adtte = analysis.records("ADTTE", pop)
    response = body.get("response")
    rs = analysis.records(response["dataset"], pop) if response else None
    ties = body.get("ties", "efron")
    rows = []
    for i, group in enumerate(body["subgroups"]):
        subgroup = _clause(analysis, shell, "ADSL", group.get("where"), f"subgroups[{i}].where")
        ids = set(_where(subjects, group.get("where"))["USUBJID"])
        n = _counts_by_arm(subjects[subjects["USUBJID"].isin(ids)], spec.arms)
        cells = [str(n[a]) for a in spec.arms]
        sources = [*by_arm(spec.arms, "count", "ADSL", "USUBJID", subgroup, raws=[n[a] for a in spec.arms])]
        for paramcd in body.get("hazard_ratios") or []:
            data = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].isin(ids)]
            hr = cox_hr(data, ARM, spec.reference, ties=ties)
            cells.append(hr_cell(hr))
            sources.append(Source("cox-hr", "ADTTE", "AVAL", all_of([subgroup, condition("ADTTE", "PARAMCD", "EQ", paramcd)]),
                                  compares=True, raw=_raw(hr.hr), note=f"ties: {ties}"))
        if response:
            records = rs[(rs["PARAMCD"] == response["paramcd"]) & rs["USUBJID"].isin(ids)]
            evaluable = _where(records, response["evaluable"])
            success = _where(evaluable, response["success"])
            rates = [clopper_pearson(_counts_by_arm(success, spec.arms)[arm], _counts_by_arm(evaluable, spec.arms)[arm])
                     for arm in spec.arms]
            cells.extend(rate_cell(p) for p in rates)
            dataset = response["dataset"]
            where = all_of([subgroup, condition(dataset, "PARAMCD", "EQ", response["paramcd"]),
                            _clause(analysis, shell, dataset, response["evaluable"], "response.evaluable")])
            success_clause = parse(response["success"])
            sources.extend(by_arm(spec.arms, "clopper-pearson", dataset, min(success_clause.fields), where,
                                  raws=[_raw(p.rate) for p in rates], note=f"success: {success_clause.text}"))
        rows.append(Row(str(group["label"]), tuple(cells), sources=tuple(sources)))
    hrs = body.get("hazard_ratios") or []
    columns = [*spec.arms, *hrs, *(spec.arms if response else ())]
    keys = [*arm_keys(spec.arms, "n"), *(f"{slug(p)}/hr" for p in hrs),
            *(arm_keys(spec.arms, slug(response.get("label", response["paramcd"]))) if response else ())]
    spanners = [("n", 2)] + ([(f"HR {treatment} vs {spec.reference} (95% CI)", len(hrs))] if hrs else [])
    if response:
        spanners.append((f"{response.get('label', response['paramcd'])}, % (95% CI); n/N", 2))
    return _table(shell, analysis, columns, rows, keys=keys, stub="Subgroup", spanners=spanners)


# ---- Table 2: time-to-event summary ---------------------------------------------------------------
def tte_summary(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    adtte = analysis.records("ADTTE", pop)
    landmark = body.get("landmark")
    strata = body.get("strata") or None
    stratified = f"strata: {', '.join(strata)}" if strata else ""
    ties = body.get("ties", "efron")
    rows = []
    for paramcd, label in parameter_labels(body["parameters"]).items():
        data = tte_records(adtte, paramcd, shell)
        parameter = condition("ADTTE", "PARAMCD", "EQ", paramcd)
        n = _counts_by_arm(data, spec.arms)
        group = label or (str(data["PARAM"].iloc[0]) if "PARAM" in data else paramcd)
        rows.append(Row(group, header=True))

        def row(frame: pd.DataFrame, where, *labels: str, group: str = group, n: pd.Series = n,
                parameter=parameter) -> Row:
            k = analysis.tally(shell, frame, (group, *labels))
            return Row(labels[-1], tuple(analysis.n_pct(k[a], n[a]) for a in spec.arms), indent=len(labels) - 1,
                       sources=by_arm(spec.arms, "n-pct", "ADTTE", "USUBJID", all_of([parameter, where]),
                                      raws=[k[a] for a in spec.arms]))

        event = condition("ADTTE", "CNSR", "EQ", 0)
        events = data[data["CNSR"] == 0]
        rows.append(row(events, event, "Subjects with an event"))
        labels = body.get("event_labels") or {}
        for desc in sorted(events["EVNTDESC"].unique()):
            rows.append(row(events[events["EVNTDESC"] == desc], all_of([event, condition("ADTTE", "EVNTDESC", "EQ", desc)]),
                            "Subjects with an event", str(labels.get(desc, desc))))
        rows.append(row(data[data["CNSR"] != 0], condition("ADTTE", "CNSR", "NE", 0), "Censored"))
        times = [0.0, float(landmark)] if landmark else None
        km = km_by_group(data, ARM, times=times, scale=spec.months)
        months = f"months of {spec.months:g} days"
        rows.append(Row("Median, months (95% CI)", tuple(
            f"{_est(km[a].median.value)} ({_est(km[a].median.lower)}-{_est(km[a].median.upper)})" if a in km else "NE"
            for a in spec.arms), sources=by_arm(spec.arms, "km-median", "ADTTE", "AVAL", parameter, note=months,
                                                 raws=[_raw(km[a].median.value) if a in km else "" for a in spec.arms])))
        if landmark:
            rows.append(Row(f"{landmark_name(landmark)} estimate (95% CI)",
                            tuple(landmark_cell(km.get(a), landmark) for a in spec.arms),
                            sources=by_arm(spec.arms, "km-landmark", "ADTTE", "AVAL", parameter,
                                           note=f"landmark: {landmark} months; {months}")))
        hr = cox_hr(data, ARM, spec.reference, strata=strata, ties=ties)
        test = stratified_logrank(data, ARM, strata)
        name = "Stratified HR" if strata else "HR"
        compared = {"method": "cox-hr", "dataset": "ADTTE", "variable": "AVAL", "where": parameter, "compares": True}
        rows.append(Row(f"{name} (95% CI)", tuple(hr_cell(hr) if a != spec.reference else "Reference" for a in spec.arms),
                        sources=tuple(Source(**compared, raw=_raw(hr.hr), note="; ".join(filter(None, [stratified, f"ties: {ties}"])))
                                      if a != spec.reference else None for a in spec.arms)))
        rows.append(Row(f"{'Stratified log-rank' if strata else 'Log-rank'} p",
                        tuple(format_p(test.p) if a != spec.reference else "" for a in spec.arms),
                        sources=tuple(Source(**{**compared, "method": "logrank"}, raw=_raw(test.p), note=stratified)
                                      if a != spec.reference else None for a in spec.arms)))
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
                f"{v.median():.1f} ({v.quantile(0.25):.1f}-{v.quantile(0.75):.1f})" if len(v) else "NE" for v in values),
                indent=1, sources=by_arm(spec.arms, "median-q1-q3", "ADSL", variable, None, total=True,
                                         raws=[_raw(v.median()) if len(v) else "" for v in values])))
            rows.append(Row("Min-max", tuple(f"{v.min():g}-{v.max():g}" if len(v) else "NE" for v in values), indent=1,
                            sources=by_arm(spec.arms, "min-max", "ADSL", variable, None, total=True)))
            continue
        text = subjects[variable].map(value_key)
        levels = display_levels(item, text, variable)
        for value, label in levels.items():
            k = [int((g[variable].map(value_key) == value).sum()) for _, g in groups]
            rows.append(Row(label, tuple(analysis.n_pct(c, t) for c, t in zip(k, totals)), indent=1,
                            sources=by_arm(spec.arms, "n-pct", "ADSL", "USUBJID", condition("ADSL", variable, "EQ", value),
                                           total=True, raws=k)))
        other = [int((~g[variable].map(value_key).isin(set(levels))).sum()) for _, g in groups]
        if any(other):
            rows.append(Row("Missing or other", tuple(analysis.n_pct(k, t) for k, t in zip(other, totals)), indent=1,
                            sources=by_arm(spec.arms, "n-pct", "ADSL", "USUBJID",
                                           Compound("NOT", (condition("ADSL", variable, "IN", *levels),)), total=True,
                                           raws=other)))
    return _table(shell, analysis, analysis.arm_columns(pop, total=True), rows)


# ---- Tables 4, 5: subject counts from ADSL ---------------------------------------------------------
def counts(shell: Shell, analysis: Analysis) -> Table:
    spec, pop = analysis.spec, shell.population
    subjects = analysis.subjects(pop)
    n = analysis.arm_n(pop)
    totals = [*(n[a] for a in spec.arms), int(n.sum())]

    above: dict[int, str] = {}     # indent -> label of the last row at that indent: the rows a row sits under

    def row(label: str, frame: pd.DataFrame, indent: int, where) -> Row:
        k = analysis.tally(shell, frame, (*(above[i] for i in sorted(above) if i < indent), label))
        above.update({indent: label})
        for deeper in [i for i in above if i > indent]:
            del above[deeper]
        cells = (*(analysis.n_pct(k[a], n[a]) for a in spec.arms), analysis.n_pct(int(k.sum()), totals[-1]))
        return Row(label, cells, indent=indent, sources=by_arm(spec.arms, "n-pct", "ADSL", "USUBJID", where, total=True,
                                                                raws=[*(k[a] for a in spec.arms), int(k.sum())]))

    rows = []
    for i, item in enumerate(shell.body["rows"]):
        indent = int(item.get("indent", 0))
        if "variable" in item:
            variable = item["variable"]
            if variable not in subjects:
                raise InputError(f"{shell.key}: variable not in ADSL", file="adsl.xpt", column=variable)
            text = subjects[variable].map(value_key)
            levels = display_levels(item, text, variable)
            # values the shell does not list still get a row: a count table never drops subjects
            for value, label in {**levels, **other_levels(item, text, variable, levels)}.items():
                rows.append(row(label, subjects[(text == value).to_numpy()], indent, condition("ADSL", variable, "EQ", value)))
        else:
            rows.append(row(str(item["label"]), _where(subjects, item.get("where")), indent,
                            _clause(analysis, shell, "ADSL", item.get("where"), f"rows[{i}].where")))
    return _table(shell, analysis, analysis.arm_columns(pop, total=True), rows)


# ---- Table 6: subjects with adverse events ---------------------------------------------------------
def subject_counts(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    n = analysis.arm_n(pop)
    dataset = body["dataset"]
    records = _where(analysis.records(dataset, pop), body.get("records"))
    selected = _clause(analysis, shell, dataset, body.get("records"), "records")
    rows = []
    for i, item in enumerate(body["rows"]):
        hit = _where(records, item.get("where"))
        where = all_of([selected, _clause(analysis, shell, dataset, item.get("where"), f"rows[{i}].where")])
        k = analysis.tally(shell, hit, (str(item["label"]),))
        rows.append(Row(str(item["label"]), tuple(analysis.n_pct(k[a], n[a]) for a in spec.arms),
                        sources=by_arm(spec.arms, "n-pct", dataset, "USUBJID", where, raws=[k[a] for a in spec.arms])))
        grade = item.get("worst_grade")
        if grade:
            worst = hit.groupby("USUBJID", observed=True).agg(g=(grade, "max"), arm=(ARM, "first"))
            for g in range(1, 6):
                kk = worst[worst["g"] == g]["arm"].value_counts().reindex(list(spec.arms), fill_value=0)
                rows.append(Row(f"Worst grade {g}", tuple(analysis.n_pct(kk[a], n[a]) for a in spec.arms), indent=1,
                                sources=by_arm(spec.arms, "worst-grade", dataset, grade, where, level=(grade, str(g)),
                                               raws=[kk[a] for a in spec.arms])))
    return _table(shell, analysis, analysis.arm_columns(pop), rows)


# ---- Table 7: adverse events by SOC and PT --------------------------------------------------------
def _present(counts: pd.Series) -> pd.Series:
    return counts[counts > 0]


def ae_by_term(shell: Shell, analysis: Analysis) -> Table:
    spec, body, pop = analysis.spec, shell.body, shell.population
    n = analysis.arm_n(pop)
    dataset = body["dataset"]
    records = _where(analysis.records(dataset, pop), body.get("records"))
    high = _where(records, body.get("high_grade")) if body.get("high_grade") else records.iloc[0:0]
    selected = _clause(analysis, shell, dataset, body.get("records"), "records")
    high_grade = _clause(analysis, shell, dataset, body.get("high_grade"), "high_grade")
    soc, term = body["soc"], body["term"]

    def row(label: str, rows: pd.DataFrame, high_rows: pd.DataFrame, where, indent: int = 0) -> Row:
        k, h = _counts_by_arm(rows, spec.arms), _counts_by_arm(high_rows, spec.arms)
        where = all_of([selected, where])
        any_grade = by_arm(spec.arms, "n-pct", dataset, "USUBJID", where, raws=[k[a] for a in spec.arms])
        graded = (by_arm(spec.arms, "n-pct", dataset, "USUBJID", all_of([where, high_grade]), raws=[h[a] for a in spec.arms])
                  if high_grade else (None,) * len(spec.arms))
        return Row(label, tuple(c for a in spec.arms for c in (analysis.n_pct(k[a], n[a]), analysis.n_pct(h[a], n[a]))),
                   indent=indent, sources=tuple(s for pair in zip(any_grade, graded) for s in pair))

    analysis.tally(shell, records, ("Any adverse event",))
    rows = [row("Any adverse event", records, high, None)]
    # only the terms present (a category column counts its absent categories too, as zero)
    frequency = _present(records.drop_duplicates(["USUBJID", soc])[soc].value_counts())
    for s in sorted(frequency.index, key=lambda s: (-frequency[s], s)):
        in_soc, high_soc = records[records[soc] == s], high[high[soc] == s]
        in_class = condition(dataset, soc, "EQ", s)
        rows.append(row(str(s), in_soc, high_soc, in_class))
        pt_frequency = _present(in_soc.drop_duplicates(["USUBJID", term])[term].value_counts())
        for t in sorted(pt_frequency.index, key=lambda t: (-pt_frequency[t], t)):
            rows.append(row(str(t), in_soc[in_soc[term] == t], high_soc[high_soc[term] == t],
                            all_of([in_class, condition(dataset, term, "EQ", t)]), indent=1))
    columns = [c for _ in spec.arms for c in ("Any grade", "Grade >= 3")]
    spanners = [(label, 2) for label in analysis.arm_columns(pop)]
    return _table(shell, analysis, columns, rows, keys=[k for a in spec.arms for k in arm_keys([a], "any-grade") + arm_keys([a], "grade-ge-3")],
                  stub="System organ class / preferred term", spanners=spanners)


BUILDERS = {"outcomes_by_subgroup": outcomes_by_subgroup, "tte_summary": tte_summary, "characteristics": characteristics,
            "counts": counts, "subject_counts": subject_counts, "ae_by_term": ae_by_term}


def build_table(shell: Shell, analysis: Analysis) -> Table:
    return BUILDERS[shell.type](shell, analysis)


def declared_labels(shell: Shell) -> set[str]:
    """The row labels a shell writes itself (fixed rows, its levels, its event labels), whether or not
    the data fill them: a row that names one of them and is absent from the table counts nobody."""
    body = shell.body
    items = [r for r in body.get("rows") or [] if isinstance(r, dict)]
    return ({str(r["label"]) for r in items if "label" in r and "variable" not in r}
            | {str(v) for r in items for v in (r.get("levels") or {}).values()}
            | {str(v) for v in (body.get("event_labels") or {}).values()})
