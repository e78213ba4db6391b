"""The ``trialkit`` command line: one verb per pipeline stage (trialkit/pipeline.py), ``run`` and ``demo``.

Exit codes (EXIT_CODES, shown by ``--help``): 0 success; 1 errors in the data (findings at
--fail-on, or a run stopped by the SDTM or ADaM stage's errors); 2 usage errors and unusable input
(a TrialkitError prints one line naming file / row / column / spec key; an ADaM error is followed by
the SDTM records and raw rows behind it); 3 an internal error (one line, the traceback in a log
file); 130 interrupted. One handler (TrialkitGroup.main) gives every verb these codes. Every verb
writes its output whole or not at all, one writer at a time (trialkit.atomic_output).
Every error finding is printed, one line each (file, row, column, value, spec key), the first
``trialkit.findings.SHOWN``, then where the rest are.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from trialkit import __version__
from trialkit.adam.errors import AdamError
from trialkit.atomic_output import locked, output_file, output_folder
from trialkit.errors import TrialkitError
from trialkit.findings import count_by_severity, error_lines
from trialkit.interrupts import interrupt_noted, noting_interrupts
from trialkit.pipeline import (
    adam_stage,
    adam_stage_on_spark,
    parse_formats,
    report_stage,
    run_pipeline,
    sdtm_stage,
    simulate_stage,
    validate_stage,
)
from trialkit.progress import progress, setup_logging, stdout_console
from trialkit.spec import shipped_studies, study_dir

log = logging.getLogger("trialkit")
DEFAULT_STUDY = "ball_relapse"
EXPORT_FORMATS = ("csv", "odm", "sas7bdat", "xpt", "xlsx")   # trialkit.simulate.export_formats.FORMATS
STUDY_HELP = f"Shipped study ({', '.join(shipped_studies())}) or a study folder."


def study_option(default: str | None = DEFAULT_STUDY, help: str = STUDY_HELP):
    """--study: a shipped study's name or a folder; an unknown one is a usage error naming the
    shipped studies, raised before the command does anything."""
    def resolve(ctx, param, value):
        if value is not None:
            try:
                study_dir(value)
            except TrialkitError as err:
                click.echo(f"trialkit: error: --study: {err}", err=True)
                ctx.exit(2)
        return value

    return click.option("--study", default=default, show_default=default is not None, callback=resolve, help=help)


EXIT_CODES = """Exit codes: 0 clean; 1 findings at --fail-on (or a run stopped by the data's errors); 2 unusable
input or usage (one line naming file, row, column, spec key); 3 an internal error, a bug (one line,
and the log file holding the traceback); 130 interrupted (the previous output left as it was)."""


def internal_error_log(err: BaseException) -> Path:
    """The traceback of an internal error, in a log file of the temp folder (the output's own
    temporary folder is gone by then, and the previous output is left as it was)."""
    import tempfile
    import traceback
    from datetime import datetime

    fd, path = tempfile.mkstemp(prefix=f"trialkit-{datetime.now():%Y%m%dT%H%M%S}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"trialkit {__version__}: {' '.join(sys.argv)}\n")
        fh.write("".join(traceback.format_exception(err)))
    return Path(path)


def exit_code_of(err: BaseException) -> int:
    """One place that turns what stopped a command into its exit code and one line on stderr (then
    a TrialkitError's details: an ADaM error's causes); never a traceback on the terminal."""
    if isinstance(err, TrialkitError):
        click.echo(f"trialkit: error: {err}", err=True)
        for line in err.details:
            click.echo(f"  {line}", err=True)
        return err.exit_code
    if isinstance(err, click.ClickException):
        err.show()
        return err.exit_code
    if isinstance(err, (KeyboardInterrupt, click.Abort)) or interrupt_noted():
        click.echo("trialkit: interrupted; the previous output is left as it was", err=True)
        return 130
    if isinstance(err, OSError) and not isinstance(err, (BlockingIOError, ConnectionError)):
        click.echo(f"trialkit: error: {err.filename or ''}: {err.strerror or err}", err=True)
        return 2
    log_file = internal_error_log(err)
    message = str(err).splitlines()[0] if str(err) else ""
    click.echo(f"trialkit: internal error (a bug; exit 3): {type(err).__name__}: {message} "
               f"(traceback in {log_file})", err=True)
    return 3


class TrialkitGroup(click.Group):
    """The command group whose ``main`` handles every verb's exceptions in one place (click's own
    standalone mode would print a traceback and exit 1, the code of findings)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        with noting_interrupts():
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except SystemExit as done:
                code = done.code
            except BaseException as err:  # noqa: BLE001 - the one top-level handler
                code = exit_code_of(err)
        sys.exit(code or 0)


