"""``trialkit report``: the study's tables and figures from its ADaM folder, written for people.

Reads the ADaM datasets (XPT or Dataset-JSON), computes every table and figure of the study's
report spec (specs/studies/<study>/tlf/report.yaml), and writes them: one PNG (300 dpi) and SVG per
figure, one RTF per table, one self-contained HTML page with everything, report.json with the
formatted tables (so a test, or a QC programmer, can compare numbers without parsing HTML), each cell
with its id (reports.cells), and ars.json, the tables' analyses and results as a CDISC ARS 1.0
ReportingEvent (reports.ars); report.json's ``cells`` say, per table, which ARS result each cell is.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from trialkit import __version__
from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.errors import InputError
from trialkit.reports.ars import reporting_event
from trialkit.reports.consistency import run_checks
from trialkit.reports.figures import KMPanel, Subgroup, compute_forest_rows, forest_figure, km_panels_figure, save_figure
from trialkit.reports.stats import cox_hr, km_by_group, stratified_logrank
from trialkit.reports.table import FigureRef, Report
from trialkit.reports.tables import ARM, Analysis, build_table, parameter_labels, tte_records
from trialkit.reports.tlf import Shell, load_report_spec
from trialkit.vectorize import compact
from trialkit.xpt import sas_date_variables


def read_adam(folder: Path) -> dict[str, pd.DataFrame]:
    """The ADaM datasets of a folder by name, SAS dates as datetime64, repeated text as categories
    (trialkit.vectorize.compact: the report reads every ADaM dataset of a 100,000-subject study)."""
    if not Path(folder).is_dir():
        raise InputError("ADaM folder not found", file=str(folder))
    out = {}
    for name, path in dataset_files(folder).items():
        frame, _ = read_dataset(path)
        out[name] = sas_date_variables(compact(frame))
    if "ADSL" not in out:
        raise InputError("no ADSL in the ADaM folder (adsl.xpt or adsl.json)", file=str(folder))
    return out


def km_shell(shell: Shell, analysis: Analysis, out: Path) -> FigureRef:
    spec, body = analysis.spec, shell.body
    adtte = analysis.records("ADTTE", shell.population)
    landmark = body.get("landmark")
    strata = body.get("strata") or None
    panels = []
    for paramcd, label in parameter_labels(body["parameters"]).items():
        data = tte_records(adtte, paramcd, shell)
        longest = data["AVAL"].max() / spec.months
        times = [12.0 * k for k in range(int(longest // 12) + 1)]
        if landmark and float(landmark) not in times:
            times = sorted({*times, float(landmark)})
        curves = km_by_group(data, ARM, times=times, scale=spec.months)
        hr = cox_hr(data, ARM, spec.reference, strata=strata)
        test = stratified_logrank(data, ARM, strata)
        panels.append(KMPanel({arm: curves[arm] for arm in spec.arms if arm in curves}, label or paramcd, hr, test,
                              ylabel=f"{label or paramcd} (%)"))
    fig = km_panels_figure(panels, landmark=landmark)
    return _saved(shell, analysis, fig, out)


def forest_shell(shell: Shell, analysis: Analysis, out: Path) -> FigureRef:
    return _saved(shell, analysis, forest_plot(shell, analysis), out)


def forest_plot(shell: Shell, analysis: Analysis):
    """The forest figure of a shell, without a title: the page and the RTF print the shell's title
    above it, and a title inside the image would show it twice."""
    spec, body = analysis.spec, shell.body
    adtte = analysis.records("ADTTE", shell.population)
    adsl = analysis.subjects(shell.population).drop(columns=[ARM])
    subgroups = [Subgroup(g["header"], g["variable"], list(g["levels"].items())) for g in body["subgroups"]]
    rows = compute_forest_rows(adtte, adsl, paramcd=body["paramcd"], subgroups=subgroups, reference=spec.reference,
                               group=ARM)
    treatment = next(a for a in spec.arms if a != spec.reference)
    return forest_figure(rows, favours=(f"{treatment} better", f"{spec.reference} better"),
                         arms=(spec.short[treatment], spec.short[spec.reference]))


def _saved(shell: Shell, analysis: Analysis, fig, out: Path) -> FigureRef:
    png, svg = save_figure(fig, out / shell.id)
    source = f"report.yaml:{shell.key} ({shell.type}); trialkit.reports.figures"
    return FigureRef(shell.id, shell.title, png.name, svg.name,
                     (shell.population.label, *shell.footnotes, analysis.cutoff_footnote), source)


FIGURES = {"km": km_shell, "forest": forest_shell}


def build_report(study: str | Path, adam_dir: Path, out: Path, banner=()) -> Report:
    """Compute and write everything; returns the Report (tables formatted, figures referenced, the
    consistency checks run on the tables). ``banner``: lines every page carries before its numbers
    (``trialkit run --force`` names the data's errors there)."""
    spec = load_report_spec(study)
    analysis = Analysis(spec, read_adam(adam_dir))
    out.mkdir(parents=True, exist_ok=True)
    tables = tuple(build_table(shell, analysis) for shell in spec.tables)
    checks = run_checks(analysis, tables)
    figures = tuple(FIGURES[shell.type](shell, analysis, out) for shell in spec.figures)
    adsl = analysis.dataset("ADSL")
    report = Report(str(adsl["STUDYID"].iloc[0]) if "STUDYID" in adsl else str(study), spec.title, analysis.cutoff, tables,
                    figures, f"trialkit {__version__}", banner=tuple(banner), checks=checks)
    event, located = reporting_event(report.study, analysis, tables, report.generated_by)
    (out / "report.json").write_text(json.dumps(report_json(report, located), indent=1), encoding="utf-8")
    (out / "ars.json").write_text(json.dumps(event, indent=1), encoding="utf-8")
    return report


def report_json(report: Report, located: dict[str, dict[str, dict]]) -> dict:
    """report.json: the report as data, each table with ``cells`` (cell id -> its ARS analysisId,
    operationId and resultGroups in ars.json); the rows' sources are in ars.json, not repeated here."""
    data = asdict(report)
    for table in data["tables"]:
        for row in table["rows"]:
            del row["sources"]
        table["cells"] = located.get(table["id"], {})
    return data
