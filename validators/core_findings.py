"""CDISC CORE rules in ``trialkit validate``: the shipped rule set and a user's folders, run by the
interpreter in ``validators/core/``, their findings in trialkit's reports.

A CORE finding keeps the CORE id (CORE-000351) as its rule, the CDISC conformance rule id (CG0151)
beside it, the rule's message, and the flagged record's dataset, row, USUBJID, --SEQ and output
variables (``variable``: their names; ``value``: NAME=value pairs). CORE rules carry no severity:
a finding is an error (a conformance rule is broken), a warning when CDISC marks the rule as
possibly over-reporting. A rule that cannot run is listed with the reason in the run's rule list,
never dropped; a user's rule file that cannot be loaded is a finding of its own (TK-RULE-0001).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from trialkit.validators.core.engine import RuleResult, run_rules
from trialkit.validators.core.library import load_library
from trialkit.validators.core.outcome import CoreFinding
from trialkit.validators.core.rules import CoreRule, load_rules, rules_folder
from trialkit.validators.core.study import study_from_frames
from trialkit.validators.rules import Rule, RuleRun, ValidationFinding, register, rule

RULE_FILE = rule("TK-RULE-0001", "error", "Rule file cannot be used",
                 "trialkit validate --rules-dir: a rule file that does not parse, lacks a section or names an unknown "
                 "operator is reported with its file and key; the other rules still run.")


def parse_standard(text: str) -> tuple[str, str]:
    """``sdtmig/3.4`` (or 3-4) -> ('sdtmig', '3.4')."""
    name, _, version = text.strip().lower().partition("/")
    if not name or not version:
        raise ValueError(f"--standard takes NAME/VERSION such as sdtmig/3.4, not {text!r}")
    return name, version.replace("-", ".")


def run_core(frames: dict[str, pd.DataFrame], files: dict, standard: str = "sdtmig/3.4",
             shipped: tuple[str, ...] = ("core", "trialkit"),
             rules_dirs: tuple[Path, ...] = (), define: Path | None = None, workers: int = 1,
             alongside: Callable[[], None] | None = None) -> tuple[list[ValidationFinding], list[RuleRun]]:
    """Findings and rule runs of the shipped rule files (``shipped``: CDISC's CORE rules in
    specs/rules/core, trialkit's own rules written in the same format in specs/rules/trialkit) and of
    each user folder, on the SDTM ``frames`` and their ``files`` (both from
    validators.inputs.read_folder). ``workers`` and ``alongside``: see validators.core.engine.run_rules;
    ``alongside`` runs even when there is no rule file to run."""
    name, version = parse_standard(standard)
    rules, findings = load_rule_files(shipped, rules_dirs)
    if not rules:
        if alongside is not None:
            alongside()
        return findings, []
    study = study_from_frames(frames, files, name, version, define)
    results = run_rules(_unique(rules), study, load_library(name, version), workers=workers, alongside=alongside)
    return _reported(results, findings)


def run_core_on_spark(frames: dict, files: dict, row: str, standard: str = "sdtmig/3.4",
                      shipped: tuple[str, ...] = ("core", "trialkit"), rules_dirs: tuple[Path, ...] = ()
                      ) -> tuple[list[ValidationFinding], list[RuleRun]]:
    """``run_core`` on narwhals frames over Spark DataFrames (validators/spark_engine.read_spark_folder;
    ``files``: each dataset's file and metadata; ``row``: the column numbering the records): the rules
    Spark can evaluate run there (validators/core/on_spark.py), the others are listed as not executed."""
    from trialkit.validators.core.on_spark import run_on_spark

    name, version = parse_standard(standard)
    rules, findings = load_rule_files(shipped, rules_dirs)
    if not rules:
        return findings, []
    results = run_on_spark(_unique(rules), frames, files, row, name, version, load_library(name, version))
    return _reported(results, findings)


def _reported(results: list[RuleResult], findings: list[ValidationFinding]) -> tuple[list[ValidationFinding], list[RuleRun]]:
    """The interpreter's results as trialkit's findings (after ``findings``) and rule runs."""
    runs = []
    for result in results:
        entry = register(as_rule(result.rule, _source(result.rule)))
        findings += [as_finding(f, entry) for f in result.findings]
        runs.append(as_run(result, entry))
    return findings, runs


def load_rule_files(shipped: tuple[str, ...], rules_dirs: tuple[Path, ...]) -> tuple[list[CoreRule], list[ValidationFinding]]:
    """The rule files of the shipped sets and the user's folders, and a finding per file that cannot
    be used."""
    rules, findings = [], []
    for folder in [rules_folder(name) for name in shipped] + [Path(f) for f in rules_dirs]:
        loaded, errors = load_rules(folder, strict=folder not in (rules_folder("core"),))
        rules += loaded
        findings += [ValidationFinding(RULE_FILE.id, RULE_FILE.severity, Path(e.file or folder).name, str(e),
                                       variable=e.key) for e in errors]
    return rules, findings


def _unique(rules: list[CoreRule]) -> list[CoreRule]:
    """A user's rule with a shipped rule's id replaces the shipped one (the sponsor's version wins)."""
    by_id = {}
    for r in rules:
        by_id[r.core_id] = r
    return list(by_id.values())


def _source(rule_file: CoreRule) -> str:
    """core (CDISC's shipped rules), trialkit (trialkit's own rule files) or custom (a user's folder)."""
    folder = Path(rule_file.source).parent
    return next((name for name in ("core", "trialkit") if folder == rules_folder(name)), "custom")


def as_rule(core_rule: CoreRule, source: str) -> Rule:
    """A rule file as a registered rule: its severity is its own ``Severity`` (a trialkit extension of
    the format), else an error, or a warning where the rule is marked as possibly over-reporting."""
    severity = core_rule.severity or ("warning" if "overreporting" in core_rule.executability.lower() else "error")
    citation = core_rule.citation() or core_rule.citation("SDTMIG", "3.3") or core_rule.citation("SDTMIG", "3.2")
    return Rule(core_rule.core_id, severity, core_rule.description or core_rule.message,
                f"CDISC {', '.join(core_rule.cdisc_ids)} ({core_rule.executability}). {citation}".strip(),
                scope=(), cdisc_id=", ".join(core_rule.cdisc_ids), source=source)


def as_finding(found: CoreFinding, entry: Rule) -> ValidationFinding:
    pairs = "; ".join(f"{v}={found.value_text(i)}" for i, v in enumerate(found.variables))
    return ValidationFinding(entry.id, entry.severity, found.dataset, found.message, ", ".join(found.variables) or None,
                             found.usubjid, found.seq, found.row, pairs, entry.cdisc_id or None)


def as_run(result: RuleResult, entry: Rule) -> RuleRun:
    return RuleRun(entry.id, entry.source, result.status, len(result.findings), round(result.seconds, 4), result.reason)