@click.group(cls=TrialkitGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="trialkit")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Raw clinical-trial exports to CDISC SDTM and ADaM, validated and reported."""
    setup_logging(verbose)


def run_simulation(study: str, subjects: int | None, seed: int | None, out: Path, truth: Path | None,
                   dirty: int, duplicate_rate: float, export_format: str = "csv") -> dict:
    """simulate_stage under a progress display (the form count is known from the raw dictionary)."""
    from trialkit.raw_dictionary import load_raw_dictionary

    with progress(f"simulate {study}", total=len(load_raw_dictionary(study).forms)) as advance:
        return simulate_stage(study, subjects, seed, out, truth, dirty, duplicate_rate, advance, export_format)


@main.command()
@study_option()
@click.option("--subjects", type=click.IntRange(min=1), default=None, help="Number of subjects [profile default].")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed [profile's demo seed].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the export.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the subject-level truth to this CSV (never part of the export).")
@click.option("--dirty", type=click.IntRange(0, 2), default=0, show_default=True,
              help="Inject documented defects: 1 one of each kind, 2 five of each.")
@click.option("--duplicate-rate", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of ae/bm/mrd/survfu records exported twice.")
@click.option("--format", "export_format", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True,
              help="csv: one CSV per form; xpt / sas7bdat: one SAS dataset per form; xlsx: one workbook, a sheet "
                   "per form; odm: one CDISC ODM 1.3.2 snapshot (export.xml).")
@click.option("--pool", type=click.IntRange(min=1), default=None, metavar="N",
              help="Write a pooled SDTM database of N studies instead of a raw export: --subjects in all (varied "
                   "sizes), seeds drawn from --seed, STUDYID STUDY01..; one Parquet file per study per domain "
                   "(dm/STUDY01.parquet), which validate and Spark read as one dataset.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="With --pool: processes making the studies side by side (the pool is the same).")
def simulate(study, subjects, seed, out, truth, dirty, duplicate_rate, export_format, pool, jobs):
    """Write simulated raw EDC exports of a study (one CSV per form by default) and manifest.json;
    with --pool N, a pooled SDTM database of N such studies."""
    if pool is not None:
        if truth is not None or export_format != "csv":
            raise click.UsageError("--truth and --format are for one study's raw export; --pool writes Parquet SDTM")
        return simulate_pooled(study, pool, subjects, seed, out, dirty, duplicate_rate, jobs)
    if jobs != 1:
        raise click.UsageError("--jobs is for --pool: one study's export is made by one process")
    if truth is not None and out.resolve() in truth.resolve().parents:
        raise click.UsageError("--truth must be outside the --out folder: the truth is never part of the export")
    with output_folder(out) as work, (output_file(truth) if truth is not None else nullcontext()) as truth_work:
        manifest = run_simulation(study, subjects, seed, work, truth_work, dirty, duplicate_rate, export_format)
    log.info("wrote %d forms to %s", len(manifest["forms"]), out)
    rows = sum(f["rows"] for f in manifest["forms"].values())
    click.echo(f"{manifest['study']}: {manifest['subjects']} subjects, {len(manifest['forms'])} forms, {rows} rows "
               f"-> {out} ({export_format}, {len(manifest['files'])} files; {len(manifest['defects'])} defects, "
               f"{len(manifest['duplicates'])} duplicates)")


def simulate_pooled(study: str, studies: int, subjects: int | None, seed: int | None, out: Path, dirty: int,
                    duplicate_rate: float, jobs: int = 1) -> None:
    """``simulate --pool``: each study simulated (CSV) and mapped to Parquet SDTM by the pipeline's
    stages, then pooled (trialkit.simulate.pool)."""
    from trialkit.simulate.pool import simulate_pool
    from trialkit.simulate.profile import load_profile

    defaults = load_profile(study).study
    subjects = defaults.default_subjects * studies if subjects is None else subjects
    seed = defaults.demo_seed if seed is None else seed
    with output_folder(out) as work, progress(f"simulate --pool {studies}", total=studies) as advance:
        manifest = simulate_pool(
            study, studies, subjects, seed, work,
            lambda size, study_seed, raw: simulate_stage(study, size, study_seed, raw, None, dirty, duplicate_rate),
            lambda raw, folder: sdtm_stage(study, raw, folder, formats=("parquet",)), advance, jobs)
    records = sum(sum(s["records"].values()) for s in manifest["studies"])
    click.echo(f"pool of {studies} studies ({study}): {subjects} subjects, {records} SDTM records -> {out} "
               f"(Parquet, {manifest['layout']})")


def print_reconciliation(summary: dict) -> None:
    """The ledger as a terminal table: rows in per form, landed, rejected; records out per dataset."""
    from rich.table import Table

    table = Table(title="Raw rows reconciliation", show_edge=False)
    for col in ("form", "rows in", "landed", "rejected", "unaccounted"):
        table.add_column(col, justify="left" if col == "form" else "right")
    for r in summary["ledger"]["forms"]:
        table.add_row(r["form"], str(r["rows_in"]), str(r["landed"]), str(r["rejected"]), str(r["unaccounted"]))
    stdout_console.print(table)
    datasets = ", ".join(f"{d} {v['records']}" for d, v in summary["datasets"].items())
    stdout_console.print(f"datasets: {datasets}")


def print_findings(findings: list, where: Path) -> None:
    """Each error finding on stderr, one line (file, row, column, value, spec key), the first
    trialkit.findings.SHOWN, then how many more are in ``where``; the counts by severity on stdout."""
    for line in error_lines(findings, where):
        click.echo(line if line.startswith("error:") else f"  {line}", err=True)
    click.echo(f"findings: {count_by_severity(findings)}" + (f" (all in {where})" if findings else ""))


PROFILE_SHOWN = 25


def print_validation(findings: list, checked: list[str], out: Path, runs: list = (), profile: bool = False) -> None:
    """The validation summary, one line per rule that found something: id, severity, the rule's
    title, and how many findings in which datasets (a line each, so a narrow terminal or a CI log
    wraps it without mixing rules); then what the rule files (CDISC's CORE rules, trialkit's, yours)
    did, and with ``profile`` each rule's time, slowest first."""
    from collections import Counter

    from rich.table import Table

    from trialkit.validators.report import summary
    from trialkit.validators.rules import RULES

    click.echo(f"trialkit validate: {len(checked)} datasets")
    per_rule = Counter((f.rule, f.severity) for f in findings)
    per_dataset = Counter((f.rule, f.dataset) for f in findings)
    for (rule_id, severity), n in sorted(per_rule.items()):
        title = RULES[rule_id].title if rule_id in RULES else ""
        where = ", ".join(f"{d} {k}" for (r, d), k in sorted(per_dataset.items()) if r == rule_id)
        click.echo(f"  {rule_id} {severity}: {title}: {n} ({where})")
    for source, label in (("core", "CDISC CORE rules"), ("trialkit", "trialkit rule files"), ("custom", "your rules")):
        files = [r for r in runs if not r.family and r.source == source]
        if files:
            statuses = Counter(r.status for r in files)
            click.echo(f"{label}: {len(files)}: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
                       + (f" (reasons in {out})" if statuses.get("not executed") else ""))
    if profile and runs:
        timing = Table(title="rule times (--profile)", show_edge=False)
        for col in ("rule", "status", "findings", "seconds"):
            timing.add_column(col)
        slowest = sorted(runs, key=lambda r: -r.seconds)
        for r in slowest[:PROFILE_SHOWN]:
            timing.add_row(r.id, r.status, str(r.findings), f"{r.seconds:.3f}")
        stdout_console.print(timing)
        if len(slowest) > PROFILE_SHOWN:
            click.echo(f"... and {len(slowest) - PROFILE_SHOWN} faster rules; every rule's time is in {out} "
                       "(rules_run) when --format json")
    click.echo("findings: " + ", ".join(f"{n} {s}" for s, n in summary(findings).items()) + f" -> {out}")


