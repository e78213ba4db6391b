"""The pipeline's stages as functions, and ``run_pipeline``: raw -> SDTM -> ADaM -> validation -> report.

Each stage reads the previous stage's files and writes its own folder, so each can run alone from
the CLI and ``trialkit run`` is just the stages in order. ``run_pipeline`` also writes a run
manifest (out/manifest.json): the inputs with their SHA-256, the trialkit and spec versions (a
SHA-256 of every spec file), the row ledger, the validation summary, and seconds per stage, so a
reviewer can tell exactly what produced a submission package.

A run refuses to look right when the data are wrong: when the SDTM stage found errors (a value it
could not map, a form or column missing) or the ADaM stage could not derive a dataset, the tables
would count what is left, silently (every subject's sex "missing" when a column was renamed, no
adverse event when a form was empty). The run then validates, so the full list is written, and stops
before the report. ``force=True`` (``trialkit run --force``) writes the report anyway, with a banner on
every page naming the errors; it cannot make a report without ADaM.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from trialkit import __version__
from trialkit.adam.errors import AdamError
from trialkit.atomic_output import replacing
from trialkit.errors import InputError
from trialkit.findings import SHOWN, Finding, error_lines
from trialkit.folder_manifest import sha256, write_manifest
from trialkit.spec import shipped_studies, study_dir
from trialkit.validators.report import summary as severity_counts

FORMATS = ("xpt", "json", "ndjson", "parquet")


def parse_formats(text: str) -> tuple[str, ...]:
    """'xpt,json' -> ('xpt', 'json'); an unknown or empty list is an InputError."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise InputError(f"--format takes a comma-separated list of {', '.join(FORMATS)}; got {text!r}")
    return formats


def simulate_stage(study: str | Path, subjects: int | None, seed: int | None, out: Path, truth: Path | None = None,
                   dirty: int = 0, duplicate_rate: float = 0.0, advance: Callable[[str], None] | None = None,
                   export_format: str = "csv") -> dict:
    """Write the simulated raw export in ``export_format`` (and the subject-level truth); returns the
    export manifest."""
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.simulate.profile import load_profile
    from trialkit.simulate.study import simulate_study
    from trialkit.simulate.writer import write_export, write_truth

    profile = load_profile(study)
    dictionary = load_raw_dictionary(study)
    subjects = profile.study.default_subjects if subjects is None else subjects
    seed = profile.study.demo_seed if seed is None else seed
    simulated = simulate_study(profile, subjects, seed)
    manifest = write_export(simulated, dictionary, out, dirty=dirty, duplicate_rate=duplicate_rate,
                            profile_path=study_dir(study) / "profile.yaml", on_step=advance, format=export_format)
    if truth is not None:
        write_truth(simulated, truth)
    return manifest


def sdtm_stage(study: str | Path, raw: Path, out: Path, *, strict: bool = False, formats: tuple[str, ...] = ("xpt",),
               encoding: str | None = None, sheet: str | None = None):
    """Map the raw export to SDTM, write the datasets, ledger, findings and define.xml.
    Returns (summary, findings)."""
    from trialkit.define import WrittenDatasets, write_define
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm

    if not Path(raw).exists():
        raise InputError("raw export folder or file not found", file=str(raw))
    written = WrittenDatasets("SDTM", study)  # a spec that cannot make a valid define.xml stops before any file
    result = run_sdtm(study, raw, encoding, sheet)
    summary = write_sdtm(result, out, strict=strict, formats=formats, links=written.links, written=written)
    findings = result.findings
    del result                              # written keeps only distinct values: free the datasets first
    summary["define"] = write_define("SDTM", study, out, written=written).name
    write_manifest(out, stage_record("sdtm", study, formats, 1 if summary.get("errors", 0) else 0))
    return summary, findings


