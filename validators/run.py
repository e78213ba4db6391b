"""``trialkit validate``: read the datasets, run every rule family, report, and give the exit code.

Two rule sets: trialkit's own (TK-*: schemas from the standards metadata, cross-dataset, ADTTE
event definitions, the SDTM stage's mapping findings) and CDISC's CORE conformance rules
(CORE-*: the published SDTMIG rules, run by validators/core/, plus a user's folders of rules in
the same format). Every rule, or for trialkit's rules every family, gets a :class:`RuleRun` with
its status and time, so a report says what ran, what did not and why, and which rule was slowest.

Exit codes: 0 when no finding reaches the threshold severity, 1 when one does, 2 when the input
cannot be used at all (a folder that does not exist). A file that cannot be read is a finding.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from trialkit.adam.engine import load_event_specs
from trialkit.errors import InputError
from trialkit.plausible import study_window
from trialkit.spark_session import DEFAULT_MASTER
from trialkit.spec import study_dir
from trialkit.validators.adam_schema import adsl_copies, dataset_rules, validate_adam
from trialkit.validators.adtte_events import check_adtte
from trialkit.validators.cross_dataset import check_cross
from trialkit.validators.inputs import read_folder
from trialkit.validators.mapping_findings import mapping_findings
from trialkit.validators.plausibility import check_plausibility
from trialkit.validators.pooled import locate, pools_of
from trialkit.validators.report import at_or_above
from trialkit.validators.rules import RuleRun, ValidationFinding
from trialkit.validators.sdtm_schema import validate_sdtm
from trialkit.validators.spark_subjects import Family
from trialkit.xpt import sas_date_variables

RULE_SETS = ("core", "trialkit")
SPARK_ADVICE = ("validate it with --engine spark (pip install 'trialkit[spark]'; --spark-master URL for a cluster), "
                "which reads it in partitions instead of whole")
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


@dataclass
class ValidationRun:
    findings: list[ValidationFinding]
    datasets: list[str]
    rules: list[RuleRun] = field(default_factory=list)


def validate(study: str | Path | None, sdtm_dir: Path, adam_dir: Path | None = None, encoding: str | None = None,
             engine: str = "pandera", gx_suites: Path | None = None, *, rules: tuple[str, ...] = RULE_SETS,
             standard: str = "sdtmig/3.4", rules_dirs: tuple[Path, ...] = (), jobs: int = DEFAULT_JOBS,
             events: Path | None = None, spark_master: str = DEFAULT_MASTER) -> ValidationRun:
    """Every finding for the datasets in ``sdtm_dir`` (and ``adam_dir``), the datasets checked, and
    what each rule did.

    ``rules``: the shipped sets to run (``core``: CDISC's CORE rules published for ``standard``;
    ``trialkit``: trialkit's own); ``rules_dirs``: folders of a user's CORE-format rules, run too.
    With ``core``, a study's own rules folder (specs/studies/<study>/rules/) runs as well: a rule
    there with a shipped rule's id replaces it (the study's documented correction of that rule).
    The ADTTE event-definition rules need event definitions: the study's time-to-event specs
    (adam/*.yaml with ``cutoff``; no ADSL.yaml needed), or ``events``, one file of that shape, which
    needs no study; their sources may be SDTM or ADaM datasets (ADRS, ADSL...). ``engine="gx"`` runs the single-dataset rules that Great Expectations can express through
    GX (validators/gx_engine.py) instead of pandera; the other rules run as always. ``gx_suites``: a
    folder to export the expectation suites to (sdtm/<DATASET>.json, adam/<DATASET>.json).
    ``engine="spark"`` runs the rules on Spark DataFrames (session at ``spark_master``): every family
    of trialkit's, and the CORE rules brought there; the other CORE rules are listed as not run on
    spark (_validate_on_spark). ``jobs``:
    processes the CORE rules share the domains among."""
    unknown = sorted(set(rules) - set(RULE_SETS))
    if unknown:
        raise InputError(f"unknown rule set {unknown[0]!r}; --rules takes {', '.join(RULE_SETS)}")
    for folder in (sdtm_dir, adam_dir):
        if folder is not None and not Path(folder).is_dir():
            raise InputError("folder to validate not found", file=str(folder))
    if "core" in rules and study is not None and (study_dir(study) / "rules").is_dir():
        rules_dirs = (*rules_dirs, study_dir(study) / "rules")
    pools = pools_of(sdtm_dir) | (pools_of(adam_dir) if adam_dir is not None else {})
    if engine == "spark":
        from trialkit.spark_session import driver_alive

        with driver_alive():
            run = _validate_on_spark(study, sdtm_dir, adam_dir, encoding, rules, standard, rules_dirs, events, spark_master)
        run.findings = locate(run.findings, pools)
        return run
    files: dict = {}
    sdtm, findings = read_folder(sdtm_dir, encoding, files, workers=jobs, advice=SPARK_ADVICE)
    checked, runs = sorted(sdtm), []
    adam: dict[str, pd.DataFrame] = {}

    def read_adam() -> None:
        if adam_dir is not None:
            more_frames, more = read_folder(adam_dir, encoding, advice=SPARK_ADVICE)
            adam.update(more_frames)
            findings.extend(more)
            checked.extend(sorted(adam))

    def trialkit_rules() -> None:
        read_adam()     # only trialkit's rules read ADaM: read while the CORE rules' worker runs
        findings.extend(_family(runs, "TK-SDTM (schemas)", lambda: _schema_rules(sdtm, "sdtm", engine, gx_suites)))
        findings.extend(_family(runs, "TK-MAP (mapping)", lambda: mapping_findings(sdtm_dir)))
        if adam_dir is not None:
            findings.extend(_family(runs, "TK-ADAM (schemas)", lambda: _schema_rules(adam, "adam", engine, gx_suites)))
        families = _subject_families(study, events, set(adam), lambda: adam["ADSL"].iloc[:1])
        for name, check in families.items():
            findings.extend(_family(runs, name, lambda check=check: check(sdtm, adam)))

    own = trialkit_rules if "trialkit" in rules else None
    if own is None:
        read_adam()
    from trialkit.validators.core_findings import run_core

    define = Path(sdtm_dir) / "define.xml"
    # the rule files (CDISC's, trialkit's, the user's) run in the CORE interpreter; trialkit's Python
    # rules run in this process meanwhile, while the interpreter's other worker runs
    core_findings, core_runs = run_core(sdtm, files, standard, tuple(rules), tuple(rules_dirs),
                                        define if define.is_file() else None, workers=jobs, alongside=own)
    findings += core_findings
    runs += core_runs
    return ValidationRun(locate(findings, pools), checked, runs)


def _validate_on_spark(study: str | Path | None, sdtm_dir: Path, adam_dir: Path | None, encoding: str | None,
                       rules: tuple[str, ...], standard: str, rules_dirs: tuple[Path, ...], events: Path | None,
                       master: str) -> ValidationRun:
    """The rules on Spark: the SDTM and ADaM schema rules (the pandas engine's pandera schemas, their
    checks evaluated by Spark), the mapping findings (read from the SDTM folder's findings.json, no
    data frames), the per-subject families and ADaM's ADSL copies (the pandas engine's code on shares
    of subjects, validators/spark_subjects.py) and the CORE rules Spark can evaluate
    (validators/core/on_spark.py); every other CORE rule is listed as not run on spark, never as passed."""
    from trialkit.spark_session import spark_session
    from trialkit.validators.core_findings import run_core_on_spark
    from trialkit.validators.spark_engine import ROW, NotOnSpark, SparkTables, first_record, not_run, read_spark_folder
    from trialkit.validators.spark_subjects import run_by_subject

    spark = spark_session(master)
    sdtm, findings, files = read_spark_folder(spark, sdtm_dir, encoding)
    checked, runs = sorted(sdtm), []
    adam: dict = {}
    if adam_dir is not None:
        adam, more, _ = read_spark_folder(spark, adam_dir, encoding)
        findings += more
        checked += sorted(adam)
    if "trialkit" in rules:
        tables = SparkTables()
        try:
            findings += _family(runs, "TK-SDTM (schemas)", lambda: validate_sdtm(sdtm, tables))
        except NotOnSpark as exc:
            runs.append(not_run("TK-SDTM (schemas)", "trialkit", str(exc), family=True))
        findings += _family(runs, "TK-MAP (mapping)", lambda: mapping_findings(sdtm_dir))
        families = _subject_families(study, events, set(adam), lambda: first_record(adam["ADSL"]))
        if adam_dir is not None:     # the ADSL copies on shares of subjects, the rest of TK-ADAM on whole datasets
            families = {"TK-ADAM (schemas)": lambda sdtm, adam: adsl_copies(adam), **families}
        by_subject = run_by_subject(spark, sdtm, adam, families)
        if adam_dir is not None:
            copies, seconds = by_subject.pop("TK-ADAM (schemas)")
            try:
                findings += _family(runs, "TK-ADAM (schemas)", lambda: dataset_rules(adam, tables) + copies)
                runs[-1] = replace(runs[-1], seconds=round(runs[-1].seconds + seconds, 4))
            except NotOnSpark as exc:
                runs.append(not_run("TK-ADAM (schemas)", "trialkit", str(exc), family=True))
        for name, (found, seconds) in by_subject.items():
            findings += found
            runs.append(RuleRun(name, "trialkit", "issues" if found else "passed", len(found), round(seconds, 4), family=True))
    more, core_runs = run_core_on_spark(sdtm, files, ROW, standard, tuple(rules), tuple(rules_dirs))
    findings += more
    runs += core_runs
    return ValidationRun(findings, checked, runs)


def _family(runs: list[RuleRun], name: str, check: Callable[[], list[ValidationFinding]]) -> list[ValidationFinding]:
    """Run one family of trialkit's rules, timed, and note it in ``runs``."""
    started = time.perf_counter()
    found = check()
    runs.append(RuleRun(name, "trialkit", "issues" if found else "passed", len(found),
                        round(time.perf_counter() - started, 4), family=True))
    return found


def _subject_families(study: str | Path | None, events: Path | None, adam: set[str],
                      adsl_first: Callable[[], pd.DataFrame]) -> dict[str, Family]:
    """trialkit's families that check a record against its subject's records elsewhere, as functions
    of the SDTM and ADaM frames: both engines run these same functions, the Spark engine on shares of
    subjects (validators/spark_subjects.py). The study's files are read here, once, not by the
    functions. ``adam``: the ADaM datasets' names (none without an ADaM folder); ``adsl_first``:
    ADSL's first record, whose cut-off dates the ADTTE rules use."""
    window = study_window(study)
    families: dict[str, Family] = {"TK-SDTM (plausibility)": lambda sdtm, adam: check_plausibility(sdtm, window)}
    if (study is not None or events is not None) and "ADSL" in adam:
        families["TK-ADTTE (event definitions)"] = _event_rules(load_event_specs(study, events), adsl_first())
    families["TK-XDS (cross-dataset)"] = lambda sdtm, adam: check_cross(
        sdtm, {n: sas_date_variables(f) for n, f in adam.items()})
    return families


def _event_rules(specs: list, adsl_first: pd.DataFrame) -> Family:
    """The TK-ADTTE findings of every time-to-event spec whose dataset is in the ADaM folder, each
    parameter cut off at its spec's ADSL date of the first ADSL record. Sources are looked up among
    the SDTM and the ADaM datasets, ADaM dates (*DT, SAS day numbers) as dates."""
    first = sas_date_variables(adsl_first)
    cutoffs = {spec.name: pd.Timestamp(first[spec.cutoff].iloc[0]) if spec.cutoff in first and len(first)
               else pd.Timestamp.max for spec in specs}

    def check(sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
        findings = []
        adsl = sas_date_variables(adam["ADSL"])
        sources = {**sdtm, **{name: sas_date_variables(frame) for name, frame in adam.items()}}
        for spec in (s for s in specs if s.name in adam):
            findings += check_adtte(sas_date_variables(adam[spec.name]), adsl, sources, spec.parameters, cutoffs[spec.name])
        return findings
    return check


def _schema_rules(datasets: dict[str, pd.DataFrame], standard: str, engine: str, gx_suites: Path | None
                  ) -> list[ValidationFinding]:
    findings = (validate_sdtm if standard == "sdtm" else validate_adam)(datasets)
    if engine == "gx" or gx_suites is not None:
        from trialkit.validators.gx_engine import build_suites, covered, export_suites, run_gx
        if gx_suites is not None:
            export_suites(build_suites(datasets, standard), Path(gx_suites) / standard)
        if engine == "gx":
            findings = [f for f in findings if not covered(f)] + run_gx(datasets, standard)
    return findings


def exit_code(findings: list[ValidationFinding], threshold: str) -> int:
    return 1 if any(at_or_above(f.severity, threshold) for f in findings) else 0