def _formats(ctx, param, value: str) -> tuple[str, ...]:
    try:
        return parse_formats(value)
    except TrialkitError as err:
        raise click.BadParameter(str(err)) from None


def _rule_sets(ctx, param, value: str) -> tuple[str, ...]:
    sets = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [s for s in sets if s not in ("core", "trialkit")]
    if unknown or not sets:
        raise click.BadParameter(f"takes core, trialkit or both, comma-separated (not {value!r})")
    return sets


ENCODING_OPTION = click.option("--encoding", default=None, help="Text encoding of CSV (default utf-8) and SAS files "
                               "(default: the file's own), e.g. latin-1, cp1252. XML and XLSX declare their own.")
SHEET_OPTION = click.option("--sheet", default=None, metavar="NAME", help="XLSX: read only this sheet of the workbook "
                            "(its one form), for a workbook holding more than the export [every sheet, a form each].")
TRACE_PAGES_OPTION = click.option("--no-trace-pages", is_flag=True, help="Leave out report/trace/ (a page per table cell "
                                  "and per subject counted) and the links to it: for very large studies.")
FORMAT_OPTION = click.option("--format", "formats", default="xpt", show_default=True, callback=_formats,
                             help="Dataset formats to write, comma-separated: xpt, json (Dataset-JSON 1.1), ndjson, parquet.")