def adam_stage(study: str | Path, sdtm_dir: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",)) -> dict:
    """Derive every ADaM dataset of the study, write them and their define.xml."""
    from trialkit.adam.engine import run_adam
    from trialkit.define import WrittenDatasets, write_define

    written = WrittenDatasets("ADaM", study)  # a spec that cannot make a valid define.xml stops before any file
    check_folder_study(study, sdtm_dir, "DM")
    datasets = run_adam(study, sdtm_dir, out, formats=formats, links=written.links, written=written)
    write_define("ADaM", study, out, written=written)
    write_manifest(out, stage_record("adam", study, formats, 0))
    return datasets


def adam_stage_on_spark(study: str | Path, sdtm_dir: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",),
                        spark_master: str | None = None, subjects_per_task: int | None = None) -> dict[str, tuple[int, int]]:
    """adam_stage with the derivations run by Spark tasks (trialkit.adam.spark_engine); a pool's
    ADaM is a pool again, with no define.xml (a pool is no submission). Returns each dataset's
    (records, variables)."""
    from trialkit.adam.spark_engine import SUBJECTS_PER_TASK, run_adam_spark
    from trialkit.define import WrittenDatasets, write_define
    from trialkit.spark_session import driver_alive
    from trialkit.validators.pooled import is_pool

    pooled = is_pool(sdtm_dir)
    written = WrittenDatasets("ADaM", study)  # a spec that cannot make a valid define.xml stops before any file
    check_folder_study(study, sdtm_dir, "DM")
    with driver_alive():
        shapes = run_adam_spark(study, sdtm_dir, out, formats=formats, master=spark_master,
                                written=None if pooled else written, subjects_per_task=subjects_per_task or SUBJECTS_PER_TASK)
    if not pooled:
        write_define("ADaM", study, out, written=written)
    write_manifest(out, stage_record("adam", study, formats, 0))
    return shapes


def stage_record(stage: str, study: str | Path, formats: tuple[str, ...], exit_code: int) -> dict:
    """What a stage's folder manifest says about the stage that wrote it (trialkit.folder_manifest)."""
    return {"stage": stage, "trialkit": __version__, "study": str(study), "formats": list(formats),
            "written": datetime.now(UTC).isoformat(timespec="seconds"), "status": "complete", "exit_code": exit_code}


def validate_stage(study: str | Path | None, sdtm_dir: Path, adam_dir: Path | None, reports: dict[str, Path], *,
                   fail_on: str = "error", encoding: str | None = None, engine: str = "pandera",
                   gx_suites: Path | None = None, rules: tuple[str, ...] = ("core", "trialkit"),
                   standard: str = "sdtmig/3.4", rules_dirs: tuple[Path, ...] = (), jobs: int | None = None,
                   events: Path | None = None, spark_master: str | None = None):
    """Validate and write the reports (``reports``: format json / junit / html -> file); returns
    (the ValidationRun: findings, datasets checked, rule runs; exit code). ``jobs``: processes for the
    CORE rules (None: the default, 2 where there are two cores); ``events``: an event-definition file
    (the ADTTE.yaml shape) the ADTTE rules check instead of the study's; ``spark_master``: the Spark
    master of ``engine="spark"`` (None: trialkit.spark_session.DEFAULT_MASTER)."""
    from trialkit.validators.report import write_report
    from trialkit.validators.run import DEFAULT_JOBS, exit_code, validate

    more = {"spark_master": spark_master} if spark_master else {}
    run = validate(study, sdtm_dir, adam_dir, encoding, engine, gx_suites, rules=rules, standard=standard,
                   rules_dirs=rules_dirs, jobs=jobs or DEFAULT_JOBS, events=events, **more)
    for fmt, path in reports.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with replacing(Path(path)) as tmp:
            write_report(run.findings, run.datasets, fmt, tmp, fail_on, run.rules)
    return run, exit_code(run.findings, fail_on)


def report_stage(study: str | Path, adam_dir: Path, out: Path, banner=(), *, trace_pages: bool = True,
                 run: Path | None = None, raw: Path | None = None, run_shown_as: Path | None = None) -> Path:
    """Tables and figures of the study's report spec: PNG/SVG, RTF per table, report.html; every page
    shows ``banner`` first. With ``trace_pages``, each computed cell of report.html links to its page
    under out/trace/ and, when ``run`` is the run folder (sdtm/ with provenance beside adam/; ``raw``
    the export it read; ``run_shown_as`` where the run folder will be once in place), so does each
    subject those pages list (trialkit.trace.report_pages). A
    failed consistency check raises ReportInconsistent (exit 1) once all is written."""
    from trialkit.reports.build import build_report
    from trialkit.reports.consistency import raise_if_inconsistent
    from trialkit.reports.html import write_html
    from trialkit.reports.rtf import write_rtf

    check_folder_study(study, adam_dir, "ADSL")
    report = build_report(study, adam_dir, out, banner=banner)
    for table in report.tables:
        write_rtf(table, out, alerts=report.alerts)
    remove_stale(out / "trace")                 # pages of an earlier report into the same folder
    links = {}
    if trace_pages:
        from trialkit.trace.report_pages import write_report_trace_pages
        from trialkit.trace.run_folder import RunFolder

        folder = RunFolder(run, raw, run_shown_as) if run is not None and (Path(run) / "sdtm").is_dir() else None
        links = write_report_trace_pages(out, adam_dir, folder)
    html = write_html(report, out / "report.html", out, links)
    raise_if_inconsistent(report, html)
    return html


def study_of_identifier(studyid: str) -> str | None:
    """The shipped study whose SDTM study.yaml has this STUDYID, if one does."""
    from trialkit.sdtm.engine import load_study_config

    return next((name for name in shipped_studies() if load_study_config(name).studyid == studyid), None)


def check_folder_study(study: str | Path, folder: Path, dataset: str) -> None:
    """A usage error (exit 2, before anything is written) when the datasets of ``folder`` are of
    another study than ``study`` (``dataset``'s STUDYID against the study's SDTM study.yaml),
    naming the shipped study they belong to, if one."""
    from trialkit.dataset_json import dataset_files, read_dataset
    from trialkit.sdtm.engine import load_study_config

    files = dataset_files(folder) if Path(folder).is_dir() else {}
    if dataset not in files:
        return                                    # the stage itself reports a missing dataset
    frame, _ = read_dataset(files[dataset])
    found = sorted(set(frame["STUDYID"].astype(str).str.strip())) if "STUDYID" in frame else []
    studyid = load_study_config(study).studyid
    if not found or studyid in found:
        return
    other = study_of_identifier(found[0])
    hint = f"give --study {other}" if other else "give --study with the study the datasets belong to"
    raise InputError(f"{dataset} holds STUDYID {', '.join(found[:3])}, not {studyid} of study {Path(str(study)).name}: "
                     f"{hint} (shipped studies: {', '.join(shipped_studies())}, or a study folder)", file=str(folder))


def spec_versions(study: str | Path) -> dict[str, str]:
    """SHA-256 of every spec file of the study and of the standards it maps onto."""
    folder = study_dir(study)
    standards = folder.parents[1] / "standards"
    files = sorted(folder.rglob("*.yaml")) + sorted(standards.rglob("*.yaml"))
    return {str(p.relative_to(folder.parents[1])): sha256(p) for p in files}


BANNER_ERRORS = 5   # error lines on every report page; the rest are counted and left to the files


def stage_errors(sdtm_findings: list[Finding], adam_causes: list[str], base: Path, limit: int) -> list[str]:
    """What stops the run, one line each: the SDTM stage's error findings (the first ``limit``, then
    where the rest are: ``base``/sdtm/findings.json) and the ADaM error with what caused it. Empty
    when the data let every stage do its work."""
    errors = [f for f in sdtm_findings if f.severity == "error"]
    lines = []
    if errors:
        lines.append(f"SDTM: {len(errors)} error(s) in the raw export (every finding: {base / 'sdtm' / 'findings.json'}):")
        lines += ["  " + line for line in error_lines(errors, base / "sdtm" / "findings.json", limit)]
    return lines + adam_causes


def run_pipeline(study: str | Path, raw: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",), strict: bool = False,
                 fail_on: str = "error", force: bool = False, advance: Callable[[str], None] | None = None,
                 encoding: str | None = None, shown_as: Path | None = None, sheet: str | None = None,
                 trace_pages: bool = True) -> dict:
    """sdtm -> adam -> validate -> report into out/{sdtm,adam,validation,report}; writes and returns
    the run manifest: first with status "running", last with each stage's status, the exit code and
    every file of the run with its SHA-256 (``shown_as``: where ``out`` will be once the CLI has put
    it in place, for the paths in messages). ``exit_code`` is 1 when the SDTM or ADaM stage has
    errors (the report is then written only with ``force``, under a banner), else the validator's; ``stage_errors`` names those
    errors, an ADaM error traced back to the SDTM records and raw rows behind it (trialkit.lineage)."""
    step = advance or (lambda label: None)
    started = datetime.now(UTC)
    shown = shown_as or out
    timings = {}
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, {"trialkit": __version__, "study": str(study), "started": started.isoformat(timespec="seconds"),
                         "pid": os.getpid(), "status": "running"}, files=False)

    def timed(name: str, stage: Callable, *args, **kwargs):
        t = time.perf_counter()
        result = stage(*args, **kwargs)
        timings[name] = time.perf_counter() - t
        step(name)
        return result

    summary, mapping_findings = timed("sdtm", sdtm_stage, study, raw, out / "sdtm", strict=strict, formats=formats,
                                     encoding=encoding, sheet=sheet)
    adam_error = None
    try:
        datasets = timed("adam", adam_stage, study, out / "sdtm", out / "adam", formats=formats)
    except AdamError as err:
        adam_error, datasets = err, {}
        remove_stale(out / "adam")
        step("adam")
    reports = {fmt: out / "validation" / f"validation.{ext}" for fmt, ext in (("json", "json"), ("junit", "xml"), ("html", "html"))}
    validation, code = timed("validate", validate_stage, study, out / "sdtm", None if adam_error else out / "adam",
                             reports, fail_on=fail_on)
    findings = validation.findings
    adam_causes = []
    if adam_error is not None:
        from trialkit.lineage import adam_error_causes

        adam_causes = [f"ADaM: cannot be derived: {adam_error}",
                       *("  " + line for line in adam_error_causes(adam_error, out / "sdtm"))]
    errors = stage_errors(mapping_findings, adam_causes, shown, SHOWN)
    html, inconsistent = None, None
    if not errors or (force and adam_error is None):
        from trialkit.reports.consistency import ReportInconsistent

        try:
            html = timed("report", report_stage, study, out / "adam", out / "report",
                         banner=banner_lines(stage_errors(mapping_findings, adam_causes, Path(), BANNER_ERRORS)),
                         trace_pages=trace_pages, run=out, raw=Path(raw) if Path(raw).is_dir() else Path(raw).parent,
                         run_shown_as=shown)
        except ReportInconsistent as exc:     # the report is written, with the failure on top of every page
            html, inconsistent = out / "report" / "report.html", str(exc)
    else:
        remove_stale(out / "report")
    stages = {
        "sdtm": {"status": "complete", "exit_code": 1 if summary.get("errors", 0) else 0},
        "adam": {"status": "failed", "exit_code": 1} if adam_error else {"status": "complete", "exit_code": 0},
        "validate": {"status": "complete", "exit_code": code},
        "report": {"status": "not run", "exit_code": None} if html is None else
                  {"status": "inconsistent" if inconsistent else "complete", "exit_code": 1 if inconsistent else 0},
    }
    manifest = {
        "status": "complete",
        "stages": stages,
        "trialkit": __version__,
        "python": platform.python_version(),
        "study": str(study),
        "started": started.isoformat(timespec="seconds"),
        "inputs": {p.name: sha256(p) for p in (sorted(Path(raw).iterdir()) if Path(raw).is_dir() else [Path(raw)]) if p.is_file()},
        "specs": spec_versions(study),
        "formats": list(formats),
        "ledger": summary["ledger"],
        "mapping_findings": len(mapping_findings),
        "stage_errors": errors,
        "forced": bool(force and errors),
        "datasets": {**{k: v["records"] for k, v in summary["datasets"].items()}, **{k: len(v) for k, v in datasets.items()}},
        "validation": {"summary": severity_counts(findings), "fail_on": fail_on,
                       "reports": [str(p.relative_to(out)) for p in reports.values()]},
        "adam": "adam" if adam_error is None else None,
        "report": str(html.relative_to(out)) if html is not None else None,
        "report_inconsistent": inconsistent,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "exit_code": 1 if errors or inconsistent else code,
    }
    write_manifest(out, manifest)
    return manifest


def remove_stale(folder: Path) -> None:
    """Remove a stage's folder left by an earlier run into the same --out: a report (or ADaM) that
    this run did not write must not sit next to its manifest looking like its result."""
    if folder.is_dir():
        shutil.rmtree(folder)


def banner_lines(errors: list[str]) -> list[str]:
    """The lines every report page carries when the run was forced past ``errors`` (none otherwise)."""
    if not errors:
        return []
    return ["NOT FOR USE: made with trialkit run --force from data with errors; the tables and figures may be wrong.",
            *errors]
