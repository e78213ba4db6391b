"""Counts that two outputs of one report must agree on, checked on the subjects the tables counted.

A reviewer reads the deaths of the disposition table against the OS events of the survival table, the
treated subjects against the safety set's N, the subjects with an adverse event against it. When they
disagree the report contradicts itself, whatever the cause: a cut-off applied in one output and not in
the other (the demo counted a death seven days after the cut-off as a death in Table 4 and a censoring
in Table 2), or a missing source (without the death form, Table 4 listed 47 deaths from the
end-of-study form while the 4-year OS was 100%).

The study's report spec lists the checks (``consistency:``, loaded by reports.tlf): two counts and how
they relate, ``same`` (the same subjects) or ``within`` (every subject of the first is in the second).
A count is a table row, a table's population, or the records of a dataset. The subjects compared are
those the table builders counted for that row (``Analysis.tally``), after the data cut-off, so a check
can only pass if the printed numbers agree; a failure names the subjects and their arms.

A report with a failed check is still written, with the failure at the top of every page, so the
reviewer can see it; ``raise_if_inconsistent`` then makes ``trialkit report`` and ``trialkit run``
exit 1 with one line naming the checks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.errors import SpecError, TrialkitError
from trialkit.reports.table import CheckResult, Report, Table
from trialkit.reports.tables import ARM, Analysis, declared_labels
from trialkit.reports.tlf import ConsistencyCheck, CountRef

SHOWN = 5        # subjects named per disagreement


class ReportInconsistent(TrialkitError):
    """The report was written, but two of its outputs disagree: exit 1, as findings at error level."""

    exit_code = 1


def run_checks(analysis: Analysis, tables: tuple[Table, ...]) -> tuple[CheckResult, ...]:
    """Every consistency check of the spec on the built ``tables``."""
    built = {t.id: t for t in tables}
    return tuple(_run(check, analysis, built) for check in analysis.spec.consistency)


def raise_if_inconsistent(report: Report, page: Path) -> None:
    failed = [c for c in report.checks if not c.passed]
    if failed:
        raise ReportInconsistent(f"{len(failed)} consistency check(s) failed; the report is written with them at the top: "
                                 + "; ".join(str(c) for c in failed), file=str(page))


def _run(check: ConsistencyCheck, analysis: Analysis, built: dict[str, Table]) -> CheckResult:
    first, second = (_subjects(ref, check, analysis, built) for ref in (check.first, check.second))
    extra = first.index.difference(second.index)
    lacking = second.index.difference(first.index) if check.relation == "same" else pd.Index([])
    counts = f"{check.first} {_count(first, analysis.spec.arms)}, {check.second} {_count(second, analysis.spec.arms)}"
    if extra.empty and lacking.empty:
        return CheckResult(check.name, True, counts)
    parts = [counts]
    if not extra.empty:
        parts.append(f"in {check.first} only: {_named(first, extra)}")
    if not lacking.empty:
        parts.append(f"in {check.second} only: {_named(second, lacking)}")
    return CheckResult(check.name, False, "; ".join(parts))


def _subjects(ref: CountRef, check: ConsistencyCheck, analysis: Analysis, built: dict[str, Table]) -> pd.Series:
    """The subjects a count counts, as arm by USUBJID (arm '' where the count has no arms)."""
    if ref.dataset:
        data = analysis.dataset(ref.dataset)
        if ref.where is not None:
            data = data[ref.where.evaluate(data).to_numpy()]
        ids = pd.unique(data["USUBJID"].astype(str))
        return pd.Series("", index=pd.Index(ids, name="USUBJID"), dtype=object)
    shell = next(s for s in analysis.spec.tables if s.id == ref.table)
    if not ref.row:
        subjects = analysis.subjects(shell.population)
        return pd.Series(subjects[ARM].astype(str).to_numpy(), index=subjects["USUBJID"].astype(str))
    counted = analysis.counted.get((ref.table, ref.row))
    if counted is not None:
        return counted
    if ref.row.rsplit(" / ", 1)[-1] in declared_labels(shell):   # a row the shell declares, which nobody fills
        return pd.Series(dtype=object)
    rows = [r.label for r in built[ref.table].rows if not r.header]
    raise SpecError(f"{ref.table} has no row {ref.row!r} (rows: {', '.join(rows[:12])}); under a group header, write "
                    "'<header> / <row>'", file=str(analysis.spec.path), key=check.key)


def _count(subjects: pd.Series, arms: tuple[str, ...]) -> str:
    """"47 (Blinatumomab 14, Chemotherapy 33)", or "47" for a count without arms."""
    if not (subjects != "").any():
        return str(len(subjects))
    n = subjects.value_counts()
    return f"{len(subjects)} ({', '.join(f'{arm} {n.get(arm, 0)}' for arm in arms)})"


def _named(subjects: pd.Series, ids: pd.Index) -> str:
    shown = [f"{i} ({subjects[i]})" if subjects[i] else str(i) for i in sorted(ids)[:SHOWN]]
    return ", ".join(shown) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")