@main.command()
@study_option()
@click.argument("raw", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the SDTM datasets.")
@click.option("--strict", is_flag=True, help="Refuse to write a dataset on any XPT metadata warning.")
@FORMAT_OPTION
@ENCODING_OPTION
@SHEET_OPTION
def sdtm(study, raw, out, strict, formats, encoding, sheet):
    """Map a raw export (a folder of CSV, SAS7BDAT or XPT files, or one XLSX or ODM-XML file) to SDTM:
    datasets, define.xml, ledger.json, findings.json."""
    with output_folder(out, (raw,)) as work, progress("sdtm", total=1) as advance:
        summary, findings = sdtm_stage(study, raw, work, strict=strict, formats=formats, encoding=encoding, sheet=sheet)
        advance("written")
    print_reconciliation(summary)
    print_findings(findings, out / "findings.json")
    sys.exit(1 if summary.get("errors", 0) else 0)


@main.command()
@study_option()
@click.argument("sdtm_dir", metavar="SDTM", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the ADaM datasets.")
@FORMAT_OPTION
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas", show_default=True,
              help="Engine of the derivations: pandas, in this process; spark, the same derivations in Spark tasks "
                   "on shares of the subjects, from Parquet SDTM or a pool (pip install 'trialkit[spark]', and Java 17).")
@click.option("--spark-master", default=None, show_default="local[*]", help="Spark master URL of --engine spark.")
@click.option("--subjects-per-task", type=click.IntRange(1), default=None, show_default="5000",
              help="Subjects each Spark task derives (--engine spark).")
def adam(study, sdtm_dir, out, formats, engine, spark_master, subjects_per_task):
    """Derive the study's ADaM datasets (ADSL first) from an SDTM folder, with their define.xml."""
    from trialkit.lineage import adam_error_causes

    if engine != "spark" and (spark_master is not None or subjects_per_task is not None):
        raise click.UsageError("--spark-master and --subjects-per-task are for --engine spark")
    with output_folder(out, (sdtm_dir,)) as work, progress("adam", total=1) as advance:
        try:
            if engine == "spark":
                shapes = adam_stage_on_spark(study, sdtm_dir, work, formats=formats, spark_master=spark_master,
                                             subjects_per_task=subjects_per_task)
            else:
                shapes = {name: frame.shape for name, frame in adam_stage(study, sdtm_dir, work, formats=formats).items()}
        except AdamError as err:
            from trialkit.validators.pooled import is_pool

            if is_pool(sdtm_dir):
                raise                      # a pool: its causes are looked up per study, which lineage does not do
            err.details = tuple(adam_error_causes(err, sdtm_dir))
            raise
        advance("written")
    for name, (records, variables) in shapes.items():
        click.echo(f"{name}: {records} records, {variables} variables")


@main.command()
@study_option(None, "Study whose ADTTE event definitions the event rules check (" + STUDY_HELP.rstrip(".")
              + "); without it, datasets of any study get every rule but those.")
@click.argument("sdtm_dir", metavar="SDTM", type=click.Path(path_type=Path))
@click.argument("adam_dir", metavar="[ADAM]", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "junit", "html"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report file [validation.json / .xml / .html in the current folder].")
@click.option("--fail-on", type=click.Choice(["error", "warning", "notice"]), default="error", show_default=True,
              help="Lowest severity that makes the exit code 1.")
@click.option("--encoding", default=None, help="Text encoding of the XPT files, e.g. cp1252 for SAS on Windows [utf-8].")
@click.option("--engine", type=click.Choice(["pandera", "gx", "spark"]), default="pandera", show_default=True,
              help="Engine of the rules: pandera (pandas); gx, Great Expectations for the single-dataset rules (pip "
                   "install 'trialkit[gx]'); spark, Spark DataFrames, for the rules brought there so far, the others "
                   "listed as not run on spark (pip install 'trialkit[spark]', and Java 17).")
@click.option("--spark-master", default=None, show_default="local[*]",
              help="Spark master URL of --engine spark (local[N]: N worker threads on this machine; "
                   "spark://HOST:7077 a standalone cluster; see the README's Spark section).")
@click.option("--gx-suites", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also export the rules as Great Expectations suites to this folder (sdtm/, adam/).")
@click.option("--rules", "rule_sets", default="core,trialkit", show_default=True, callback=_rule_sets,
              help="Rule sets, comma-separated: core (CDISC's CORE conformance rules), trialkit (TK-* rules).")
@click.option("--standard", default="sdtmig/3.4", show_default=True,
              help="Standard and version whose CORE rules run: sdtmig/3.4, sdtmig/3.3 or sdtmig/3.2.")
@click.option("--rules-dir", "rules_dirs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of your own rules in the CORE rule.yml format, run too (repeatable).")
@click.option("--profile", is_flag=True, help="Print each rule's time, slowest first.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Processes the CORE rules share the datasets among [2, or 1 on a one-core machine].")
@click.option("--events", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An event-definition file (the shape of a study's adam/ADTTE.yaml) whose ADTTE parameters the "
                   "event rules check, sources from SDTM or ADaM (ADRS, ADSL...); no study folder needed.")
def validate(study, sdtm_dir, adam_dir, fmt, out, fail_on, encoding, engine, spark_master, gx_suites, rule_sets, standard,
             rules_dirs, profile, jobs, events):
    """Check SDTM (and ADaM) datasets; report as JSON, JUnit XML or HTML; exit 1 on findings at --fail-on."""
    if spark_master is not None and engine != "spark":
        raise click.UsageError(f"--spark-master {spark_master} is for --engine spark (the {engine} engine runs in this "
                               "process): add --engine spark, or leave --spark-master out")
    out = out or Path({"json": "validation.json", "junit": "validation.xml", "html": "validation.html"}[fmt])
    inputs = tuple(p for p in (sdtm_dir, adam_dir) if p is not None)
    with locked(out), (output_folder(gx_suites, inputs) if gx_suites else nullcontext()) as gx_work:
        run, code = validate_stage(study, sdtm_dir, adam_dir, {fmt: out}, fail_on=fail_on, encoding=encoding,
                                   engine=engine, gx_suites=gx_work, rules=rule_sets, standard=standard,
                                   rules_dirs=rules_dirs, jobs=jobs, events=events, spark_master=spark_master)
    print_validation(run.findings, run.datasets, out, run.rules, profile)
    sys.exit(code)


@main.command()
@study_option()
@click.argument("adam_dir", metavar="ADAM", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the report.")
@TRACE_PAGES_OPTION
def report(study, adam_dir, out, no_trace_pages):
    """Tables and figures of the study's report spec from ADaM: report.html, one RTF per table, PNG/SVG;
    each number of report.html links to a page of the ADaM records it counted (trace/cells/)."""
    from trialkit.reports.consistency import ReportInconsistent

    inconsistent = None
    with output_folder(out, (adam_dir,)) as work, progress("report", total=1) as advance:
        try:
            html = report_stage(study, adam_dir, work, trace_pages=not no_trace_pages)
        except ReportInconsistent as err:     # written, with the failure on every page: keep it, then exit 1
            html, inconsistent = work / "report.html", err
        advance("written")
    click.echo(f"report: {out / html.name}")
    if inconsistent is not None:
        raise inconsistent


@main.command()
@study_option()
@click.option("--kind", type=click.Choice(["sdtm", "adam"]), required=True, help="Which datasets the folder holds.")
@click.argument("datasets_dir", metavar="DATASETS", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="define.xml path [DATASETS/define.xml].")
def define(study, kind, datasets_dir, out):
    """Write the Define-XML 2.1 of an SDTM or ADaM folder from the study's specs (schema-validated)."""
    from trialkit.define import write_define
    from trialkit.folder_manifest import refresh_entry

    target = Path(out) if out is not None else Path(datasets_dir) / "define.xml"
    into_folder = target.resolve().parent == Path(datasets_dir).resolve()
    # written into the datasets' folder, define.xml is one more writer of that folder: it waits for no
    # stage run into it, and keeps the folder's manifest true of the file it replaces
    with locked(Path(datasets_dir) if into_folder else target):
        path = write_define({'sdtm': 'SDTM', 'adam': 'ADaM'}[kind], study, datasets_dir, target)
        if into_folder:
            refresh_entry(Path(datasets_dir), path)
    click.echo(f"define.xml: {path}")


@main.group()
def spec():
    """Study specs: check them alone, before any data is read."""


@spec.command("check")
@click.argument("study")
def spec_check(study):
    """Check every spec of STUDY (a shipped name or a folder): errors name the file and key;
    warnings (an Expected variable written empty without a reason) do not change the exit code."""
    from trialkit.study_check import check_study, spec_warnings

    for line in check_study(study):
        click.echo(f"ok: {line}")
    for line in spec_warnings(study):
        click.echo(f"warning: {line}", err=True)


@main.command()
@click.argument("export", type=click.Path(path_type=Path))
@click.option("--study", "name", required=True, help="Name of the new study (its folder's name unless --out).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Study folder to write [./NAME].")
@click.option("--force", is_flag=True, help="Replace raw_dictionary.yaml, sdtm/ and adam/ of an existing folder.")
@ENCODING_OPTION
@SHEET_OPTION
def scaffold(export, name, out, force, encoding, sheet):
    """Start a study folder from a raw export (a folder of CSV, SAS7BDAT or XPT files, or one XLSX or
    ODM-XML file): raw dictionary, study.yaml and SDTM skeletons to edit."""
    from trialkit.formats import read_export
    from trialkit.scaffold import scaffold_study

    raw = read_export(export, encoding, sheet)
    for finding in raw.findings:
        click.echo(str(finding), err=True)
    result, folder = scaffold_study(raw, name, out, force=force)
    for line in result.summary():
        click.echo(line)
    click.echo(f"study folder: {folder} (next: trialkit spec check {folder}; trialkit sdtm --study {folder} {export} --out ...)")


def run_all(study: str | Path, raw: Path, out: Path, formats: tuple[str, ...], strict: bool, fail_on: str,
            force: bool = False, work: Path | None = None, encoding: str | None = None, sheet: str | None = None,
            trace_pages: bool = True) -> dict:
    """run_pipeline under one progress display (into ``work``, the temporary folder that becomes
    ``out``), then the run's summary on stdout and, when the data have errors, each of them on
    stderr and whether the report was written."""
    with progress(f"run {study}", total=4) as advance:
        manifest = run_pipeline(study, raw, work or out, formats=formats, strict=strict, fail_on=fail_on, force=force,
                                advance=advance, shown_as=out, encoding=encoding, sheet=sheet, trace_pages=trace_pages)
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in manifest["seconds"].items())
    counts = ", ".join(f"{n} {s}" for s, n in manifest["validation"]["summary"].items())
    errors = manifest["stage_errors"]
    if errors and manifest["report"] is None:
        why = ("--force cannot write a report without ADaM" if force else
               "give --force to write it anyway, with a banner naming the errors on every page")
        click.echo(f"trialkit: error: the data have errors; the run stopped before the report ({why}):", err=True)
    elif errors:
        click.echo("trialkit: warning: the data have errors; the report was written because of --force, "
                   "with a banner naming them on every page:", err=True)
    for line in errors:
        click.echo(f"  {line}", err=True)
    if manifest.get("report_inconsistent"):
        click.echo(f"trialkit: error: {manifest['report_inconsistent']}", err=True)
    adam = out / manifest["adam"] if manifest["adam"] else "not written"
    click.echo(f"SDTM: {out / 'sdtm'}; ADaM: {adam}; validation: {counts} ({out / 'validation'})")
    click.echo(f"stages: {seconds}; manifest: {out / 'manifest.json'}")
    click.echo(f"report: {out / manifest['report']}" if manifest["report"] else "report: not written")
    return manifest


@main.command("diff")
@study_option(None, "Study whose specs give the natural keys (" + STUDY_HELP.rstrip(".") + "); without it, "
              "the study of the data's STUDYID or, for SDTM, the SDTMIG's keys.")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every difference to this JSON file.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a self-contained HTML page of the differences.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when the two transfers differ (CI of a locked database).")
@click.option("--encoding", default=None, help="Text encoding of CSV, SAS and XPT files (default: utf-8 for CSV and XPT, "
              "the file's own for SAS), e.g. cp1252 for SAS on Windows. XML and XLSX declare their own.")
def diff_command(study, old, new, json_file, html_file, fail_on_change, encoding):
    """What changed between two transfers: raw exports, SDTM, ADaM or two `run` outputs (records added,
    removed and changed, matched by natural keys; for runs, the report cells that moved)."""
    from trialkit.diff.folders import diff_folders
    from trialkit.diff.output import print_summary, write_html, write_json

    result = diff_folders(old, new, study, encoding)
    print_summary(result, stdout_console)
    for path, write in ((json_file, write_json), (html_file, write_html)):
        if path is not None:
            click.echo(f"written: {write(result, path)}")
    sys.exit(1 if fail_on_change and result.differs else 0)


@main.command("trace")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--adam", "adam_start", nargs=2, metavar="DATASET USUBJID", default=None,
              help="Start from the ADaM records of one subject (with --paramcd: of one parameter).")
@click.option("--paramcd", default=None, help="The parameter of a BDS dataset (ADTTE, ADRS) to start from.")
@click.option("--variable", "variables", multiple=True, metavar="VAR",
              help="ADSL variable to explain (repeatable) [ADSL: every variable; other datasets: their source and start date].")
@click.option("--sdtm", "sdtm_start", nargs=3, metavar="DOMAIN USUBJID SEQ", default=None,
              help="Start from one SDTM record (its --SEQ).")
@click.option("--cell", "cell_id", default=None, metavar="ID",
              help="Start from a report table cell (its id in report.json's cell_ids): the ADaM records it counted.")
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="The raw export the run read [RUN/raw, where demo puts it].")
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON instead of a tree.")
@click.option("--html", "as_html", is_flag=True, help="Also write the trace as a static page under RUN/report/trace/ "
              "(--cell: the cell's page report.html links to, and its subjects' pages).")
def trace_command(run_dir, adam_start, paramcd, variables, sdtm_start, cell_id, raw_dir, as_json, as_html):
    """From an ADaM record (--adam) or an SDTM record (--sdtm) of a run down to the raw export: the SDTM
    records each value came from, and the raw file, record, field and value behind each. Where the data
    do not allow to go further (no provenance, no raw export), the trace says where it stops (exit 0)."""
    import json

    from trialkit.trace.chain import find_adam_records, trace_adam_records, trace_sdtm
    from trialkit.trace.pages import write_trace_pages
    from trialkit.trace.run_folder import RunFolder
    from trialkit.trace.terminal import print_trace

    starts = sum(x is not None for x in (adam_start, sdtm_start, cell_id))
    if starts != 1 or (paramcd or variables) and adam_start is None:
        raise click.UsageError("give one of --adam DATASET USUBJID [--paramcd X] [--variable V], --sdtm DOMAIN USUBJID SEQ "
                               "or --cell ID")
    run = RunFolder(run_dir, raw_dir)
    if cell_id is not None:
        from trialkit.reports.cell_records import RECORD, cell_records

        dataset, records = cell_records(run.path / "report", run.path / "adam", cell_id)
        result = trace_adam_records(run, dataset, records.rename(columns={RECORD: "record"}), None, f"report cell {cell_id}")
    elif adam_start is not None:
        dataset, usubjid = adam_start
        records = find_adam_records(run, dataset, usubjid, paramcd)
        start = f"ADaM {dataset.upper()} {usubjid}" + (f" {paramcd}" if paramcd else "")
        result = trace_adam_records(run, dataset, records, list(variables) or None, start)
    else:
        result = trace_sdtm(run, *sdtm_start)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        print_trace(result, stdout_console)
    if as_html and cell_id is not None:      # the page report.html links to, with the pages of its subjects
        from trialkit.trace.report_pages import write_report_trace_pages

        [page] = write_report_trace_pages(run.path / "report", run.path / "adam", run, [cell_id]).values()
        click.echo(f"written: {run.path / 'report' / page}", err=as_json)
    elif as_html:
        [page] = write_trace_pages(run, {result.start: result}).values()
        click.echo(f"written: {run.path / 'report' / page}", err=as_json)
    sys.exit(0)


@main.command()
@study_option()
@click.argument("raw", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for sdtm/, adam/, validation/, report/ and manifest.json.")
@click.option("--strict", is_flag=True, help="Refuse to write a dataset on any XPT metadata warning.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "notice"]), default="error", show_default=True,
              help="Lowest validation severity that makes the exit code 1.")
@click.option("--force", is_flag=True, help="Write the report even when the SDTM stage found errors in the data, "
              "with a banner naming them on every page (exit code 1 all the same; no report without ADaM).")
@FORMAT_OPTION
@ENCODING_OPTION
@SHEET_OPTION
@TRACE_PAGES_OPTION
def run(study, raw, out, strict, fail_on, force, formats, encoding, sheet, no_trace_pages):
    """Run sdtm -> adam -> validate -> report on a raw export. Stops before the report (exit 1) when
    the SDTM or ADaM stage has errors, unless --force; otherwise exits with the validator's code."""
    with output_folder(out, (raw,)) as work:
        code = run_all(study, raw, out, formats, strict, fail_on, force, work, encoding, sheet, not no_trace_pages)["exit_code"]
    sys.exit(code)


@main.command()
@study_option(help=f"Shipped study to simulate and run ({', '.join(shipped_studies())}), or a study folder "
              "with a profile.yaml.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("trialkit-demo"),
              show_default=True, help="Folder for everything the demo writes.")
def demo(study, out):
    """Simulate a study (the reference study by default) and run the whole pipeline on it."""
    with output_folder(out) as work:
        manifest = run_simulation(study, None, None, work / "raw", work / "truth.csv", 0, 0.0)
        click.echo(f"raw export of {manifest['study']} ({manifest['subjects']} subjects, seed {manifest['seed']}): "
                   f"{out / 'raw'}")
        click.echo(f"subject-level truth (never part of the export): {out / 'truth.csv'}")
        code = run_all(study, work / "raw", out, ("xpt",), False, "error", work=work)["exit_code"]
    sys.exit(code)


def _drop_source_root_from_path() -> None:
    """``python -m trialkit.cli`` from a source checkout puts the checkout first on sys.path, where the
    stage folders (validators/, reports/...) would shadow PyPI packages of the same name (odmlib
    imports PyPI's ``validators``). trialkit itself is only ever imported as ``trialkit.*``."""
    root = Path(__file__).resolve().parents[1]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]


if __name__ == "__main__":  # pragma: no cover
    _drop_source_root_from_path()
    main()
