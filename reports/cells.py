"""What each report cell was computed from, and the stable id that names it.

A table builder (reports.tables) gives every computed cell a ``Source``: the ADaM dataset and
variable it analysed, the selection of records (an ARS where clause, reports.where; the table's
population adds its analysis set), the arm it counts (or none: a total, or a comparison of the arms),
and the method (``METHODS``: n (%), Clopper-Pearson rate, Kaplan-Meier median, Cox HR, log-rank p...).
reports.ars turns the sources into CDISC ARS analyses; reports.cell_records re-applies them.

Cell ids are ``<table id>/<row path>/<column key>``, each part slugified (lower case; ``<``, ``<=``,
``>``, ``>=`` become ``lt``, ``le``, ``gt``, ``ge``; any other run of characters but letters, digits,
``.`` becomes ``-``). The row path is the row's label after the group header it sits under and the
labels of the rows it is indented under: ``table2/event-free-survival/subjects-with-an-event/death``.
The column key is the arm (``blinatumomab``, ``total``), after a statistic where a table shows several
per arm (``blinatumomab/n``, ``efs/hr``, ``blinatumomab/grade-ge-3``). An id that would repeat (two
rows of the same path) gets ``-2``, ``-3``... on its row part, in table order, so ids are unique and
the same for the same table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trialkit.reports.where import Where

# method id -> (name, description, the display pattern of its result)
METHODS = {
    "count": ("Count of subjects", "Number of distinct subjects (USUBJID) among the selected records.", "N"),
    "n-pct": ("Count and percentage of subjects",
              ("Number of distinct subjects (USUBJID) among the selected records, and its percentage of the "
              "subjects of the analysis set in the group (of all of them for a total); 0 alone when none."), "N (XX%)"),
    "worst-grade": ("Subjects by worst grade",
                    ("Each subject counted once, at the highest value of the analysis variable over the selected "
                    "records; number and percentage of the subjects of the analysis set in the group."), "N (XX%)"),
    "clopper-pearson": ("Response rate with exact 95% CI",
                        ("Percentage of subjects with an evaluable record (the data subset) meeting the success "
                        "criterion of the analysis, exact (Clopper-Pearson) 95% CI; successes/evaluable."),
                        "XX (XX-XX); N/N"),
    "cox-hr": ("Hazard ratio (95% CI)",
               ("Cox proportional hazards model of the analysis variable (time) with censoring CNSR, treatment "
               "as the only covariate (stratified where the analysis says so), Efron ties; Wald 95% CI; "
               "hazard ratio of the treatment arm vs the reference arm."), "X.XX (X.XX-X.XX)"),
    "logrank": ("Log-rank test p-value",
                "Log-rank test of the arms (stratified where the analysis says so); two-sided p.", "X.XXX"),
    "km-median": ("Kaplan-Meier median (95% CI)",
                  "Kaplan-Meier median of the analysis variable in months, 95% CI with the log-log transform.",
                  "XX.X (XX.X-XX.X)"),
    "km-landmark": ("Kaplan-Meier estimate at the landmark (95% CI)",
                    "Kaplan-Meier survival estimate at the landmark time, 95% CI with the log-log transform.",
                    "XX% (XX-XX)"),
    "median-q1-q3": ("Median (Q1-Q3)", "Median and quartiles of the non-missing values of the analysis variable.",
                     "XX.X (XX.X-XX.X)"),
    "min-max": ("Minimum-maximum", "Smallest and largest non-missing value of the analysis variable.", "XX-XX"),
}


@dataclass(frozen=True)
class Source:
    """What one cell was computed from (its table's population is the analysis set)."""
    method: str                      # a key of METHODS
    dataset: str                     # the ADaM dataset analysed
    variable: str                    # its analysis variable
    where: Where | None = None       # the records selected (data subset), before the data cut-off
    group: str | None = None         # the arm counted; None: every arm (a total, or the arms compared)
    compares: bool = False           # the arms are a factor of the method (HR, log-rank): no group, both arms
    raw: str = ""                    # the result unformatted (a count, an estimate), for ARS rawValue
    note: str = ""                   # what else the method is given (strata, success criterion, landmark)
    level: tuple[str, str] | None = None   # (variable, value): the data-driven group counted (worst grade)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}")


def by_arm(arms, method: str, dataset: str, variable: str, where: Where | None, raws=None, total: bool = False,
           **more) -> tuple[Source, ...]:
    """The sources of a row's arm cells (then its total, every arm together): the same selection and
    method, one arm each; ``raws`` the unformatted results in the same order."""
    groups = [*arms, *([None] if total else [])]
    raws = raws if raws is not None else [""] * len(groups)
    return tuple(Source(method, dataset, variable, where, group=g, raw=str(raw), **more) for g, raw in zip(groups, raws))


def slug(text: str) -> str:
    """"MRD >= 1e-3" -> "mrd-ge-1e-3": the words of a label as an id part (see the module docstring)."""
    for sign, word in (("<=", " le "), (">=", " ge "), ("\u2264", " le "), ("\u2265", " ge "), ("<", " lt "), (">", " gt ")):
        text = text.replace(sign, word)
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "-"


def arm_keys(arms, *after: str, total: bool = False) -> tuple[str, ...]:
    """Column keys of one column per arm (then a total), each followed by ``after``."""
    return tuple("/".join((slug(a), *after)) for a in (*arms, *(["Total"] if total else [])))


def row_paths(rows) -> list[tuple[str, ...]]:
    """The label path of each row: its group header, the labels of the rows it is indented under, its
    own label (a header row's path is its label)."""
    paths, header, above = [], (), {}
    for row in rows:
        if row.header:
            header, above = (row.label,), {}
            paths.append(header)
            continue
        above = {i: label for i, label in above.items() if i < row.indent}
        paths.append((*header, *(above[i] for i in sorted(above)), row.label))
        above[row.indent] = row.label
    return paths


def cell_ids(table_id: str, rows, keys: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The id of every cell of ``rows`` (a header row has none), unique within the table."""
    seen: dict[str, int] = {}
    out = []
    for row, path in zip(rows, row_paths(rows)):
        if row.header:
            out.append(())
            continue
        base = "/".join((table_id, *(slug(p) for p in path)))
        seen[base] = seen.get(base, 0) + 1
        stem = base if seen[base] == 1 else f"{base}-{seen[base]}"
        out.append(tuple(f"{stem}/{key}" for key in keys))
    every = [i for ids in out for i in ids]
    if len(set(every)) != len(every):
        raise ValueError(f"{table_id}: cell ids repeat: {sorted({i for i in every if every.count(i) > 1})[:3]}")
    return out
