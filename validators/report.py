"""Validation reports: JSON for machines, JUnit XML for CI systems, one HTML page for people, a summary
for the terminal.

JUnit has one test case per rule per dataset, so a CI system shows each failing rule natively; rules
that found nothing are passed test cases, so the report also says what was checked. The HTML page is
self-contained (inline CSS and JS, no external assets), rendered by jinja2 with autoescaping on, and
lists at most ``HTML_MAX_FINDINGS`` findings (the JSON has them all).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from trialkit import __version__
from trialkit.validators.rules import RULES, SEVERITIES, RuleRun, ValidationFinding

SCHEMA_VERSION = 1
SHOWN_PER_CASE = 50
HTML_MAX_FINDINGS = 5000
TEMPLATES = Path(__file__).parent / "templates"


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def summary(findings: list[ValidationFinding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def to_json(findings: list[ValidationFinding], datasets: list[str], runs: list[RuleRun] = ()) -> dict:
    """``rules_run``: what each rule (CORE) or rule family (trialkit) did, with its status, the
    reason when it did not run, and its time in seconds."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"trialkit {__version__}",
        "datasets": sorted(datasets),
        "summary": summary(findings),
        "rules": {r.id: {"severity": r.severity, "title": r.title, "rationale": r.rationale, "scope": list(r.scope),
                         "source": r.source, **({"cdisc_id": r.cdisc_id} if r.cdisc_id else {})}
                  for r in RULES.values()},
        "rules_run": [r.to_dict() for r in runs],
        "findings": [f.to_dict() for f in findings],
    }


def to_junit(findings: list[ValidationFinding], datasets: list[str], threshold: str = "error",
             runs: list[RuleRun] = ()) -> ET.ElementTree:
    """One <testsuite> per dataset, one <testcase> per trialkit rule; findings at or above ``threshold``
    fail the case, lower ones are listed in its system-out. CDISC CORE rules have a suite of their
    own, one <testcase> per rule: failed, passed, or skipped with the reason (not applicable, not
    executed)."""
    by = {}
    core = {r.id for r in runs if r.source != "trialkit"}
    for f in findings:
        if f.rule not in core:
            by.setdefault((f.dataset, f.rule), []).append(f)
    root = ET.Element("testsuites", name="trialkit validate")
    for dataset in sorted(set(datasets) | {f.dataset for f in findings}):
        suite = ET.SubElement(root, "testsuite", name=dataset)
        failures = 0
        rules = sorted({r.id for r in RULES.values() if r.applies_to(dataset)} | {r for (d, r) in by if d == dataset})
        for rule_id in rules:
            case = ET.SubElement(suite, "testcase", classname=dataset, name=rule_id)
            hits = by.get((dataset, rule_id), [])
            failing = [f for f in hits if at_or_above(f.severity, threshold)]
            text = "\n".join(str(f) for f in hits[:SHOWN_PER_CASE]) + (
                f"\n... and {len(hits) - SHOWN_PER_CASE} more" if len(hits) > SHOWN_PER_CASE else "")
            if failing:
                failures += 1
                title = RULES[rule_id].title if rule_id in RULES else rule_id
                ET.SubElement(case, "failure", message=f"{len(failing)} finding(s): {title}", type=failing[0].severity).text = text
            elif hits:
                ET.SubElement(case, "system-out").text = text
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(failures))
    if core:
        _core_suite(root, [r for r in runs if r.id in core], [f for f in findings if f.rule in core], threshold)
    return ET.ElementTree(root)


def _core_suite(root: ET.Element, runs: list[RuleRun], findings: list[ValidationFinding], threshold: str) -> None:
    by: dict[str, list[ValidationFinding]] = {}
    for f in findings:
        by.setdefault(f.rule, []).append(f)
    suite = ET.SubElement(root, "testsuite", name="CDISC CORE rules")
    failures = skipped = 0
    for run in runs:
        case = ET.SubElement(suite, "testcase", classname="CORE", name=run.id)
        hits = by.get(run.id, [])
        failing = [f for f in hits if at_or_above(f.severity, threshold)]
        text = "\n".join(str(f) for f in hits[:SHOWN_PER_CASE]) + (
            f"\n... and {len(hits) - SHOWN_PER_CASE} more" if len(hits) > SHOWN_PER_CASE else "")
        if failing:
            failures += 1
            title = RULES[run.id].title if run.id in RULES else run.id
            ET.SubElement(case, "failure", message=f"{len(failing)} finding(s): {title}", type=failing[0].severity).text = text
        elif run.status in ("not applicable", "not executed"):
            skipped += 1
            ET.SubElement(case, "skipped", message=f"{run.status}: {run.reason}")
        elif hits:
            ET.SubElement(case, "system-out").text = text
    suite.set("tests", str(len(runs)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))


def _seq(seq: float | None) -> str:
    return "" if seq is None or math.isnan(seq) else f"{seq:g}"


def to_html(findings: list[ValidationFinding], datasets: list[str], threshold: str = "error",
            max_findings: int = HTML_MAX_FINDINGS) -> str:
    """One self-contained HTML page: header, the rules with pass/fail at ``threshold``, and the first
    ``max_findings`` findings with dataset / rule / severity filters (all rows show without JS)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    import trialkit.validators.run  # noqa: F401  registers every rule, so rules with no findings show as passed

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True))
    counts = Counter(f.rule for f in findings)
    failing = Counter(f.rule for f in findings if at_or_above(f.severity, threshold))
    rules = [{"id": r.id, "severity": r.severity, "title": r.title, "rationale": r.rationale,
              "count": counts.get(r.id, 0), "failed": failing.get(r.id, 0) > 0} for r in RULES.values()]
    rules += [{"id": rid, "severity": "", "title": "", "rationale": "", "count": n, "failed": failing.get(rid, 0) > 0}
              for rid, n in sorted(counts.items()) if rid not in RULES]
    rules.sort(key=lambda r: r["id"])
    shown = [{**f.to_dict(), "seq": _seq(f.seq)} for f in findings[:max_findings]]
    return env.get_template("report.html.j2").render(
        generator=f"trialkit {__version__}",
        threshold=threshold,
        datasets=sorted(set(datasets)),
        counts=summary(findings),
        total=len(findings),
        rules=rules,
        shown=shown,
        omitted=max(0, len(findings) - max_findings),
        filter_datasets=sorted({f["dataset"] for f in shown}),
        filter_rules=sorted({f["rule"] for f in shown}),
        severities=[s for s in SEVERITIES if any(f["severity"] == s for f in shown)],
    )


def write_report(findings: list[ValidationFinding], datasets: list[str], fmt: str, out: Path, threshold: str,
                 runs: list[RuleRun] = ()) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(to_json(findings, datasets, runs), indent=2) + "\n", encoding="utf-8")
    elif fmt == "junit":
        tree = to_junit(findings, datasets, threshold, runs)
        ET.indent(tree)
        tree.write(out, encoding="utf-8", xml_declaration=True)
    elif fmt == "html":
        out.write_text(to_html(findings, datasets, threshold), encoding="utf-8")
    else:
        raise ValueError(f"unknown report format {fmt!r}")
    return out
