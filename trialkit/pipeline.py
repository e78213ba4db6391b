"""The pipeline's stages as functions, and ``run_pipeline``: raw -> SDTM -> ADaM -> validation -> report.

Each stage reads the previous stage's files and writes its own folder, so each can run alone from
the CLI and ``trialkit run`` is just the stages in order. ``run_pipeline`` also writes a run
manifest (out/manifest.json): the inputs with their SHA-256, the trialkit and spec versions (a
SHA-256 of every spec file), the row ledger, the validation summary, and seconds per stage, so a
reviewer can tell exactly what produced a submission package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from trialkit import __version__
from trialkit.errors import InputError
from trialkit.spec import study_dir
from trialkit.validators.report import summary as severity_counts

log = logging.getLogger("trialkit")
FORMATS = ("xpt", "json", "ndjson")


def parse_formats(text: str) -> tuple[str, ...]:
    """'xpt,json' -> ('xpt', 'json'); an unknown or empty list is an InputError."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise InputError(f"--format takes a comma-separated list of {', '.join(FORMATS)}; got {text!r}")
    return formats


def simulate_stage(study: str | Path, subjects: int | None, seed: int | None, out: Path, truth: Path | None = None,
                   dirty: int = 0, duplicate_rate: float = 0.0, advance: Callable[[str], None] | None = None) -> dict:
    """Write the simulated raw export (and the subject-level truth); returns the export manifest."""
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
                            profile_path=study_dir(study) / "profile.yaml", on_step=advance)
    if truth is not None:
        write_truth(simulated, truth)
    log.info("wrote %d forms to %s", len(manifest["forms"]), out)
    return manifest


def sdtm_stage(study: str | Path, raw: Path, out: Path, *, strict: bool = False, formats: tuple[str, ...] = ("xpt",)):
    """Map the raw export to SDTM, write the datasets, ledger, findings and define.xml.
    Returns (summary, findings)."""
    from trialkit.define import WrittenDatasets, write_define
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm

    if not Path(raw).is_dir():
        raise InputError("raw export folder not found", file=str(raw))
    written = WrittenDatasets("SDTM", study)  # a spec that cannot make a valid define.xml stops before any file
    result = run_sdtm(study, raw)
    summary = write_sdtm(result, out, strict=strict, formats=formats, links=written.links, written=written)
    findings = result.findings
    del result                              # written keeps only distinct values: free the datasets first
    summary["define"] = write_define("SDTM", study, out, written=written).name
    return summary, findings


def adam_stage(study: str | Path, sdtm_dir: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",)) -> dict:
    """Derive every ADaM dataset of the study, write them and their define.xml."""
    from trialkit.adam.engine import run_adam
    from trialkit.define import WrittenDatasets, write_define

    written = WrittenDatasets("ADaM", study)  # a spec that cannot make a valid define.xml stops before any file
    datasets = run_adam(study, sdtm_dir, out, formats=formats, links=written.links, written=written)
    write_define("ADaM", study, out, written=written)
    return datasets


def validate_stage(study: str | Path | None, sdtm_dir: Path, adam_dir: Path | None, reports: dict[str, Path], *,
                   fail_on: str = "error", encoding: str | None = None, engine: str = "pandera",
                   gx_suites: Path | None = None, rules: tuple[str, ...] = ("core", "trialkit"),
                   standard: str = "sdtmig/3.4", rules_dirs: tuple[Path, ...] = ()):
    """Validate and write the reports (``reports``: format json / junit / html -> file); returns
    (the ValidationRun: findings, datasets checked, rule runs; exit code)."""
    from trialkit.validators.report import write_report
    from trialkit.validators.run import exit_code, validate

    run = validate(study, sdtm_dir, adam_dir, encoding, engine, gx_suites, rules=rules, standard=standard,
                   rules_dirs=rules_dirs)
    for fmt, path in reports.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_report(run.findings, run.datasets, fmt, path, fail_on, run.rules)
    return run, exit_code(run.findings, fail_on)


def report_stage(study: str | Path, adam_dir: Path, out: Path, banner=()) -> Path:
    """Tables and figures of the study's report spec: PNG/SVG, RTF per table, report.html; every page
    shows ``banner`` first. A failed consistency check raises ReportInconsistent (exit 1) once all is written."""
    from trialkit.reports.build import build_report
    from trialkit.reports.consistency import raise_if_inconsistent
    from trialkit.reports.html import write_html
    from trialkit.reports.rtf import write_rtf

    report = build_report(study, adam_dir, out, banner=banner)
    for table in report.tables:
        write_rtf(table, out, alerts=report.alerts)
    html = write_html(report, out / "report.html", out)
    raise_if_inconsistent(report, html)
    return html


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def spec_versions(study: str | Path) -> dict[str, str]:
    """SHA-256 of every spec file of the study and of the standards it maps onto."""
    folder = study_dir(study)
    standards = folder.parents[1] / "standards"
    files = sorted(folder.rglob("*.yaml")) + sorted(standards.rglob("*.yaml"))
    return {str(p.relative_to(folder.parents[1])): sha256(p) for p in files}


def run_pipeline(study: str | Path, raw: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",), strict: bool = False,
                 fail_on: str = "error", advance: Callable[[str], None] | None = None) -> dict:
    """sdtm -> adam -> validate -> report into out/{sdtm,adam,validation,report}; writes and returns
    the run manifest, whose ``exit_code`` is the validator's."""
    step = advance or (lambda label: None)
    started = datetime.now(UTC)
    timings = {}

    def timed(name: str, stage: Callable, *args, **kwargs):
        t = time.perf_counter()
        result = stage(*args, **kwargs)
        timings[name] = time.perf_counter() - t
        step(name)
        return result

    summary, mapping_findings = timed("sdtm", sdtm_stage, study, raw, out / "sdtm", strict=strict, formats=formats)
    datasets = timed("adam", adam_stage, study, out / "sdtm", out / "adam", formats=formats)
    reports = {fmt: out / "validation" / f"validation.{ext}" for fmt, ext in (("json", "json"), ("junit", "xml"), ("html", "html"))}
    validation, code = timed("validate", validate_stage, study, out / "sdtm", out / "adam", reports, fail_on=fail_on)
    findings = validation.findings
    html = timed("report", report_stage, study, out / "adam", out / "report")
    manifest = {
        "trialkit": __version__,
        "python": platform.python_version(),
        "study": str(study),
        "started": started.isoformat(timespec="seconds"),
        "inputs": {p.name: sha256(p) for p in sorted(Path(raw).iterdir()) if p.is_file()},
        "specs": spec_versions(study),
        "formats": list(formats),
        "ledger": summary["ledger"],
        "mapping_findings": len(mapping_findings),
        "datasets": {**{k: v["records"] for k, v in summary["datasets"].items()}, **{k: len(v) for k, v in datasets.items()}},
        "validation": {"summary": severity_counts(findings), "fail_on": fail_on,
                       "reports": [str(p.relative_to(out)) for p in reports.values()]},
        "report": str(html.relative_to(out)),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "exit_code": code,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest
