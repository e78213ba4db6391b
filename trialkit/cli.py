"""The ``trialkit`` command line: one verb per pipeline stage, and ``demo``.

Exit codes: 0 success; 1 findings at error level (validation); 2 usage errors and unusable input
(a TrialkitError prints one line naming file / row / column / spec key).
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from trialkit import __version__
from trialkit.errors import InputError, TrialkitError
from trialkit.progress import progress, setup_logging

log = logging.getLogger("trialkit")
DEFAULT_STUDY = "ball_relapse"


def reports_errors(command):
    """Turn a TrialkitError, or a file that cannot be read or written, into one line on stderr and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TrialkitError as err:
            click.echo(f"trialkit: error: {err}", err=True)
            sys.exit(err.exit_code)
        except OSError as err:
            click.echo(f"trialkit: error: {err.filename or ''}: {err.strerror or err}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trialkit")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Raw clinical-trial exports to CDISC SDTM and ADaM, validated and reported."""
    setup_logging(verbose)


def run_simulation(study: str, subjects: int | None, seed: int | None, out: Path, truth: Path | None,
                   dirty: int, duplicate_rate: float) -> dict:
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.simulate.profile import load_profile
    from trialkit.simulate.study import simulate_study
    from trialkit.simulate.writer import write_export, write_truth
    from trialkit.spec import study_dir

    profile = load_profile(study)
    dictionary = load_raw_dictionary(study)
    subjects = profile.study.default_subjects if subjects is None else subjects
    seed = profile.study.demo_seed if seed is None else seed
    with progress(f"simulate {profile.study.studyid}", total=len(dictionary.forms) + 1) as advance:
        simulated = simulate_study(profile, subjects, seed)
        advance("subjects")
        manifest = write_export(simulated, dictionary, out, dirty=dirty, duplicate_rate=duplicate_rate,
                                profile_path=study_dir(study) / "profile.yaml", on_step=advance)
    if truth is not None:
        write_truth(simulated, truth)
    log.info("wrote %d forms to %s", len(manifest["forms"]), out)
    return manifest


@main.command()
@click.option("--study", default=DEFAULT_STUDY, show_default=True, help="Shipped study name or a study folder.")
@click.option("--subjects", type=click.IntRange(min=1), default=None, help="Number of subjects [profile default].")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed [profile's demo seed].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the export.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the subject-level truth to this CSV (never part of the export).")
@click.option("--dirty", type=click.IntRange(0, 2), default=0, show_default=True,
              help="Inject documented defects: 1 one of each kind, 2 five of each.")
@click.option("--duplicate-rate", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of ae/bm/mrd/survfu records exported twice.")
@reports_errors
def simulate(study, subjects, seed, out, truth, dirty, duplicate_rate):
    """Write simulated raw EDC exports (one CSV per form) of a study."""
    if truth is not None and out.resolve() in truth.resolve().parents:
        raise click.UsageError("--truth must be outside the --out folder: the truth is never part of the export")
    manifest = run_simulation(study, subjects, seed, out, truth, dirty, duplicate_rate)
    rows = sum(f["rows"] for f in manifest["forms"].values())
    click.echo(f"{manifest['study']}: {manifest['subjects']} subjects, {len(manifest['forms'])} forms, {rows} rows "
               f"-> {out} ({len(manifest['defects'])} defects, {len(manifest['duplicates'])} duplicates)")


def run_sdtm_stage(study: str, raw: Path, out: Path, strict: bool) -> dict:
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm

    if not raw.is_dir():
        raise InputError("raw export folder not found", file=str(raw))
    with progress("sdtm", total=2) as advance:
        result = run_sdtm(study, raw)
        advance("mapped")
        summary = write_sdtm(result, out, strict=strict)
        advance("written")
    print_reconciliation(summary, result.findings)
    return summary


def print_reconciliation(summary: dict, findings: list) -> None:
    """The ledger as a terminal table: rows in per form, landed, rejected; records out per dataset."""
    from rich.table import Table

    from trialkit.progress import stdout_console

    table = Table(title="Raw rows reconciliation", show_edge=False)
    for col in ("form", "rows in", "landed", "rejected", "unaccounted"):
        table.add_column(col, justify="left" if col == "form" else "right")
    for r in summary["ledger"]["forms"]:
        table.add_row(r["form"], str(r["rows_in"]), str(r["landed"]), str(r["rejected"]), str(r["unaccounted"]))
    stdout_console.print(table)
    datasets = ", ".join(f"{d} {v['records']}" for d, v in summary["datasets"].items())
    stdout_console.print(f"datasets: {datasets}")
    by = {}
    for f in findings:
        by[f.severity] = by.get(f.severity, 0) + 1
    stdout_console.print("findings: " + (", ".join(f"{n} {s}" for s, n in sorted(by.items())) or "none"))


@main.command()
@click.option("--study", default=DEFAULT_STUDY, show_default=True, help="Shipped study name or a study folder.")
@click.argument("raw", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the SDTM datasets.")
@click.option("--strict", is_flag=True, help="Refuse to write a dataset on any XPT metadata warning.")
@reports_errors
def sdtm(study, raw, out, strict):
    """Map a raw export folder to SDTM: <domain>.xpt, ledger.json, findings.json."""
    summary = run_sdtm_stage(study, raw, out, strict)
    errors = summary.get("errors", 0)
    sys.exit(1 if errors else 0)


def run_adam_stage(study: str, sdtm_dir: Path, out: Path) -> dict:
    from trialkit.adam.engine import run_adam

    with progress("adam", total=1) as advance:
        datasets = run_adam(study, sdtm_dir, out)
        advance("written")
    for name, frame in datasets.items():
        click.echo(f"{name}: {len(frame)} records, {frame.shape[1]} variables")
    return datasets


@main.command()
@click.option("--study", default=DEFAULT_STUDY, show_default=True, help="Shipped study name or a study folder.")
@click.argument("sdtm_dir", metavar="SDTM", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the ADaM datasets.")
@reports_errors
def adam(study, sdtm_dir, out):
    """Derive ADaM (ADSL, ADTTE) from an SDTM folder: adsl.xpt, adtte.xpt."""
    run_adam_stage(study, sdtm_dir, out)


@main.command()
@click.option("--study", default=None, help="Study whose ADTTE event definitions the event rules check (shipped name or "
              "folder); without it, datasets of any study get every rule but those.")
@click.argument("sdtm_dir", metavar="SDTM", type=click.Path(path_type=Path))
@click.argument("adam_dir", metavar="[ADAM]", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "junit", "html"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report file [validation.json / .xml / .html in the current folder].")
@click.option("--fail-on", type=click.Choice(["error", "warning", "notice"]), default="error", show_default=True,
              help="Lowest severity that makes the exit code 1.")
@click.option("--encoding", default=None, help="Text encoding of the XPT files, e.g. cp1252 for SAS on Windows [utf-8].")
@click.option("--engine", type=click.Choice(["pandera", "gx"]), default="pandera", show_default=True,
              help="Engine of the single-dataset rules: pandera, or Great Expectations (pip install 'trialkit[gx]').")
@click.option("--gx-suites", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also export the rules as Great Expectations suites to this folder (sdtm/, adam/).")
@reports_errors
def validate(study, sdtm_dir, adam_dir, fmt, out, fail_on, encoding, engine, gx_suites):
    """Check SDTM (and ADaM) datasets; report as JSON, JUnit XML or HTML; exit 1 on findings at --fail-on."""
    from rich.table import Table

    from trialkit.progress import stdout_console
    from trialkit.validators.report import summary, write_report
    from trialkit.validators.run import exit_code
    from trialkit.validators.run import validate as run_validation

    findings, checked = run_validation(study, sdtm_dir, adam_dir, encoding, engine, gx_suites)
    out = out or Path({"json": "validation.json", "junit": "validation.xml", "html": "validation.html"}[fmt])
    write_report(findings, checked, fmt, out, fail_on)
    table = Table(title=f"trialkit validate: {len(checked)} datasets", show_edge=False)
    for col in ("rule", "severity", "dataset", "findings"):
        table.add_column(col)
    counts = {}
    for f in findings:
        counts[(f.rule, f.severity, f.dataset)] = counts.get((f.rule, f.severity, f.dataset), 0) + 1
    for (r, sev, ds), n in sorted(counts.items()):
        table.add_row(r, sev, ds, str(n))
    stdout_console.print(table)
    stdout_console.print("findings: " + ", ".join(f"{n} {s}" for s, n in summary(findings).items()) + f" -> {out}")
    sys.exit(exit_code(findings, fail_on))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("trialkit-demo"),
              show_default=True, help="Folder for everything the demo writes.")
@reports_errors
def demo(out):
    """Simulate the reference study and run every stage that has landed on it."""
    manifest = run_simulation(DEFAULT_STUDY, None, None, out / "raw", out / "truth.csv", 0, 0.0)
    click.echo(f"raw export of {manifest['study']} ({manifest['subjects']} subjects, seed {manifest['seed']}): {out / 'raw'}")
    click.echo(f"subject-level truth: {out / 'truth.csv'}")
    run_sdtm_stage(DEFAULT_STUDY, out / "raw", out / "sdtm", strict=False)
    click.echo(f"SDTM datasets, ledger and findings: {out / 'sdtm'}")
    run_adam_stage(DEFAULT_STUDY, out / "sdtm", out / "adam")
    click.echo(f"ADaM datasets: {out / 'adam'}")


if __name__ == "__main__":  # pragma: no cover
    main()
